/**
 * `dtsen sql`: one read statement on a finished batch's database, which the engine opened read-only and sealed
 * (no file outside the database can be read or written, no extension loaded, no setting changed). On top of
 * that, the statement must be exactly one (counted by DuckDB's own statement extraction) and of a type that
 * only reads (the prepared statement's type, as DuckDB's parser and binder see it): a SELECT — which covers
 * WITH, VALUES, FROM-first queries, DESCRIBE, SHOW, SUMMARIZE and the PRAGMAs that read, all bound as a
 * SELECT — or EXPLAIN [ANALYZE] of such a statement. Everything else is refused as the user's input (exit 2):
 * COPY, ATTACH, DETACH, INSTALL, LOAD, SET/RESET, EXPORT/IMPORT DATABASE, CALL, CHECKPOINT, CREATE, INSERT,
 * UPDATE, DELETE, DROP, ALTER, transactions, PREPARE/EXECUTE, VACUUM, ANALYZE. File-reading table functions
 * (`read_csv`, `read_text`, `glob`, …) inside a SELECT are refused by the sealed database itself. The result is
 * streamed and read up to the limit, so a huge result is never held in memory.
 */
import { StatementType, type DuckDBResultReader } from '@duckdb/node-api';
import type { Db, PreparedStatement } from '../engine/db.ts';
import { InputError } from '../engine/errors.ts';
import { READ_STATEMENTS } from './read-statements.ts';

export interface QueryResult {
  columns: string[];
  types: string[];
  /** JSON-safe values: BIGINT, DECIMAL and HUGEINT as strings, dates as ISO strings, lists as arrays */
  rows: unknown[][];
  /** more rows exist beyond `rows` */
  truncated: boolean;
}

/** What `dtsen sql` runs, for its help and its refusals. */

function refused(what: string, duckdbMessage?: string): InputError {
  return new InputError(`${what}${duckdbMessage ? ` (${duckdbMessage.split('\n')[0]})` : ''}; dtsen sql runs ${READ_STATEMENTS}, on the batch's database only`);
}

/** The statements of a DuckDB statement type, for a refusal (the type's own name where it is the keyword). */
const TYPE_NAMES: Partial<Record<StatementType, string>> = {
  [StatementType.LOAD]: 'INSTALL or LOAD',
  [StatementType.CALL]: 'CALL (and CHECKPOINT)',
  [StatementType.SET]: 'SET, RESET or USE',
  [StatementType.VARIABLE_SET]: 'SET VARIABLE',
  [StatementType.TRANSACTION]: 'a transaction statement',
  [StatementType.VACUUM]: 'VACUUM or ANALYZE',
  [StatementType.EXPORT]: 'EXPORT DATABASE',
  [StatementType.COPY_DATABASE]: 'COPY FROM DATABASE',
  [StatementType.MERGE_INTO]: 'MERGE INTO',
  [StatementType.UPDATE_EXTENSIONS]: 'UPDATE EXTENSIONS',
};

function typeName(t: StatementType): string {
  return TYPE_NAMES[t] ?? (StatementType as unknown as Record<number, string>)[t] ?? `statement type ${t}`;
}

/** One statement of `sql`, prepared: exactly one statement, or an input error. */
async function prepareOne(db: Db, sql: string, what: string): Promise<PreparedStatement> {
  if (sql.trim() === '') throw new InputError(`no SQL statement given; dtsen sql runs ${READ_STATEMENTS}`);
  let statements;
  try {
    statements = await db.statements(sql);
  } catch (e) {
    throw refusedOrInput(e);
  }
  if (statements.count === 0) throw new InputError(`no SQL statement given; dtsen sql runs ${READ_STATEMENTS}`);
  if (statements.count > 1) throw refused(`${what} holds ${statements.count} statements: one per call`);
  try {
    return await statements.prepare(0);
  } catch (e) {
    throw refusedOrInput(e);
  }
}

/** The sealed database's own refusals: a file outside it, a write to it, a setting. */
const SEALED = /Permission Error|read-only mode|configuration has been locked/;

/**
 * DuckDB's error as the user's input; a refusal of the sealed database also says what is allowed. A conversion
 * error quotes the value it could not convert — a NIK, a name —: the value is masked.
 */
function refusedOrInput(e: unknown): InputError {
  const message = (e as Error).message;
  if (SEALED.test(message)) return refused('statement refused', message);
  return new InputError(/^Conversion Error/.test(message) ? message.replace(/'(?:[^']|'')*'/g, "'…'") : message);
}

/** EXPLAIN [ANALYZE] [(options)] in front of the statement it explains. */
const EXPLAIN_PREFIX = /^\s*EXPLAIN\s+(?:ANALY[SZ]E\s+)?(?:\([^()]*\)\s*)?/i;

/**
 * The prepared statement, when it only reads; an input error saying what is allowed otherwise. An EXPLAIN is
 * checked by preparing the statement it explains (EXPLAIN ANALYZE runs it).
 */
export async function prepareReadStatement(db: Db, sql: string): Promise<PreparedStatement> {
  const prepared = await prepareOne(db, sql, 'the query');
  const type = prepared.statementType;
  if (type === StatementType.SELECT) return prepared;
  if (type === StatementType.EXPLAIN) {
    const m = EXPLAIN_PREFIX.exec(sql);
    const inner = m ? await prepareOne(db, sql.slice(m[0].length), 'the explained statement').catch((e: unknown) => {
      prepared.close();
      throw e;
    }) : undefined;
    const innerType = inner?.statementType;
    inner?.close();
    if (innerType === StatementType.SELECT) return prepared;
    prepared.close();
    throw refused(innerType === undefined ? 'EXPLAIN must be followed directly by the statement it explains' : `EXPLAIN of ${typeName(innerType)} is not allowed`);
  }
  prepared.close();
  throw refused(`${typeName(type)} is not allowed`);
}

export async function runQuery(db: Db, sql: string, limit: number): Promise<QueryResult> {
  const prepared = await prepareReadStatement(db, sql);
  try {
    let reader: DuckDBResultReader;
    try {
      reader = await prepared.readUntil(limit + 1);
    } catch (e) {
      throw refusedOrInput(e);
    }
    const rows = reader.getRowsJson();
    return {
      columns: reader.deduplicatedColumnNames(),
      types: reader.columnTypes().map((t) => t.toString()),
      rows: rows.slice(0, limit),
      truncated: rows.length > limit,
    };
  } finally {
    prepared.close();
  }
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
