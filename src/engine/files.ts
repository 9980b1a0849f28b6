/** Atomic output: everything is written under a temporary name and renamed into place at the end. */
import { mkdir, rename, rm, writeFile, readdir, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';

/** The temporary name of an output file, in the same folder (so rename is atomic). */
export function tempName(finalPath: string): string {
  return join(dirname(finalPath), `.tmp-${process.pid}-${basename(finalPath)}`);
}

/** Write text to `path` atomically. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempName(path);
  await writeFile(tmp, data);
  await rename(tmp, path);
}

/** Rename a finished temporary file or folder into place, replacing what was there. */
export async function publish(tmp: string, finalPath: string): Promise<void> {
  if (existsSync(finalPath) && (await stat(finalPath)).isDirectory()) await rm(finalPath, { recursive: true, force: true });
  await rename(tmp, finalPath);
}

/** Remove temporary files a crashed run left behind in `dir`. */
export async function removeStaleTemps(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const f of await readdir(dir)) {
    if (f.startsWith('.tmp-')) await rm(join(dir, f), { recursive: true, force: true });
  }
}
