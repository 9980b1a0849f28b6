/**
 * Incremental normalise: a batch given a previous one (`--previous`) cleans only the source rows that are new or
 * changed since it, and copies the cleaned rows of the others from the previous batch's person_clean.
 *
 * A row is known by the hash of its source row (`source_hash`: every column of accepted_record but where it sits —
 * rid, file, row_number, snapshot_id) with its source and source_record_id. What it is cleaned into depends only on
 * that row and on what `normalise_fingerprint` covers:
 *  - `code`: the SQL of normalisation (its macros and statements, as this code writes them), the columns of
 *    accepted_record, NORMALISE_VERSION and DuckDB's version (hash() and the functions the macros call);
 *  - `mappings`: every source's mapping (value codes, date formats, age reference date …);
 *  - `snapshot_date`: ages, impossible birth dates and NIK centuries are derived from it;
 *  - `regions`: the reference tables of provinces, regencies, districts and villages (NIK, KK and village checks).
 * When any part differs from the previous batch's, every row is cleaned again and the reason says which, but for
 * the snapshot date alone: it moves every month in a living register, and few rows depend on it. Then the unchanged
 * source rows whose cleaned row would differ with the new date (`snapshotMoved`, a predicate over the previous cleaned
 * row and the source row: a birth date between the two dates, an age counted to it, a NIK century inferred with its
 * year) are cleaned again with the others, and only the rest copied.
 *
 * What a batch keeps for the next one, in its dtsen.duckdb only (a batch folder alone is enough to continue):
 * `normalise_state(rec_id, source, source_record_id, source_hash)`, one row per row of person_clean, and
 * `normalise_fingerprint(part, fingerprint)`. A copied row takes the previous person_clean row of the same source
 * row (the same record, so the same rec_id: src/incremental/rec-ids.ts) with this batch's file, row_number and
 * snapshot_id.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../engine/db.ts';
import { ident, lit } from '../engine/db.ts';
import { materialise, TempTable } from '../engine/sql-pipeline.ts';
import type { Mapping } from '../../schemas/mapping.ts';
import type { BatchConfig } from '../../schemas/config.ts';
import type { RecomputeRow } from './state.ts';
import { attachedHas } from './previous.ts';
import { CARRIED_TABLE, assignRecIds, type RecIds } from './rec-ids.ts';
import { columnsOf, dropStagingCopy, previousCopyOf, updatedInPlaceSql, updateInPlace, writtenWhole } from './staging.ts';

/**
 * Raised by hand when normalisation changes what it writes in a way its SQL text does not show (a reference file,
 * a helper computed in TypeScript): the next batch then cleans every row again.
 */
export const NORMALISE_VERSION = 1;

/** Columns of accepted_record that say where a row sits, not what it holds: not in source_hash. */
const PLACE_COLUMNS = ['rid', 'file', 'row_number', 'snapshot_id'];

/** The attached previous batch (read-only, detached before normaliseRows returns). */
const PREV = 'norm_prev';

export interface NormaliseRecompute {
  path: 'incremental' | 'full';
  /** why (for the full path: why the copy was refused) */
  reason: string;
  /** rows of person_clean */
  rows: number;
  /** rows cleaned by this batch */
  cleaned: number;
  /** rows copied from the previous batch's person_clean */
  copied: number;
  /** the copied rows were kept where they were: the database is a copy of the previous batch's (src/incremental/staging.ts) */
  in_place?: boolean;
  /** the records that kept their rec_id and those given a new one */
  rec_ids?: RecIds;
}

const sha = (...parts: string[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\u0000');
  return h.digest('hex').slice(0, 32);
};

/** The parts normalised output depends on besides the row itself (see the file's comment). */
export async function normaliseFingerprint(db: Db, o: { codeSql: string; mappings: readonly Mapping[]; snapshotDate: string; columns: readonly string[] }): Promise<Record<string, string>> {
  const version = (await db.one<{ v: string }>(`SELECT version() AS v`))!.v;
  const regions: string[] = [];
  for (const t of ['ref_province', 'ref_regency', 'ref_district', 'ref_village']) {
    // rows and the sum of their hashes (in any order: the codes are unique); DuckDB's version is in `code`
    regions.push((await db.one<{ h: string }>(`SELECT count(*)::VARCHAR || ':' || coalesce(sum(hash(t)), 0)::VARCHAR AS h FROM ${t} t`))!.h);
  }
  const mappings = [...o.mappings].sort((a, b) => a.source.localeCompare(b.source)).map((m) => JSON.stringify(m));
  return {
    code: sha(String(NORMALISE_VERSION), version, o.columns.join(','), o.codeSql),
    mappings: sha(...mappings),
    snapshot_date: o.snapshotDate,
    regions: sha(...regions),
  };
}

const PART_WORDS: Record<string, string> = {
  code: 'the normalisation code (or DuckDB) differs',
  mappings: 'the source mappings differ',
  snapshot_date: 'the snapshot date differs',
  regions: 'the region reference differs',
};

/**
 * Whether the cleaned rows of the previous batch can be copied: the reason when not; when they can, the previous
 * database is left attached as norm_prev.
 */
async function planCopy(
  db: Db, config: BatchConfig, fingerprint: Record<string, string>, snapshotMovable: boolean,
): Promise<{ path: 'incremental' | 'full'; reason: string; snapshotFrom?: string; previousDb?: string }> {
  const full = (reason: string) => ({ path: 'full' as const, reason });
  if (!config.previous) return full('no previous batch');
  if (config.recompute === 'full') return full('--full (recompute: "full")');
  if (!existsSync(config.previous)) return full('the previous batch folder is missing');
  const dbPath = join(await realpath(config.previous), 'dtsen.duckdb');
  if (!existsSync(dbPath)) return full('the previous folder holds no batch database');
  await db.run(`ATTACH ${lit(dbPath)} AS ${PREV} (READ_ONLY)`);
  let ok = false;
  try {
    for (const t of ['person_clean', 'normalise_state', 'normalise_fingerprint']) {
      if (!(await attachedHas(db, PREV, t))) return full(`the previous batch has no ${t} table (written before incremental normalise)`);
    }
    const prev = Object.fromEntries(
      (await db.all<{ part: string; fingerprint: string }>(`SELECT part, fingerprint FROM ${PREV}.normalise_fingerprint`)).map((r) => [r.part, r.fingerprint]),
    );
    const differ = Object.keys(fingerprint).filter((k) => prev[k] !== fingerprint[k]);
    // the snapshot date alone moved: the rows depending on it are cleaned again (normaliseRows)
    const from = prev.snapshot_date;
    if (snapshotMovable && differ.length === 1 && differ[0] === 'snapshot_date' && /^\d{4}-\d{2}-\d{2}$/.test(from ?? '')) {
      ok = true;
      return { path: 'incremental', reason: 'previous batch given: unchanged source rows copied', snapshotFrom: from, previousDb: dbPath };
    }
    if (differ.length) {
      return full(differ.map((k) => (k === 'snapshot_date' ? `${PART_WORDS[k]} (${prev[k] ?? 'none'} → ${fingerprint[k]})` : PART_WORDS[k] ?? `${k} differs`)).join('; '));
    }
    ok = true;
    return { path: 'incremental', reason: 'previous batch given: unchanged source rows copied', previousDb: dbPath };
  } finally {
    if (!ok) await db.run(`DETACH ${PREV}`);
  }
}

/**
 * Cleans the rows of `input` (a table of accepted_record's rows) into person_clean, incrementally when it can.
 * `clean(rows, target)` must create the table `target` ('TABLE person_clean', or a TEMP table of the rows an
 * incremental batch cleans) from the rows of the table `rows`, reading each row's rec_id from norm_rec_id (rid →
 * rec_id of every row of `input`, made here first: src/incremental/rec-ids.ts); `codeSql` is the SQL normalisation
 * runs (fingerprinted). Writes normalise_state and normalise_fingerprint.
 */
export async function normaliseRows(
  db: Db,
  o: {
    config: BatchConfig; mappings: readonly Mapping[]; input: TempTable; codeSql: string; clean: (rows: string, target: string) => Promise<void>;
    /** when only the snapshot date differs: a predicate over the previous cleaned row `p` and the unchanged source row `i`, true when cleaning `i` with `to` gives another row (without it such a batch cleans every row) */
    snapshotMoved?: (from: string, to: string) => string;
  },
): Promise<NormaliseRecompute> {
  const columns = (await db.all<{ column_name: string }>(
    `SELECT column_name FROM duckdb_columns() WHERE table_name = ${lit(o.input.name)} AND schema_name = 'main' AND database_name = 'temp' ORDER BY column_index`,
  )).map((r) => r.column_name);
  if (!columns.length) throw new Error(`normalise: no columns found for ${o.input.name}`);
  const content = columns.filter((c) => !PLACE_COLUMNS.includes(c));
  const fingerprint = await normaliseFingerprint(db, { codeSql: o.codeSql, mappings: o.mappings, snapshotDate: o.config.snapshot_date, columns: content });
  await using hashes = await materialise(db, 'norm_source_hash', `SELECT rid, source, source_record_id, hash(${content.map(ident).join(', ')}) AS source_hash FROM ${o.input}`);
  // every row's rec_id (norm_rec_id): the previous batch's for a record it held, whatever path cleans the rows
  const recIds = await assignRecIds(db, o.config, String(o.input));
  const plan = await planCopy(db, o.config, fingerprint, Boolean(o.snapshotMoved));
  let copied = 0;
  let reason = plan.reason;
  let inPlace = false;
  try {
    if (plan.path === 'incremental') {
      // the source rows the previous batch cleaned: its records (matched by assignRecIds) whose source row is the same
      const unchanged = `
        SELECT h.rid, p.rec_id AS prev_rec_id FROM ${hashes} h JOIN ${CARRIED_TABLE} p USING (rid) WHERE p.source_hash = h.source_hash`;
      // with a moved snapshot date, the unchanged rows whose cleaned row depends on it are cleaned again: one pass
      // over the previous cleaned rows, flagging them
      const from = plan.snapshotFrom;
      await using matched = await materialise(db, 'norm_copied', from === undefined ? unchanged : `
        SELECT u.rid, u.prev_rec_id, coalesce(${o.snapshotMoved!(from, o.config.snapshot_date)}, false) AS moved
        FROM (${unchanged}) u JOIN ${PREV}.person_clean p ON p.rec_id = u.prev_rec_id JOIN ${o.input} i ON i.rid = u.rid`);
      if (from !== undefined) {
        const moved = await db.count(`SELECT count(*) FROM ${matched} WHERE moved`);
        await db.run(`DELETE FROM ${matched} WHERE moved`);
        reason += `; the snapshot date moved (${from} → ${o.config.snapshot_date}): ${moved.toLocaleString('en-US')} unchanged rows cleaned again (a birth date between the two dates, an age counted to it, a NIK century inferred with its year)`;
      }
      copied = await db.count(`SELECT count(*) FROM ${matched}`);
      await using dirty = await materialise(db, 'norm_dirty', `SELECT i.* FROM ${o.input} i ANTI JOIN ${matched} m USING (rid)`);
      await o.clean(String(dirty), 'TEMP TABLE norm_cleaned');
      await using cleaned = new TempTable(db, 'norm_cleaned');
      const cols = (await db.all<{ column_name: string }>(
        `SELECT column_name FROM duckdb_columns() WHERE database_name = 'temp' AND table_name = 'norm_cleaned' ORDER BY column_index`)).map((r) => r.column_name);
      const place: Record<string, string> = { file: 'i.file', row_number: 'i.row_number', snapshot_id: 'i.snapshot_id' };
      // a copied row is a record the previous batch held: its rec_id is the previous one (src/incremental/rec-ids.ts)
      const placeOf = `SELECT m.prev_rec_id, i.file, i.row_number, i.snapshot_id FROM ${matched} m JOIN ${o.input} i ON i.rid = m.rid`;
      inPlace = await canUpdateInPlace(db, plan.previousDb!, String(matched));
      if (inPlace) {
        // the database holds the previous batch's person_clean (src/incremental/staging.ts): its rows of source rows
        // gone or cleaned again are deleted, the others take this batch's place (put on narrow rows first, which the
        // update joins alone), the cleaned rows are added
        await using places = await materialise(db, 'norm_place', placeOf);
        await updateInPlace(db, `
          DELETE FROM main.person_clean WHERE rec_id NOT IN (SELECT prev_rec_id FROM ${matched});
          UPDATE main.person_clean SET file = x.file, row_number = x.row_number, snapshot_id = x.snapshot_id
          FROM ${places} x WHERE main.person_clean.rec_id = x.prev_rec_id;
          INSERT INTO main.person_clean BY NAME SELECT * FROM ${cleaned};
          ${updatedInPlaceSql('person_clean')}`);
      } else {
        await writtenWhole(db, 'person_clean');
        // one statement writing the table (rows inserted into it afterwards cost a slow checkpoint: 1.6 s at 100,000 persons)
        await db.run(`
          CREATE OR REPLACE TABLE person_clean AS
          SELECT * FROM ${cleaned}
          UNION ALL
          SELECT ${cols.map((c) => `${place[c] ?? `p.${ident(c)}`} AS ${ident(c)}`).join(', ')}
          FROM ${matched} m JOIN ${PREV}.person_clean p ON p.rec_id = m.prev_rec_id JOIN ${o.input} i ON i.rid = m.rid`);
      }
    } else {
      await writtenWhole(db, 'person_clean');
      await o.clean(String(o.input), 'TABLE person_clean');
    }
  } finally {
    if (plan.path === 'incremental') await db.run(`DETACH ${PREV}`);
    await db.run(`DROP TABLE IF EXISTS ${CARRIED_TABLE}`);
  }
  await db.run(`
    CREATE OR REPLACE TABLE normalise_state AS
    SELECT ri.rec_id, h.source, h.source_record_id, h.source_hash FROM ${hashes} h JOIN norm_rec_id ri USING (rid) ORDER BY ri.rec_id;
    COMMENT ON TABLE normalise_state IS ${lit("per row of person_clean, the hash of its source row (every column of accepted_record but rid, file, row_number, snapshot_id): what the next batch matches to copy the cleaned rows of unchanged source rows")};
    CREATE OR REPLACE TABLE normalise_fingerprint (part VARCHAR, fingerprint VARCHAR);
    COMMENT ON TABLE normalise_fingerprint IS ${lit('what the cleaned rows depend on besides the source row (code, mappings, snapshot_date, regions): a next batch copies cleaned rows only when all are the same, or only the snapshot date moved (then the rows depending on it are cleaned again)')};
    INSERT INTO normalise_fingerprint VALUES ${Object.entries(fingerprint).map(([k, v]) => `(${lit(k)}, ${lit(v)})`).join(', ')};`);
  await dropStagingCopy(db);
  const rows = await db.count(`SELECT count(*) FROM person_clean`);
  return { path: plan.path, reason, rows, cleaned: rows - copied, copied, in_place: inPlace, rec_ids: recIds };
}

/** The row of batch_recompute (and dtsen_change) normalise writes: the rows in person_clean and those cleaned. */
export function normaliseRecomputeRow(r: NormaliseRecompute): RecomputeRow {
  return { what: 'rows', total: r.rows, recomputed: r.cleaned };
}

/**
 * Whether person_clean can be updated in place: the database holds the previous batch's person_clean, untouched
 * (src/incremental/staging.ts), copied from `previousDb` (the batch the rows are matched against), with the columns
 * of the rows cleaned now (norm_cleaned's, in their order and types), and no previous row is copied twice (a source
 * row repeated: each copy a record of its own).
 */
async function canUpdateInPlace(db: Db, previousDb: string, matched: string): Promise<boolean> {
  if ((await previousCopyOf(db, 'person_clean')) !== previousDb) return false;
  if (JSON.stringify(await columnsOf(db, 'main', 'person_clean')) !== JSON.stringify(await columnsOf(db, 'temp', 'norm_cleaned'))) return false;
  return (await db.count(`SELECT count(*) - count(DISTINCT prev_rec_id) FROM ${matched}`)) === 0;
}
