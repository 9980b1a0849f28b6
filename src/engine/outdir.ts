/** The batch's output folder must be a folder, or a path where one can be created, and it must be writable. */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { InputError } from './errors.ts';

function code(e: unknown): string {
  return String((e as NodeJS.ErrnoException).code ?? (e as Error).message);
}

/**
 * Checks `dir` before a batch starts (creating nothing: a batch that fails its other checks leaves no folder): an
 * InputError (exit 2) naming it when it is a file, when a part of its path is a file, or when it — or, while it does
 * not exist, the nearest folder above it — cannot be written.
 */
export async function checkOutDir(dir: string): Promise<void> {
  const expected = 'a folder that exists or can be created, and can be written';
  for (let at = dir; ; at = dirname(at)) {
    let st;
    try {
      st = await stat(at);
    } catch (e) {
      const c = (e as NodeJS.ErrnoException).code;
      if (c === 'ENOTDIR') throw new InputError('the output folder cannot be created (a part of its path is a file)', { file: dir, expected });
      if (c === 'ENOENT' && dirname(at) !== at) continue;
      throw new InputError(`the output folder cannot be read (${code(e)})`, { file: dir, expected });
    }
    if (!st.isDirectory()) {
      if (at === dir) throw new InputError('the output folder is not a folder but a file', { file: dir, expected });
      throw new InputError(`the output folder cannot be created (${at} is a file)`, { file: dir, expected });
    }
    try {
      await access(at, constants.W_OK | constants.X_OK);
    } catch (e) {
      const what = at === dir ? 'the output folder cannot be written' : `the output folder cannot be created (${at} cannot be written)`;
      throw new InputError(`${what} (${code(e)})`, { file: dir, expected });
    }
    return;
  }
}
