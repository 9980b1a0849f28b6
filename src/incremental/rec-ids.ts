/**
 * Record ids that stay: a record keeps its rec_id from batch to batch.
 *
 * A batch given a previous one (`--previous`, whether it then links incrementally or with `--full`) gives every
 * accepted row whose source and source_record_id the previous batch's normalise_state holds that record's rec_id;
 * every other row takes a new id above the highest the previous batch's lineage ever issued (its
 * REC_ID_STATE_TABLE, or its highest rec_id when it kept none), numbered by (source, file, row number). A gone
 * record's id is never issued again, so the previous and the current ids never name two different records. A batch
 * without a previous one numbers its rows 1, 2, … in that order.
 *
 * Why: every table keyed by rec_id (pairs, clusters, the family context's pairs, decisions, the review queues) then
 * means the same record in two batches, so an incremental batch reads the previous batch's tables as they are
 * instead of renumbering them, and --full and incremental give every record the same id (they are compared record by
 * record). (source, source_record_id) is unique among accepted rows: a missing or repeated id is quarantined by
 * validate.
 */
import { existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../engine/db.ts';
import { lit } from '../engine/db.ts';
import type { BatchConfig } from '../../schemas/config.ts';
import { attachedHas } from './previous.ts';

/** One row: the highest rec_id the batch's lineage has issued, and how many rows kept an id or took a new one. */
export const REC_ID_STATE_TABLE = 'rec_id_state';

/** The attached previous batch (read-only, detached before assignRecIds returns). */
const PREV = 'rec_id_prev';

export interface RecIds {
  /** rows that kept their previous rec_id */
  carried: number;
  /** rows given a new rec_id */
  issued: number;
  /** the highest rec_id issued so far (this batch's or an earlier one's) */
  high_water: number;
  /** the previous batch the ids were carried from */
  previous?: string;
}

/** The previous batch's database, when it holds normalise_state (ids to carry). */
async function previousDatabase(config: BatchConfig): Promise<string | undefined> {
  if (!config.previous || !existsSync(config.previous)) return undefined;
  const path = join(await realpath(config.previous), 'dtsen.duckdb');
  return existsSync(path) ? path : undefined;
}

/** TEMP TABLE (rid, rec_id, source_hash): the rows whose record the previous batch held, its rec_id and the hash of its source row then. */
export const CARRIED_TABLE = 'norm_rec_id_prev';

/**
 * Creates TEMP TABLE norm_rec_id(rid, rec_id) for every row of `input` (a table with rid, source,
 * source_record_id, file, row_number) and CARRIED_TABLE (the caller drops it), and writes REC_ID_STATE_TABLE.
 */
export async function assignRecIds(db: Db, config: BatchConfig, input: string): Promise<RecIds> {
  const dbPath = await previousDatabase(config);
  let carriedSql = `SELECT NULL::BIGINT AS rid, NULL::BIGINT AS rec_id, NULL::UBIGINT AS source_hash WHERE false`;
  let carried = 0;
  let highWater = 0;
  let attached = false;
  try {
    if (dbPath) {
      await db.run(`ATTACH ${lit(dbPath)} AS ${PREV} (READ_ONLY)`);
      attached = true;
      if (await attachedHas(db, PREV, 'normalise_state')) {
        const stored = (await attachedHas(db, PREV, REC_ID_STATE_TABLE, 'high_water'))
          ? `UNION ALL SELECT max(high_water) FROM ${PREV}.${REC_ID_STATE_TABLE}` : '';
        highWater = await db.count(`SELECT coalesce(max(h), 0) FROM (SELECT max(rec_id) AS h FROM ${PREV}.normalise_state ${stored})`);
        // (source, source_record_id) is unique on both sides (validate quarantines a repeated id): checked below
        carriedSql = `SELECT i.rid, p.rec_id, p.source_hash FROM ${input} i
          JOIN ${PREV}.normalise_state p ON p.source = i.source AND p.source_record_id = i.source_record_id`;
      }
    }
    await db.run(`CREATE OR REPLACE TEMP TABLE ${CARRIED_TABLE} AS ${carriedSql}`);
    const twice = (await db.one<{ rows: string; rids: string; ids: string }>(`SELECT count(*) AS rows, count(DISTINCT rid) AS rids, count(DISTINCT rec_id) AS ids FROM ${CARRIED_TABLE}`))!;
    carried = Number(twice.rows);
    if (twice.rows !== twice.rids || twice.rows !== twice.ids) {
      throw new Error(`normalise: the previous batch's normalise_state holds a (source, source_record_id) twice, or this batch does; the record ids cannot be carried over (${config.previous})`);
    }
    await db.run(`
      CREATE OR REPLACE TEMP TABLE norm_rec_id AS
      SELECT rid, rec_id FROM ${CARRIED_TABLE}
      UNION ALL
      SELECT rid, ${highWater}::BIGINT + row_number() OVER (ORDER BY source, file, row_number) AS rec_id
      FROM ${input} ANTI JOIN ${CARRIED_TABLE} USING (rid);`);
  } finally {
    if (attached) await db.run(`DETACH ${PREV}`);
  }
  // the carried ids are at most the previous high-water mark, the new ones numbered 1, 2, … above it
  const issued = (await db.count(`SELECT count(*) FROM ${input}`)) - carried;
  const ids: RecIds = { carried, issued, high_water: highWater + issued, previous: dbPath && highWater > 0 ? config.previous : undefined };
  await db.run(`
    CREATE OR REPLACE TABLE ${REC_ID_STATE_TABLE} AS SELECT ${ids.high_water}::BIGINT AS high_water, ${ids.carried}::BIGINT AS carried, ${ids.issued}::BIGINT AS issued;
    COMMENT ON TABLE ${REC_ID_STATE_TABLE} IS ${lit('the highest rec_id this batch and the batches it continues have issued (a next batch numbers its new records above it, so no id names two records), and how many records kept their previous rec_id or took a new one')};`);
  return ids;
}
