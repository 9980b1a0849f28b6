/**
 * Carrying ids forward from one batch to the next — the same rules for persons (items: their records) and for
 * families (items: their member persons), set-based over three tables of one kind K:
 *
 *   reg_units_K(unit, unit_key)   this batch's persons (clusters) or families, with a deterministic key
 *                                 (the id survive derives: md5 of the smallest record / member)
 *   reg_items_K(unit, item…)      what each holds: records (source, source_record_id), or member dtsen_ids (item)
 *   reg_prev_items_K(item…, prev_id) the id each item had in the register before this batch
 *
 * and reg_prev_history (the previous dtsen_id_history). The rules:
 *
 * - Split: an earlier id's main part is the unit holding most of its records (ties: the smaller unit key).
 * - Merge: a unit that is the main part of several earlier ids keeps the one with most records in it (ties:
 *   the older id — the smaller first_batch —, then the smaller id); the others are retired.
 * - A unit that is no earlier id's main part gets a new id: `split` (it names the earlier id most of its
 *   records come from) or `new` (none of its items was ever in the register).
 * - New ids are minted as prefix + 16 hex digits of md5(unit key # batch # salt); the first batch of a register
 *   keeps survive's ids (the unit key). An id already issued, or minted twice, is minted again with the next
 *   salt: ids are never reused, and the same inputs and history give the same ids.
 */
import type { Db } from '../engine/db.ts';
import { lit } from '../engine/db.ts';

export type IdKind = 'person' | 'family';
export const ID_PREFIX: Record<IdKind, string> = { person: 'DT', family: 'FM' };

/** The columns naming an item: a record by its source and id (no string built per record), a person by its id. */
export const ITEM_KEYS: Record<IdKind, string> = { person: 'source, source_record_id', family: 'item' };

/** Older first, then smaller: the ascending key of an earlier id among several (h: its history row). */
const AGE = (id: string) => `coalesce(h.first_batch, 0), ${id}`;

function claimSql(k: IdKind): string {
  return `
CREATE OR REPLACE TEMP TABLE reg_n_${k} AS
SELECT i.unit, p.prev_id, count(*) AS n FROM reg_items_${k} i JOIN reg_prev_items_${k} p USING (${ITEM_KEYS[k]}) GROUP BY ALL;

-- each earlier id's main part: the unit holding most of its records
CREATE OR REPLACE TEMP TABLE reg_claim_${k} AS
SELECT n.prev_id, arg_min(n.unit, (-n.n, u.unit_key)) AS unit, max(n.n) AS n
FROM reg_n_${k} n JOIN reg_units_${k} u USING (unit) GROUP BY n.prev_id;

-- per unit, the earlier id it keeps: the one with most records in it among those whose main part it is
CREATE OR REPLACE TEMP TABLE reg_keep_${k} AS
SELECT c.unit, arg_min(c.prev_id, (-c.n, ${AGE('c.prev_id')})) AS id
FROM reg_claim_${k} c LEFT JOIN reg_prev_history h ON h.id = c.prev_id AND h.kind = ${lit(k)} GROUP BY c.unit;

-- the units that keep no id: split off an earlier id (the one most of its records come from), or new; the earlier
-- id is looked for among the records of these units only (a few in a batch continuing a register, not every unit)
CREATE OR REPLACE TEMP TABLE reg_fresh_${k} AS
WITH u AS (SELECT * FROM reg_units_${k} ANTI JOIN reg_keep_${k} USING (unit))
SELECT u.unit, u.unit_key, f.from_id
FROM u
LEFT JOIN (
  SELECT n.unit, arg_min(n.prev_id, (-n.n, ${AGE('n.prev_id')})) AS from_id
  FROM reg_n_${k} n SEMI JOIN u USING (unit) LEFT JOIN reg_prev_history h ON h.id = n.prev_id AND h.kind = ${lit(k)} GROUP BY n.unit
) f USING (unit);`;
}

function mintExpr(k: IdKind, seq: number, salt: string): string {
  if (seq === 1) return `CASE WHEN ${salt} = 0 THEN unit_key ELSE ${lit(ID_PREFIX[k])} || upper(substr(md5(unit_key || '#1#' || ${salt}), 1, 16)) END`;
  return `${lit(ID_PREFIX[k])} || upper(substr(md5(unit_key || '#' || ${seq} || '#' || ${salt}), 1, 16))`;
}

/** Minting rounds before giving up (each round re-mints only the colliding ids: 64-bit hashes rarely collide). */
const MAX_SALT = 20;

/**
 * Writes reg_map_K(unit, id, basis, from_id): basis `continued` (an active earlier id), `returned` (an inactive
 * one whose records came back), `split` (minted; from_id the earlier id) or `new` (minted).
 */
export async function carryForward(db: Db, k: IdKind, seq: number): Promise<void> {
  await db.run(claimSql(k));
  await db.run(`CREATE OR REPLACE TEMP TABLE reg_mint_${k} AS SELECT unit, unit_key, 0 AS salt, ${mintExpr(k, seq, '0')} AS id FROM reg_fresh_${k}`);
  for (let salt = 1; ; salt++) {
    // taken: issued before (any kind), kept by a unit, or minted for a unit with a smaller key
    await db.run(`
      CREATE OR REPLACE TEMP TABLE reg_taken AS
      SELECT m.unit FROM reg_mint_${k} m WHERE m.id IN (SELECT id FROM reg_prev_history) OR m.id IN (SELECT id FROM reg_keep_${k})
      UNION SELECT m.unit FROM reg_mint_${k} m
      JOIN (SELECT id, min(unit_key) AS first FROM reg_mint_${k} GROUP BY id HAVING count(*) > 1) d ON d.id = m.id AND m.unit_key <> d.first`);
    if ((await db.count(`SELECT count(*) FROM reg_taken`)) === 0) break;
    if (salt > MAX_SALT) throw new Error(`could not mint unique ${k} ids in ${MAX_SALT} rounds`);
    await db.run(`UPDATE reg_mint_${k} SET salt = ${salt}, id = ${mintExpr(k, seq, String(salt))} WHERE unit IN (SELECT unit FROM reg_taken)`);
  }
  await db.run(`
    DROP TABLE reg_taken;
    CREATE OR REPLACE TEMP TABLE reg_map_${k} AS
    SELECT k.unit, k.id, CASE WHEN h.status = 'inactive' THEN 'returned' ELSE 'continued' END AS basis, NULL::VARCHAR AS from_id
    FROM reg_keep_${k} k LEFT JOIN reg_prev_history h ON h.id = k.id AND h.kind = ${lit(k)}
    UNION ALL
    SELECT f.unit, m.id, CASE WHEN f.from_id IS NULL THEN 'new' ELSE 'split' END, f.from_id
    FROM reg_fresh_${k} f JOIN reg_mint_${k} m USING (unit);`);
}

/**
 * reg_history_K: the id history of kind K after this batch — ids active now, earlier ids retired now (merged:
 * all their records in one person; split: in several), earlier active ids none of whose records is here any
 * more (inactive), and every other earlier row unchanged. Successors accumulate: every id now holding records
 * that were the id's, the one with most of them first.
 */
export function historySql(k: IdKind, seq: number): string {
  return `
CREATE OR REPLACE TEMP TABLE reg_succ_${k} AS
SELECT n.prev_id AS id, list(m.id ORDER BY n.n DESC, m.id) AS now_successors
FROM reg_n_${k} n JOIN reg_map_${k} m USING (unit) WHERE m.id <> n.prev_id GROUP BY n.prev_id;

CREATE OR REPLACE TEMP TABLE reg_history_${k} AS
WITH prev AS (SELECT * FROM reg_prev_history WHERE kind = ${lit(k)}),
succ AS (
  SELECT s.id, list_distinct(list_concat(coalesce(h.successors, []), coalesce(s.now_successors, []))) AS successors
  FROM reg_succ_${k} s LEFT JOIN prev h USING (id)),
active AS (
  SELECT m.id, ${lit(k)} AS kind, 'active' AS status, coalesce(s.successors, h.successors, []) AS successors,
         coalesce(h.split_from, m.from_id) AS split_from, coalesce(h.first_batch, ${seq}) AS first_batch, ${seq} AS last_batch,
         CASE WHEN h.status = 'active' THEN h.status_batch ELSE ${seq} END AS status_batch
  FROM reg_map_${k} m LEFT JOIN prev h USING (id) LEFT JOIN succ s USING (id)),
retired AS (
  SELECT h.id, h.kind, CASE WHEN len(r.now_successors) = 1 THEN 'merged' ELSE 'split' END AS status, s.successors,
         h.split_from, h.first_batch, h.last_batch, ${seq} AS status_batch
  FROM prev h JOIN reg_succ_${k} r USING (id) JOIN succ s USING (id)
  WHERE h.id NOT IN (SELECT id FROM reg_map_${k})),
-- reg_claim_K holds each earlier id holding records now once (reg_n_K once per unit holding some of them)
gone AS (
  SELECT h.id, h.kind, 'inactive' AS status, h.successors, h.split_from, h.first_batch, h.last_batch,
         CASE WHEN h.status = 'inactive' THEN h.status_batch ELSE ${seq} END AS status_batch
  FROM prev h WHERE h.status IN ('active', 'inactive') AND h.id NOT IN (SELECT prev_id FROM reg_claim_${k}))
SELECT * FROM active
UNION ALL SELECT * FROM retired
UNION ALL SELECT * FROM gone
UNION ALL SELECT * FROM prev WHERE status IN ('merged', 'split') AND id NOT IN (SELECT id FROM reg_map_${k});`;
}
