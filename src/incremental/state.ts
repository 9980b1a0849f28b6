/**
 * What a batch keeps so that the next one can link incrementally: `record_state`, one row per record of
 * person_clean with two content hashes —
 *  - `link_hash` over the columns linking and clustering read (the comparisons' columns, the columns of every
 *    blocking rule's keys, the columns the conflict rules of clustering read): two records whose link hashes are
 *    unchanged give the same blocking keys, the same comparison vector and the same conflicts;
 *  - `row_hash` over every column of person_clean but the record's place in its file and batch (rec_id, file,
 *    row_number, snapshot_id): a record whose row hash changed feeds its golden record other values.
 * Hashes are DuckDB's 64-bit hash(): a DuckDB whose hash differs only makes every record look changed (recomputed).
 */
import type { Db } from '../engine/db.ts';
import { ident, lit } from '../engine/db.ts';
import { BLOCKING_RULES } from '../linkage/blocking-rules.ts';
import { compareColumns } from '../linkage/comparison-vectors.ts';
import { conflictMembersSql } from '../stages/cluster/conflicts.sql.ts';

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

/** Writes record_state(source, source_record_id, rec_id, link_hash, row_hash) from person_clean. */
export async function writeRecordState(db: Db): Promise<void> {
  const all = (await db.all<{ column_name: string }>(
    `SELECT column_name FROM duckdb_columns() WHERE table_name = 'person_clean' AND schema_name = 'main' ORDER BY column_index`)).map((r) => r.column_name);
  const link = linkColumns();
  const missing = link.filter((c) => !all.includes(c));
  if (missing.length) throw new Error(`record_state: person_clean has no column ${missing.join(', ')} (read by linking)`);
  const row = all.filter((c) => !PLACE_COLUMNS.includes(c));
  await db.run(`
    CREATE OR REPLACE TABLE record_state AS
    SELECT source, source_record_id, rec_id, hash(${link.map(ident).join(', ')}) AS link_hash, hash(${row.map(ident).join(', ')}) AS row_hash
    FROM person_clean ORDER BY rec_id;
    COMMENT ON TABLE record_state IS ${lit('per record, hashes of the values linking reads (link_hash) and of all its cleaned values (row_hash): what the next batch compares to link only what changed')};`);
}
