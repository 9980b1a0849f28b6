/** Atomic output: everything is written under a temporary name and renamed into place at the end. */
import { mkdir, rename, rm, writeFile, readdir, open } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { pidAlive } from './lock.ts';

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

/**
 * Remove the temporary files that runs which are gone left behind in `dir` (`.tmp-<pid>-…`); those of a live
 * process (on this host) are its work in progress and stay.
 */
export async function removeStaleTemps(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const f of await readdir(dir)) {
    const m = /^\.tmp-(\d+)-/.exec(f);
    if (!f.startsWith('.tmp-') || (m && pidAlive(Number(m[1])))) continue;
    await rm(join(dir, f), { recursive: true, force: true });
  }
}

/** Flush a file or folder (its entries' names) to disk; a folder's files one by one when `deep`. */
export async function fsyncPath(path: string, deep = false): Promise<void> {
  if (deep) {
    for (const e of await readdir(path, { withFileTypes: true })) {
      if (e.isDirectory()) await fsyncPath(join(path, e.name), true);
      else if (e.isFile()) await fsyncPath(join(path, e.name));
    }
  }
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
