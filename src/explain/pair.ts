/**
 * Explaining a pair of records: the pair is scored by the pipeline's own SQL (comparisonVectorsSql, then
 * scoreSql with the batch's model) on just that pair, so explain always agrees with scored_pairs, and it
 * works also for pairs blocking never proposed. Where the pair is in scored_pairs, every number the
 * recomputation shares with the stored row is compared in SQL, exactly.
 */
import { thresholdOf } from '../../schemas/config.ts';
import { listParam, lit, type Db } from '../engine/db.ts';
import { materialise, step, type TempTable } from '../engine/sql-pipeline.ts';
import { COMPARISONS } from '../linkage/comparisons.ts';
import { comparisonVectorsSql, prepareCompareInput } from '../linkage/comparison-vectors.ts';
import { probabilitySql } from '../linkage/comparison-sql.ts';
import { priorWeight, scoreSql } from '../linkage/score.ts';
import { familyModelOf } from '../linkage/family-context.ts';
import { linkableSql } from '../linkage/threshold.ts';
import { allowedSourcePairsSql } from '../linkage/blocking.ts';
import type { Model } from '../../schemas/model.ts';
import type { FamilySupportStatus } from '../linkage/family-support.ts';
import { blockingRuleNames, formatRef, type OpenBatch, type ResolvedRecord } from './batch.ts';

export interface ComparisonTerm {
  comparison: string;
  description?: string;
  /** level index; -1 when a record lacks the values (no evidence, weighs nothing) */
  gamma: number;
  level: string;
  /** log2(m/u) of the level, in bits (bf_<name>) */
  weight: number;
  /** term-frequency adjustment in bits (tf_<name>), null when the comparison has none */
  tf_adjustment: number | null;
  /** the match weight after this term */
  running: number;
}

export interface StoredCheck {
  /** columns of scored_pairs compared with the recomputation */
  columns: string[];
  /** those that differ (empty: identical) */
  differing: string[];
  match_weight: number;
  match_probability: number;
}

export interface PairScore {
  rec_id_l: string;
  rec_id_r: string;
  prior: { lambda: number; weight: number };
  comparisons: ComparisonTerm[];
  match_weight: number;
  match_probability: number;
  hard_negative: boolean;
  over_threshold: boolean;
  /** over the threshold and not a hard negative: the pair may join its two records */
  linkable: boolean;
  /** blocking proposed the pair (it is in candidate_pairs) */
  candidate: boolean;
  /** the batch's linkage.dedupe / linkage.link pair these two sources at all */
  sources_paired: boolean;
  /** the blocking rules that proposed it */
  blocking_rules: string[];
  /** null when the pair is not in scored_pairs */
  stored: StoredCheck | null;
  /**
   * Scored in the family context (src/linkage/family-context.ts): the prior and weights are the family model's,
   * and `competition` bits (the odds of the pairs sharing one of its records within the two families) were taken
   * off the sum. Null: the batch's model scored it.
   */
  family_context: { competition: number } | null;
  /**
   * The family support of the pair (src/linkage/family-support.ts): whether another pair of the two families
   * matches, and the bits an unsupported pair took (stored: they depend on the other members' pairs). Null: the
   * pair is not between two families of several records, or the batch did not weigh it.
   */
  family_support: { status: FamilySupportStatus; weight: number } | null;
}

const num = (v: unknown): number => Number(v);

/**
 * explain_scored(k, rec_id_l, rec_id_r, gammas, weights, match_weight, …): the pairs (k their index, the smaller
 * rec_id left), their comparison vectors and their scores in one statement. compare_input lives only while it runs.
 */
async function scoreValues(db: Db, model: Model, pairs: [bigint, bigint][], name = 'explain_scored'): Promise<TempTable> {
  await using _compareInput = await prepareCompareInput(db);
  // awaited here: compare_input is dropped when this returns
  return await materialise(db, name, {
    steps: [
      step('given', 'SELECT unnest(range(len($1::BIGINT[]))) AS k, unnest($1::BIGINT[]) AS rec_id_a, unnest($2::BIGINT[]) AS rec_id_b'),
      step('explain_pairs', 'SELECT k, least(rec_id_a, rec_id_b) AS rec_id_l, greatest(rec_id_a, rec_id_b) AS rec_id_r FROM given'),
      step('explain_vectors', comparisonVectorsSql('explain_pairs', ['k'])),
      step('explain_weights', scoreSql(model, 'explain_vectors', ['k'])),
    ],
  }, [listParam(pairs.map(([a]) => a)), listParam(pairs.map(([, b]) => b))]);
}

/** Scores the given pairs (rec_id strings) with the pipeline's SQL; one row per pair, in the order given. */
export async function scorePairsOf(batch: OpenBatch, model: Model, pairs: [string, string][]): Promise<PairScore[]> {
  const { db } = batch;
  if (pairs.length === 0) return [];
  const given = pairs.map(([a, b]): [bigint, bigint] => [BigInt(a), BigInt(b)]);
  const hasScored = await db.tableExists('scored_pairs');
  const storedCols = hasScored ? new Set((await db.all<{ column_name: string }>(`DESCRIBE scored_pairs`)).map((c) => c.column_name)) : new Set<string>();
  // A pair the family context scored (scored_pairs.family_context) is re-scored with the family model of model.json,
  // less the bits its competitors in the two families took (stored: they depend on the other members' pairs).
  const family = familyModelOf(model);
  const withFamily = family !== undefined && storedCols.has('family_context');
  await using globalScored = await scoreValues(db, model, given);
  await using familyScored = withFamily ? await scoreValues(db, family, given, 'explain_family_scored') : undefined;
  await using scored = await materialise(db, 'explain_chosen', withFamily
    ? `SELECT g.*, false AS family_context, NULL::DOUBLE AS family_competition FROM ${globalScored} g
         WHERE NOT EXISTS (SELECT 1 FROM scored_pairs s WHERE s.rec_id_l = g.rec_id_l AND s.rec_id_r = g.rec_id_r AND s.family_context)
       UNION ALL BY NAME
       SELECT f.* REPLACE (f.match_weight - s.family_competition AS match_weight, ${probabilitySql('f.match_weight - s.family_competition')} AS match_probability),
         true AS family_context, s.family_competition
       FROM ${familyScored} f JOIN scored_pairs s ON s.rec_id_l = f.rec_id_l AND s.rec_id_r = f.rec_id_r AND s.family_context`
    : `SELECT * FROM ${globalScored}`);
  // The family support's bits are stored (they depend on the other pairs of the two families), as the competition's.
  await using supported = storedCols.has('bf_family_support')
    ? await materialise(db, 'explain_supported', `
      SELECT c.* REPLACE (c.match_weight + coalesce(s.bf_family_support, 0) AS match_weight,
          ${probabilitySql('c.match_weight + coalesce(s.bf_family_support, 0)')} AS match_probability),
        s.family_support, s.bf_family_support
      FROM ${scored} c LEFT JOIN scored_pairs s ON s.rec_id_l = c.rec_id_l AND s.rec_id_r = c.rec_id_r`)
    : undefined;
  const chosen = supported ?? scored;
  const scoredCols = (await db.all<{ column_name: string }>(`DESCRIBE ${chosen}`)).map((c) => c.column_name);
  const shared = scoredCols.filter((c) => c !== 'k' && c !== 'rec_id_l' && c !== 'rec_id_r' && storedCols.has(c));
  const hasCandidates = await db.tableExists('candidate_pairs');
  const threshold = thresholdOf(batch.linkage);
  const differing = shared.length ? `list_filter([${shared.map((c) => `CASE WHEN e.${c} IS DISTINCT FROM s.${c} THEN ${lit(c)} END`).join(', ')}], x -> x IS NOT NULL)` : `[]::VARCHAR[]`;
  const rows = await db.all<Record<string, unknown>>(`
    WITH e AS (SELECT *, (${linkableSql(threshold, false)}) AS over_threshold, (${linkableSql(threshold, true)}) AS linkable FROM ${chosen})
    SELECT e.*,
      ${hasCandidates ? 'c.rec_id_l IS NOT NULL' : 'false'} AS candidate, ${hasCandidates ? 'c.rules' : 'NULL'} AS rules,
      EXISTS (SELECT 1 FROM (${allowedSourcePairsSql(batch.linkage)}) a JOIN person_clean pl ON pl.rec_id = e.rec_id_l JOIN person_clean pr ON pr.rec_id = e.rec_id_r
        WHERE a.source_l = pl.source AND a.source_r = pr.source) AS sources_paired,
      ${hasScored ? 's.rec_id_l IS NOT NULL' : 'false'} AS stored, ${hasScored ? differing : '[]::VARCHAR[]'} AS differing,
      ${hasScored ? 's.match_weight' : 'NULL'}::DOUBLE AS stored_match_weight, ${hasScored ? 's.match_probability' : 'NULL'}::DOUBLE AS stored_match_probability
    FROM e
    ${hasCandidates ? 'LEFT JOIN candidate_pairs c ON c.rec_id_l = e.rec_id_l AND c.rec_id_r = e.rec_id_r' : ''}
    ${hasScored ? 'LEFT JOIN scored_pairs s ON s.rec_id_l = e.rec_id_l AND s.rec_id_r = e.rec_id_r' : ''}
    ORDER BY e.k`);

  const ruleNames = blockingRuleNames(batch);
  const byName = new Map(model.comparisons.map((c) => [c.name, c]));
  const terms = COMPARISONS.filter((c) => scoredCols.includes(`bf_${c.name}`));
  return rows.map((r) => {
    const inFamily = r.family_context === true && family !== undefined;
    const prior = priorWeight(inFamily ? family : model);
    let running = prior;
    const comparisons = terms.map((c): ComparisonTerm => {
      const gamma = num(r[`gamma_${c.name}`]);
      const weight = num(r[`bf_${c.name}`]);
      const tf = `tf_${c.name}` in r ? num(r[`tf_${c.name}`]) : null;
      running += weight + (tf ?? 0);
      const mc = byName.get(c.name);
      return {
        comparison: c.name,
        description: mc?.description ?? c.description,
        gamma,
        level: gamma < 0 ? 'no evidence: a value is missing' : (mc?.levels[gamma]?.label ?? c.levels[gamma]?.label ?? `level ${gamma}`),
        weight,
        tf_adjustment: tf,
        running,
      };
    });
    const rules = r.rules === null || r.rules === undefined ? 0 : num(r.rules);
    return {
      rec_id_l: String(r.rec_id_l),
      rec_id_r: String(r.rec_id_r),
      prior: { lambda: inFamily ? family.lambda : model.lambda, weight: prior },
      family_context: inFamily ? { competition: num(r.family_competition) } : null,
      family_support: r.family_support === 'supported' || r.family_support === 'unsupported' ? { status: r.family_support, weight: num(r.bf_family_support ?? 0) } : null,
      comparisons,
      match_weight: num(r.match_weight),
      match_probability: num(r.match_probability),
      hard_negative: r.hard_negative === true,
      over_threshold: r.over_threshold === true,
      linkable: r.linkable === true,
      candidate: r.candidate === true,
      sources_paired: r.sources_paired === true,
      blocking_rules: ruleNames.filter((_, bit) => (rules >> bit) & 1),
      stored: r.stored === true
        ? { columns: shared, differing: r.differing as string[], match_weight: num(r.stored_match_weight), match_probability: num(r.stored_match_probability) }
        : null,
    };
  });
}

/**
 * The fields of a source record as `explain` and the review app show them (SQL over person_clean), each marked
 * whether it is personal (masked to present/missing unless values are asked for).
 */
export const RECORD_FIELDS: readonly { field: string; sql: string; personal: boolean }[] = [
  { field: 'NIK', sql: 'nik_digits', personal: true },
  { field: 'NIK status', sql: 'nik_status', personal: false },
  { field: 'name', sql: 'name_norm', personal: true },
  { field: 'birth date', sql: 'birth_date::VARCHAR', personal: true },
  { field: 'date in the NIK', sql: 'nik_birth_date::VARCHAR', personal: true },
  { field: 'sex', sql: 'sex', personal: true },
  { field: "mother's name", sql: 'mother_name_norm', personal: true },
  { field: 'family card', sql: 'no_kk', personal: true },
  { field: 'source family', sql: 'family_id', personal: true },
  { field: 'relation to head', sql: 'relation::VARCHAR', personal: false },
  { field: 'village code', sql: 'village_code', personal: true },
  { field: 'RT/RW', sql: `CASE WHEN rt IS NOT NULL OR rw IS NOT NULL THEN concat_ws('/', rt, rw) END`, personal: true },
  { field: 'address', sql: 'address_norm', personal: true },
  { field: 'province', sql: 'province_code', personal: false },
  { field: 'decile', sql: 'decile::VARCHAR', personal: false },
  { field: 'programmes', sql: `array_to_string(programmes, ', ')`, personal: false },
  { field: 'updated', sql: 'updated_at::VARCHAR', personal: false },
];

/** The fields `dtsen explain` shows beside a pair, in the order of RECORD_FIELDS. */
const PAIR_FIELD_NAMES = new Set(['NIK', 'NIK status', 'name', 'birth date', 'date in the NIK', 'sex', 'family card', 'village code', 'RT/RW']);
export const PAIR_FIELDS = RECORD_FIELDS.filter((f) => PAIR_FIELD_NAMES.has(f.field));

export const MASK_PRESENT = 'present';
export const MASK_MISSING = 'missing';

export interface RecordSide {
  record: string;
  rec_id: string;
  dtsen_id: string | null;
  fields: Record<string, string | null>;
}

export interface PairExplanation extends PairScore {
  threshold: number;
  left: RecordSide;
  right: RecordSide;
  /** both records ended in the same person (dtsen_id) */
  same_person: boolean;
  values_shown: boolean;
}

async function recordSide(batch: OpenBatch, r: ResolvedRecord, showValues: boolean): Promise<RecordSide> {
  const row = await batch.db.one<Record<string, string | null>>(`
    SELECT ${PAIR_FIELDS.map((f, i) => `${f.sql} AS f${i}`).join(', ')},
      (SELECT dtsen_id FROM dtsen_link l WHERE l.source = p.source AND l.source_record_id = p.source_record_id) AS dtsen_id
    FROM person_clean p WHERE rec_id = $1`, [BigInt(r.recId)]);
  const fields: Record<string, string | null> = {};
  PAIR_FIELDS.forEach((f, i) => {
    const v = row?.[`f${i}`] ?? null;
    fields[f.field] = showValues || !f.personal ? v : v === null ? MASK_MISSING : MASK_PRESENT;
  });
  return { record: formatRef(r), rec_id: r.recId, dtsen_id: row?.dtsen_id ?? null, fields };
}

export async function explainPair(batch: OpenBatch, model: Model, a: ResolvedRecord, b: ResolvedRecord, opts: { showValues: boolean }): Promise<PairExplanation> {
  const [score] = await scorePairsOf(batch, model, [[a.recId, b.recId]]);
  // Left and right follow rec_id order, as in scored_pairs.
  const [l, r] = BigInt(a.recId) <= BigInt(b.recId) ? [a, b] : [b, a];
  const left = await recordSide(batch, l, opts.showValues);
  const right = await recordSide(batch, r, opts.showValues);
  return {
    ...score,
    threshold: thresholdOf(batch.linkage),
    left,
    right,
    same_person: left.dtsen_id !== null && left.dtsen_id === right.dtsen_id,
    values_shown: opts.showValues,
  };
}
