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
import { lit } from '../../engine/db.ts';
import { InputError } from '../../engine/errors.ts';
import type { Linkage } from '../../../schemas/config.ts';
import { thresholdOf } from '../../../schemas/config.ts';
import { allowedSourcePairsSql } from '../../linkage/blocking.ts';
import { BLOCKING_RULES } from '../../linkage/blocking-rules.ts';
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

/** The columns of a truth file; family_id may be left out. */
const TRUTH_COLUMNS = ['source', 'source_record_id', 'person_id', 'family_id'] as const;
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
 * The truth file into the TEMPORARY table truth (source, source_record_id, person_id, family_id): nothing is
 * written into the batch's database. Extra columns are ignored; a row without a source, record id or person id,
 * or a record given twice, is an input error naming the line.
 */
export async function loadTruth(db: Db, truthPath: string): Promise<void> {
  const names = await truthHeader(truthPath);
  // Columns by position (c0, c1, …): the file's own names never go into the SQL.
  const columns = names.map((_, i) => `'c${i}': 'VARCHAR'`).join(', ');
  const col = (name: string) => (names.includes(name) ? `c${names.indexOf(name)}` : 'NULL::VARCHAR');
  try {
    await db.run(
      `CREATE OR REPLACE TEMP TABLE truth_raw AS
       SELECT row_number() OVER () + 1 AS line,
              trim(${col('source')}) AS source, trim(${col('source_record_id')}) AS source_record_id, trim(${col('person_id')}) AS person_id,
              nullif(trim(${col('family_id')}), '') AS family_id
       FROM read_csv($1, header = true, auto_detect = false, columns = {${columns}}, delim = ',', quote = '"', escape = '"', parallel = false)`,
      [truthPath],
    );
  } catch (e) {
    throw new InputError(`truth file cannot be read as CSV (${(e as Error).message.split('\n')[0]})`, { file: truthPath, expected: TRUTH_EXPECTED });
  }
  try {
    for (const c of REQUIRED_TRUTH_COLUMNS) {
      const empty = await db.one<{ line: string }>(`SELECT min(line) AS line FROM truth_raw WHERE nullif(${c}, '') IS NULL HAVING count(*) > 0`);
      if (empty) throw new InputError(`${c} is empty`, { file: truthPath, row: Number(empty.line), column: c, expected: TRUTH_EXPECTED });
    }
    const dup = await db.one<{ line: string; first: string }>(`
      SELECT max(line) AS line, min(line) AS first FROM truth_raw GROUP BY source, source_record_id HAVING count(*) > 1 ORDER BY min(line) LIMIT 1`);
    if (dup) throw new InputError(`the record of line ${dup.first} is given again`, { file: truthPath, row: Number(dup.line), column: 'source_record_id', expected: 'one truth row per source record' });
    await db.run(`CREATE OR REPLACE TEMP TABLE truth AS SELECT ${TRUTH_COLUMNS.join(', ')} FROM truth_raw`);
  } finally {
    await db.run(`DROP TABLE IF EXISTS temp.truth_raw`);
  }
}

/** Evaluation's temporary tables, dropped when it ends. */
const EVAL_TABLES = ['truth', 'truth_raw', 'eval_records', 'eval_true_pairs', 'eval_scored'];

/**
 * Quality figures against the truth file. Every table it makes is TEMPORARY and dropped at the end, so a
 * finished batch's database is only read. Throws TruthCoverageError when the truth covers less than
 * MIN_TRUTH_COVERAGE of the accepted records.
 */
export async function evaluate(db: Db, truthPath: string, linkage: Linkage): Promise<EvaluationFigures> {
  try {
    return await measure(db, truthPath, linkage);
  } finally {
    for (const t of EVAL_TABLES) await db.run(`DROP TABLE IF EXISTS temp.${t}`);
  }
}

async function measure(db: Db, truthPath: string, linkage: Linkage): Promise<EvaluationFigures> {
  await loadTruth(db, truthPath);
  await db.run(`
    CREATE OR REPLACE TEMP TABLE eval_records AS
    SELECT p.rec_id, p.source, p.nik, c.cluster_id, t.person_id, t.family_id
    FROM person_clean p JOIN clusters c USING (rec_id)
    JOIN truth t ON t.source = p.source AND t.source_record_id = p.source_record_id;
  `);
  await db.run(provinceColumnsSql(await db.tableExists('dtsen_person')));
  const evaluated = await db.count(`SELECT count(*) FROM eval_records`);
  const accepted = await db.count(`SELECT count(*) FROM person_clean`);
  const withoutTruth = accepted - evaluated;
  const truthRows = await db.count(`SELECT count(*) FROM truth`);
  const coverage: TruthCoverage = {
    accepted_records: accepted,
    records_with_truth: evaluated,
    records_without_truth: withoutTruth,
    share: accepted > 0 ? evaluated / accepted : 0,
    minimum_share: MIN_TRUTH_COVERAGE,
    truth_rows: truthRows,
    truth_rows_not_in_batch: truthRows - evaluated,
  };
  if (coverage.share < MIN_TRUTH_COVERAGE) throw new TruthCoverageError(coverage, truthPath);
  const truePairs = await db.count(pairCountSql('eval_records', 'person_id', linkage));
  const predicted = await db.count(pairCountSql('eval_records', 'cluster_id', linkage));
  const tp = await db.count(pairCountSql('eval_records', 'cluster_id, person_id', linkage));
  const baseKey = `coalesce(nik, 'rec:' || rec_id::VARCHAR)`;
  const bPred = await db.count(pairCountSql('eval_records', baseKey, linkage));
  const bTp = await db.count(pairCountSql('eval_records', `${baseKey}, person_id`, linkage));
  const persons = await db.count(`SELECT count(DISTINCT person_id) FROM eval_records`);
  const exactlyOne = await db.count(`
    WITH pc AS (SELECT person_id, count(DISTINCT cluster_id) AS clusters, any_value(cluster_id) AS cluster_id FROM eval_records GROUP BY ALL),
         cp AS (SELECT cluster_id, count(DISTINCT person_id) AS persons FROM eval_records GROUP BY ALL)
    SELECT count(*) FROM pc JOIN cp USING (cluster_id) WHERE pc.clusters = 1 AND cp.persons = 1`);
  // The true pairs (allowed by the config) once: where the false negatives were lost, and what each blocking rule finds.
  const threshold = thresholdOf(linkage);
  const hasHard = await db.columnExists('scored_pairs', 'hard_negative');
  const linkable = linkableSql(threshold, hasHard);
  // Every candidate pair is scored (scored_pairs carries the rules bitmask): one join gives the figures of both.
  await db.run(`
    CREATE OR REPLACE TEMP TABLE eval_true_pairs AS
    SELECT tp.*, s.rec_id_l IS NOT NULL AS candidate, s.rules, s.match_probability, coalesce(${linkable}, false) AS linkable
    FROM (
      SELECT l.rec_id AS rec_id_l, r.rec_id AS rec_id_r, l.cluster_id = r.cluster_id AS together
      FROM eval_records l JOIN eval_records r ON l.person_id = r.person_id AND l.rec_id < r.rec_id
      SEMI JOIN (${allowedSourcePairsSql(linkage)}) a ON a.source_l = l.source AND a.source_r = r.source) tp
    LEFT JOIN scored_pairs s USING (rec_id_l, rec_id_r)`);
  const fn = await db.one<Record<string, string>>(`
    SELECT count(*) FILTER (WHERE NOT together AND NOT candidate) AS never_candidate,
           count(*) FILTER (WHERE NOT together AND match_probability < ${threshold}) AS below,
           count(*) FILTER (WHERE NOT together AND match_probability >= ${threshold} AND NOT linkable) AS hard_negative,
           count(*) FILTER (WHERE NOT together AND linkable) AS split
    FROM eval_true_pairs`);
  const ruleNames = linkage.engine === 'probabilistic' ? BLOCKING_RULES.map((r) => r.name) : ['exact'];
  const byRule = await db.all<{ rule_id: string; found: string }>(`
    SELECT r.rule_id, count(tp.rec_id_l) AS found
    FROM range(${ruleNames.length}) r(rule_id)
    LEFT JOIN eval_true_pairs tp ON tp.candidate AND (tp.rules >> r.rule_id::INT) & 1 = 1
    GROUP BY ALL ORDER BY r.rule_id`);
  const candidates = await db.count(`SELECT count(*) FROM eval_true_pairs WHERE candidate`);
  const allowedTrue = await db.count(`SELECT count(*) FROM eval_true_pairs`);
  await db.run(`DROP TABLE temp.eval_true_pairs`);
  // False positives: the links (pairs that joined two records) between records of different persons.
  const fpEdges = `scored_pairs s JOIN eval_records l ON l.rec_id = s.rec_id_l JOIN eval_records r ON r.rec_id = s.rec_id_r
    WHERE ${linkable} AND l.person_id <> r.person_id`;
  const fp = await db.all<{ sources: string; pairs: string; same_family: string }>(`
    SELECT l.source || '-' || r.source AS sources, count(*) AS pairs, count(*) FILTER (WHERE l.family_id = r.family_id) AS same_family
    FROM ${fpEdges} GROUP BY ALL ORDER BY pairs DESC, sources`);
  const gammas = COMPARISONS.map((c) => gammaColumn(c));
  const patterns = linkage.engine === 'probabilistic'
    ? await db.all<Record<string, string>>(`
        SELECT ${gammas.map((g) => `s.${g}`).join(', ')}, count(*) AS pairs, avg(s.match_weight) AS mean_weight, count(*) FILTER (WHERE l.family_id = r.family_id) AS same_family
        FROM ${fpEdges} GROUP BY ALL ORDER BY pairs DESC, ${gammas.map((g) => `s.${g}`).join(', ')} LIMIT 10`)
    : [];
  const levelLabel = (ci: number, g: number) => (g < 0 ? 'null' : COMPARISONS[ci].levels[g]?.label ?? String(g));
  return {
    ...quality(truePairs, predicted, tp),
    baseline: { rule: 'records with the same valid NIK are one person', ...quality(truePairs, bPred, bTp) },
    persons,
    persons_in_exactly_one_cluster: exactlyOne,
    share_persons_exactly_one_cluster: persons > 0 ? exactlyOne / persons : 1,
    records_evaluated: evaluated,
    records_without_truth: withoutTruth,
    truth_coverage: coverage,
    false_negatives: {
      never_candidate: Number(fn?.never_candidate ?? 0),
      scored_below_threshold: Number(fn?.below ?? 0),
      held_apart_as_hard_negative: Number(fn?.hard_negative ?? 0),
      split_by_clustering: Number(fn?.split ?? 0),
    },
    false_positives: {
      pairs_linked_across_persons: fp.reduce((a, r) => a + Number(r.pairs), 0),
      same_family: fp.reduce((a, r) => a + Number(r.same_family), 0),
      by_source_pair: fp.map((r) => ({ sources: r.sources, pairs: Number(r.pairs) })),
      by_pattern: patterns.map((p) => ({
        levels: Object.fromEntries(COMPARISONS.map((c, i) => [c.name, levelLabel(i, Number(p[gammas[i]]))])),
        pairs: Number(p.pairs),
        same_family: Number(p.same_family),
        mean_weight: Number(Number(p.mean_weight).toFixed(2)),
      })),
    },
    blocking: {
      true_pairs: allowedTrue,
      found_by_any_rule: candidates,
      recall: allowedTrue > 0 ? candidates / allowedTrue : 1,
      by_rule: byRule.map((r) => ({ rule: ruleNames[Number(r.rule_id)], true_pairs_found: Number(r.found), share: allowedTrue > 0 ? Number(r.found) / allowedTrue : 0 })),
    },
    by_province: await provinceQuality(db, linkage),
    threshold_curve: await thresholdCurve(db, truePairs, threshold),
    weight_histogram: await weightHistogram(db),
  };
}

/**
 * eval_records gets the province of each record's golden record (cluster_province) and the province its true
 * person is counted in (person_province: the golden record of the person's first record). Without a
 * dtsen_person table the record's own province stands in for its golden record's.
 */
function provinceColumnsSql(withPerson: boolean): string {
  const golden = withPerson
    ? `LEFT JOIN (SELECT cluster_id, province_code FROM dtsen_person) d USING (cluster_id)`
    : `LEFT JOIN (SELECT rec_id, province_code FROM person_clean) d USING (rec_id)`;
  // the person's province by a hash aggregate joined back, not a window (a sort of every record)
  return `
    CREATE OR REPLACE TEMP TABLE eval_records AS
    WITH e AS (SELECT e.*, coalesce(d.province_code, '') AS cluster_province FROM eval_records e ${golden}),
         pp AS (SELECT person_id, arg_min(cluster_province, rec_id) AS person_province FROM e GROUP BY person_id)
    SELECT e.*, pp.person_province FROM e JOIN pp USING (person_id)`;
}

async function provinceQuality(db: Db, linkage: Linkage): Promise<ProvinceQuality[]> {
  const rows = await db.all<{ code: string; province: string; t: string; tf: string; p: string; pt: string }>(`
    WITH t AS (${pairCountSql('eval_records', 'person_id', linkage, 'person_province')}),
         tf AS (${pairCountSql('eval_records', 'cluster_id, person_id', linkage, 'person_province')}),
         p AS (${pairCountSql('eval_records', 'cluster_id', linkage, 'cluster_province')}),
         pt AS (${pairCountSql('eval_records', 'cluster_id, person_id', linkage, 'cluster_province')}),
         codes AS (SELECT DISTINCT cluster_province AS grp FROM eval_records UNION SELECT DISTINCT person_province FROM eval_records)
    SELECT codes.grp AS code, coalesce(r.name, 'unknown') AS province,
           coalesce(t.pairs, 0) AS t, coalesce(tf.pairs, 0) AS tf, coalesce(p.pairs, 0) AS p, coalesce(pt.pairs, 0) AS pt
    FROM codes LEFT JOIN t USING (grp) LEFT JOIN tf USING (grp) LEFT JOIN p USING (grp) LEFT JOIN pt USING (grp)
    LEFT JOIN ref_province r ON r.code = codes.grp
    ORDER BY code`);
  return rows.map((r) => {
    const [t, tf, p, pt] = [r.t, r.tf, r.p, r.pt].map(Number);
    return {
      province_code: r.code, province: r.province,
      true_pairs: t, true_pairs_found: tf, predicted_pairs: p, predicted_pairs_true: pt,
      precision: p > 0 ? pt / p : 1, recall: t > 0 ? tf / t : 1,
    };
  });
}

/** Bins of half a bit: a pair is counted at every grid threshold at or below its weight (cumulative sums). */
const CURVE_STEP_BITS = 0.5;

function curvePoint(truePairs: number, w: number, predicted: number, tp: number): CurvePoint {
  const q = quality(truePairs, predicted, tp);
  return { match_weight: w, match_probability: 1 / (1 + 2 ** -w), predicted_pairs: predicted, true_positive_pairs: tp, precision: q.precision, recall: q.recall, f1: q.f1 };
}

async function thresholdCurve(db: Db, truePairs: number, threshold: number): Promise<ThresholdCurve> {
  const hasGuard = await db.columnExists('scored_pairs', 'hard_negative');
  await db.run(`
    CREATE OR REPLACE TEMP TABLE eval_scored AS
    SELECT s.match_weight, s.match_probability, l.person_id = r.person_id AS is_match,
           ${hasGuard ? 'coalesce(s.hard_negative, false)' : 'false'} AS hard_negative
    FROM scored_pairs s JOIN eval_records l ON l.rec_id = s.rec_id_l JOIN eval_records r ON r.rec_id = s.rec_id_r
    WHERE s.match_weight IS NOT NULL AND isfinite(s.match_weight)`);
  const at = await db.one<{ predicted: string; tp: string }>(
    `SELECT count(*) AS predicted, count(*) FILTER (WHERE is_match) AS tp FROM eval_scored WHERE match_probability >= ${threshold} AND NOT hard_negative`,
  );
  const rows = await db.all<{ w: number; predicted: string; tp: string }>(`
    WITH pairs AS (SELECT (floor(match_weight / ${CURVE_STEP_BITS}) * ${CURVE_STEP_BITS})::DOUBLE AS w, is_match FROM eval_scored WHERE NOT hard_negative),
    bins AS (SELECT w, count(*) AS n, count(*) FILTER (WHERE is_match) AS tp FROM pairs GROUP BY w),
    grid AS (SELECT (unnest(range(floor(min(w) / ${CURVE_STEP_BITS})::BIGINT, floor(max(w) / ${CURVE_STEP_BITS})::BIGINT + 1)) * ${CURVE_STEP_BITS})::DOUBLE AS w FROM bins)
    SELECT w::DOUBLE AS w, sum(coalesce(n, 0)) OVER (ORDER BY w DESC) AS predicted, sum(coalesce(tp, 0)) OVER (ORDER BY w DESC) AS tp
    FROM grid LEFT JOIN bins USING (w) ORDER BY w`);
  return {
    step_bits: CURVE_STEP_BITS,
    true_pairs: truePairs,
    points: rows.map((r) => curvePoint(truePairs, r.w, Number(r.predicted), Number(r.tp))),
    at_threshold: { ...curvePoint(truePairs, Math.log2(threshold / (1 - threshold)), Number(at?.predicted ?? 0), Number(at?.tp ?? 0)), match_probability: threshold },
  };
}

/** Scored candidate pairs by match weight (1-bit bins), split by whether the truth says they are one person. */
async function weightHistogram(db: Db): Promise<WeightBin[]> {
  const rows = await db.all<{ w: number; same: string; different: string }>(`
    SELECT floor(match_weight)::DOUBLE AS w, count(*) FILTER (WHERE is_match) AS same, count(*) FILTER (WHERE NOT is_match) AS different
    FROM eval_scored GROUP BY ALL ORDER BY w`);
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

