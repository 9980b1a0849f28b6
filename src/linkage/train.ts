/**
 * Unsupervised training (no labels):
 *  - u: the level frequencies among random record pairs (nearly all non-matches), by sampling;
 *  - m: EM over the aggregated comparison vectors of candidate pairs, in sessions: a session takes the
 *    pairs one blocking rule found and leaves out the comparisons that rule conditions on (they agree by
 *    construction there), so each comparison's m is learnt where it is free to vary;
 *  - pair priors (the sources comparison): m is the share of each level among the confident links, the candidate
 *    pairs the other comparisons alone (with their first lambda) call matches with a posterior of CONFIDENT_LINK
 *    or more; EM over every candidate would take the kinds of pair that hold many look-alike non-matches (the
 *    members of one household in one source) for matches;
 *  - lambda: the share of matches among candidate pairs (final EM with m and u fixed), scaled to all pairs;
 *  - term frequencies of names over all sources together.
 * The model is plain JSON (model.json), so it can be saved, reviewed and passed back with --model.
 */
import { LINKAGE_SEED } from './seed.ts';
import type { Db } from '../engine/db.ts';
import { ALL_CANDIDATE_PAIRS, COMPARISONS, CONFIDENT_LINKS, type Comparison } from './comparisons.ts';
import { BLOCKING_RULES, type BlockingRule } from './blocking-rules.ts';
import { comparisonVectorsSql } from './comparison-vectors.ts';
import { gammaColumn } from './comparison-sql.ts';
import { logLikelihoodRatios, matchPosteriors, normalise, posteriorsAt, runEm, type EmComparison, type Pattern } from './em.ts';
import { conditionalEntries, conditionalUs, sampleConditionalCounts, type ConditionalCounts } from './conditional-u.ts';
import type { ConditionalU as EmConditionalU } from './em.ts';
import { allowedSourcePairsSql } from './blocking.ts';
import type { Linkage } from '../../schemas/config.ts';
import { MODEL_VERSION, type Model } from '../../schemas/model.ts';
import { modelComparison } from './model.ts';

export interface TrainingSession {
  /** the blocking rule whose pairs it uses; null: every candidate pair */
  rule: string | null;
  /** comparisons left out (the rule fixes them: BlockingRule.training.fixes) */
  excluded: readonly string[];
  /** comparisons whose m it learns (those naming it in Comparison.trainedBy); the others are held */
  train: readonly string[];
}

/**
 * The training sessions, from the declarations of the blocking rules and the comparisons: one per rule with
 * `training`, in the rules' order, learning the comparisons that name the rule; then, when a comparison names
 * ALL_CANDIDATE_PAIRS, one over every candidate pair learning those (every other comparison's m held). The pair
 * priors (Comparison.pairPrior) are left out of every session: their m is counted among the confident links.
 */
export function trainingSessions(rules: readonly BlockingRule[] = BLOCKING_RULES, comparisons: readonly Comparison[] = COMPARISONS): TrainingSession[] {
  const taught = (session: string) => comparisons.filter((c) => !c.pairPrior && c.trainedBy.includes(session)).map((c) => c.name);
  const priors = comparisons.filter((c) => c.pairPrior).map((c) => c.name);
  const all = taught(ALL_CANDIDATE_PAIRS);
  return [
    ...rules.filter((r) => r.training).map((r) => ({ rule: r.name, excluded: [...r.training!.fixes, ...priors], train: taught(r.name) })),
    ...(all.length ? [{ rule: null, excluded: priors, train: all }] : []),
  ];
}

/** The posterior from which a candidate pair counts as a confident link (the pair priors' m is counted among them). */
export const CONFIDENT_LINK = 0.999;

/**
 * m of the pair-prior comparisons `priors`: the share of each level among the confident links, the patterns whose
 * posterior under `without` (the other comparisons; the priors excluded) and `lambda` is CONFIDENT_LINK or more.
 * A level without confident links keeps the floor of runEm's normalisation (1e-6), not zero.
 */
export function pairPriorM(pats: readonly Pattern[], without: readonly EmComparison[], lambda: number, cond: readonly EmConditionalU[], priors: readonly number[]): { m: Map<number, number[]>; confident: number } {
  const post = matchPosteriors(pats, without, lambda, cond);
  const counts = new Map(priors.map((i) => [i, new Array<number>(without[i].levels).fill(0)]));
  let confident = 0;
  pats.forEach((p, k) => {
    if (post[k] < CONFIDENT_LINK) return;
    confident += p.count;
    for (const i of priors) if (p.gammas[i] >= 0) counts.get(i)![p.gammas[i]] += p.count;
  });
  const m = new Map([...counts].map(([i, n]) => [i, normalise(n.map((x) => x / Math.max(confident, 1)), 1e-6)]));
  return { m, confident };
}

/** The session of model.json's training.sessions that records leaveOneOutM. */
export const LEAVE_ONE_OUT = 'm of each comparison among the links the others confirm';
/** rounds of leaveOneOutM (each takes the m of the one before) */
export const LEAVE_ONE_OUT_ROUNDS = 2;
/** fewer confident links than this (for one comparison, its nulls left out) and its m stays as the sessions learnt it */
export const MIN_CONFIDENT_LINKS = 200;

/**
 * m of the comparisons `which`, each counted among the candidate pairs the *other* comparisons call matches with a
 * posterior of CONFIDENT_LINK or more (its own evidence left out, so the count is not selected on it): where the
 * comparisons' errors are independent among matches (what Fellegi–Sunter assumes), the levels of one comparison
 * among pairs the others identify are its levels among matches. A comparison null in a pair is not counted there;
 * one with fewer than MIN_CONFIDENT_LINKS such links keeps its m.
 */
export function leaveOneOutM(pats: readonly Pattern[], comps: readonly EmComparison[], lambda: number, cond: readonly EmConditionalU[], which: readonly number[]): { m: Map<number, number[]>; confident: Map<number, number> } {
  const m = new Map<number, number[]>();
  const confident = new Map<number, number>();
  for (const i of which) {
    const { levels } = confirmedByOthers(pats, comps, lambda, cond, i);
    const total = levels.reduce((a, b) => a + b, 0);
    confident.set(i, total);
    if (total >= MIN_CONFIDENT_LINKS) m.set(i, normalise(levels.map((x) => x / total), 1e-6));
  }
  return { m, confident };
}

/**
 * Comparison `i` among the candidate pairs the other comparisons call matches (posterior CONFIDENT_LINK or more,
 * `i` left out): the pairs at each of its levels, and those where it is null.
 */
function confirmedByOthers(pats: readonly Pattern[], comps: readonly EmComparison[], lambda: number, cond: readonly EmConditionalU[], i: number): { levels: number[]; nulls: number } {
  const post = matchPosteriors(pats, comps.map((c, j) => ({ ...c, excluded: c.excluded || j === i })), lambda, cond);
  const levels = new Array<number>(comps[i].levels).fill(0);
  let nulls = 0;
  pats.forEach((p, k) => {
    if (post[k] < CONFIDENT_LINK) return;
    if (p.gammas[i] < 0) nulls += p.count;
    else levels[p.gammas[i]] += p.count;
  });
  return { levels, nulls };
}

/** The session of model.json's training.sessions that records lambdaFromConfidentLinks. */
export const PRIOR_FROM_CONFIDENT_LINKS = 'prior from the confident links';
/** a pattern of the matches' pattern space less likely than this is left out of the confident share */
const PATTERN_FLOOR = 1e-12;

/**
 * The prior (the share of matches among all allowed pairs) from the confident links, not from EM over the candidate
 * pairs: blocking selects pairs that agree on part of what they compare (a village, a birth year), so the candidates'
 * non-matches agree more often than the random pairs' u says, and EM, holding that u, takes part of them for matches
 * (on generated populations of dense villages it put the prior at three times the truth, 1.7 bits on every pair).
 * The confident links (posterior CONFIDENT_LINK or more) are nearly all matches, and the share of all matches that is
 * confident follows from m alone: the pattern space of a match — each comparison at a level with its m, or null with
 * the share of nulls among the links the other comparisons confirm — summed over the patterns confident at the prior.
 * So the matches number about confident / share, and the prior is that over the allowed pairs; the posteriors move
 * with the prior, so it is iterated to its fixed point. Undefined (EM's prior stays) with fewer than
 * MIN_CONFIDENT_LINKS confident links.
 */
export function lambdaFromConfidentLinks(pats: readonly Pattern[], comps: readonly EmComparison[], lambda: number, cond: readonly EmConditionalU[], totalPairs: number): { lambda: number; confident: number; share: number; iterations: number; converged: boolean } | undefined {
  // the share of nulls of each comparison among the links the others confirm (at the starting prior)
  const nullShare = comps.map((_, i) => {
    const { levels, nulls } = confirmedByOthers(pats, comps, lambda, cond, i);
    const n = nulls + levels.reduce((a, b) => a + b, 0);
    return n > 0 ? nulls / n : 0;
  });
  // the pattern space of a match, with each pattern's probability
  const space: Pattern[] = [];
  const walk = (i: number, gammas: number[], pr: number) => {
    if (pr < PATTERN_FLOOR) return;
    if (i === comps.length) {
      space.push({ gammas: [...gammas], count: pr });
      return;
    }
    if (comps[i].excluded) return walk(i + 1, [...gammas, -1], pr);
    if (nullShare[i] > 0) walk(i + 1, [...gammas, -1], pr * nullShare[i]);
    comps[i].m.forEach((mg, g) => walk(i + 1, [...gammas, g], pr * (1 - nullShare[i]) * mg));
  };
  walk(0, [], 1);
  // the patterns' likelihood ratios do not move with the prior: computed once, each prior tried only adds its log odds
  const lrPats = logLikelihoodRatios(pats, comps, cond);
  const lrSpace = logLikelihoodRatios(space, comps, cond);
  const confidentAt = (l: number, ps: readonly Pattern[], lr: readonly number[]) => {
    const post = posteriorsAt(lr, l);
    return ps.reduce((a, p, k) => a + (post[k] >= CONFIDENT_LINK ? p.count : 0), 0);
  };
  let current = lambda;
  let confident = 0;
  let share = 0;
  let iterations = 0;
  let converged = false;
  for (; iterations < 50 && !converged; iterations++) {
    confident = confidentAt(current, pats, lrPats);
    share = confidentAt(current, space, lrSpace);
    if (confident < MIN_CONFIDENT_LINKS || share <= 0) return undefined;
    // a geometric step halfway: the two counts move together with the prior
    const next = Math.min(Math.max(Math.sqrt(current * (confident / share / Math.max(totalPairs, 1))), 1e-12), 0.5);
    converged = Math.abs(Math.log(next / current)) < 1e-4;
    current = next;
  }
  return { lambda: current, confident, share, iterations, converged };
}

async function patterns(db: Db, table: string, where = 'TRUE'): Promise<Pattern[]> {
  const cols = COMPARISONS.map(gammaColumn);
  const rows = await db.all<Record<string, string>>(`SELECT ${cols.join(', ')}, count(*) AS n FROM ${table} WHERE ${where} GROUP BY ALL ORDER BY ALL`);
  return rows.map((r) => ({ gammas: cols.map((c) => Number(r[c])), count: Number(r.n) }));
}

/** u from `samplePairs` random pairs of records allowed by the config (deterministic: seeded). */
export async function estimateU(db: Db, linkage: Linkage, samplePairs: number, seed = LINKAGE_SEED): Promise<{ u: number[][]; counts: number[][]; sampled: number; patterns: Pattern[] }> {
  const ids = (await db.one<{ n: string; lo: string | null; hi: string | null }>(`SELECT count(*) AS n, min(rec_id) AS lo, max(rec_id) AS hi FROM person_clean`))!;
  const n = Number(ids.n);
  // Draw pairs of ordinals 1..n uniformly with a seeded hash (repeatable at any thread count), keep the allowed ones.
  // rec_ids are the ordinals in a first batch; a batch continuing another keeps its records' ids, with gaps where
  // records left (src/incremental/rec-ids.ts): the ordinals are then mapped to the ids in their order.
  const dense = n === 0 || (Number(ids.lo) === 1 && Number(ids.hi) === n);
  const ordinals = `SELECT (hash(i, ${seed}, 1) % ${n})::BIGINT + 1 AS a, (hash(i, ${seed}, 2) % ${n})::BIGINT + 1 AS b FROM range(${Math.ceil(samplePairs * 1.2)}) t(i)`;
  await db.run(`
    ${dense ? '' : `CREATE OR REPLACE TEMP TABLE u_ordinals AS SELECT row_number() OVER (ORDER BY rec_id) AS ord, rec_id FROM person_clean;`}
    CREATE OR REPLACE TEMP TABLE u_pairs AS
    WITH draws AS (${dense ? ordinals : `SELECT x.rec_id AS a, y.rec_id AS b FROM (${ordinals}) o JOIN u_ordinals x ON x.ord = o.a JOIN u_ordinals y ON y.ord = o.b`}),
    pr AS (SELECT DISTINCT least(a, b) AS rec_id_l, greatest(a, b) AS rec_id_r FROM draws WHERE a <> b)
    SELECT pr.* FROM pr
    JOIN person_clean l ON l.rec_id = pr.rec_id_l JOIN person_clean r ON r.rec_id = pr.rec_id_r
    SEMI JOIN (${allowedSourcePairsSql(linkage)}) s ON s.source_l = l.source AND s.source_r = r.source
    -- which pairs a bare LIMIT keeps depends on the threads' timing: the same seeded order every run
    ORDER BY hash(pr.rec_id_l, pr.rec_id_r, ${seed}) LIMIT ${samplePairs};
    CREATE OR REPLACE TEMP TABLE u_vectors AS ${comparisonVectorsSql('u_pairs')};
  `);
  const sampled = await db.count(`SELECT count(*) FROM u_vectors`);
  const u: number[][] = [];
  const counts: number[][] = [];
  for (const c of COMPARISONS) {
    const rows = await db.all<{ g: string; n: string }>(`SELECT ${gammaColumn(c)} AS g, count(*) AS n FROM u_vectors WHERE ${gammaColumn(c)} >= 0 GROUP BY ALL`);
    const n = new Array<number>(c.levels.length).fill(0);
    for (const r of rows) n[Number(r.g)] = Number(r.n);
    // Levels never seen among random pairs get one pseudo-pair: rare, not impossible.
    const total = n.reduce((a, b) => a + b, 0) + c.levels.length;
    u.push(n.map((x) => (x + 1) / total));
    counts.push(n);
  }
  const sampledPatterns = await patterns(db, 'u_vectors');
  await db.run(`DROP TABLE u_pairs; DROP TABLE u_vectors; DROP TABLE IF EXISTS u_ordinals;`);
  return { u, counts, sampled, patterns: sampledPatterns };
}

/**
 * u among the non-matches of the random pairs: random pairs hold true matches too (about one in
 * persons / records² … a small population holds many: 20,000 persons put ~40 true pairs among a million random
 * ones, and a shared NIK then looks 30 times commoner among non-matches than it is). Each sampled pattern
 * counts by its posterior probability of being a non-match under the model (m, and the prior `lambda` of a
 * random pair being a match): the M-step of EM for u over the random pairs, with m held.
 */
export function uWithoutMatches(pats: readonly Pattern[], m: readonly number[][], u: readonly number[][], lambda: number, cond: readonly EmConditionalU[]): { u: number[][]; counts: number[][] } {
  const counts = u.map((lv) => new Array<number>(lv.length).fill(0));
  const post = matchPosteriors(pats, u.map((lv, i) => ({ levels: lv.length, m: [...m[i]], u: [...lv] })), lambda, cond);
  pats.forEach((p, k) => {
    const nonMatch = 1 - post[k];
    p.gammas.forEach((g, i) => {
      if (g >= 0) counts[i][g] += nonMatch * p.count;
    });
  });
  return {
    u: counts.map((n) => {
      const total = n.reduce((a, b) => a + b, 0) + n.length;
      return n.map((x) => (x + 1) / total);
    }),
    counts,
  };
}

/** fewer observations than this, among random pairs and among expected matches, and a level weighs nothing */
export const MIN_LEVEL_EVIDENCE = 5;

export interface TrainOptions {
  uSamplePairs: number;
  seed?: number;
}

/**
 * Trains the model on `comparison_vectors` (gammas of every candidate pair, with the `rules` bitmask of the
 * blocking rules that found each pair). `ruleNames` gives the bit of each rule.
 */
export async function trainModel(db: Db, linkage: Linkage, ruleNames: readonly string[], opts: TrainOptions): Promise<Model> {
  const sample = await estimateU(db, linkage, opts.uSamplePairs, opts.seed);
  const condCounts = await sampleConditionalCounts(db, linkage, opts.seed);
  const totalPairs = await allowedPairCount(db, linkage);
  let u = sample.u;
  let uCounts = sample.counts;
  const cache = new Map<string, Pattern[]>();
  let fit = await fitM(db, ruleNames, u, condCounts, totalPairs, cache);
  // u again without the matches among the random pairs (their share is the model's lambda), and m with it:
  // two rounds take the weights to within a few hundredths of a bit of the fixed point.
  for (let round = 0; round < U_ROUNDS; round++) {
    const re = uWithoutMatches(sample.patterns, fit.m, u, fit.lambda, fit.cond);
    u = re.u;
    uCounts = re.counts;
    fit = await fitM(db, ruleNames, u, condCounts, totalPairs, cache);
  }
  const { conditional, sessions, lambdaCandidates, candidatePairs, lambda, final } = fit;
  // A level seen neither among random pairs nor among the expected matches carries no evidence either way:
  // its weight is set to zero (m = u) rather than to a ratio of two pseudo-counts.
  const m = fit.m.map((lv, i) => lv.map((p, g) => (uCounts[i][g] < MIN_LEVEL_EVIDENCE && final.matchCounts[i][g] < MIN_LEVEL_EVIDENCE ? u[i][g] : p)));
  return {
    version: MODEL_VERSION,
    lambda,
    tf_max_adjustment: 6,
    comparisons: COMPARISONS.map((c, i) => modelComparison(c, c.levels.map((_, g) => ({ m: m[i][g], u: u[i][g] })))),
    conditional_u: conditional.entries,
    training: { u_sample_pairs: sample.sampled, conditional_u_skipped: conditional.skipped, sessions, lambda_candidates: lambdaCandidates, candidate_pairs: candidatePairs, total_pairs: totalPairs },
  };
}

/** rounds of u re-estimated without the random pairs' matches (see uWithoutMatches) */
export const U_ROUNDS = 2;

/** m by EM in the training sessions, then lambda among the candidate pairs, with u (and conditional u) given. */
async function fitM(db: Db, ruleNames: readonly string[], u: number[][], condCounts: readonly ConditionalCounts[], totalPairs: number, cache: Map<string, Pattern[]>) {
  // The patterns of one rule's pairs are read once, not in every round.
  const cached = async (where: string) => {
    if (!cache.has(where)) cache.set(where, await patterns(db, 'comparison_vectors', where));
    return cache.get(where)!;
  };
  const conditional = conditionalEntries(condCounts, u);
  const cond = conditionalUs({
    comparisons: COMPARISONS,
    conditional_u: conditional.entries,
  });
  let m = COMPARISONS.map((c) => c.levels.map((lv) => lv.m));
  const sessions: NonNullable<Model['training']>['sessions'] = [];
  const trainedIn = COMPARISONS.map(() => [] as number[][]);
  for (const s of trainingSessions()) {
    const bit = s.rule === null ? -1 : ruleNames.indexOf(s.rule);
    if (s.rule !== null && bit < 0) continue;
    const pats = await cached(bit < 0 ? 'TRUE' : `(rules >> ${bit}) & 1 = 1`);
    const pairs = pats.reduce((a, p) => a + p.count, 0);
    if (pairs === 0) continue;
    const comps: EmComparison[] = COMPARISONS.map((c, i) => ({
      levels: c.levels.length,
      m: m[i],
      u: u[i],
      excluded: s.excluded.includes(c.name),
      fixed: !s.train.includes(c.name),
    }));
    const r = runEm(pats, comps, { lambda: 0.5, maxIterations: 200, conditionalU: cond });
    COMPARISONS.forEach((c, i) => {
      if (s.train.includes(c.name)) trainedIn[i].push(r.m[i]);
    });
    // The mean over the sessions so far: later sessions weigh with what earlier ones learnt.
    m = m.map((start, i) => (trainedIn[i].length ? start.map((_, g) => trainedIn[i].reduce((a, v) => a + v[g], 0) / trainedIn[i].length) : start));
    sessions.push({ rule: s.rule ?? ALL_CANDIDATE_PAIRS, pairs, iterations: r.iterations, converged: r.converged, lambda: r.lambda, fixed: [...s.excluded] });
  }
  // lambda among all candidate pairs, with m and u fixed; scaled to all allowed pairs (blocking recall taken as 1).
  const all = await cached('TRUE');
  const candidatePairs = all.reduce((a, p) => a + p.count, 0);
  const scale = (lambdaAmongCandidates: number) => Math.min(Math.max((lambdaAmongCandidates * candidatePairs) / Math.max(totalPairs, 1), 1e-12), 0.5);
  const priors = COMPARISONS.flatMap((c, i) => (c.pairPrior ? [i] : []));
  if (priors.length) {
    // A first lambda without the pair priors; the confident links under it give the priors' m.
    const without: EmComparison[] = COMPARISONS.map((c, i) => ({ levels: c.levels.length, m: m[i], u: u[i], excluded: Boolean(c.pairPrior) }));
    const first = runEm(all, without, { lambda: 0.1, maxIterations: 200, fixM: true, conditionalU: cond });
    const prior = pairPriorM(all, without, scale(first.lambda), cond, priors);
    m = m.map((lv, i) => prior.m.get(i) ?? lv);
    sessions.push({ rule: CONFIDENT_LINKS, pairs: prior.confident, iterations: first.iterations, converged: first.converged, lambda: first.lambda, fixed: [] });
  }
  // Every comparison's m counted among the links the other comparisons call confident (leaveOneOutM): the
  // sessions' EM can take a whole block for matches (its non-matches share what the block's key holds, which the
  // random pairs' u does not know), and its m then describes the block, not the matches.
  // Which links are confident depends on the prior: each round takes the one counted from the confident links at
  // the round's m (lambdaFromConfidentLinks), else EM's among the candidates, scaled.
  const which = COMPARISONS.flatMap((c, i) => (c.pairPrior ? [] : [i]));
  let loo: ReturnType<typeof leaveOneOutM> | undefined;
  let looLambda = 0;
  let looConverged = true;
  for (let round = 0; round < LEAVE_ONE_OUT_ROUNDS; round++) {
    const comps = COMPARISONS.map((c, i) => ({ levels: c.levels.length, m: m[i], u: u[i] }));
    const em = runEm(all, comps, { lambda: 0.1, maxIterations: 200, fixM: true, conditionalU: cond });
    looLambda = lambdaFromConfidentLinks(all, comps, scale(em.lambda), cond, totalPairs)?.lambda ?? scale(em.lambda);
    looConverged &&= em.converged;
    loo = leaveOneOutM(all, comps, looLambda, cond, which);
    m = m.map((lv, i) => loo!.m.get(i) ?? lv);
  }
  // recorded as a session: its pairs, the fewest confident links of a comparison; fixed, those that kept the
  // sessions' m; lambda, the prior of all pairs its last round took
  sessions.push({
    rule: LEAVE_ONE_OUT,
    pairs: Math.min(...which.map((i) => loo!.confident.get(i) ?? 0)),
    iterations: LEAVE_ONE_OUT_ROUNDS,
    converged: looConverged,
    lambda: looLambda,
    fixed: which.filter((i) => !loo!.m.has(i)).map((i) => COMPARISONS[i].name),
  });
  const fixedAll: EmComparison[] = COMPARISONS.map((c, i) => ({ levels: c.levels.length, m: m[i], u: u[i] }));
  const final = runEm(all, fixedAll, { lambda: 0.1, maxIterations: 200, fixM: true, conditionalU: cond });
  // Only lambda moves in this run: m stays as trained, u as sampled.
  const lambdaCandidates = final.lambda;
  // The prior from the confident links (lambdaFromConfidentLinks), else EM's among the candidates scaled to all pairs.
  const counted = lambdaFromConfidentLinks(all, fixedAll, scale(lambdaCandidates), cond, totalPairs);
  const lambda = counted?.lambda ?? scale(lambdaCandidates);
  if (counted) sessions.push({ rule: PRIOR_FROM_CONFIDENT_LINKS, pairs: counted.confident, iterations: counted.iterations, converged: counted.converged, lambda, fixed: [] });
  return { m, conditional, cond, sessions, lambdaCandidates, candidatePairs, lambda, final };
}

/** Number of record pairs the config allows (dedupe inside sources, link between source pairs). */
export async function allowedPairCount(db: Db, linkage: Linkage): Promise<number> {
  const rows = await db.all<{ source: string; n: string }>(`SELECT source, count(*) AS n FROM person_clean GROUP BY ALL`);
  const n = new Map(rows.map((r) => [r.source, Number(r.n)]));
  let total = 0;
  for (const s of linkage.dedupe) total += ((n.get(s) ?? 0) * ((n.get(s) ?? 0) - 1)) / 2;
  for (const [a, b] of linkage.link) total += (n.get(a) ?? 0) * (n.get(b) ?? 0);
  return total;
}
