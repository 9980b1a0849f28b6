import { describe, expect, it } from 'vitest';
import { Db } from '../../src/engine/db.ts';
import { chooseThreshold, expectedAt, expectedCurve, probabilityOfWeight } from '../../src/linkage/threshold.ts';
import { uWithoutMatches } from '../../src/linkage/train.ts';

describe('expected precision and recall from the model', () => {
  it('sums the match probabilities above each threshold, hard negatives never linked nor expected', async () => {
    const db = await Db.open();
    // weights 10, 2, 0, -3 bits; the pair at 2 bits is a hard negative
    await db.run(`CREATE TABLE scored_pairs AS SELECT w AS match_weight, 1 / (1 + pow(2, -w)) AS match_probability, h AS hard_negative
      FROM (VALUES (10.0, false), (2.0, true), (0.0, false), (-3.0, false)) t(w, h)`);
    const curve = await expectedCurve(db);
    const p = (w: number) => probabilityOfWeight(w);
    expect(curve.expected_true_pairs).toBeCloseTo(p(10) + p(0) + p(-3), 9);
    const at0 = curve.points.find((x) => x.match_weight === 0)!;
    expect(at0.predicted_pairs).toBe(2);
    expect(at0.precision).toBeCloseTo((p(10) + p(0)) / 2, 9);
    expect(at0.recall).toBeCloseTo((p(10) + p(0)) / curve.expected_true_pairs, 9);
    const at10 = curve.points.find((x) => x.match_weight === 10)!;
    expect(at10.predicted_pairs).toBe(1);
    expect(expectedAt(curve, probabilityOfWeight(5))).toEqual(curve.points.find((x) => x.match_weight === 2));
    db.close();
  });

  it('chooses the best expected F1 above the precision floor, else the most precise point', () => {
    const pt = (w: number, precision: number, recall: number) => ({ match_weight: w, match_probability: probabilityOfWeight(w), predicted_pairs: 1, expected_true_positive_pairs: 1, precision, recall, f1: (2 * precision * recall) / (precision + recall) });
    const curve = { step_bits: 0.1, expected_true_pairs: 1, points: [pt(-2, 0.99, 1), pt(0, 0.996, 0.99), pt(3, 0.999, 0.9)] };
    expect(chooseThreshold(curve, 0.995)?.match_weight).toBe(0);
    expect(chooseThreshold(curve, 0.9)?.match_weight).toBe(-2);
    expect(chooseThreshold(curve, 0.9999)?.match_weight).toBe(3);
  });
});

describe('u without the matches among random pairs', () => {
  it('removes the pairs the model holds for matches from the level counts', () => {
    // one comparison, two levels (agree, disagree): 100 agreeing random pairs are nearly all matches
    const m = [[0.99, 0.01]];
    const u = [[0.001, 0.999]];
    const pats = [{ gammas: [0], count: 100 }, { gammas: [1], count: 1_000_000 }];
    const plain = (100 + 1) / (1_000_100 + 2);
    const re = uWithoutMatches(pats, m, u, 0.01, []);
    expect(re.u[0][0]).toBeLessThan(plain / 2);
    expect(re.counts[0][1]).toBeGreaterThan(999_000);
    // with no chance of a match, the counts are the sample's
    expect(uWithoutMatches(pats, m, u, 1e-15, []).counts[0][0]).toBeCloseTo(100, 6);
  });
});
