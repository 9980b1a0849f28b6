/**
 * The threshold chosen from the model alone (no truth). Each scored pair's match probability is the model's
 * belief that its two records are one person, so over the pairs at or above a threshold t:
 *   expected true pairs linked   E[TP](t) = Σ p           (hard negatives are never linked)
 *   expected precision           E[TP](t) / pairs(t)
 *   expected recall              E[TP](t) / Σ p over every scored pair but the hard negatives (the true pairs
 *                                blocking found; a hard negative is taken for the two persons the guard says)
 * `linkage.threshold: "auto"` takes the threshold of the largest expected F1 among those whose expected
 * precision is at least `linkage.precision_floor`. Pairs are binned by match weight (a tenth of a bit), so the
 * curve costs one aggregate over scored_pairs at any scale.
 */
import type { Db } from '../engine/db.ts';

export const EXPECTED_STEP_BITS = 0.1;

export interface ExpectedPoint {
  match_weight: number;
  match_probability: number;
  predicted_pairs: number;
  expected_true_positive_pairs: number;
  precision: number;
  recall: number;
  f1: number;
}

export interface ExpectedCurve {
  step_bits: number;
  /** Σ p over every scored pair but the hard negatives: the true pairs the model expects among the candidates */
  expected_true_pairs: number;
  /** one point per bin of match weight holding pairs, ascending */
  points: ExpectedPoint[];
}

export const probabilityOfWeight = (w: number): number => 1 / (1 + 2 ** -w);

export async function expectedCurve(db: Db, table = 'scored_pairs'): Promise<ExpectedCurve> {
  const hasHard = await db.columnExists(table, 'hard_negative');
  const linkable = hasHard ? 'NOT coalesce(hard_negative, false)' : 'true';
  const rows = await db.all<{ w: number; n: string; sp: number; all_p: number }>(`
    SELECT (floor(match_weight / ${EXPECTED_STEP_BITS}) * ${EXPECTED_STEP_BITS})::DOUBLE AS w,
      count(*) FILTER (WHERE ${linkable}) AS n, coalesce(sum(match_probability) FILTER (WHERE ${linkable}), 0)::DOUBLE AS sp,
      coalesce(sum(match_probability) FILTER (WHERE ${linkable}), 0)::DOUBLE AS all_p
    FROM ${table} WHERE match_weight IS NOT NULL AND isfinite(match_weight) GROUP BY ALL ORDER BY w DESC`);
  const total = rows.reduce((a, r) => a + Number(r.all_p), 0);
  let n = 0;
  let tp = 0;
  const points: ExpectedPoint[] = [];
  for (const r of rows) {
    n += Number(r.n);
    tp += Number(r.sp);
    const precision = n > 0 ? tp / n : 1;
    const recall = total > 0 ? tp / total : 1;
    const w = Number(r.w);
    points.push({
      match_weight: Number(w.toFixed(6)),
      match_probability: probabilityOfWeight(w),
      predicted_pairs: n,
      expected_true_positive_pairs: tp,
      precision,
      recall,
      f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0,
    });
  }
  return { step_bits: EXPECTED_STEP_BITS, expected_true_pairs: total, points: points.reverse() };
}

/**
 * The point of the largest expected F1 whose expected precision is at least `floor` (ties: the higher
 * threshold); none reaching the floor: the point of the highest expected precision.
 */
export function chooseThreshold(curve: ExpectedCurve, floor: number): ExpectedPoint | undefined {
  const ok = curve.points.filter((p) => p.precision >= floor);
  const pool = ok.length ? ok : curve.points;
  const key = ok.length ? (p: ExpectedPoint) => p.f1 : (p: ExpectedPoint) => p.precision;
  return pool.reduce<ExpectedPoint | undefined>((best, p) => (!best || key(p) > key(best) || (key(p) === key(best) && p.match_weight > best.match_weight) ? p : best), undefined);
}

/** The expected figures at a given threshold (the highest curve point at or below it). */
export function expectedAt(curve: ExpectedCurve, threshold: number): ExpectedPoint | undefined {
  const w = Math.log2(threshold / (1 - threshold));
  return curve.points.filter((p) => p.match_weight <= w + 1e-9).at(-1) ?? curve.points[0];
}

/** SQL: the odds of a match probability, kept finite (a probability of 1 in double precision is capped). */
const ODDS = (p: string, cap = 1e-12) => `least(${p}, 1 - ${cap}) / (1 - least(${p}, 1 - ${cap}))`;
/** How near 0 or 1 a pair between clusters may say its two records are (its log odds are summed over the pairs). */
const CROSS_CAP = 1e-6;
/** The log odds that two clusters are one person, capped so that their odds stay finite. */
const MAX_LOG_ODDS = 50;

/**
 * The model's expected pairwise precision and recall of the clusters (persons) built, to set beside the truth's
 * cluster-level figures. The pairs predicted are every allowed pair of records inside one cluster (known exactly);
 * each scored one is a true pair with what a third record of the cluster scored against both says: of the five ways
 * to part the three records into persons, weighed by the odds of the pairs each puts in one person, the share holding
 * the pair in one (the best third record; none, its own match probability). Two records each linked with confidence
 * to a third are one person although their own score is weak (inside the persons built, pairs scored 0.1–0.4 were
 * true pairs four times in five); a father and a son each linked to an undated record stay two, their own score says
 * so. A pair joined only through other records (never scored) takes the mean of its cluster's scored pairs.
 *
 * Recall's denominator is those expected true pairs plus the true pairs the model expects *between* clusters: for
 * every two clusters A and B joined by scored pairs, the chance that they are one person times the allowed pairs
 * between their records. A split person is many pairs at once, and what says whether A and B are one person is every
 * pair scored between them together: of the two ways to part them (one person, two), weighed as inside a cluster by
 * the odds of the pairs each puts in one person, the odds of "one" are the product of the cross pairs' odds (each
 * capped at 1e-6 from 0 and 1). A pair at 0.99 beside a pair at 0.01 between the same two clusters (the chaining
 * protection split them) is an even chance, not a 0.99 one; two clusters each a few records of one person, joined by
 * several pairs at 0.7, are nearly surely one. Summing the probabilities of the pairs instead overstates the
 * clusters a record has several look-alike candidates in (namesakes, relatives, twins): each pair is scored as if it
 * were the record's only candidate, and three namesakes at 0.5 would count as one and a half persons. A cluster is
 * one person at most once among the others, so its candidates compete: for a cluster A and each cluster B it was
 * scored against,
 *   P(A is B) = odds(A, B) / (1 + Σ odds(A, B') over every cluster B' scored against A)
 * taken from both sides and averaged. Hard negatives count here (the guard keeps them apart, it does not know them
 * apart: twins compete like any look-alike); true pairs no blocking rule found are not counted. On the zoo of
 * populations (20 profiles) this was within 0.003 of the truth's recall, where a record's own candidates competing
 * with its own cluster left it above the truth by up to 0.008 (a record surely in its cluster said its cluster was
 * surely not the other, which the two clusters being one person does not contradict).
 */
export async function expectedClusterQuality(db: Db, allowedSourcePairs: string): Promise<{ precision: number; recall: number; predicted_pairs: number; expected_true_positive_pairs: number; expected_missed_pairs: number }> {
  const r = await db.one<{ predicted: number; etp: number; missed: number }>(`
    WITH allowed AS (${allowedSourcePairs}),
    rec AS (SELECT c.rec_id, c.cluster_id, p.source FROM clusters c JOIN person_clean p USING (rec_id)),
    -- every scored pair with its two records' clusters, joined once: split into the pairs inside a cluster and
    -- those across two
    placed AS MATERIALIZED (
      SELECT s.rec_id_l, s.rec_id_r, s.match_probability AS p, cl.cluster_id AS ca, cr.cluster_id AS cb
      FROM scored_pairs s JOIN clusters cl ON cl.rec_id = s.rec_id_l JOIN clusters cr ON cr.rec_id = s.rec_id_r),
    sizes AS MATERIALIZED (SELECT cluster_id, source, count(*) AS n FROM rec GROUP BY ALL),
    src AS (SELECT * FROM sizes WHERE cluster_id IN (SELECT cluster_id FROM sizes GROUP BY ALL HAVING sum(n) > 1)),
    pred AS (
      SELECT a.cluster_id, sum(CASE WHEN a.source = b.source THEN a.n * (a.n - 1) / 2 ELSE a.n * b.n END) AS pairs
      FROM src a JOIN src b ON a.cluster_id = b.cluster_id AND a.source <= b.source
      SEMI JOIN allowed s ON s.source_l = a.source AND s.source_r = b.source
      GROUP BY ALL),
    wp AS MATERIALIZED (SELECT ca AS cluster_id, rec_id_l, rec_id_r, p FROM placed WHERE ca = cb),
    edge AS (
      SELECT cluster_id, rec_id_l AS a, rec_id_r AS b, ${ODDS('p')} AS o FROM wp
      UNION ALL SELECT cluster_id, rec_id_r, rec_id_l, ${ODDS('p')} FROM wp),
    -- the pair (a, b) with a third record x of the cluster scored against both: of the five ways to part the three
    -- records into persons, weighed by the odds of the pairs each puts in one person, those holding a and b in one
    trio AS (
      SELECT x.a AS rec_id_l, y.b AS rec_id_r, max((x.o * y.o * d.o + d.o) / (1 + x.o + y.o + d.o + x.o * y.o * d.o)) AS q
      FROM edge x JOIN edge y ON y.cluster_id = x.cluster_id AND y.a = x.b
      JOIN edge d ON d.a = x.a AND d.b = y.b
      WHERE x.a < y.b GROUP BY ALL),
    scored AS (
      SELECT wp.cluster_id, count(*) AS n, sum(coalesce(trio.q, wp.p)) AS sp
      FROM wp LEFT JOIN trio USING (rec_id_l, rec_id_r) GROUP BY ALL),
    within AS (
      SELECT coalesce(sum(pred.pairs), 0)::DOUBLE AS predicted,
        coalesce(sum(coalesce(scored.sp, 0) + greatest(pred.pairs - coalesce(scored.n, 0), 0) * coalesce(scored.sp / scored.n, 1)), 0)::DOUBLE AS etp
      FROM pred LEFT JOIN scored USING (cluster_id)),
    -- every two clusters joined by scored pairs: the log odds that they are one person (the cross pairs' together)
    cross_pairs AS (
      SELECT least(ca, cb) AS ca, greatest(ca, cb) AS cb, least(sum(ln(${ODDS(`greatest(p, ${CROSS_CAP})`, CROSS_CAP)})), ${MAX_LOG_ODDS}) AS lo
      FROM placed WHERE ca <> cb GROUP BY ALL),
    sides AS (SELECT ca AS c, cb AS o, exp(lo) AS odds FROM cross_pairs UNION ALL SELECT cb, ca, exp(lo) FROM cross_pairs),
    -- a cluster is one person at most once among the clusters it was scored against: they compete, seen from each side
    belongs AS (SELECT c, o, odds / (1 + sum(odds) OVER (PARTITION BY c)) AS pr FROM sides),
    same AS (SELECT least(c, o) AS ca, greatest(c, o) AS cb, avg(pr) AS pr FROM belongs GROUP BY ALL),
    across AS (
      SELECT sum(same.pr * x.n * y.n) AS missed
      FROM same JOIN sizes x ON x.cluster_id = same.ca JOIN sizes y ON y.cluster_id = same.cb
      SEMI JOIN allowed a ON a.source_l = x.source AND a.source_r = y.source)
    SELECT predicted, etp, coalesce(missed, 0)::DOUBLE AS missed FROM within, across`);
  const predicted = Number(r?.predicted ?? 0);
  const etp = Number(r?.etp ?? 0);
  const missed = Number(r?.missed ?? 0);
  return {
    precision: predicted > 0 ? etp / predicted : 1,
    recall: etp + missed > 0 ? etp / (etp + missed) : 1,
    predicted_pairs: predicted,
    expected_true_positive_pairs: etp,
    expected_missed_pairs: missed,
  };
}

/** Pairs that may join two records: at or above the threshold, and not flagged as a hard negative. */
export function linkableSql(threshold: number, hasHardNegative: boolean): string {
  return `match_probability >= ${threshold}${hasHardNegative ? ' AND NOT coalesce(hard_negative, false)' : ''}`;
}
