/**
 * The columns of a snapshot and a few values of each, read from the start of its files only: CSV/TSV headers
 * with the ingest's sniffing (src/stages/ingest/sniff.ts), Parquet schemas with DuckDB (as the ingest reads them),
 * JSON lines from the keys of their first objects.
 */
import { InputError } from '../engine/errors.ts';
import { formatOf, listSnapshotFiles, type FileFormat } from '../stages/ingest/files.ts';
import { detectEncoding, looksBinary, parseHeader, readSample, splitCsvLine } from '../stages/ingest/sniff.ts';

/** Values read per column, for guessing date formats. */
const SAMPLE_ROWS = 200;
const DELIMITERS = [',', ';', '\t', '|'];
const TEXT_TABLE = /\.(tsv|tab|txt)(\.gz)?$/i;

export interface SnapshotHeader {
  /** the format to write in the mapping: 'auto' when the extension tells it */
  format: 'auto' | FileFormat;
  files: string[];
  /** the CSV separator, for CSV files */
  delimiter?: string;
  /** every column of the files, in the order of the first file that has it */
  columns: string[];
  /** columns some files lack */
  partial: string[];
  /** the first values of each column of the first file (never logged or printed) */
  samples: Map<string, string[]>;
}

function textOf(sample: Buffer): string {
  const text = sample.toString(detectEncoding(sample) === 'utf-8' ? 'utf8' : 'latin1');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The separator of a header line: the candidate found most often outside quotes. */
export function sniffDelimiter(sample: Buffer, file: string): string {
  if (sample.length === 0) throw new InputError('file is empty', { file, row: 0, expected: 'a header row and data rows' });
  if (looksBinary(sample)) throw new InputError('file is not a text CSV file (binary content)', { file, expected: 'a CSV file with a header row' });
  const line = textOf(sample).split('\n', 1)[0];
  let best = { d: ',', n: 0 };
  for (const d of DELIMITERS) {
    const n = splitCsvLine(line, d, '"').length - 1;
    if (n > best.n) best = { d, n };
  }
  return best.d;
}

async function csvHeader(file: string, delimiter: string): Promise<{ columns: string[]; rows: string[][] }> {
  const sample = await readSample(file);
  const columns = parseHeader(sample, detectEncoding(sample), file, delimiter, '"');
  const lines = textOf(sample).split('\n').slice(1, SAMPLE_ROWS + 1);
  // The last line of the sample may be cut, and a quoted field may span lines: only whole rows are kept.
  const rows = lines.map((l) => splitCsvLine(l.replace(/\r$/, ''), delimiter, '"')).filter((r) => r.length === columns.length);
  return { columns, rows };
}

async function jsonlHeader(file: string): Promise<{ columns: string[]; rows: string[][] }> {
  const sample = await readSample(file);
  if (sample.length === 0) throw new InputError('file is empty', { file, expected: 'one JSON object per line' });
  const objects: Record<string, unknown>[] = [];
  for (const [i, line] of textOf(sample).split('\n').slice(0, SAMPLE_ROWS).entries()) {
    if (line.trim() === '') continue;
    try {
      const o = JSON.parse(line) as unknown;
      if (o && typeof o === 'object' && !Array.isArray(o)) objects.push(o as Record<string, unknown>);
    } catch {
      if (objects.length === 0 && i === 0) throw new InputError('the first line is not a JSON object', { file, row: 1, expected: 'one JSON object per line' });
    }
  }
  const columns = [...new Set(objects.flatMap((o) => Object.keys(o)))];
  const text = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  return { columns, rows: objects.map((o) => columns.map((c) => text(o[c]))) };
}

async function parquetHeaders(files: string[]): Promise<{ columns: string[]; rows: string[][] }[]> {
  const { Db, lit } = await import('../engine/db.ts');
  const db = await Db.open({ threads: 1 });
  try {
    const out: { columns: string[]; rows: string[][] }[] = [];
    for (const file of files) {
      try {
        const columns = (await db.all<{ column_name: string }>(`DESCRIBE SELECT * FROM read_parquet(${lit(file)})`)).map((r) => r.column_name);
        const rows = await db.all<Record<string, string | null>>(
          `SELECT ${columns.map((_, i) => `CAST(#${i + 1} AS VARCHAR) AS c${i}`).join(', ')} FROM read_parquet(${lit(file)}) LIMIT ${SAMPLE_ROWS}`,
        );
        out.push({ columns, rows: rows.map((r) => columns.map((_, i) => r[`c${i}`] ?? '')) });
      } catch (e) {
        if (e instanceof InputError) throw e;
        throw new InputError(`not a readable Parquet file (${String((e as Error).message).split('\n')[0]})`, { file });
      }
    }
    return out;
  } finally {
    await db.close();
  }
}

/** Reads the columns of a snapshot (a file or a folder of files of one format). */
export async function readSnapshotHeader(path: string): Promise<SnapshotHeader> {
  const text = TEXT_TABLE.test(path);
  const { format, files } = await listSnapshotFiles(path, text ? 'csv' : 'auto').catch(async (e: unknown) => {
    // A folder of .tsv files: read as CSV.
    if (e instanceof InputError && /cannot tell the file format/.test(e.message)) {
      const listed = await listSnapshotFiles(path, 'csv');
      if (listed.files.every((f) => TEXT_TABLE.test(f) || /\.csv(\.gz)?$/i.test(f))) return listed;
    }
    throw e;
  });
  // The ingest tells the format from the extension; a .tsv or .txt file needs it written in the mapping.
  const declared: SnapshotHeader['format'] = files.some((f) => !formatOf(f)) ? 'csv' : 'auto';
  let delimiter: string | undefined;
  let read: { columns: string[]; rows: string[][] }[];
  if (format === 'csv') {
    delimiter = sniffDelimiter(await readSample(files[0]), files[0]);
    read = [];
    for (const f of files) read.push(await csvHeader(f, delimiter));
  } else if (format === 'jsonl') {
    read = [];
    for (const f of files) read.push(await jsonlHeader(f));
  } else {
    read = await parquetHeaders(files);
  }
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const r of read) for (const c of r.columns) if (!seen.has(c.toUpperCase())) (seen.add(c.toUpperCase()), columns.push(c));
  const partial = columns.filter((c) => read.some((r) => !r.columns.some((x) => x.toUpperCase() === c.toUpperCase())));
  const first = read[0];
  const samples = new Map(first.columns.map((c, i) => [c, first.rows.map((r) => r[i])]));
  return { format: declared, files, delimiter, columns, partial, samples };
}
