/** The batch's output folder must be a folder that exists or can be created, and that can be written. */
import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { InputError, resourceKind } from './errors.ts';

function code(e: unknown): string {
  return String((e as NodeJS.ErrnoException).code ?? (e as Error).message);
}

/** Creates `dir` when it is missing; an InputError (exit 2) naming it when it is a file, or cannot be created or written. */
export async function prepareOutDir(dir: string): Promise<void> {
  const expected = 'a folder that exists or can be created, and can be written';
  const st = await stat(dir).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') throw new InputError('the output folder cannot be created (a part of its path is a file)', { file: dir, expected });
    throw new InputError(`the output folder cannot be read (${code(e)})`, { file: dir, expected });
  });
  if (st && !st.isDirectory()) throw new InputError('the output folder is not a folder but a file', { file: dir, expected });
  if (!st) {
    try {
      await mkdir(dir, { recursive: true });
    } catch (e) {
      if (resourceKind(e)) throw e;
      const why = (e as NodeJS.ErrnoException).code === 'ENOTDIR' || (e as NodeJS.ErrnoException).code === 'EEXIST' ? 'a part of its path is a file' : code(e);
      throw new InputError(`the output folder cannot be created (${why})`, { file: dir, expected });
    }
  }
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (e) {
    throw new InputError(`the output folder cannot be written (${code(e)})`, { file: dir, expected });
  }
}
