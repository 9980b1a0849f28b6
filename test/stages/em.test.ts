import { describe, expect, it } from 'vitest';
import { runEm, type Pattern } from '../../src/stages/train/em.ts';

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
