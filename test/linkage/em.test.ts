import { describe, expect, it } from 'vitest';
import { conditionalFor, runEm, type Pattern } from '../../src/linkage/em.ts';
import { mixByAgeGap } from '../../src/linkage/conditional-u.ts';

/** Expected pattern counts of a known Fellegi–Sunter mixture (independent comparisons), no sampling noise. */
function mixture(lambda: number, m: number[][], u: number[][], pairs: number): Pattern[] {
  const out: Pattern[] = [];
  const walk = (i: number, gammas: number[], pm: number, pu: number) => {
    if (i === m.length) {
      out.push({ gammas, count: pairs * (lambda * pm + (1 - lambda) * pu) });
      return;
    }
    for (let g = 0; g < m[i].length; g++) walk(i + 1, [...gammas, g], pm * m[i][g], pu * u[i][g]);
  };
  walk(0, [], 1, 1);
  return out;
}

describe('EM over aggregated comparison vectors', () => {
  const m = [
    [0.9, 0.07, 0.03],
    [0.8, 0.15, 0.05],
    [0.95, 0.05],
    [0.7, 0.2, 0.1],
  ];
  const u = [
    [0.01, 0.04, 0.95],
    [0.05, 0.15, 0.8],
    [0.5, 0.5],
    [0.1, 0.2, 0.7],
  ];

  it('recovers the m, u and lambda a mixture was made from', () => {
    const pats = mixture(0.2, m, u, 1_000_000);
    const start = (k: number) => Array.from({ length: k }, (_, g) => (g === 0 ? 0.6 : 0.4 / (k - 1)));
    const startU = (k: number) => Array.from({ length: k }, (_, g) => (g === k - 1 ? 0.6 : 0.4 / (k - 1)));
    const r = runEm(pats, m.map((lv) => ({ levels: lv.length, m: start(lv.length), u: startU(lv.length) })), { lambda: 0.5, estimateU: true, maxIterations: 2000, tolerance: 1e-10 });
    expect(r.lambda).toBeCloseTo(0.2, 3);
    r.m.forEach((lv, i) => lv.forEach((p, g) => expect(p).toBeCloseTo(m[i][g], 3)));
    r.u.forEach((lv, i) => lv.forEach((p, g) => expect(p).toBeCloseTo(u[i][g], 3)));
  });

  it('with u fixed from sampling, learns m and lambda only', () => {
    const pats = mixture(0.05, m, u, 500_000);
    const r = runEm(pats, m.map((lv, i) => ({ levels: lv.length, m: lv.map(() => 1 / lv.length), u: u[i] })), { lambda: 0.3, maxIterations: 2000, tolerance: 1e-10 });
    expect(r.u).toEqual(u);
    expect(r.lambda).toBeCloseTo(0.05, 3);
    r.m.forEach((lv, i) => lv.forEach((p, g) => expect(p).toBeCloseTo(m[i][g], 2)));
  });

  it('leaves a fixed comparison untouched and out of the E-step; null levels carry no evidence', () => {
    const pats: Pattern[] = mixture(0.3, m, u, 100_000).map((p) => ({ ...p, gammas: [p.gammas[0], p.gammas[1], -1, p.gammas[3]] }));
    const given = [0.5, 0.5];
    const r = runEm(pats, m.map((lv, i) => ({ levels: lv.length, m: i === 2 ? given : lv, u: u[i], fixed: i === 2 })), { lambda: 0.3, maxIterations: 500 });
    expect(r.m[2]).toEqual(given);
    expect(r.lambda).toBeCloseTo(0.3, 2);
  });
});

describe('conditional u', () => {
  // Comparison 0 (3 levels) whose u among non-matches depends on comparison 1 being at level 0.
  const conds = [{ comparison: 0, given: [{ comparison: 1, levels: [0] }], u: [0.3, 0.3, 0.4] }];

  it('applies the first entry whose conditions all hold, and never on a comparison left out of the session', () => {
    const more = [...conds, { comparison: 0, given: [{ comparison: 1, levels: [0, 1] }], u: [0.1, 0.1, 0.8] }];
    expect(conditionalFor(more, 0, [0, 0], [true, true])?.u).toEqual([0.3, 0.3, 0.4]);
    expect(conditionalFor(more, 0, [0, 1], [true, true])?.u).toEqual([0.1, 0.1, 0.8]);
    expect(conditionalFor(more, 0, [0, 2], [true, true])).toBeUndefined();
    expect(conditionalFor(more, 0, [0, 0], [true, false])).toBeUndefined();
    expect(conditionalFor(more, 1, [0, 0], [true, true])).toBeUndefined();
  });

  it('recovers m from a mixture whose non-matches are dependent, given the conditional u', () => {
    const m = [[0.8, 0.1, 0.1], [0.9, 0.1]];
    const uPlain = [[0.01, 0.09, 0.9], [0.2, 0.8]];
    // Non-matches: comparison 0 follows conds[0].u when comparison 1 is at level 0, else uPlain[0].
    const lambda = 0.1;
    const pats: Pattern[] = [];
    for (let a = 0; a < 3; a++)
      for (let b = 0; b < 2; b++) {
        const u0 = b === 0 ? conds[0].u[a] : uPlain[0][a];
        pats.push({ gammas: [a, b], count: 100_000 * (lambda * m[0][a] * m[1][b] + (1 - lambda) * u0 * uPlain[1][b]) });
      }
    const fit = (c?: typeof conds) =>
      runEm(pats, m.map((lv, i) => ({ levels: lv.length, m: lv.map(() => 1 / lv.length), u: uPlain[i] })), { lambda: 0.3, conditionalU: c, maxIterations: 3000, tolerance: 1e-12 });
    const r = fit(conds);
    expect(r.lambda).toBeCloseTo(lambda, 3);
    r.m.forEach((lv, i) => lv.forEach((p, g) => expect(p).toBeCloseTo(m[i][g], 3)));
    // Without it, the dependence is mistaken for matches.
    expect(Math.abs(fit().lambda - lambda)).toBeGreaterThan(0.01);
  });
});

describe('conditional u as a mixture over the age gap', () => {
  it('weighs the pairs years apart by their share among the non-matches, the rest by the pairs close in age', () => {
    // Pairs years apart share the exact name 10% of the time (sons named after their fathers), pairs close in age 1%;
    // 40% of the household's non-matching pairs are years apart: an exact name is 4.6% commoner, not 10%.
    const far = [300, 2700];
    const close = [20, 1980];
    const mixed = mixByAgeGap(far, close, 400, 1000);
    expect(mixed[0] / (mixed[0] + mixed[1])).toBeCloseTo(0.4 * 0.1 + 0.6 * 0.01, 12);
    expect(mixed[0] + mixed[1]).toBeCloseTo(5000, 9);
  });

  it('falls back to the pairs years apart when the pairs close in age are too few to measure', () => {
    expect(mixByAgeGap([300, 2700], [1, 10], 400, 1000)).toEqual([300, 2700]);
  });
});
