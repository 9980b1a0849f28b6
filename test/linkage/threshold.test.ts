import { describe, expect, it } from 'vitest';
import { Db } from '../../src/engine/db.ts';
import { chooseThreshold, expectedAt, expectedClusterQuality, expectedCurve, probabilityOfWeight } from '../../src/linkage/threshold.ts';
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

describe('expected quality of the persons built', () => {
  // records 1..5 of one source; clusters given; scored pairs with their probabilities
  async function batch(clusters: [number, number][], pairs: [number, number, number, boolean?][]) {
    const db = await Db.open();
    await db.run(`CREATE TABLE clusters AS SELECT * FROM (VALUES ${clusters.map(([r, c]) => `(${r}, ${c})`).join(', ')}) t(rec_id, cluster_id)`);
    await db.run(`CREATE TABLE person_clean AS SELECT rec_id, 'dtks' AS source FROM clusters`);
    await db.run(`CREATE TABLE scored_pairs AS SELECT * FROM (VALUES ${pairs.map(([l, r, p, h]) => `(${l}, ${r}, ${p}::DOUBLE, ${h ?? false})`).join(', ')}) t(rec_id_l, rec_id_r, match_probability, hard_negative)`);
    return db;
  }
  const allowed = `SELECT 'dtks' AS source_l, 'dtks' AS source_r`;

  it("two clusters joined by one pair: that pair's probability for every allowed pair between them", async () => {
    const db = await batch([[1, 1], [2, 2], [3, 2]], [[1, 2, 0.4], [2, 3, 0.99]]);
    const q = await expectedClusterQuality(db, allowed);
    // clusters 1 and 2 are one person with odds 2/3 (each the other's only candidate): 0.4 × the two pairs (1,2), (1,3)
    expect(q.expected_missed_pairs).toBeCloseTo(0.4 * 2, 9);
    expect(q.precision).toBeCloseTo(0.99, 9);
    expect(q.recall).toBeCloseTo(0.99 / (0.99 + 0.8), 9);
  });

  it('every pair scored between two clusters speaks together: the odds of one person are their product', async () => {
    // the chaining protection's split: record 3 at 0.99 with record 1 and at 0.01 with record 2 of one person
    const split = await batch([[1, 1], [2, 1], [3, 2]], [[1, 2, 0.999], [1, 3, 0.99], [2, 3, 0.01]]);
    expect((await expectedClusterQuality(split, allowed)).expected_missed_pairs).toBeCloseTo(0.5 * 2, 6);
    // two clusters of two records, four pairs at 0.7 between them: nearly surely one person, all four pairs missed
    const o = (0.7 / 0.3) ** 4;
    const four = await batch([[1, 1], [2, 1], [3, 2], [4, 2]], [[1, 2, 0.999], [3, 4, 0.999], [1, 3, 0.7], [1, 4, 0.7], [2, 3, 0.7], [2, 4, 0.7]]);
    const q = await expectedClusterQuality(four, allowed);
    expect(q.expected_missed_pairs).toBeCloseTo((o / (1 + o)) * 4, 6);
    expect(q.expected_missed_pairs).toBeGreaterThan(4 * 0.96);
  });

  it("a pair inside a person counts what a third record of it says: the five partitions of the three records, weighed by their pairs' odds", async () => {
    const odds = (p: number) => p / (1 - p);
    const trio = (a: number, b: number, d: number) => {
      const [x, y, o] = [odds(a), odds(b), odds(d)];
      return (x * y * o + o) / (1 + x + y + o + x * y * o);
    };
    // records 1 and 3 each linked to 2 with confidence: their own weak score (no NIK, no date) is lifted
    const db = await batch([[1, 1], [2, 1], [3, 1]], [[1, 2, 0.99], [2, 3, 0.99], [1, 3, 0.2]]);
    const q = await expectedClusterQuality(db, allowed);
    const lifted = trio(0.99, 0.99, 0.2);
    expect(lifted).toBeGreaterThan(0.9);
    // (1, 2) and (2, 3) have a third record too: each is lifted by the other two
    const expected = (2 * trio(0.99, 0.2, 0.99) + lifted) / 3;
    expect(q.precision).toBeCloseTo(expected, 9);
    // a father and his son of one name, each scored at 0.9 against an undated record: their own score says two
    // persons, and the record is one of them at most — the pair stays unlikely, not the 0.81 of a path of two links
    const db2 = await batch([[1, 1], [2, 1], [3, 1]], [[1, 2, 0.9], [2, 3, 0.9], [1, 3, 1e-4]]);
    const conflicting = trio(0.9, 0.9, 1e-4);
    expect(conflicting).toBeLessThan(0.01);
    expect((await expectedClusterQuality(db2, allowed)).precision).toBeCloseTo((2 * trio(0.9, 1e-4, 0.9) + conflicting) / 3, 9);
  });

  it('look-alike candidates of one cluster compete: three namesakes at 0.5 are not one and a half persons', async () => {
    const db = await batch([[1, 1], [2, 2], [3, 3], [4, 4]], [[1, 2, 0.5], [1, 3, 0.5], [1, 4, 0.5]]);
    const q = await expectedClusterQuality(db, allowed);
    // cluster 1: each namesake 1 / (1 + 3); each namesake's side: its only candidate, 1 / (1 + 1); the two sides' mean
    expect(q.expected_missed_pairs).toBeCloseTo(3 * 0.5 * 0.25 + 3 * 0.5 * 0.5, 9);
    expect(q.expected_missed_pairs).toBeLessThan(1.5);
  });

  it('hard negatives count between clusters (kept apart, not known apart); pairs of source pairs not linked do not', async () => {
    const db = await batch([[1, 1], [2, 2]], [[1, 2, 0.9, true]]);
    expect((await expectedClusterQuality(db, allowed)).expected_missed_pairs).toBeCloseTo(0.9, 9);
    const db2 = await batch([[1, 1], [2, 2]], [[1, 2, 0.9]]);
    expect((await expectedClusterQuality(db2, `SELECT 'dtks' AS source_l, 'p3ke' AS source_r`)).expected_missed_pairs).toBe(0);
    expect((await expectedClusterQuality(db2, allowed)).expected_missed_pairs).toBeCloseTo(0.9, 9);
  });
});
