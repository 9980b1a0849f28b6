/**
 * The register stage (after survive): continues the register of the previous batch (`previous` in the config,
 * `dtsen run --previous DIR`). Persons and families keep their ids by the rules of ids.sql.ts, new ones are
 * minted, the ids survive derived are replaced by them in every table (one transaction), field decisions are
 * written into the golden records (fields.sql.ts), and the history of every id (dtsen_id_history), the
 * record → id map that follows records across snapshots (dtsen_record_history), the register's batches
 * (dtsen_register_batch) and the change log against the previous batch (dtsen_change) are written.
 * Without a previous batch this is the register's first batch: every id is survive's, every person new.
 *
 * Everything is keyed on what survive does not change (clusters, person_clean, the grouping of families), so a
 * stage interrupted after its transaction and run again gives the same tables.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defineStage, type Ctx, type TableDeclaration } from '../engine/context.ts';
import type { Db } from '../engine/db.ts';
import { lit } from '../engine/db.ts';
import { EMPTY_PREVIOUS_SQL, loadPrevious } from './previous.ts';
import { carryForward, historySql } from './ids.sql.ts';
import { applyFieldsSql, FIELD_TARGETS_SQL } from './fields.sql.ts';
import { changeSql } from './change.sql.ts';
import { statusCounts } from './decisions.ts';

const UNITS_PERSON_SQL = `
CREATE OR REPLACE TEMP TABLE reg_items_person AS
SELECT c.cluster_id AS unit, p.source, p.source_record_id FROM clusters c JOIN person_clean p USING (rec_id);
CREATE OR REPLACE TEMP TABLE reg_units_person AS
SELECT unit, 'DT' || upper(substr(md5(min(source || ':' || source_record_id)), 1, 16)) AS unit_key FROM reg_items_person GROUP BY unit;
CREATE OR REPLACE TEMP VIEW reg_prev_items_person AS SELECT source, source_record_id, dtsen_id AS prev_id FROM reg_prev_record;`;

const UNITS_FAMILY_SQL = `
CREATE OR REPLACE TEMP TABLE reg_units_family AS
SELECT p.family_id AS unit, 'FM' || upper(substr(md5(min(u.unit_key)), 1, 16)) AS unit_key
FROM dtsen_person p JOIN reg_units_person u ON u.unit = p.cluster_id GROUP BY p.family_id;
CREATE OR REPLACE TEMP TABLE reg_items_family AS SELECT p.family_id AS unit, m.id AS item FROM dtsen_person p JOIN reg_map_person m ON m.unit = p.cluster_id;
CREATE OR REPLACE TEMP TABLE reg_prev_items_family AS SELECT dtsen_id AS item, family_id AS prev_id FROM reg_prev_person;`;

/**
 * The ids survive derived that the register changes: reg_pid (person: survive's id → the final one) and reg_fid
 * (family), only the ids that differ (in a batch continuing a register, a few hundred: most persons keep the id
 * survive derives from their smallest record), so the tables are rewritten joining these small maps.
 */
const RENAMED_SQL = `
CREATE OR REPLACE TEMP TABLE reg_pid AS SELECT p.dtsen_id AS cur, m.id FROM dtsen_person p JOIN reg_map_person m ON m.unit = p.cluster_id WHERE p.dtsen_id <> m.id;
CREATE OR REPLACE TEMP TABLE reg_fid AS SELECT unit AS cur, id FROM reg_map_family WHERE unit <> id;`;

/**
 * Every table of the batch that names a person or family id, rewritten with the final ids (reg_pid, reg_fid: an id
 * not in them is kept). A family's members are listed again only where one of them was renamed: survive lists them
 * as list_sort(list(dtsen_id)) of its persons, and so does this with the final ids.
 */
const REMAP_SQL = `
CREATE OR REPLACE TABLE dtsen_conflict AS
SELECT c.* REPLACE (coalesce(x.id, c.dtsen_id) AS dtsen_id) FROM dtsen_conflict c LEFT JOIN reg_pid x ON x.cur = c.dtsen_id ORDER BY dtsen_id, conflict_type;
CREATE OR REPLACE TABLE dtsen_link AS
SELECT l.* REPLACE (coalesce(x.id, l.dtsen_id) AS dtsen_id) FROM dtsen_link l LEFT JOIN reg_pid x ON x.cur = l.dtsen_id
ORDER BY dtsen_id, source, source_record_id;
CREATE OR REPLACE TABLE dtsen_family AS
WITH touched AS (SELECT DISTINCT p.family_id FROM dtsen_person p JOIN reg_pid i ON i.cur = p.dtsen_id),
mem AS (
  SELECT p.family_id, list_sort(list(coalesce(i.id, p.dtsen_id))) AS members
  FROM dtsen_person p SEMI JOIN touched t USING (family_id) LEFT JOIN reg_pid i ON i.cur = p.dtsen_id GROUP BY p.family_id)
SELECT f.* REPLACE (coalesce(x.id, f.family_id) AS family_id, coalesce(h.id, f.head_dtsen_id) AS head_dtsen_id, coalesce(mem.members, f.members) AS members)
FROM dtsen_family f LEFT JOIN reg_fid x ON x.cur = f.family_id LEFT JOIN reg_pid h ON h.cur = f.head_dtsen_id
LEFT JOIN mem ON mem.family_id = f.family_id
ORDER BY family_id;
`;

/**
 * dtsen_person with the final ids: rewritten in its order (a first batch, whose survive stage wrote it in order), or,
 * in a batch continuing a register, updated in place — only the few persons and families renamed — and left in the
 * order survive left it (the export sorts it: src/stages/export/index.ts). Rewriting it whole cost 3.6 s at 1M persons.
 */
const remapPersonSql = (inPlace: boolean) => inPlace
  ? `
UPDATE dtsen_person SET dtsen_id = x.id FROM reg_pid x WHERE dtsen_person.dtsen_id = x.cur;
UPDATE dtsen_person SET family_id = f.id FROM reg_fid f WHERE dtsen_person.family_id = f.cur;`
  : `
CREATE OR REPLACE TABLE dtsen_person AS
SELECT p.* REPLACE (coalesce(x.id, p.dtsen_id) AS dtsen_id, coalesce(f.id, p.family_id) AS family_id)
FROM dtsen_person p LEFT JOIN reg_pid x ON x.cur = p.dtsen_id LEFT JOIN reg_fid f ON f.cur = p.family_id
ORDER BY dtsen_id;`;

/**
 * Working tables dropped when the stage ends (the outputs and the decision tables stay). They are temporary tables
 * (and a temporary view): written into this database, the persistent tables of the ids' work cost more CPU than the
 * work itself (compressing and committing their blocks), and a stage run again starts from the previous batch anew.
 */
const WORK_TABLES = [
  ...['person', 'family'].flatMap((k) => ['n', 'claim', 'keep', 'fresh', 'mint', 'map', 'units', 'items', 'prev_items', 'succ', 'history'].map((t) => `reg_${t}_${k}`)),
  'reg_field_target', 'reg_field_win', 'reg_field_win_cur', 'reg_prev_record', 'reg_prev_history', 'reg_prev_person', 'reg_prev_family', 'reg_prev_batch', 'reg_pid', 'reg_fid',
];

export interface RegisterFigures {
  batch_seq: number;
  previous: string | null;
  persons: Record<string, number>;
  families: Record<string, number>;
  field_changes: Record<string, number>;
  changes_by_kind: { entity: string; kind: string; n: number }[];
  changes_by_province: { province_code: string; kind: string; n: number }[];
  decisions: Record<string, number>;
  /** the decisions this batch could not apply as written (orphaned, contradicted), at most 500 */
  decisions_not_applied: { decision_no: number; kind: string; reference: string; status: string; detail: string | null }[];
  ids_issued: number;
  /** the decisions of the store made in the review app (`dtsen review`): absent in batches written before it */
  review?: ReviewFigures;
  /** the path the batch took (incremental or full) and how much it recomputed: the rows of batch_recompute */
  recompute?: { path: string; reason: string; what: string; total: number; recomputed: number }[];
}

export interface ReviewFigures {
  /** decisions made in the review app, in the whole store */
  decisions: number;
  by_kind_and_queue: { queue: string; kind: string; n: number }[];
  /** same-person and different-persons decisions on pairs whose call by the reviewed batch is known */
  pair_decisions: number;
  /** of those, the ones that say the opposite of the batch reviewed (same person where it kept two, or the reverse) */
  overturned: number;
  overturned_share: number | null;
  by_status: Record<string, number>;
}

async function reviewFigures(db: Db): Promise<ReviewFigures> {
  const rows = await db.all<{ queue: string; kind: string; n: string }>(`
    SELECT review_queue AS queue, kind, count(*) AS n FROM decision WHERE review_queue IS NOT NULL GROUP BY ALL ORDER BY queue, kind`);
  const calls = await db.one<{ n: string; overturned: string }>(`
    SELECT count(*) AS n, count(*) FILTER (WHERE (kind = 'same_person' AND review_model = 'different') OR (kind = 'different_persons' AND review_model = 'same')) AS overturned
    FROM decision WHERE review_queue IS NOT NULL AND review_model IS NOT NULL AND kind IN ('same_person', 'different_persons')`);
  const statuses = await db.all<{ status: string; n: string }>(`
    SELECT s.status, count(*) AS n FROM decision d JOIN decision_status s USING (decision_no) WHERE d.review_queue IS NOT NULL GROUP BY ALL ORDER BY status`);
  const n = Number(calls?.n ?? 0);
  const overturned = Number(calls?.overturned ?? 0);
  return {
    decisions: rows.reduce((a, r) => a + Number(r.n), 0),
    by_kind_and_queue: rows.map((r) => ({ queue: r.queue, kind: r.kind, n: Number(r.n) })),
    pair_decisions: n,
    overturned,
    overturned_share: n ? overturned / n : null,
    by_status: Object.fromEntries(statuses.map((r) => [r.status, Number(r.n)])),
  };
}

/** Runs one piece of work in a transaction: all of it is written, or none. */
async function inTransaction(db: Db, sql: string): Promise<void> {
  await db.run('BEGIN TRANSACTION');
  try {
    await db.run(sql);
    await db.run('COMMIT');
  } catch (e) {
    await db.run('ROLLBACK').catch(() => {});
    throw e;
  }
}

export async function continueRegister(db: Db, o: { previous?: string; batch: string; snapshotId: string; snapshotDate: string }): Promise<RegisterFigures> {
  let seq = 1;
  let previous: string | null = null;
  if (o.previous) {
    const p = await loadPrevious(db, o.previous);
    seq = p.seq + 1;
    previous = p.dir;
  } else await db.run(EMPTY_PREVIOUS_SQL);

  await db.run(UNITS_PERSON_SQL);
  await carryForward(db, 'person', seq);
  await db.run(UNITS_FAMILY_SQL);
  await carryForward(db, 'family', seq);
  await db.run(historySql('person', seq));
  await db.run(historySql('family', seq));
  await db.run(`
    CREATE OR REPLACE TABLE dtsen_id_history AS
    SELECT * FROM reg_history_person UNION ALL SELECT * FROM reg_history_family;`);
  if (!(await db.tableExists('decision'))) throw new Error('the decisions stage has not run before the register stage');
  await db.run(FIELD_TARGETS_SQL);

  await db.run(RENAMED_SQL);
  const renamed = await db.count(`SELECT (SELECT count(*) FROM reg_pid) + (SELECT count(*) FROM reg_fid)`);
  // the winning field decisions on survive's ids (reg_pid maps each renamed one to its final id, one to one)
  await db.run(`
    CREATE OR REPLACE TEMP TABLE reg_field_win_cur AS
    SELECT w.* REPLACE (coalesce(x.cur, w.dtsen_id) AS dtsen_id) FROM reg_field_win w LEFT JOIN reg_pid x ON x.id = w.dtsen_id;`);
  const fieldDecisions = await db.count(`SELECT count(*) FROM reg_field_win_cur`);
  // The field decisions are written first; the remap then rewrites the tables once, with the final ids and in their
  // order. It runs when an id changed, when a field decision moved rows (DuckDB updates a list column by moving the
  // row to the table's end), and with a previous batch (survive then leaves its tables unordered), even when no id
  // changed. With a previous batch dtsen_person is updated in place instead, and sorted by the export.
  await inTransaction(db, `
    -- no DEFAULT expression: DuckDB 1.5 fails to replay a later ALTER of a table whose default needs binding (a kill
    -- -9 after the export's column comments left such a WAL); persons without a field decision hold NULL
    ALTER TABLE dtsen_person ADD COLUMN IF NOT EXISTS decision_refs VARCHAR[];
    ${applyFieldsSql('reg_field_win_cur')}
    ${renamed > 0 || fieldDecisions > 0 || o.previous ? `${REMAP_SQL}\n${remapPersonSql(Boolean(o.previous))}` : ''}`);

  await db.run(changeSql(seq));
  // the path the batch took and how much it recomputed (src/incremental/state.ts): entity 'batch'
  if (await db.tableExists('batch_recompute')) {
    await db.run(`
      INSERT INTO dtsen_change (batch_seq, entity, kind, id, related_id, field, before, after, province_code)
      SELECT ${seq}, 'batch', path, ${lit(o.batch)}, reason, what, total::VARCHAR, recomputed::VARCHAR, NULL FROM batch_recompute ORDER BY what;`);
  }
  await db.run(`
    CREATE OR REPLACE TABLE dtsen_record_history AS
    SELECT * FROM (
      SELECT source, source_record_id, dtsen_id, ${seq} AS last_batch FROM dtsen_link
      UNION ALL
      SELECT r.source, r.source_record_id, CASE WHEN h.status IN ('merged', 'split') THEN h.successors[1] ELSE r.dtsen_id END, r.last_batch
      FROM reg_prev_record r ANTI JOIN dtsen_link l USING (source, source_record_id)
      LEFT JOIN dtsen_id_history h ON h.id = r.dtsen_id AND h.kind = 'person');
    COMMENT ON TABLE dtsen_record_history IS ${lit('every source record the register ever held (source, source_record_id) and the person id holding it last: how records are followed across snapshots')};
    CREATE OR REPLACE TABLE dtsen_register_batch AS
    SELECT * FROM reg_prev_batch UNION ALL SELECT ${seq}, ${lit(o.batch)}, ${lit(o.snapshotId)}, ${lit(o.snapshotDate)}::DATE ORDER BY batch_seq;
    COMMENT ON TABLE dtsen_register_batch IS ${lit('the batches of this register, numbered (batch_seq) from its first')};`);
  const figures = await registerFigures(db, seq, previous);
  await db.run(`DROP VIEW IF EXISTS reg_prev_items_person;\n${WORK_TABLES.filter((t) => t !== 'reg_prev_items_person').map((t) => `DROP TABLE IF EXISTS ${t};`).join('\n')}`);
  return figures;
}

async function registerFigures(db: Db, seq: number, previous: string | null): Promise<RegisterFigures> {
  const counts = async (k: string) => {
    const rows = await db.all<{ kind: string; n: string }>(`
      SELECT basis AS kind, count(*) AS n FROM reg_map_${k} GROUP BY ALL
      UNION ALL SELECT CASE status WHEN 'split' THEN 'retired' ELSE status END, count(*) FROM reg_history_${k} WHERE status_batch = ${seq} AND status IN ('merged', 'split', 'inactive') GROUP BY ALL`);
    const out: Record<string, number> = { active: 0, continued: 0, returned: 0, new: 0, split: 0, merged: 0, retired: 0, inactive: 0 };
    for (const r of rows) out[r.kind] = Number(r.n);
    out.active = out.continued + out.returned + out.new + out.split;
    return out;
  };
  const byKind = await db.all<{ entity: string; kind: string; n: string }>(`SELECT entity, kind, count(*) AS n FROM dtsen_change WHERE entity <> 'batch' GROUP BY ALL ORDER BY entity, kind`);
  const fields = await db.all<{ field: string; n: string }>(`SELECT field, count(*) AS n FROM dtsen_change WHERE kind = 'field' GROUP BY ALL ORDER BY field`);
  const byProvince = await db.all<{ province_code: string | null; kind: string; n: string }>(`
    SELECT province_code, kind, count(*) AS n FROM dtsen_change WHERE entity = 'person' GROUP BY ALL ORDER BY province_code NULLS LAST, kind`);
  return {
    batch_seq: seq,
    previous,
    persons: await counts('person'),
    families: await counts('family'),
    field_changes: Object.fromEntries(fields.map((f) => [f.field, Number(f.n)])),
    changes_by_kind: byKind.map((r) => ({ entity: r.entity, kind: r.kind, n: Number(r.n) })),
    changes_by_province: byProvince.map((r) => ({ province_code: r.province_code ?? 'unknown', kind: r.kind, n: Number(r.n) })),
    decisions: await statusCounts(db),
    decisions_not_applied: (await db.all<{ decision_no: number; kind: string; reference: string; status: string; detail: string | null }>(
      `SELECT decision_no, kind, reference, status, detail FROM decision_status WHERE status NOT IN ('applied', 'kept') ORDER BY decision_no LIMIT 500`)),
    review: await reviewFigures(db),
    recompute: (await db.tableExists('batch_recompute'))
      ? (await db.all<{ path: string; reason: string; what: string; total: bigint; recomputed: bigint }>(`SELECT * FROM batch_recompute ORDER BY CASE what WHEN 'rows' THEN -1 WHEN 'records' THEN 0 WHEN 'pairs' THEN 1 WHEN 'components' THEN 2 ELSE 3 END, what`))
          .map((r) => ({ ...r, total: Number(r.total), recomputed: Number(r.recomputed) }))
      : undefined,
    ids_issued: await db.count(`SELECT count(*) FROM dtsen_id_history`),
  };
}

/** The tables the register stage adds (it also rewrites the ids of survive's tables, declared there). */
export const REGISTER_TABLES: readonly TableDeclaration[] = [
  { name: 'dtsen_id_history', description: 'every person and family id the register ever issued, its status and where it went', columns: [{ name: 'id', type: 'VARCHAR' }, { name: 'kind', type: 'VARCHAR' }, { name: 'status', type: 'VARCHAR' }, { name: 'successors', type: 'VARCHAR[]' }, { name: 'first_batch', type: 'INTEGER' }, { name: 'last_batch', type: 'INTEGER' }], grain: ['kind', 'id'] },
  { name: 'dtsen_change', description: "what this batch changed in the register against the previous batch", columns: [{ name: 'batch_seq', type: 'INTEGER' }, { name: 'entity', type: 'VARCHAR' }, { name: 'kind', type: 'VARCHAR' }, { name: 'id', type: 'VARCHAR' }, { name: 'field', type: 'VARCHAR' }], grain: [] },
];

export const registerStage = defineStage({
  name: 'register',
  produces: REGISTER_TABLES,
  async run(ctx: Ctx) {
    const c = ctx.config;
    if (!c.previous && existsSync(join(ctx.outDir, 'dtsen.duckdb'))) {
      ctx.log.warn({ out: ctx.outDir }, 'the output folder holds a batch and no previous batch is given: this batch starts a new register (ids are not carried forward; use --previous to continue it)');
    }
    const figures = await continueRegister(ctx.db, { previous: c.previous, batch: c.batch, snapshotId: c.snapshot_id, snapshotDate: c.snapshot_date });
    const left = (figures.decisions.orphaned ?? 0) + (figures.decisions.contradicted ?? 0);
    if (left > 0) ctx.log.warn({ orphaned: figures.decisions.orphaned ?? 0, contradicted: figures.decisions.contradicted ?? 0 }, 'decisions not applied as written: see decision_status and the report');
    return { rows: figures.persons.active, figures: { ...figures } };
  },
});
