import { describe, expect, it } from 'vitest';
import { Db } from '../../src/engine/db.ts';
import { sourcesComparison, SOURCE_NAMES } from '../../src/linkage/comparisons.ts';
import { gammaSql } from '../../src/linkage/comparison-sql.ts';
import { matchPosteriors, type EmComparison, type Pattern } from '../../src/linkage/em.ts';
import { CONFIDENT_LINK, pairPriorM } from '../../src/linkage/train.ts';

describe('pair priors', () => {
  it('the sources comparison has one level per unordered source pair, the same either way round', async () => {
    const c = sourcesComparison();
    expect(c.levels.map((l) => l.label)).toEqual(['both dtks', 'dtks and regsosek', 'dtks and p3ke', 'both regsosek', 'regsosek and p3ke', 'both p3ke']);
    const db = await Db.open();
    const pairs = SOURCE_NAMES.flatMap((a) => SOURCE_NAMES.map((b) => `('${a}', '${b}')`));
    const rows = await db.all<{ a: string; b: string; g: number }>(`SELECT l.source AS a, r.source AS b, ${gammaSql(c)} AS g
      FROM (VALUES ${pairs.join(', ')}) t(ls, rs), LATERAL (SELECT t.ls AS source) l, LATERAL (SELECT t.rs AS source) r`);
    db.close();
    const gamma = new Map(rows.map((r) => [`${r.a}|${r.b}`, Number(r.g)]));
    for (const a of SOURCE_NAMES) {
      for (const b of SOURCE_NAMES) {
        expect(gamma.get(`${a}|${b}`)).toBe(gamma.get(`${b}|${a}`));
        const label = a === b ? `both ${a}` : c.levels.find((l) => l.label === `${a} and ${b}` || l.label === `${b} and ${a}`)!.label;
        expect(c.levels[gamma.get(`${a}|${b}`)!].label).toBe(label);
      }
    }
  });

  it('posteriors are summed in log space: forty strong levels neither overflow nor round the weak ones away', () => {
    const comps: EmComparison[] = Array.from({ length: 40 }, () => ({ levels: 2, m: [0.9, 0.1], u: [1e-4, 1 - 1e-4] }));
    const strong: Pattern = { gammas: new Array(40).fill(0), count: 1 };
    const weak: Pattern = { gammas: [0, ...new Array(39).fill(-1)], count: 1 };
    const none: Pattern = { gammas: new Array(40).fill(1), count: 1 };
    const [s, w, n] = matchPosteriors([strong, weak, none], comps, 1e-6);
    expect(s).toBe(1);
    // one level: odds 1e-6/(1-1e-6) × 0.9/1e-4
    const odds = (1e-6 / (1 - 1e-6)) * (0.9 / 1e-4);
    expect(w).toBeCloseTo(odds / (1 + odds), 12);
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(1e-30);
    // an excluded comparison weighs nothing
    expect(matchPosteriors([weak], comps.map((c, i) => ({ ...c, excluded: i === 0 })), 0.25)[0]).toBeCloseTo(0.25, 12);
  });

  it("the prior's m is the share of each level among the confident links only, look-alike non-matches left out", () => {
    // comparison 0: evidence (agree / disagree); comparison 1: the pair prior (two kinds of pair).
    const comps: EmComparison[] = [
      { levels: 2, m: [0.95, 0.05], u: [0.001, 0.999] },
      { levels: 2, m: [0.5, 0.5], u: [0.5, 0.5], excluded: true },
    ];
    const pats: Pattern[] = [
      { gammas: [0, 0], count: 300 }, // confident links of kind 0
      { gammas: [0, 1], count: 100 }, // confident links of kind 1
      { gammas: [1, 1], count: 5000 }, // kind 1 pairs that disagree (members of one household, say): not links
    ];
    const lambda = 0.6;
    const post = matchPosteriors(pats, comps, lambda);
    expect(post[0]).toBeGreaterThanOrEqual(CONFIDENT_LINK);
    expect(post[2]).toBeLessThan(CONFIDENT_LINK);
    const { m, confident } = pairPriorM(pats, comps, lambda, [], [1]);
    expect(confident).toBe(400);
    expect(m.get(1)![0]).toBeCloseTo(0.75, 6);
    expect(m.get(1)![1]).toBeCloseTo(0.25, 6);
    // a kind without confident links keeps a floor, not zero (its weight stays finite)
    const none = pairPriorM([pats[0]], comps, lambda, [], [1]).m.get(1)!;
    expect(none[1]).toBeGreaterThan(0);
    expect(none[1]).toBeLessThan(1e-5);
  });
});
