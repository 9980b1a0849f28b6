/** Finds the files of one snapshot (a file or a folder of files of one format) and their format. */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../../engine/errors.ts';

export type FileFormat = 'csv' | 'parquet' | 'jsonl';

const EXTENSIONS: [RegExp, FileFormat][] = [
  [/\.csv(\.gz)?$/i, 'csv'],
  [/\.parquet$/i, 'parquet'],
  [/\.jsonl(\.gz)?$/i, 'jsonl'],
  [/\.ndjson(\.gz)?$/i, 'jsonl'],
];

export function formatOf(file: string): FileFormat | undefined {
  return EXTENSIONS.find(([re]) => re.test(file))?.[1];
}

export interface SnapshotFiles {
  format: FileFormat;
  files: string[];
}

/** Lists the snapshot's files in name order; all must share one format. */
export async function listSnapshotFiles(path: string, declared: 'auto' | FileFormat): Promise<SnapshotFiles> {
  let files: string[];
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new InputError('snapshot not found', { file: path, expected: 'a file or a folder of files' });
  if (st.isDirectory()) {
    const names = (await readdir(path)).filter((n) => !n.startsWith('.')).sort();
    files = names.filter((n) => declared !== 'auto' || formatOf(n)).map((n) => join(path, n));
    if (files.length === 0) {
      throw new InputError('folder holds no snapshot file', { file: path, expected: 'files ending in .csv, .csv.gz, .parquet or .jsonl' });
    }
  } else {
    files = [path];
  }
  if (declared !== 'auto') return { format: declared, files };
  const formats = new Set(files.map((f) => formatOf(f)));
  const [format] = formats;
  if (!format) {
    throw new InputError('cannot tell the file format from the extension', {
      file: files[0],
      expected: '.csv, .csv.gz, .parquet or .jsonl (or set "format" in the mapping)',
    });
  }
  if (formats.size > 1) throw new InputError('folder mixes file formats', { file: path, expected: 'files of one format' });
  return { format, files };
}
