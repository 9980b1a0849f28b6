/**
 * Reads one snapshot file into a temporary DuckDB table of text columns plus `_row` (1-based data row number).
 * Lines DuckDB cannot parse go to `<table>_rejects(row_number, reason, raw)`: nothing is lost.
 */
import type { Db } from '../../engine/db.ts';
import { TempTable } from '../../engine/sql-pipeline.ts';
import { ident, lit } from '../../engine/db.ts';
import { InputError, isInterrupted, resourceKind } from '../../engine/errors.ts';
import type { Mapping } from '../../../schemas/mapping.ts';
import type { FileFormat } from './files.ts';
import { detectEncoding, parseHeader, readSample } from './sniff.ts';

interface FileRead {
  /**
   * TEMP table holding the accepted lines: every column VARCHAR, plus _row BIGINT (or, with `rowFromRowid`, without
   * it: the data row number is the table's rowid + 1)
   */
  table: string;
  /** the table has no _row column: its rows are the file's data rows in order, _row is rowid + 1 */
  rowFromRowid?: boolean;
  /** TEMP table of lines that could not be parsed: row_number BIGINT, reason VARCHAR, raw VARCHAR */
  rejects: string;
  columns: string[];
  rows: number;
  rejected: number;
  encoding?: string;
}

/** Deduplicate header names the way a person would read them: NAMA, NAMA_2 … */
function uniqueNames(cols: string[]): string[] {
  const seen = new Map<string, number>();
  return cols.map((c, i) => {
    const base = c === '' ? `column_${i + 1}` : c;
    const n = (seen.get(base.toUpperCase()) ?? 0) + 1;
    seen.set(base.toUpperCase(), n);
    return n === 1 ? base : `${base}_${n}`;
  });
}

function duckError(e: unknown): string {
  return String((e as Error).message ?? e).split('\n')[0];
}

/**
 * A read that failed is the file's fault unless the machine ran out of memory or disk, or the read was interrupted
 * (a sibling failed, a signal): those are rethrown as they are, so a valid file is never blamed.
 */
function notTheFile(e: unknown): boolean {
  return Boolean(resourceKind(e)) || isInterrupted(e) || (e instanceof Error && (e.name === 'CancelledError' || e.name === 'StoppedError'));
}

async function readCsv(db: Db, file: string, table: string, mapping: Mapping): Promise<FileRead> {
  const opts = mapping.csv ?? { delimiter: ',', quote: '"', header: true as const, encoding: 'auto' as const };
  const sample = await readSample(file);
  const encoding = opts.encoding === 'auto' ? detectEncoding(sample) : opts.encoding;
  const header = uniqueNames(parseHeader(sample, encoding, file, opts.delimiter, opts.quote));
  const columns = `{${header.map((c) => `${lit(c)}: 'VARCHAR'`).join(', ')}}`;
  const rejects = `${table}_rejects`;
  const q = opts.quote === '' ? "''" : lit(opts.quote);
  try {
    await db.run(`
      CREATE OR REPLACE TEMP TABLE ${table}_scan AS
      SELECT * FROM read_csv(${lit(file)}, delim = ${lit(opts.delimiter)}, quote = ${q}, escape = ${q}, header = true,
        auto_detect = false, columns = ${columns}, encoding = ${lit(encoding)}, store_rejects = true,
        rejects_table = ${lit(`${table}_err`)}, rejects_scan = ${lit(`${table}_errscan`)}, max_line_size = 1048576);
    `);
  } catch (e) {
    if (notTheFile(e)) throw e;
    throw new InputError(`cannot be read as CSV (${duckError(e)})`, { file });
  }
  await db.run(`
    CREATE OR REPLACE TEMP TABLE ${rejects} AS
      SELECT line - 1 AS row_number,
             'malformed_line: ' || string_agg(DISTINCT error_type, ', ' ORDER BY error_type) || ' (' || first(error_message ORDER BY column_idx) || ')' AS reason,
             first(csv_line) AS raw
      FROM ${table}_err GROUP BY line;
  `);
  // The scan keeps the file's order (insertion order is preserved), so with no rejected line the k-th row read is
  // data row k. Otherwise the k-th accepted line is the k-th data row that was not rejected (reject line numbers
  // count the header).
  const rejected = await db.count(`SELECT count(*) FROM ${rejects}`);
  if (rejected === 0) {
    // Every data row was read, in order: the scan is the table (no copy), its rowid + 1 the row number.
    await db.run(`ALTER TABLE ${table}_scan RENAME TO ${table}`);
    const rows = await db.count(`SELECT count(*) FROM ${table}`);
    return { table, rejects, columns: header, rows, rejected, encoding, rowFromRowid: true };
  }
  await db.run(`
    CREATE OR REPLACE TEMP TABLE ${table}_rownums AS
      WITH total AS (SELECT (SELECT count(*) FROM ${table}_scan) + (SELECT count(*) FROM ${rejects}) AS n)
      SELECT row_number() OVER (ORDER BY r) AS k, r AS _row
      FROM range(1, (SELECT n FROM total) + 1) t(r)
      WHERE r NOT IN (SELECT row_number FROM ${rejects});
    CREATE OR REPLACE TEMP TABLE ${table} AS
      SELECT s.* EXCLUDE (_k), n._row FROM (SELECT *, rowid + 1 AS _k FROM ${table}_scan) s JOIN ${table}_rownums n ON n.k = s._k
      ORDER BY n._row;
    DROP TABLE ${table}_scan; DROP TABLE ${table}_rownums;`);
  const rows = await db.count(`SELECT count(*) FROM ${table}`);
  return { table, rejects, columns: header, rows, rejected, encoding };
}

async function readParquet(db: Db, file: string, table: string): Promise<FileRead> {
  let columns: string[];
  try {
    columns = (await db.all<{ column_name: string }>(`DESCRIBE SELECT * FROM read_parquet(${lit(file)})`)).map((r) => r.column_name);
    // Every column becomes text: the stages after ingest parse values themselves.
    await db.run(`
      CREATE OR REPLACE TEMP TABLE ${table} AS
      SELECT ${columns.map((c) => `CAST(${ident(c)} AS VARCHAR) AS ${ident(c)}`).join(', ')}, file_row_number + 1 AS _row
      FROM read_parquet(${lit(file)}, file_row_number = true);
    `);
  } catch (e) {
    if (notTheFile(e)) throw e;
    throw new InputError(`not a readable Parquet file (${duckError(e)})`, { file });
  }
  await db.run(`CREATE OR REPLACE TEMP TABLE ${table}_rejects (row_number BIGINT, reason VARCHAR, raw VARCHAR);`);
  return { table, rejects: `${table}_rejects`, columns, rows: await db.count(`SELECT count(*) FROM ${table}`), rejected: 0 };
}

async function readJsonl(db: Db, file: string, table: string, mapping: Mapping): Promise<FileRead> {
  const sample = await readSample(file);
  if (sample.length === 0) throw new InputError('file is empty', { file, expected: 'one JSON object per line' });
  const encoding = detectEncoding(sample);
  // Each line is read whole, then parsed: an invalid line is quarantined with its number instead of being skipped.
  try {
    await db.run(`
      CREATE OR REPLACE TEMP TABLE ${table}_read AS
      SELECT line FROM read_csv(${lit(file)}, columns = {'line': 'VARCHAR'}, header = false, delim = '\x01',
        quote = '', escape = '', auto_detect = false, encoding = ${lit(encoding)}, max_line_size = 1048576);
      CREATE OR REPLACE TEMP TABLE ${table}_lines AS SELECT line, rowid + 1 AS _row FROM ${table}_read;
      DROP TABLE ${table}_read;
    `);
  } catch (e) {
    if (notTheFile(e)) throw e;
    throw new InputError(`cannot be read as JSON lines (${duckError(e)})`, { file });
  }
  const keys = Object.values(mapping.columns) as string[];
  await db.run(`
    CREATE OR REPLACE TEMP TABLE ${table}_rejects AS
      SELECT _row AS row_number, 'malformed_line: not a JSON object' AS reason, line AS raw FROM ${table}_lines
      WHERE NOT CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' ELSE false END;
    CREATE OR REPLACE TEMP TABLE ${table} AS
      SELECT ${keys.map((k) => `json_extract_string(line, ${lit(`$."${k.replaceAll('"', '\\"')}"`)}) AS ${ident(k)}`).join(', ')}, _row
      FROM ${table}_lines WHERE CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' ELSE false END;
    DROP TABLE ${table}_lines;
  `);
  return {
    table,
    rejects: `${table}_rejects`,
    columns: keys,
    rows: await db.count(`SELECT count(*) FROM ${table}`),
    rejected: await db.count(`SELECT count(*) FROM ${table}_rejects`),
    encoding,
  };
}

/** What a file read gives: its two TEMP tables as handles (dropped when the caller's scope ends). */
export interface ReadResult extends Omit<FileRead, 'table' | 'rejects'> {
  table: TempTable;
  rejects: TempTable;
}

export async function readSnapshotFile(db: Db, format: FileFormat, file: string, table: string, mapping: Mapping): Promise<ReadResult> {
  const read = format === 'csv' ? await readCsv(db, file, table, mapping) : format === 'parquet' ? await readParquet(db, file, table) : await readJsonl(db, file, table, mapping);
  return { ...read, table: new TempTable(db, read.table), rejects: new TempTable(db, read.rejects) };
}
