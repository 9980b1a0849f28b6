/**
 * Expectation-maximisation over aggregated comparison vectors (Fellegi–Sunter). The input is one row per
 * distinct agreement pattern with its pair count, so a run costs the same at any scale.
 */
export interface Pattern {
  /** gamma per comparison: -1 (null), 0 … k-1 */
  gammas: number[];
  count: number;
}

export interface EmComparison {
  /** number of levels (without the null level) */
  levels: number;
  m: number[];
  u: number[];
  /** m is not updated in this session (its current m still weighs in the E-step) */
  fixed?: boolean;
  /** left out of this session entirely: neither used in the E-step nor updated (e.g. the comparison the
   *  training pairs were blocked on, which agrees by construction there) */
  excluded?: boolean;
}

/**
 * u of one comparison's levels among the non-matches whose other comparisons sit at given levels (the NIK
 * given the same birth date in the same household, say). In a list, the first entry whose conditions all hold
 * for a pattern applies; a pattern that none fits uses the plain u.
 */
export interface ConditionalU {
  comparison: number;
  /** every condition must hold: comparison `comparison` is at one of `levels` */
  given: { comparison: number; levels: number[] }[];
  /** per level of `comparison` */
  u: number[];
}

/** The conditional u that applies to comparison `i` of a pattern, if any (conditions on excluded comparisons never hold). */
export function conditionalFor(conds: readonly ConditionalU[] | undefined, i: number, gammas: readonly number[], used: readonly boolean[]): ConditionalU | undefined {
  return conds?.find((c) => c.comparison === i && c.given.every((g) => used[g.comparison] && g.levels.includes(gammas[g.comparison])));
}

export interface EmOptions {
  conditionalU?: ConditionalU[];
  lambda: number;
  maxIterations?: number;
  tolerance?: number;
  /** estimate u as well as m (default: u stays as given, e.g. from random sampling) */
  estimateU?: boolean;
  /** smallest probability kept for any level, so no weight is infinite */
  floor?: number;
  /** keep m as given: only lambda is estimated */
  fixM?: boolean;
}

export interface EmResult {
  m: number[][];
  u: number[][];
  lambda: number;
  iterations: number;
  converged: boolean;
  /** expected number of matching pairs at each level, in the last iteration */
  matchCounts: number[][];
}

/** `v` (counts or shares) as probabilities: scaled to sum to 1, each entry then at least `floor`, scaled again. */
export function normalise(v: number[], floor: number): number[] {
  const total = v.reduce((a, b) => a + b, 0);
  const clipped = v.map((x) => Math.max(total > 0 ? x / total : 0, floor));
  const s = clipped.reduce((a, b) => a + b, 0);
  return clipped.map((x) => x / s);
}

export function runEm(patterns: Pattern[], comparisons: EmComparison[], opts: EmOptions): EmResult {
  const maxIter = opts.maxIterations ?? 100;
  const tol = opts.tolerance ?? 1e-6;
  const floor = opts.floor ?? 1e-6;
  let m = comparisons.map((c) => normalise(c.m, floor));
  let u = comparisons.map((c) => normalise(c.u, floor));
  let lambda = opts.lambda;
  const active = comparisons.map((c) => !c.fixed && !c.excluded);
  const used = comparisons.map((c) => !c.excluded);
  let iterations = 0;
  let converged = false;
  let matchCounts = comparisons.map((c) => new Array<number>(c.levels).fill(0));
  // Which conditional u applies depends only on a pattern's gammas: found once, not in every iteration.
  const condOf = patterns.map((p) => comparisons.map((_, i) => (p.gammas[i] < 0 || !used[i] ? undefined : conditionalFor(opts.conditionalU, i, p.gammas, used))));
  for (; iterations < maxIter && !converged; iterations++) {
    const mAcc = comparisons.map((c) => new Array<number>(c.levels).fill(0));
    const uAcc = comparisons.map((c) => new Array<number>(c.levels).fill(0));
    let matches = 0;
    let total = 0;
    for (const [k, p] of patterns.entries()) {
      let pm = lambda;
      let pu = 1 - lambda;
      for (let i = 0; i < comparisons.length; i++) {
        const g = p.gammas[i];
        if (g < 0 || !used[i]) continue;
        pm *= m[i][g];
        pu *= condOf[k][i]?.u[g] ?? u[i][g];
      }
      const w = pm / (pm + pu);
      matches += w * p.count;
      total += p.count;
      for (let i = 0; i < comparisons.length; i++) {
        const g = p.gammas[i];
        if (g < 0) continue;
        mAcc[i][g] += w * p.count;
        uAcc[i][g] += (1 - w) * p.count;
      }
    }
    const newM = opts.fixM ? m : m.map((old, i) => (active[i] ? normalise(mAcc[i], floor) : old));
    const newU = opts.estimateU ? u.map((old, i) => (active[i] ? normalise(uAcc[i], floor) : old)) : u;
    const newLambda = Math.min(Math.max(matches / Math.max(total, 1), floor), 1 - floor);
    let delta = Math.abs(newLambda - lambda);
    for (let i = 0; i < m.length; i++) for (let g = 0; g < m[i].length; g++) delta = Math.max(delta, Math.abs(newM[i][g] - m[i][g]), Math.abs(newU[i][g] - u[i][g]));
    matchCounts = mAcc;
    m = newM;
    u = newU;
    lambda = newLambda;
    converged = delta < tol;
  }
  return { m, u, lambda, iterations, converged, matchCounts };
}

/**
 * The posterior probability that each pattern's pairs are matches, under m, u (conditional u where its conditions
 * hold) and the prior `lambda`, comparisons marked excluded left out. Summed in log space: a pattern of many strong
 * levels does not overflow nor round to exactly 0 or 1 before the last step.
 */
export function matchPosteriors(patterns: readonly Pattern[], comparisons: readonly EmComparison[], lambda: number, conditionalU?: readonly ConditionalU[]): number[] {
  return posteriorsAt(logLikelihoodRatios(patterns, comparisons, conditionalU), lambda);
}

/** The match posteriors of patterns of log likelihood ratios `lrs` (logLikelihoodRatios) under the prior `lambda`. */
export function posteriorsAt(lrs: readonly number[], lambda: number): number[] {
  const prior = Math.log(lambda) - Math.log(1 - lambda);
  return lrs.map((lr) => 1 / (1 + Math.exp(-(prior + lr))));
}

/**
 * Each pattern's log likelihood ratio (natural log of m over u, summed over the comparisons not excluded; conditional
 * u where its conditions hold): its posterior log odds less the prior's, so a caller trying several priors computes
 * it once.
 */
export function logLikelihoodRatios(patterns: readonly Pattern[], comparisons: readonly EmComparison[], conditionalU?: readonly ConditionalU[]): number[] {
  const used = comparisons.map((c) => !c.excluded);
  return patterns.map((p) => {
    let lr = 0;
    for (let i = 0; i < comparisons.length; i++) {
      const g = p.gammas[i];
      if (g < 0 || !used[i]) continue;
      const u = conditionalFor(conditionalU, i, p.gammas, used)?.u[g] ?? comparisons[i].u[g];
      lr += Math.log(comparisons[i].m[g]) - Math.log(u);
    }
    return lr;
  });
}
