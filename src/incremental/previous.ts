/**
 * Whether a batch links incrementally, and the previous batch's state it starts from.
 *
 * A batch given a previous one (`--previous`) links incrementally unless `--full` (config `recompute: "full"`) is
 * given, the exact engine runs, or the previous batch cannot serve: it has no record_state (written before this
 * existed), its linkage settings differ from this batch's in what decides pairs and clusters, its blocking rules
 * differ from the code's (their names, or the SQL of their keys: BLOCKING_STATE_TABLE's fingerprints), its model no
 * longer fits the code's comparisons (and no --retrain), or its records had other rec_ids (written before records
 * kept theirs). The reason is kept in the figures and in dtsen_change.
 *
 * What is copied from the previous batch's dtsen.duckdb (attached read-only once; persistent inc_prev_* tables, so
 * a resumed batch does not need the previous folder again):
 *  - incremental_record(rec_id, prev_rec_id, status, fields_changed): every record of this batch, `new` (not in the
 *    previous batch), `changed` (its link_hash differs), `unchanged`; fields_changed: the link hash is the same but
 *    a value its golden record reads changed (row_hash, src/incremental/state.ts). Kept in the published database.
 *  - inc_prev_blocking_state, inc_prev_blocking_large: the previous batch's BLOCKING_STATE_TABLE and
 *    BLOCKING_LARGE_TABLE (its blocks' figures and large blocks, which incremental blocking updates);
 *  - inc_prev_gone(prev_rec_id): the previous batch's records that are gone;
 *  - inc_prev_dirty: the previous person_clean rows of the records gone or changed, the columns linking reads and
 *    the family (their blocking keys and families then);
 *  - inc_prev_pairs: the previous scored pairs of two unchanged records (a record keeps its rec_id from batch to
 *    batch, src/incremental/rec-ids.ts: the previous tables are read on their own ids), with their rules
 *    (blocking's: the family context's pairs are made again after scoring, so a pair only it found has none),
 *    gammas and previous weight and linkability;
 *  - inc_prev_family_unkept: the previous batch's family_unkept_pairs (member pairs of linked families compared
 *    and not kept) of two unchanged records, with their gammas: the family context scores them again without
 *    comparing them (empty when the previous batch has none);
 *  - inc_prev_family_seeds, inc_prev_family_members: the previous batch's family_seed_pairs and family_member_pairs
 *    (with the odds of each member pair's competitors and its weight after competition) of two unchanged records:
 *    the family context carries the member pairs of the family pairs no change touched (FamilyPrevious);
 *  - inc_prev_cut(rec_id): unchanged records that had a link to a record gone or changed;
 *  - inc_prev_cluster(rec_id, prev_cluster_id, conflicted, prev_component_id): the previous clusters of the
 *    unchanged records, whether their cluster was named in cluster_conflicts, and their connected component of
 *    links (NULL when the previous batch kept none);
 *  - inc_prev_conflicts: the previous cluster_conflicts rows, the rec_id of a record gone or changed blanked;
 *  - inc_prev_decision(kind, rec_id_l, rec_id_r): the previous batch's pair decisions between unchanged records.
 * The cluster stage drops them but inc_prev_cluster, which survive reads and drops.
 */
import { existsSync } from 'node:fs';
import { BLOCKING_RULE_MASK, EMPTY_FAMILY_MEMBERS_SQL, EMPTY_FAMILY_SEEDS_SQL, FAMILY_MEMBER_TABLE, FAMILY_RULE, FAMILY_SEED_TABLE, FAMILY_UNKEPT_TABLE, emptyUnkeptPairsSql } from '../linkage/family-context.ts';
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../engine/db.ts';
import { ident, lit } from '../engine/db.ts';
import { linkColumns } from './state.ts';
import type { BatchConfig } from '../../schemas/config.ts';
import type { Model } from '../../schemas/model.ts';
import { readModelFile } from '../linkage/model.ts';
import { BLOCKING_RULES } from '../linkage/blocking-rules.ts';
import { BLOCKING_LARGE_TABLE, BLOCKING_STATE_TABLE, ruleFingerprint } from '../linkage/blocking.ts';
import { COMPARISONS } from '../linkage/comparisons.ts';
import { gammaColumn } from '../linkage/comparison-sql.ts';
import { linkableSql } from '../linkage/threshold.ts';
import { previousCopyOf } from './staging.ts';

/** The linkage settings that decide which pairs are proposed and how clusters are split: equal, or a full batch. */
const SAME_LINKAGE_KEYS = ['engine', 'max_block_size', 'dedupe', 'link', 'split_conflicts', 'split_reasons', 'split_tiers', 'max_conflict_cluster_size'] as const;

/**
 * The columns of inc_prev_dirty: what the blocking keys the gone and changed records had are computed from (every
 * column linking reads, link_hash's), and their family (the family context's families a change touched). Only
 * these are read from the previous person_clean, not its every column.
 */
const DIRTY_COLUMNS = [...new Set(['rec_id', 'family_id', ...linkColumns()])];

export const INC_PREV_TABLES = ['inc_prev_blocking_state', 'inc_prev_blocking_large', 'inc_prev_gone', 'inc_prev_dirty', 'inc_prev_pairs', 'inc_prev_family_unkept', 'inc_prev_family_seeds', 'inc_prev_family_members', 'inc_prev_cut', 'inc_prev_cluster', 'inc_prev_conflicts', 'inc_prev_decision'];

export interface IncrementalPlan {
  path: 'incremental' | 'full';
  /** why the path was taken */
  reason: string;
  /** the previous batch's folder, followed */
  previousDir?: string;
  /** the previous batch's model (model.json), when this batch scores with it */
  previousModel?: Model;
  /** the threshold the previous batch linked at, after the cluster stage moved it ("auto") */
  previousThreshold?: number;
  /** the previous batch's scored pairs */
  previousPairs?: number;
  /** the previous batch kept its family context's seed and member pairs (inc_prev_family_seeds, inc_prev_family_members) */
  previousFamilyState?: boolean;
  /**
   * FAMILY_MEMBER_TABLE and FAMILY_UNKEPT_TABLE of this database are the previous batch's, not yet updated in place
   * (src/incremental/staging.ts), and that batch kept its family state: they are read there, not copied into
   * inc_prev_family_members and inc_prev_family_unkept (which are then not written)
   */
  previousFamilyInPlace?: boolean;
}

const full = (reason: string, previousDir?: string): IncrementalPlan => ({ path: 'full', reason, previousDir });

/** Whether the attached database `database` holds the table (with the column, when given). */
export async function attachedHas(db: Db, database: string, table: string, column?: string): Promise<boolean> {
  return (await db.count(`SELECT count(*) FROM duckdb_columns() WHERE database_name = ${lit(database)} AND table_name = ${lit(table)}${column ? ` AND column_name = ${lit(column)}` : ''}`)) > 0;
}

const prevHas = (db: Db, table: string, column?: string) => attachedHas(db, 'inc_prev', table, column);

/**
 * Decides the path and, for an incremental batch, copies the previous state (see the file's comment). The
 * previous batch's folder is attached read-only and detached before returning. record_state must be written.
 */
export async function planIncremental(db: Db, config: BatchConfig): Promise<IncrementalPlan> {
  if (!config.previous) return full('no previous batch');
  if (config.recompute === 'full') return full('--full (recompute: "full")');
  if (config.linkage.engine !== 'probabilistic') return full('the exact engine links every batch from scratch');
  if (!existsSync(config.previous)) return full('the previous batch folder is missing');
  const dir = await realpath(config.previous);
  const dbPath = join(dir, 'dtsen.duckdb');
  if (!existsSync(dbPath) || !existsSync(join(dir, 'report.json'))) return full('the previous folder holds no finished batch', dir);
  await db.run(`ATTACH ${lit(dbPath)} AS inc_prev (READ_ONLY)`);
  try {
    for (const t of ['record_state', 'person_clean', 'scored_pairs', 'clusters', 'cluster_conflicts', 'batch_info', BLOCKING_STATE_TABLE, BLOCKING_LARGE_TABLE]) {
      if (!(await prevHas(db, t))) return full(`the previous batch has no ${t} table (written by an earlier version, or by the exact engine)`, dir);
    }
    for (const c of COMPARISONS) if (!(await prevHas(db, 'scored_pairs', gammaColumn(c)))) return full(`the previous batch's scored pairs have no ${gammaColumn(c)}`, dir);
    const info = await db.one<{ config: string; figures: string }>(`SELECT config::VARCHAR AS config, figures::VARCHAR AS figures FROM inc_prev.batch_info`);
    const prevConfig = JSON.parse(info?.config ?? '{}') as Partial<BatchConfig>;
    const prevFigures = JSON.parse(info?.figures ?? '{}') as { link?: { blocking?: { rules?: { rule: string }[] } } };
    const differ = SAME_LINKAGE_KEYS.filter((k) => JSON.stringify(prevConfig.linkage?.[k]) !== JSON.stringify(config.linkage[k]));
    if (differ.length) return full(`linkage settings differ from the previous batch's: ${differ.join(', ')}`, dir);
    // blocking's rules (the family context's pairs, listed after them, are made again after scoring)
    const rules = (prevFigures.link?.blocking?.rules?.map((r) => r.rule) ?? []).filter((r) => r !== FAMILY_RULE.name);
    if (JSON.stringify(rules) !== JSON.stringify(BLOCKING_RULES.map((r) => r.name))) return full("the blocking rules differ from the previous batch's", dir);
    // the same names with other keys (a rule's SQL changed between versions): the previous pairs and keys are not this version's
    if (!(await prevHas(db, BLOCKING_STATE_TABLE, 'fingerprint'))) return full("the previous batch's blocking state has no fingerprint of its rules (written by an earlier version)", dir);
    const prints = await db.all<{ fingerprint: string }>(`SELECT fingerprint FROM inc_prev.${BLOCKING_STATE_TABLE} ORDER BY rule_id`);
    const changed = BLOCKING_RULES.filter((r, i) => prints[i]?.fingerprint !== ruleFingerprint(r)).map((r) => r.name);
    if (changed.length) return full(`the keys of the blocking rules ${changed.join(', ')} differ from the previous batch's`, dir);
    const prevThreshold = prevConfig.linkage?.threshold;
    if (typeof prevThreshold !== 'number') return full('the previous batch holds no threshold', dir);
    // The previous gammas are reused whatever model scores them (--retrain, --model): the previous batch must have
    // compared with this version's comparisons, which its model.json records (the SQL fingerprint of every level).
    let fitting: Model;
    if (!existsSync(join(dir, 'model.json'))) return full('the previous batch has no model.json', dir);
    try {
      fitting = await readModelFile(join(dir, 'model.json'));
    } catch (e) {
      return full(`the previous batch's model does not fit the code's comparisons (${(e as Error).message.split('\n')[0]})`, dir);
    }
    const previousModel = !config.retrain && !config.linkage.model ? fitting : undefined;
    const copied = await copyPrevious(db, prevThreshold, dbPath);
    if (copied === 'renumbered') return full('the previous batch numbered its records otherwise (written before records kept their rec_id from batch to batch)', dir);
    const { familyState: previousFamilyState, familyInPlace: previousFamilyInPlace } = copied;
    const previousPairs = await db.count(`SELECT count(*) FROM inc_prev.scored_pairs`);
    return { previousPairs, previousFamilyState, previousFamilyInPlace, path: 'incremental', reason: config.retrain ? 'previous batch given (--retrain: the model trained again)' : 'previous batch given', previousDir: dir, previousModel, previousThreshold: prevThreshold };
  } finally {
    await db.run(`DETACH inc_prev`);
  }
}

/**
 * Copies the previous state (`previousDb`: its database); whether the previous batch kept its family context's seed
 * and member pairs, and whether its member and unkept pairs are read in place (IncrementalPlan.previousFamilyInPlace),
 * or 'renumbered' (nothing copied) when a record has another rec_id than in the previous batch.
 */
async function copyPrevious(db: Db, prevThreshold: number, previousDb: string): Promise<{ familyState: boolean; familyInPlace: boolean } | 'renumbered'> {
  const gammas = COMPARISONS.map((c) => gammaColumn(c));
  const hasDecisions = await prevHas(db, 'decision_pair');
  // the previous batch's connected components (clusters.component_id): without them the cluster stage works over
  // every link (src/incremental/cluster.ts)
  const hasComponents = await prevHas(db, 'clusters', 'component_id');
  const hasFamilyState = (await prevHas(db, FAMILY_SEED_TABLE)) && (await prevHas(db, FAMILY_MEMBER_TABLE, 'competitor_odds')) && (await prevHas(db, FAMILY_MEMBER_TABLE, 'match_weight'));
  let hasUnkept = true;
  for (const g of gammas) hasUnkept &&= await prevHas(db, FAMILY_UNKEPT_TABLE, g);
  const familyInPlace = hasFamilyState && hasUnkept
    && (await previousCopyOf(db, FAMILY_MEMBER_TABLE)) === previousDb && (await previousCopyOf(db, FAMILY_UNKEPT_TABLE)) === previousDb;
  const prevLinkable = `${linkableSql(prevThreshold, await prevHas(db, 'scored_pairs', 'hard_negative'))}${hasDecisions
    ? ` AND NOT EXISTS (SELECT 1 FROM inc_prev.decision_pair d WHERE d.kind = 'different_persons' AND least(d.rec_id_l, d.rec_id_r) = s.rec_id_l AND greatest(d.rec_id_l, d.rec_id_r) = s.rec_id_r)`
    : ''}`;
  await db.run(`
    CREATE OR REPLACE TABLE incremental_record AS
    SELECT n.rec_id, o.rec_id AS prev_rec_id,
      CASE WHEN o.rec_id IS NULL THEN 'new' WHEN o.link_hash <> n.link_hash THEN 'changed' ELSE 'unchanged' END AS status,
      o.rec_id IS NOT NULL AND o.link_hash = n.link_hash AND o.row_hash <> n.row_hash AS fields_changed
    FROM record_state n LEFT JOIN inc_prev.record_state o USING (source, source_record_id)
    ORDER BY n.rec_id;
    COMMENT ON TABLE incremental_record IS ${lit("every record of an incremental batch against the previous batch: 'new', 'changed' (a value linking reads changed: linked again) or 'unchanged' (its pairs reused); fields_changed: only values its golden record reads changed (it is rebuilt)")};`);
  // a record the previous batch held keeps its rec_id (src/incremental/rec-ids.ts): the previous tables are read on
  // their own ids, keeping the rows of unchanged records. A previous batch written before that numbered its records
  // otherwise; this batch then links in full.
  if ((await db.count(`SELECT count(*) FROM incremental_record WHERE prev_rec_id <> rec_id`)) > 0) {
    await db.run(`DROP TABLE incremental_record`);
    return 'renumbered';
  }
  // the previous batch's records gone or changed: a row of its tables naming none of them is of unchanged records
  const kept = (alias: string, ...cols: string[]) => cols.map((c) => `ANTI JOIN inc_prev_out ${alias}_${c} ON ${alias}_${c}.rec_id = ${alias}.${c}`).join(' ');
  await db.run(`
    CREATE OR REPLACE TABLE inc_prev_blocking_state AS SELECT * FROM inc_prev.${BLOCKING_STATE_TABLE};
    CREATE OR REPLACE TABLE inc_prev_blocking_large AS SELECT * FROM inc_prev.${BLOCKING_LARGE_TABLE};
    CREATE OR REPLACE TABLE inc_prev_gone AS
    SELECT o.rec_id AS prev_rec_id FROM inc_prev.record_state o ANTI JOIN record_state n USING (source, source_record_id);
    CREATE OR REPLACE TEMP TABLE inc_prev_out AS
    SELECT prev_rec_id AS rec_id FROM inc_prev_gone UNION ALL SELECT rec_id FROM incremental_record WHERE status = 'changed';
    CREATE OR REPLACE TABLE inc_prev_dirty AS SELECT ${DIRTY_COLUMNS.map((c) => `p.${ident(c)}`).join(', ')} FROM inc_prev.person_clean p SEMI JOIN inc_prev_out o ON o.rec_id = p.rec_id;
    CREATE OR REPLACE TABLE inc_prev_pairs AS
    SELECT s.rec_id_l, s.rec_id_r, s.rule_id, (s.rules & ${BLOCKING_RULE_MASK}::UINTEGER)::UINTEGER AS rules,
      ${gammas.map((g) => `s.${g}`).join(', ')}, s.match_weight AS prev_weight, (${prevLinkable}) AS prev_linkable
    FROM inc_prev.scored_pairs s ${kept('s', 'rec_id_l', 'rec_id_r')};
    ${familyInPlace ? '' : `CREATE OR REPLACE TABLE inc_prev_family_unkept AS
    SELECT s.rec_id_l, s.rec_id_r, ${gammas.map((g) => `s.${g}`).join(', ')}
    FROM ${hasUnkept ? `inc_prev.${FAMILY_UNKEPT_TABLE}` : `(${emptyUnkeptPairsSql()})`} s ${kept('s', 'rec_id_l', 'rec_id_r')};`}
    CREATE OR REPLACE TABLE inc_prev_family_seeds AS
    SELECT s.rec_id_l, s.rec_id_r
    FROM ${hasFamilyState ? `inc_prev.${FAMILY_SEED_TABLE}` : `(${EMPTY_FAMILY_SEEDS_SQL})`} s ${kept('s', 'rec_id_l', 'rec_id_r')};
    ${familyInPlace ? '' : `CREATE OR REPLACE TABLE inc_prev_family_members AS
    SELECT s.rec_id_l, s.rec_id_r, s.competitor_odds, s.match_weight
    FROM ${hasFamilyState ? `inc_prev.${FAMILY_MEMBER_TABLE}` : `(${EMPTY_FAMILY_MEMBERS_SQL})`} s ${kept('s', 'rec_id_l', 'rec_id_r')};`}
    CREATE OR REPLACE TABLE inc_prev_cut AS
    SELECT s.rec_id_r AS rec_id FROM inc_prev.scored_pairs s SEMI JOIN inc_prev_out o ON o.rec_id = s.rec_id_l ${kept('s', 'rec_id_r')} WHERE ${prevLinkable}
    UNION
    SELECT s.rec_id_l FROM inc_prev.scored_pairs s SEMI JOIN inc_prev_out o ON o.rec_id = s.rec_id_r ${kept('s', 'rec_id_l')} WHERE ${prevLinkable};
    CREATE OR REPLACE TABLE inc_prev_cluster AS
    WITH named AS (SELECT cluster_id_l AS cluster_id FROM inc_prev.cluster_conflicts UNION SELECT cluster_id_r FROM inc_prev.cluster_conflicts)
    SELECT c.rec_id, c.cluster_id AS prev_cluster_id, c.cluster_id IN (SELECT cluster_id FROM named WHERE cluster_id IS NOT NULL) AS conflicted,
      ${hasComponents ? 'c.component_id' : 'NULL::BIGINT'} AS prev_component_id
    FROM inc_prev.clusters c ${kept('c', 'rec_id')};
    CREATE OR REPLACE TABLE inc_prev_conflicts AS
    SELECT CASE WHEN c.rec_id_l NOT IN (SELECT rec_id FROM inc_prev_out) THEN c.rec_id_l END AS rec_id_l,
      CASE WHEN c.rec_id_r NOT IN (SELECT rec_id FROM inc_prev_out) THEN c.rec_id_r END AS rec_id_r,
      c.reason, c.outcome, c.cluster_id_l AS prev_cluster_id_l, c.cluster_id_r AS prev_cluster_id_r
    FROM inc_prev.cluster_conflicts c;
    CREATE OR REPLACE TABLE inc_prev_decision (kind VARCHAR, rec_id_l BIGINT, rec_id_r BIGINT);
    ${hasDecisions ? `INSERT INTO inc_prev_decision
    SELECT DISTINCT d.kind, least(d.rec_id_l, d.rec_id_r), greatest(d.rec_id_l, d.rec_id_r)
    FROM inc_prev.decision_pair d ${kept('d', 'rec_id_l', 'rec_id_r')};` : ''}
    DROP TABLE inc_prev_out;`);
  // the carried member pairs not kept take their gammas from the previous unkept pairs: without them, none is carried
  return { familyState: hasFamilyState && hasUnkept, familyInPlace };
}

/** Drops the copies of the previous batch's state but `keep` (the cluster stage, once it has used them; survive the rest). */
export async function dropPreviousCopies(db: Db, keep: readonly string[] = []): Promise<void> {
  await db.run(INC_PREV_TABLES.filter((t) => !keep.includes(t)).map((t) => `DROP TABLE IF EXISTS ${t};`).join('\n'));
}
