/**
 * Evaluate against a ground truth (source, source_record_id, person_id[, family_id]) — used only to measure,
 * never to train. Pairwise precision, recall and F1 of the clusters, the exact-NIK baseline on the same
 * records, the share of persons resolved to exactly one cluster, where the false negatives come from and
 * what the false positives look like. Pair counts come from combinatorics over group sizes per source, so
 * no pair list of the whole population is ever built; only the true pairs are listed, for the breakdown.
 */
import { defineStage, type StageResult } from '../../engine/context.ts';
import { open } from 'node:fs/promises';
import type { Db } from '../../engine/db.ts';
import { composeSql, materialise, step, type Query, type TempTable } from '../../engine/sql-pipeline.ts';
import { lit } from '../../engine/db.ts';
import { InputError } from '../../engine/errors.ts';
import type { Linkage } from '../../../schemas/config.ts';
import { thresholdOf } from '../../../schemas/config.ts';
import { allowedSourcePairsSql } from '../../linkage/blocking.ts';
import { BLOCKING_RULES } from '../../linkage/blocking-rules.ts';
import { FAMILY_RULE } from '../../linkage/family-context.ts';
import { linkableSql } from '../../linkage/threshold.ts';
import { COMPARISONS } from '../../linkage/comparisons.ts';
import { gammaColumn } from '../../linkage/comparison-sql.ts';
import { MIN_TRUTH_COVERAGE } from './coverage.ts';

export interface QualityFigures {
  precision: number;
  recall: number;
  f1: number;
  true_pairs: number;
  predicted_pairs: number;
  true_positive_pairs: number;
}

export interface EvaluationFigures extends QualityFigures {
  baseline: QualityFigures & { rule: string };
  persons: number;
  persons_in_exactly_one_cluster: number;
  share_persons_exactly_one_cluster: number;
  records_evaluated: number;
  records_without_truth: number;
  truth_coverage: TruthCoverage;
  false_negatives: { never_candidate: number; scored_below_threshold: number; held_apart_as_hard_negative: number; split_by_clustering: number };
  false_positives: {
    /** links (pairs at or above the threshold that joined two records) between records of different persons */
    pairs_linked_across_persons: number;
    same_family: number;
    by_source_pair: { sources: string; pairs: number }[];
    /** the most frequent comparison patterns among those links */
    by_pattern: { levels: Record<string, string>; pairs: number; same_family: number; mean_weight: number }[];
  };
  /** the true pairs the blocking rules proposed as candidates, overall and per rule */
  blocking: { true_pairs: number; found_by_any_rule: number; recall: number; by_rule: { rule: string; true_pairs_found: number; share: number }[] };
  by_province: ProvinceQuality[];
  threshold_curve: ThresholdCurve;
  weight_histogram: WeightBin[];
}

export interface WeightBin {
  bin_start: number;
  bin_end: number;
  same_person: number;
  different_persons: number;
}

/**
 * Pairwise quality of the clusters in one province. Precision counts the pairs inside the golden records of
 * the province; recall counts the true pairs of the persons of the province (a true person belongs to the
 * province of the golden record that holds its first record).
 */
export interface ProvinceQuality {
  province_code: string;
  province: string;
  true_pairs: number;
  true_pairs_found: number;
  predicted_pairs: number;
  predicted_pairs_true: number;
  precision: number;
  recall: number;
}

/**
 * Pair-level precision and recall over the scored candidate pairs at a grid of match-weight thresholds: a
 * pair is predicted when its weight is at least the threshold (hard negatives never are); recall's
 * denominator is every true pair, so its ceiling is the share of true pairs that blocking made candidates.
 * Clustering is not redone per threshold (links it adds through a third record are not counted).
 */
export interface CurvePoint {
  match_weight: number;
  match_probability: number;
  predicted_pairs: number;
  true_positive_pairs: number;
  precision: number;
  recall: number;
  f1: number;
}

export interface ThresholdCurve {
  step_bits: number;
  true_pairs: number;
  points: CurvePoint[];
  /** the same figures at the threshold in use (linkage.threshold) */
  at_threshold: CurvePoint;
}

/**
 * SQL: allowed pairs inside groups of `table` grouped by `key`, from per-source counts. With `by` (a column
 * that is constant inside each group), one row per value of `by`: (grp, pairs).
 */
function pairCountSql(table: string, key: string, linkage: Pick<Linkage, 'dedupe' | 'link'>, by?: string): string {
  const n = (s: string) => `count(*) FILTER (WHERE source = ${lit(s)})`;
  const terms = [
    ...linkage.dedupe.map((s) => `${n(s)} * (${n(s)} - 1) / 2`),
    ...linkage.link.map(([a, b]) => `${n(a)} * ${n(b)}`),
  ];
  const p = terms.length ? terms.join(' + ') : '0';
  if (by) return `SELECT grp, coalesce(sum(p), 0) AS pairs FROM (SELECT any_value(${by}) AS grp, ${p} AS p FROM ${table} GROUP BY ${key}) GROUP BY grp`;
  return `SELECT coalesce(sum(p), 0) FROM (SELECT ${p} AS p FROM ${table} GROUP BY ${key})`;
}

function quality(truePairs: number, predicted: number, tp: number): QualityFigures {
  const precision = predicted > 0 ? tp / predicted : 1;
  const recall = truePairs > 0 ? tp / truePairs : 1;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, f1, true_pairs: truePairs, predicted_pairs: predicted, true_positive_pairs: tp };
}

/** The columns a truth file must have (family_id may be left out). */
const REQUIRED_TRUTH_COLUMNS = ['source', 'source_record_id', 'person_id'];
const TRUTH_EXPECTED = 'a CSV with the header source,source_record_id,person_id (and optionally family_id)';

/** How much of the batch the truth covers. */
export interface TruthCoverage {
  /** the batch's accepted records (person_clean) */
  accepted_records: number;
  /** accepted records with a truth row */
  records_with_truth: number;
  records_without_truth: number;
  /** records_with_truth / accepted_records */
  share: number;
  /** MIN_TRUTH_COVERAGE: below it quality is not measured */
  minimum_share: number;
  truth_rows: number;
  /** truth rows that match no accepted record (records quarantined, or not in the batch) */
  truth_rows_not_in_batch: number;
}

/** A run whose truth covers too little of the batch records its coverage and no quality figures. */
export interface SkippedEvaluation {
  truth_coverage: TruthCoverage;
  quality_not_measured: string;
}

/** The truth covers less than MIN_TRUTH_COVERAGE of the batch's accepted records (exit 2 for `dtsen evaluate`). */
export class TruthCoverageError extends InputError {
  constructor(
    readonly coverage: TruthCoverage,
    file: string,
  ) {
    super(coverageMessage(coverage), { file, expected: `a truth row for at least ${pct(coverage.minimum_share)} of the accepted records` });
    this.name = 'TruthCoverageError';
  }
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

function coverageMessage(c: TruthCoverage): string {
  return (
    `the truth covers ${c.records_with_truth.toLocaleString('en-US')} of the batch's ${c.accepted_records.toLocaleString('en-US')} accepted records (${pct(c.share)}), ` +
    `below the ${pct(c.minimum_share)} needed: precision and recall are not measured ` +
    `(${c.truth_rows_not_in_batch.toLocaleString('en-US')} of its ${c.truth_rows.toLocaleString('en-US')} rows match no accepted record)`
  );
}

/** The header line of the truth file, as column names (read in JS: the CSV reader is then told the exact columns). */
async function truthHeader(truthPath: string): Promise<string[]> {
  let head: string;
  try {
    const fh = await open(truthPath, 'r');
    try {
      const buf = Buffer.alloc(64 * 1024);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      head = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await fh.close();
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? 'truth file not found' : `truth file cannot be read (${code ?? (e as Error).message})`, { file: truthPath });
  }
  const line = head.replace(/^\uFEFF/, '').split(/\r?\n/)[0];
  const names = line.split(',').map((n) => n.trim().replace(/^"(.*)"$/, '$1').trim().toLowerCase());
  const missing = REQUIRED_TRUTH_COLUMNS.filter((c) => !names.includes(c));
  if (line.trim() === '' || missing.length) {
    throw new InputError(`truth file header lacks ${missing.join(', ') || 'every column'}`, { file: truthPath, row: 1, expected: TRUTH_EXPECTED });
  }
  const twice = names.find((n, i) => n !== '' && names.indexOf(n) !== i);
  if (twice) throw new InputError(`truth file header names ${twice} twice`, { file: truthPath, row: 1, column: twice, expected: TRUTH_EXPECTED });
  return names;
}

/**
 * The truth file into the TEMP table truth (source, source_record_id, person_id, family_id), which lives as long
 * as the handle returned: nothing is written into the batch's database. Extra columns are ignored; a row without a
 * source, record id or person id, or a record given twice, is an input error naming the line.
 *
 * The file is read once, in parallel and without line numbers; only when a check fails is it read again, in order
 * and numbered, to name the line.
 */
export async function loadTruth(db: Db, truthPath: string): Promise<TempTable> {
  const names = await truthHeader(truthPath);
  // Columns by position (c0, c1, …): the file's own names never go into the SQL.
  const columns = names.map((_, i) => `'c${i}': 'VARCHAR'`).join(', ');
  const col = (name: string) => (names.includes(name) ? `c${names.indexOf(name)}` : 'NULL::VARCHAR');
  const read = (numbered: boolean) =>
    `SELECT ${numbered ? 'row_number() OVER () + 1 AS line,' : ''}
            trim(${col('source')}) AS source, trim(${col('source_record_id')}) AS source_record_id, trim(${col('person_id')}) AS person_id,
            nullif(trim(${col('family_id')}), '') AS family_id
     FROM read_csv($1, header = true, auto_detect = false, columns = {${columns}}, delim = ',', quote = '"', escape = '"', parallel = ${numbered})`;
  const load = async (name: string, numbered: boolean): Promise<TempTable> => {
    try {
      return await materialise(db, name, read(numbered), [truthPath]);
    } catch (e) {
      throw new InputError(`truth file cannot be read as CSV (${(e as Error).message.split('\n')[0]})`, { file: truthPath, expected: TRUTH_EXPECTED });
    }
  };
  const truth = await load('truth', false);
  const bad = await db.one<{ empty: boolean; twice: boolean }>(`
    SELECT (SELECT bool_or(${REQUIRED_TRUTH_COLUMNS.map((c) => `nullif(${c}, '') IS NULL`).join(' OR ')}) FROM ${truth}) AS empty,
           EXISTS (SELECT 1 FROM ${truth} GROUP BY source, source_record_id HAVING count(*) > 1) AS twice`);
  if (!bad?.empty && !bad?.twice) return truth;
  await truth.drop();
  // A check failed: the file again, numbered, to name the first line at fault.
  await using raw = await load('truth_raw', true);
  for (const c of REQUIRED_TRUTH_COLUMNS) {
    const empty = await db.one<{ line: string }>(`SELECT min(line) AS line FROM ${raw} WHERE nullif(${c}, '') IS NULL HAVING count(*) > 0`);
    if (empty) throw new InputError(`${c} is empty`, { file: truthPath, row: Number(empty.line), column: c, expected: TRUTH_EXPECTED });
  }
  const dup = await db.one<{ line: string; first: string }>(`
    SELECT max(line) AS line, min(line) AS first FROM ${raw} GROUP BY source, source_record_id HAVING count(*) > 1 ORDER BY min(line) LIMIT 1`);
  if (dup) throw new InputError(`the record of line ${dup.first} is given again`, { file: truthPath, row: Number(dup.line), column: 'source_record_id', expected: 'one truth row per source record' });
  throw new Error('the truth file failed a check on the first read but not when read again');
}

/**
 * Quality figures against the truth file. Every table it makes is TEMPORARY and dropped when it returns, so a
 * finished batch's database is only read. Throws TruthCoverageError when the truth covers less than
 * MIN_TRUTH_COVERAGE of the accepted records.
 */
export async function evaluate(db: Db, truthPath: string, linkage: Linkage): Promise<EvaluationFigures> {
  await using truth = await loadTruth(db, truthPath);
  await using records = await materialise(db, 'eval_records', evalRecordsQuery(String(truth), await db.tableExists('dtsen_person')));
  const coverage = await truthCoverage(db, String(records), String(truth));
  if (coverage.share < MIN_TRUTH_COVERAGE) throw new TruthCoverageError(coverage, truthPath);
  const threshold = thresholdOf(linkage);
  const linkable = linkableSql(threshold, await db.columnExists('scored_pairs', 'hard_negative'));
  const pairs = await pairFigures(db, String(records), linkage);
  const { false_negatives, blocking } = await truePairFigures(db, String(records), linkage, threshold, linkable);
  const scored = await scoredPairFigures(db, String(records), pairs.truePairs, threshold);
  return {
    ...quality(pairs.truePairs, pairs.predicted, pairs.truePositives),
    baseline: { rule: 'records with the same valid NIK are one person', ...quality(pairs.truePairs, pairs.baselinePredicted, pairs.baselineTruePositives) },
    persons: pairs.persons,
    persons_in_exactly_one_cluster: pairs.exactlyOne,
    share_persons_exactly_one_cluster: pairs.persons > 0 ? pairs.exactlyOne / pairs.persons : 1,
    records_evaluated: coverage.records_with_truth,
    records_without_truth: coverage.records_without_truth,
    truth_coverage: coverage,
    false_negatives,
    false_positives: await falsePositiveFigures(db, String(records), linkage, linkable),
    blocking,
    by_province: await provinceQuality(db, String(records), linkage),
    ...scored,
  };
}

/**
 * eval_records: the records with a truth row, their cluster and person, the province of the record's golden
 * record (cluster_province) and the province its true person is counted in (person_province: the golden record of
 * the person's first record). Without a dtsen_person table the record's own province stands in for its golden
 * record's.
 */
function evalRecordsQuery(truth: string, withPerson: boolean): Query {
  const golden = withPerson
    ? `LEFT JOIN (SELECT cluster_id, province_code FROM dtsen_person) golden USING (cluster_id)`
    : `LEFT JOIN (SELECT rec_id, province_code FROM person_clean) golden USING (rec_id)`;
  return {
    steps: [
      step('with_truth', `
        SELECT p.rec_id, p.source, p.nik, c.cluster_id, t.person_id, t.family_id
        FROM person_clean p JOIN clusters c USING (rec_id)
        JOIN ${truth} t ON t.source = p.source AND t.source_record_id = p.source_record_id`),
      step('with_cluster_province', `SELECT r.*, coalesce(golden.province_code, '') AS cluster_province FROM with_truth r ${golden}`),
      // the person's province by a hash aggregate joined back, not a window (a sort of every record)
      step('person_province', `SELECT person_id, arg_min(cluster_province, rec_id) AS person_province FROM with_cluster_province GROUP BY person_id`),
    ],
    select: 'SELECT r.*, pp.person_province FROM with_cluster_province r JOIN person_province pp USING (person_id)',
  };
}

/** How much of the batch's accepted records the truth covers. */
async function truthCoverage(db: Db, records: string, truth: string): Promise<TruthCoverage> {
  const row = await db.one<Record<string, string>>(`
    SELECT (SELECT count(*) FROM ${records}) AS evaluated, (SELECT count(*) FROM person_clean) AS accepted, (SELECT count(*) FROM ${truth}) AS truth_rows`);
  const [evaluated, accepted, truthRows] = [row?.evaluated, row?.accepted, row?.truth_rows].map(Number);
  return {
    accepted_records: accepted,
    records_with_truth: evaluated,
    records_without_truth: accepted - evaluated,
    share: accepted > 0 ? evaluated / accepted : 0,
    minimum_share: MIN_TRUTH_COVERAGE,
    truth_rows: truthRows,
    truth_rows_not_in_batch: truthRows - evaluated,
  };
}

/**
 * Pair counts of the clusters and of the exact-NIK baseline against the true persons, and the persons resolved to
 * exactly one cluster holding no one else: one statement.
 */
async function pairFigures(db: Db, records: string, linkage: Linkage) {
  const baseKey = `coalesce(nik, 'rec:' || rec_id::VARCHAR)`;
  const row = await db.one<Record<string, string>>(composeSql(
    [
      step('person_clusters', `SELECT person_id, count(DISTINCT cluster_id) AS clusters, any_value(cluster_id) AS cluster_id FROM ${records} GROUP BY ALL`),
      step('cluster_persons', `SELECT cluster_id, count(DISTINCT person_id) AS persons FROM ${records} GROUP BY ALL`),
    ],
    `SELECT
      (${pairCountSql(records, 'person_id', linkage)}) AS true_pairs,
      (${pairCountSql(records, 'cluster_id', linkage)}) AS predicted,
      (${pairCountSql(records, 'cluster_id, person_id', linkage)}) AS true_positives,
      (${pairCountSql(records, baseKey, linkage)}) AS baseline_predicted,
      (${pairCountSql(records, `${baseKey}, person_id`, linkage)}) AS baseline_true_positives,
      (SELECT count(DISTINCT person_id) FROM ${records}) AS persons,
      (SELECT count(*) FROM person_clusters JOIN cluster_persons USING (cluster_id) WHERE person_clusters.clusters = 1 AND cluster_persons.persons = 1) AS exactly_one`,
  ));
  const n = (k: string) => Number(row?.[k] ?? 0);
  return {
    truePairs: n('true_pairs'),
    predicted: n('predicted'),
    truePositives: n('true_positives'),
    baselinePredicted: n('baseline_predicted'),
    baselineTruePositives: n('baseline_true_positives'),
    persons: n('persons'),
    exactlyOne: n('exactly_one'),
  };
}

/**
 * The true pairs (allowed by the config) once, in the TEMP table eval_true_pairs while this runs: where the false
 * negatives were lost, and what each blocking rule finds. Every candidate pair is scored (scored_pairs carries the
 * rules bitmask): one join gives the figures of both.
 */
async function truePairFigures(db: Db, records: string, linkage: Linkage, threshold: number, linkable: string): Promise<Pick<EvaluationFigures, 'false_negatives' | 'blocking'>> {
  await using truePairs = await materialise(db, 'eval_true_pairs', `
    SELECT tp.*, s.rec_id_l IS NOT NULL AS candidate, s.rules, s.match_probability, coalesce(${linkable}, false) AS linkable
    FROM (
      SELECT l.rec_id AS rec_id_l, r.rec_id AS rec_id_r, l.cluster_id = r.cluster_id AS together
      FROM ${records} l JOIN ${records} r ON l.person_id = r.person_id AND l.rec_id < r.rec_id
      SEMI JOIN (${allowedSourcePairsSql(linkage)}) allowed ON allowed.source_l = l.source AND allowed.source_r = r.source) tp
    LEFT JOIN scored_pairs s USING (rec_id_l, rec_id_r)`);
  const fn = await db.one<Record<string, string>>(`
    SELECT count(*) FILTER (WHERE NOT together AND NOT candidate) AS never_candidate,
           count(*) FILTER (WHERE NOT together AND match_probability < ${threshold}) AS below,
           count(*) FILTER (WHERE NOT together AND match_probability >= ${threshold} AND NOT linkable) AS hard_negative,
           count(*) FILTER (WHERE NOT together AND linkable) AS split,
           count(*) FILTER (WHERE candidate) AS candidates,
           count(*) AS allowed_true
    FROM ${truePairs}`);
  const ruleNames = linkage.engine === 'probabilistic' ? [...BLOCKING_RULES.map((r) => r.name), ...(linkage.family_context ? [FAMILY_RULE.name] : [])] : ['exact'];
  const byRule = await db.all<{ rule_id: string; found: string }>(`
    SELECT r.rule_id, count(tp.rec_id_l) AS found
    FROM range(${ruleNames.length}) r(rule_id)
    LEFT JOIN ${truePairs} tp ON tp.candidate AND (tp.rules >> r.rule_id::INT) & 1 = 1
    GROUP BY ALL ORDER BY r.rule_id`);
  const candidates = Number(fn?.candidates ?? 0);
  const allowedTrue = Number(fn?.allowed_true ?? 0);
  return {
    false_negatives: {
      never_candidate: Number(fn?.never_candidate ?? 0),
      scored_below_threshold: Number(fn?.below ?? 0),
      held_apart_as_hard_negative: Number(fn?.hard_negative ?? 0),
      split_by_clustering: Number(fn?.split ?? 0),
    },
    blocking: {
      true_pairs: allowedTrue,
      found_by_any_rule: candidates,
      recall: allowedTrue > 0 ? candidates / allowedTrue : 1,
      by_rule: byRule.map((r) => ({ rule: ruleNames[Number(r.rule_id)], true_pairs_found: Number(r.found), share: allowedTrue > 0 ? Number(r.found) / allowedTrue : 0 })),
    },
  };
}

/** False positives: the links (pairs that joined two records) between records of different persons. */
async function falsePositiveFigures(db: Db, records: string, linkage: Linkage, linkable: string): Promise<EvaluationFigures['false_positives']> {
  const links = `scored_pairs s JOIN ${records} l ON l.rec_id = s.rec_id_l JOIN ${records} r ON r.rec_id = s.rec_id_r
    WHERE ${linkable} AND l.person_id <> r.person_id`;
  const fp = await db.all<{ sources: string; pairs: string; same_family: string }>(`
    SELECT l.source || '-' || r.source AS sources, count(*) AS pairs, count(*) FILTER (WHERE l.family_id = r.family_id) AS same_family
    FROM ${links} GROUP BY ALL ORDER BY pairs DESC, sources`);
  const gammas = COMPARISONS.map((c) => gammaColumn(c));
  const patterns = linkage.engine === 'probabilistic'
    ? await db.all<Record<string, string>>(`
        SELECT ${gammas.map((g) => `s.${g}`).join(', ')}, count(*) AS pairs, avg(s.match_weight) AS mean_weight, count(*) FILTER (WHERE l.family_id = r.family_id) AS same_family
        FROM ${links} GROUP BY ALL ORDER BY pairs DESC, ${gammas.map((g) => `s.${g}`).join(', ')} LIMIT 10`)
    : [];
  const levelLabel = (ci: number, g: number) => (g < 0 ? 'null' : COMPARISONS[ci].levels[g]?.label ?? String(g));
  return {
    pairs_linked_across_persons: fp.reduce((a, r) => a + Number(r.pairs), 0),
    same_family: fp.reduce((a, r) => a + Number(r.same_family), 0),
    by_source_pair: fp.map((r) => ({ sources: r.sources, pairs: Number(r.pairs) })),
    by_pattern: patterns.map((p) => ({
      levels: Object.fromEntries(COMPARISONS.map((c, i) => [c.name, levelLabel(i, Number(p[gammas[i]]))])),
      pairs: Number(p.pairs),
      same_family: Number(p.same_family),
      mean_weight: Number(Number(p.mean_weight).toFixed(2)),
    })),
  };
}

async function provinceQuality(db: Db, records: string, linkage: Linkage): Promise<ProvinceQuality[]> {
  const rows = await db.all<{ code: string; province: string; true_pairs: string; true_found: string; predicted: string; predicted_true: string }>(composeSql(
    [
      step('true_pairs', pairCountSql(records, 'person_id', linkage, 'person_province')),
      step('true_found', pairCountSql(records, 'cluster_id, person_id', linkage, 'person_province')),
      step('predicted', pairCountSql(records, 'cluster_id', linkage, 'cluster_province')),
      step('predicted_true', pairCountSql(records, 'cluster_id, person_id', linkage, 'cluster_province')),
      step('codes', `SELECT DISTINCT cluster_province AS grp FROM ${records} UNION SELECT DISTINCT person_province FROM ${records}`),
    ],
    `SELECT codes.grp AS code, coalesce(r.name, 'unknown') AS province,
       coalesce(true_pairs.pairs, 0) AS true_pairs, coalesce(true_found.pairs, 0) AS true_found,
       coalesce(predicted.pairs, 0) AS predicted, coalesce(predicted_true.pairs, 0) AS predicted_true
     FROM codes LEFT JOIN true_pairs USING (grp) LEFT JOIN true_found USING (grp) LEFT JOIN predicted USING (grp) LEFT JOIN predicted_true USING (grp)
     LEFT JOIN ref_province r ON r.code = codes.grp
     ORDER BY code`,
  ));
  return rows.map((r) => {
    const [truePairs, trueFound, predicted, predictedTrue] = [r.true_pairs, r.true_found, r.predicted, r.predicted_true].map(Number);
    return {
      province_code: r.code, province: r.province,
      true_pairs: truePairs, true_pairs_found: trueFound, predicted_pairs: predicted, predicted_pairs_true: predictedTrue,
      precision: predicted > 0 ? predictedTrue / predicted : 1, recall: truePairs > 0 ? trueFound / truePairs : 1,
    };
  });
}

/** Bins of half a bit: a pair is counted at every grid threshold at or below its weight (cumulative sums). */
const CURVE_STEP_BITS = 0.5;

function curvePoint(truePairs: number, w: number, predicted: number, tp: number): CurvePoint {
  const q = quality(truePairs, predicted, tp);
  return { match_weight: w, match_probability: 1 / (1 + 2 ** -w), predicted_pairs: predicted, true_positive_pairs: tp, precision: q.precision, recall: q.recall, f1: q.f1 };
}

/**
 * The scored pairs between records with a truth row, whether the truth says they are one person (the TEMP table
 * eval_scored while this runs): the threshold curve and the weight histogram.
 */
async function scoredPairFigures(db: Db, records: string, truePairs: number, threshold: number): Promise<Pick<EvaluationFigures, 'threshold_curve' | 'weight_histogram'>> {
  const hasGuard = await db.columnExists('scored_pairs', 'hard_negative');
  await using scored = await materialise(db, 'eval_scored', `
    SELECT s.match_weight, s.match_probability, l.person_id = r.person_id AS is_match,
           ${hasGuard ? 'coalesce(s.hard_negative, false)' : 'false'} AS hard_negative
    FROM scored_pairs s JOIN ${records} l ON l.rec_id = s.rec_id_l JOIN ${records} r ON r.rec_id = s.rec_id_r
    WHERE s.match_weight IS NOT NULL AND isfinite(s.match_weight)`);
  return {
    threshold_curve: await thresholdCurve(db, String(scored), truePairs, threshold),
    weight_histogram: await weightHistogram(db, String(scored)),
  };
}

async function thresholdCurve(db: Db, scored: string, truePairs: number, threshold: number): Promise<ThresholdCurve> {
  const at = await db.one<{ predicted: string; tp: string }>(
    `SELECT count(*) AS predicted, count(*) FILTER (WHERE is_match) AS tp FROM ${scored} WHERE match_probability >= ${threshold} AND NOT hard_negative`,
  );
  const rows = await db.all<{ w: number; predicted: string; tp: string }>(composeSql(
    [
      step('binned', `SELECT (floor(match_weight / ${CURVE_STEP_BITS}) * ${CURVE_STEP_BITS})::DOUBLE AS w, is_match FROM ${scored} WHERE NOT hard_negative`),
      step('bins', `SELECT w, count(*) AS n, count(*) FILTER (WHERE is_match) AS tp FROM binned GROUP BY w`),
      step('grid', `SELECT (unnest(range(floor(min(w) / ${CURVE_STEP_BITS})::BIGINT, floor(max(w) / ${CURVE_STEP_BITS})::BIGINT + 1)) * ${CURVE_STEP_BITS})::DOUBLE AS w FROM bins`),
    ],
    `SELECT w::DOUBLE AS w, sum(coalesce(n, 0)) OVER (ORDER BY w DESC) AS predicted, sum(coalesce(tp, 0)) OVER (ORDER BY w DESC) AS tp
     FROM grid LEFT JOIN bins USING (w) ORDER BY w`,
  ));
  return {
    step_bits: CURVE_STEP_BITS,
    true_pairs: truePairs,
    points: rows.map((r) => curvePoint(truePairs, r.w, Number(r.predicted), Number(r.tp))),
    at_threshold: { ...curvePoint(truePairs, Math.log2(threshold / (1 - threshold)), Number(at?.predicted ?? 0), Number(at?.tp ?? 0)), match_probability: threshold },
  };
}

/** Scored candidate pairs by match weight (1-bit bins), split by whether the truth says they are one person. */
async function weightHistogram(db: Db, scored: string): Promise<WeightBin[]> {
  const rows = await db.all<{ w: number; same: string; different: string }>(`
    SELECT floor(match_weight)::DOUBLE AS w, count(*) FILTER (WHERE is_match) AS same, count(*) FILTER (WHERE NOT is_match) AS different
    FROM ${scored} GROUP BY ALL ORDER BY w`);
  return rows.map((r) => ({ bin_start: r.w, bin_end: r.w + 1, same_person: Number(r.same), different_persons: Number(r.different) }));
}

/**
 * In a run: the quality figures, or — when the truth covers too little of the batch — its coverage alone, with
 * a warning (the batch itself is fine; only its measurement is not possible).
 */
export const evaluateStage = defineStage({
  name: 'evaluate',
  produces: [],
  async run(ctx): Promise<StageResult<EvaluationFigures | SkippedEvaluation>> {
    if (!ctx.truthPath) return { rows: 0 };
    let figures: EvaluationFigures;
    try {
      figures = await evaluate(ctx.db, ctx.truthPath, ctx.config.linkage);
    } catch (e) {
      if (!(e instanceof TruthCoverageError)) throw e;
      const c = e.coverage;
      ctx.log.warn({ stage: 'evaluate', records_with_truth: c.records_with_truth, accepted_records: c.accepted_records, share: c.share, minimum_share: c.minimum_share }, 'the truth covers too few records: quality not measured');
      const skipped: SkippedEvaluation = { truth_coverage: c, quality_not_measured: coverageMessage(c) };
      return { rows: c.records_with_truth, figures: skipped };
    }
    ctx.log.info({ stage: 'evaluate', precision: figures.precision, recall: figures.recall, f1: figures.f1, baseline_f1: figures.baseline.f1 }, 'evaluated');
    return { rows: figures.records_evaluated, figures };
  },
});

