/**
 * `dtsen sql`: a query on a finished batch's database, opened read-only. Statements before the last run as
 * they are (temporary tables, SET …); the last one is streamed and read up to the limit, so a huge result is
 * never held in memory. Any DuckDB error (syntax, a write refused by the read-only database) is the user's
 * input: an InputError carrying DuckDB's own message.
 */
import type { DuckDBResultReader } from '@duckdb/node-api';
import type { Db } from '../engine/db.ts';
import { InputError } from '../engine/errors.ts';

export interface QueryResult {
  columns: string[];
  types: string[];
  /** JSON-safe values: BIGINT, DECIMAL and HUGEINT as strings, dates as ISO strings, lists as arrays */
  rows: unknown[][];
  /** more rows exist beyond `rows` */
  truncated: boolean;
}

export async function runQuery(db: Db, sql: string, limit: number): Promise<QueryResult> {
  let reader: DuckDBResultReader;
  try {
    const statements = await db.conn.extractStatements(sql);
    if (statements.count === 0) throw new InputError('no SQL statement given');
    for (let i = 0; i < statements.count - 1; i++) await (await statements.prepare(i)).run();
    reader = await (await statements.prepare(statements.count - 1)).streamAndReadUntil(limit + 1);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError((e as Error).message);
  }
  const rows = reader.getRowsJson();
  return {
    columns: reader.deduplicatedColumnNames(),
    types: reader.columnTypes().map((t) => t.toString()),
    rows: rows.slice(0, limit),
    truncated: rows.length > limit,
  };
}

/** A cell as text: NULL as an empty cell in tables, nested values as JSON. */
export function cellText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** RFC 4180 CSV: a header line, then the rows; fields quoted when they hold a comma, quote or line break. */
export function toCsv(r: Pick<QueryResult, 'columns' | 'rows'>): string {
  const field = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
  const lines = [r.columns.map(field).join(','), ...r.rows.map((row) => row.map((v) => field(cellText(v))).join(','))];
  return `${lines.join('\n')}\n`;
}
