import { describe, expect, it } from 'vitest';
import type { EmComparison, Pattern } from '../../src/linkage/em.ts';
import { lambdaFromConfidentLinks, leaveOneOutM, MIN_CONFIDENT_LINKS } from '../../src/linkage/train.ts';

/** Every pattern of three comparisons with its expected count under a mixture of matches and non-matches. */
function mixture(m: number[][], u: number[][], matches: number, nonMatches: number): Pattern[] {
  const pats: Pattern[] = [];
  const levels = m.map((lv) => lv.map((_, g) => g));
  for (const a of levels[0])
    for (const b of levels[1])
      for (const c of levels[2]) {
        const g = [a, b, c];
        const pm = g.reduce((p, x, i) => p * m[i][x], 1);
        const pu = g.reduce((p, x, i) => p * u[i][x], 1);
        pats.push({ gammas: g, count: matches * pm + nonMatches * pu });
      }
  return pats;
}

describe('m counted among the links the other comparisons call confident', () => {
  // three comparisons: agree strongly / partly / disagree
  const m = [
    [0.8, 0.15, 0.05],
    [0.7, 0.2, 0.1],
    [0.9, 0.08, 0.02],
  ];
  const u = [
    [1e-6, 0.01, 0.989999],
    [1e-5, 0.05, 0.94999],
    [1e-5, 0.02, 0.97999],
  ];
  const pats = mixture(m, u, 10_000, 1e8);
  const lambda = 10_000 / (1e8 + 10_000);

  it('recovers each m from a start where one comparison took a whole block for matches and the others are rough', () => {
    // comparison 0 as a collapsed EM session leaves it: its levels' shares among every pair of a block where the
    // non-matches outnumber the matches ten to one; the others at rough starting values
    const block = mixture(m, u, 10_000, 100_000);
    const total = block.reduce((a, p) => a + p.count, 0);
    const collapsed = m[0].map((_, g) => block.filter((p) => p.gammas[0] === g).reduce((a, p) => a + p.count, 0) / total);
    const start = [collapsed, [0.5, 0.3, 0.2], [0.6, 0.3, 0.1]];
    let comps: EmComparison[] = m.map((lv, i) => ({ levels: lv.length, m: start[i], u: u[i] }));
    expect(collapsed[2]).toBeGreaterThan(0.5);
    // two rounds, each from the m of the one before (a comparison's confident links are judged by the others)
    for (let round = 0; round < 3; round++) {
      const r = leaveOneOutM(pats, comps, lambda, [], [0, 1, 2]);
      comps = comps.map((c, i) => ({ ...c, m: r.m.get(i) ?? c.m }));
    }
    for (let i = 0; i < 3; i++) for (let g = 0; g < 3; g++) expect(comps[i].m[g]).toBeCloseTo(m[i][g], 2);
  });

  it("counts a comparison only where it has evidence, and keeps its m when the others confirm too few links", () => {
    const comps: EmComparison[] = m.map((lv, i) => ({ levels: lv.length, m: lv, u: u[i] }));
    // comparison 2 null in half the matching pairs: its m is the shares among the others
    const withNulls = pats.flatMap((p) => [
      { gammas: p.gammas, count: p.count / 2 },
      { gammas: [p.gammas[0], p.gammas[1], -1], count: p.count / 2 },
    ]);
    const r = leaveOneOutM(withNulls, comps, lambda, [], [2]);
    for (let g = 0; g < 3; g++) expect(r.m.get(2)![g]).toBeCloseTo(m[2][g], 2);
    // a small batch: fewer confident links than MIN_CONFIDENT_LINKS and no m is given back
    const small = mixture(m, u, MIN_CONFIDENT_LINKS / 2, 1e6);
    const s = leaveOneOutM(small, comps, lambda, [], [0, 1, 2]);
    expect(s.m.size).toBe(0);
    expect(Math.max(...s.confident.values())).toBeLessThan(MIN_CONFIDENT_LINKS);
  });

  it('counts the prior from the confident links: the candidates keep every match and the non-matches blocking selected', () => {
    const comps: EmComparison[] = m.map((lv, i) => ({ levels: lv.length, m: lv, u: u[i] }));
    const matches = 10_000;
    const allPairs = 1e9;
    // blocking keeps every match and the non-matches agreeing at least partly on comparison 0 (their other
    // comparisons as random pairs have them); a third of the matches lack comparison 2
    const kept = (p: Pattern, isMatch: boolean) => isMatch || p.gammas[0] <= 1;
    const candidates: Pattern[] = [];
    for (const [isMatch, n] of [[true, matches], [false, allPairs - matches]] as const) {
      for (const p of mixture(m, u, isMatch ? n : 0, isMatch ? 0 : n)) {
        if (!kept(p, isMatch)) continue;
        candidates.push(isMatch ? { gammas: [p.gammas[0], p.gammas[1], -1], count: p.count / 3 } : p);
        candidates.push({ gammas: p.gammas, count: isMatch ? (2 * p.count) / 3 : 0 });
      }
    }
    const truth = matches / allPairs;
    // started at three times the truth (what EM over such candidates gave), it comes back to it
    const r = lambdaFromConfidentLinks(candidates, comps, 3 * truth, [], allPairs)!;
    expect(r.converged).toBe(true);
    expect(r.lambda / truth).toBeGreaterThan(0.97);
    expect(r.lambda / truth).toBeLessThan(1.03);
    expect(r.share).toBeGreaterThan(0.5);
    expect(r.share).toBeLessThan(1);
    // too few confident links: no prior is counted
    expect(lambdaFromConfidentLinks(candidates.map((p) => ({ ...p, count: p.count / 1e4 })), comps, truth, [], allPairs)).toBeUndefined();
  });
});
