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

/**
 * The model's expected pairwise precision and recall of the clusters (persons) built, to set beside the truth's
 * cluster-level figures: the pairs predicted are every allowed pair of records inside one cluster (known
 * exactly); each scored one is a true pair with its match probability, and a pair joined only through other
 * records (never scored) with the mean probability of its cluster's scored pairs. Recall's denominator is Σ p
 * over every scored pair, as in the curve.
 */
export async function expectedClusterQuality(db: Db, allowedSourcePairs: string, expectedTruePairs: number): Promise<{ precision: number; recall: number; predicted_pairs: number; expected_true_positive_pairs: number }> {
  const r = await db.one<{ predicted: number; etp: number }>(`
    WITH allowed AS (${allowedSourcePairs}),
    src AS (SELECT c.cluster_id, p.source, count(*) AS n FROM clusters c JOIN person_clean p USING (rec_id)
            WHERE c.cluster_id IN (SELECT cluster_id FROM clusters GROUP BY ALL HAVING count(*) > 1) GROUP BY ALL),
    pred AS (
      SELECT a.cluster_id, sum(CASE WHEN a.source = b.source THEN a.n * (a.n - 1) / 2 ELSE a.n * b.n END) AS pairs
      FROM src a JOIN src b ON a.cluster_id = b.cluster_id AND a.source <= b.source
      SEMI JOIN allowed s ON s.source_l = a.source AND s.source_r = b.source
      GROUP BY ALL),
    scored AS (
      SELECT cl.cluster_id, count(*) AS n, sum(s.match_probability) AS sp
      FROM scored_pairs s JOIN clusters cl ON cl.rec_id = s.rec_id_l JOIN clusters cr ON cr.rec_id = s.rec_id_r
      WHERE cl.cluster_id = cr.cluster_id GROUP BY ALL)
    SELECT coalesce(sum(pred.pairs), 0)::DOUBLE AS predicted,
      coalesce(sum(coalesce(scored.sp, 0) + greatest(pred.pairs - coalesce(scored.n, 0), 0) * coalesce(scored.sp / scored.n, 1)), 0)::DOUBLE AS etp
    FROM pred LEFT JOIN scored USING (cluster_id)`);
  const predicted = Number(r?.predicted ?? 0);
  const etp = Number(r?.etp ?? 0);
  return {
    precision: predicted > 0 ? etp / predicted : 1,
    recall: expectedTruePairs > 0 ? Math.min(1, etp / expectedTruePairs) : 1,
    predicted_pairs: predicted,
    expected_true_positive_pairs: etp,
  };
}

/** Pairs that may join two records: at or above the threshold, and not flagged as a hard negative. */
export function linkableSql(threshold: number, hasHardNegative: boolean): string {
  return `match_probability >= ${threshold}${hasHardNegative ? ' AND NOT coalesce(hard_negative, false)' : ''}`;
}
