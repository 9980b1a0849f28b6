/**
 * The probabilistic linker (Fellegi–Sunter, trained without labels):
 * blocking → comparison vectors → training (u by sampling, m by EM; or a model passed back with --model)
 * → scored_pairs with match weight and probability. model.json is written beside the outputs.
 */
import { LINKAGE_SEED } from '../../linkage/seed.ts';
import { join } from 'node:path';
import type { Ctx } from '../../engine/context.ts';
import { cpuSecondsSince } from '../../engine/profile.ts';
import { writeModelFile } from '../../linkage/model.ts';
import { buildCandidatePairs } from '../../linkage/blocking.ts';
import { BLOCKING_RULES } from '../../linkage/blocking-rules.ts';
import { comparisonVectorsSql, prepareCompareInput } from '../../linkage/comparison-vectors.ts';
import { trainModel } from '../../linkage/train.ts';
import { scorePairs } from '../../linkage/score.ts';
import type { Model } from '../../../schemas/model.ts';
import { materialise } from '../../engine/sql-pipeline.ts';
import { linkFamilyContext } from '../../linkage/family-context.ts';

export interface ProbabilisticOptions {
  /** a trained model to use instead of training (dtsen run --model) */
  model?: Model;
}

export async function linkProbabilistic(ctx: Ctx, opts: ProbabilisticOptions = {}) {
  const { db, config } = ctx;
  const t0 = performance.now();
  const blocking = await buildCandidatePairs(db, config.linkage);
  const tBlock = performance.now();
  ctx.progress.update('link', blocking.candidate_pairs, 'candidate pairs');
  // compare_input and comparison_vectors (read by training and scoring) live until this function returns.
  // Temporary: scored_pairs keeps every gamma; the vectors themselves need not reach the database file.
  await using _compareInput = await prepareCompareInput(db);
  await using _vectors = await materialise(db, 'comparison_vectors', comparisonVectorsSql('candidate_pairs', ['rule_id', 'rules']));
  const tCompare = performance.now();
  const model =
    opts.model ??
    (await trainModel(
      db,
      config.linkage,
      BLOCKING_RULES.map((r) => r.name),
      { uSamplePairs: config.linkage.u_sample_pairs, seed: LINKAGE_SEED },
    ));
  const tTrain = performance.now();
  const scored = await scorePairs(db, model);
  const tScore = performance.now();
  // The family context: members of families linked at the threshold, compared and scored among themselves;
  // model.json keeps the family model beside the batch's (explain re-scores family-context pairs with it).
  const cpuFamily0 = process.cpuUsage();
  const family = await linkFamilyContext(db, config.linkage, model, blocking);
  const tFamily = performance.now();
  const cpuFamily = cpuSecondsSince(cpuFamily0);
  const written = family.model;
  if (ctx.stagingDir) await writeModelFile(join(ctx.stagingDir, 'model.json'), written);
  const s = (a: number, b: number) => Number(((b - a) / 1000).toFixed(3));
  return {
    candidatePairs: blocking.candidate_pairs,
    scoredPairs: scored + (family.figures?.new_pairs ?? 0),
    model: written,
    figures: {
      engine: 'probabilistic' as const,
      blocking,
      model_source: opts.model ? ('given' as const) : ('trained' as const),
      ...(family.figures ? { family_context: family.figures } : {}),
      seconds: { blocking: s(t0, tBlock), compare: s(tBlock, tCompare), train: s(tCompare, tTrain), score: s(tTrain, tScore), family_context: s(tScore, tFamily) },
      /** CPU seconds of the process (every thread), user and system */
      cpu_seconds: { family_context: cpuFamily },
    },
  };
}
