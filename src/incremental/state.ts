/**
 * What a batch keeps so that the next one can link incrementally: `record_state`, one row per record of
 * person_clean with two content hashes —
 *  - `link_hash` over the columns linking and clustering read (the comparisons' columns, the columns of every
 *    blocking rule's keys, the columns the conflict rules of clustering read): two records whose link hashes are
 *    unchanged give the same blocking keys, the same comparison vector and the same conflicts;
 *  - `row_hash` over the columns the golden records read (survive's members: goldenColumns): a record whose row
 *    hash changed feeds its golden record, its family or its conflicts other values. A column nothing after linking
 *    reads (the age counted to the snapshot date, which moves for a twelfth of the records every month; the raw
 *    values) does not make a person be built again.
 * Hashes are DuckDB's 64-bit hash(): a DuckDB whose hash differs only makes every record look changed (recomputed).
 */
import type { Db } from '../engine/db.ts';
import { ident, lit } from '../engine/db.ts';
import { BLOCKING_RULES } from '../linkage/blocking-rules.ts';
import { compareColumns } from '../linkage/comparison-vectors.ts';
import { conflictMembersSql } from '../stages/cluster/conflicts.sql.ts';
import { memberSql } from '../stages/survive/person.sql.ts';

/** Columns of person_clean that say where a record sits, not what it holds: never hashed. */
const PLACE_COLUMNS = ['rec_id', 'file', 'row_number', 'snapshot_id'];

/** `p.<column>` names in a piece of SQL. */
function columnsOf(sql: string): string[] {
  return [...sql.matchAll(/\bp\.([a-z_][a-z0-9_]*)/g)].map((m) => m[1]);
}

/** The person_clean columns blocking, comparisons and the conflict rules read: what link_hash covers (sorted). */
export function linkColumns(): string[] {
  const blocking = BLOCKING_RULES.flatMap((r) => columnsOf([r.keys, r.distinctOn ?? '', r.probe?.key ?? '', r.probe?.when ?? ''].join(' ')));
  const conflicts = columnsOf(conflictMembersSql('c', 2));
  return [...new Set(['source', ...compareColumns(), ...blocking, ...conflicts])].filter((c) => !PLACE_COLUMNS.includes(c)).sort();
}

/** The person_clean columns the golden records, families and conflicts are built from (survive's members): what row_hash covers (sorted). */
export function goldenColumns(): string[] {
  const read = columnsOf(memberSql({ decileSource: 'regsosek', sourceDates: {} }));
  return [...new Set(read)].filter((c) => !PLACE_COLUMNS.includes(c)).sort();
}

/** Writes record_state(source, source_record_id, rec_id, link_hash, row_hash) from person_clean. */
export async function writeRecordState(db: Db): Promise<void> {
  const all = (await db.all<{ column_name: string }>(
    `SELECT column_name FROM duckdb_columns() WHERE table_name = 'person_clean' AND schema_name = 'main' ORDER BY column_index`)).map((r) => r.column_name);
  const link = linkColumns();
  const missing = link.filter((c) => !all.includes(c));
  if (missing.length) throw new Error(`record_state: person_clean has no column ${missing.join(', ')} (read by linking)`);
  const row = goldenColumns();
  const absent = row.filter((c) => !all.includes(c));
  if (absent.length) throw new Error(`record_state: person_clean has no column ${absent.join(', ')} (read by survive)`);
  await db.run(`
    CREATE OR REPLACE TABLE record_state AS
    SELECT source, source_record_id, rec_id, hash(${link.map(ident).join(', ')}) AS link_hash, hash(${row.map(ident).join(', ')}) AS row_hash
    FROM person_clean ORDER BY rec_id;
    COMMENT ON TABLE record_state IS ${lit('per record, hashes of the values linking reads (link_hash) and of those its golden record is built from (row_hash): what the next batch compares to link only what changed')};`);
}

/** What a stage recomputed: one row of batch_recompute (the report's "How this batch was computed", dtsen_change). */
export interface RecomputeRow {
  /** records, pairs, components, persons, families */
  what: string;
  /** how many this batch holds */
  total: number;
  /** how many it computed (the others were taken from the previous batch) */
  recomputed: number;
}

/**
 * Writes a stage's rows of batch_recompute(path, reason, what, total, recomputed), replacing the rows of the same
 * `what` (a stage run again after an interruption writes the same rows).
 */
export async function recordRecompute(db: Db, path: string, reason: string, rows: readonly RecomputeRow[]): Promise<void> {
  await db.run(`
    CREATE TABLE IF NOT EXISTS batch_recompute (path VARCHAR, reason VARCHAR, what VARCHAR, total BIGINT, recomputed BIGINT);
    COMMENT ON TABLE batch_recompute IS ${lit("which path the batch took ('incremental' against the previous batch, or 'full') and why, and per kind of item (records, pairs, components, persons, families) how many it holds and how many it computed")};
    DELETE FROM batch_recompute WHERE what IN (${rows.map((r) => lit(r.what)).join(', ') || 'NULL'});
    ${rows.map((r) => `INSERT INTO batch_recompute VALUES (${lit(path)}, ${lit(reason)}, ${lit(r.what)}, ${r.total}, ${r.recomputed});`).join('\n')}`);
}

/** The path the link stage recorded (batch_recompute), or undefined before it ran. */
export async function recomputePath(db: Db): Promise<{ path: string; reason: string } | undefined> {
  if (!(await db.tableExists('batch_recompute'))) return undefined;
  return db.one<{ path: string; reason: string }>(`SELECT path, reason FROM batch_recompute WHERE what = 'records'`);
}
