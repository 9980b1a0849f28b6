/** Link stage: runs the linker the batch config names (linkage.engine). */
import { defineStage, type TableDeclaration } from '../../engine/context.ts';
import { readModelFile } from '../../linkage/model.ts';
import { exactLinker } from './exact.ts';
import { linkProbabilistic } from './probabilistic.ts';
import type { Linker } from './types.ts';
import { chooseThreshold, expectedAt, expectedCurve } from '../../linkage/threshold.ts';
import { applyFamilySupport } from '../../linkage/family-support.ts';
import { persistWorkingTable } from '../../linkage/working-tables.ts';
import { recordRecompute, writeRecordState } from '../../incremental/state.ts';
import { planIncremental, type IncrementalPlan } from '../../incremental/previous.ts';
import { linkIncremental, type IncrementalLinkFigures } from '../../incremental/link.ts';
import { writtenWhole } from '../../incremental/staging.ts';
import { BLOCKING_KEYS_TABLE } from '../../linkage/blocking.ts';
import { FAMILY_MEMBER_TABLE, FAMILY_UNKEPT_TABLE } from '../../linkage/family-context.ts';
import { writeModelFile } from '../../linkage/model.ts';
import { join } from 'node:path';
import type { Ctx } from '../../engine/context.ts';
import type { LinkResult } from './types.ts';

/** The threshold "auto" falls back to when no pair was scored, and the exact linker's (its pairs all carry 1). */
const FALLBACK_THRESHOLD = 0.99;

export const probabilisticLinker: Linker = {
  name: 'probabilistic',
  async link(ctx) {
    const model = ctx.config.linkage.model ? await readModelFile(ctx.config.linkage.model) : undefined;
    const r = await linkProbabilistic(ctx, { model });
    return { candidatePairs: r.candidatePairs, scoredPairs: r.scoredPairs, figures: { ...r.figures, model: r.model } };
  },
};

export const LINKERS: Record<string, Linker> = { exact: exactLinker, probabilistic: probabilisticLinker };

/**
 * The threshold the link stage (and, raising it, the cluster stage) chose for "auto", taken back from their figures
 * into the config: a resumed batch that skips those stages uses the same threshold as the run that did them.
 */
export function restoreChosenThreshold(
  linkage: { threshold: number | 'auto' },
  figures: { link?: { threshold?: { match_probability?: number } }; cluster?: { threshold?: number } },
): void {
  if (linkage.threshold !== 'auto') return;
  const chosen = figures.cluster?.threshold ?? figures.link?.threshold?.match_probability;
  if (typeof chosen === 'number') linkage.threshold = chosen;
}

/**
 * What the link stage produces, with either engine: the candidate pairs and the scored pairs, each pair once
 * (rec_id_l < rec_id_r). The probabilistic engine adds gamma_, bf_ and tf_ columns and hard_negative.
 */
export const LINK_TABLES: readonly TableDeclaration[] = [
  {
    name: 'candidate_pairs',
    description: 'pairs of records blocking proposed, with the first rule and the bit mask of every rule that found them',
    columns: [{ name: 'rec_id_l', type: 'BIGINT' }, { name: 'rec_id_r', type: 'BIGINT' }, { name: 'rule_id', type: 'UTINYINT' }, { name: 'rules', type: 'UINTEGER' }],
    grain: ['rec_id_l', 'rec_id_r'],
  },
  {
    name: 'scored_pairs',
    description: 'candidate pairs with their match weight (bits) and match probability',
    columns: [
      { name: 'rec_id_l', type: 'BIGINT' }, { name: 'rec_id_r', type: 'BIGINT' }, { name: 'rule_id', type: 'UTINYINT' }, { name: 'rules', type: 'UINTEGER' },
      { name: 'match_weight', type: 'DOUBLE' }, { name: 'match_probability', type: 'DOUBLE' },
    ],
    grain: ['rec_id_l', 'rec_id_r'],
  },
];

/** What every batch keeps for the next one to link incrementally, and the path it took (src/incremental/). */
export const RECOMPUTE_TABLES: readonly TableDeclaration[] = [
  {
    name: 'record_state',
    description: 'per record, hashes of the values linking reads and of all its values: what the next batch compares to link only what changed',
    columns: [{ name: 'source', type: 'VARCHAR' }, { name: 'source_record_id', type: 'VARCHAR' }, { name: 'rec_id', type: 'BIGINT' }, { name: 'link_hash', type: 'UBIGINT' }, { name: 'row_hash', type: 'UBIGINT' }],
    grain: ['rec_id'],
  },
  {
    name: 'batch_recompute',
    description: 'the path the batch took (incremental or full) and how many records, pairs, components, persons and families it computed',
    columns: [{ name: 'path', type: 'VARCHAR' }, { name: 'reason', type: 'VARCHAR' }, { name: 'what', type: 'VARCHAR' }, { name: 'total', type: 'BIGINT' }, { name: 'recomputed', type: 'BIGINT' }],
    grain: ['what'],
  },
];

/** What the link stage says of the path it took (report "How this batch was computed", dtsen_change). */
export interface RecomputeFigures {
  path: 'incremental' | 'full';
  reason: string;
  previous: string | null;
  /** an incremental batch: its records against the previous batch's, and the pairs reused and computed */
  link?: IncrementalLinkFigures;
}

/** The incremental linker: the pairs of what changed since the previous batch (src/incremental/link.ts). */
async function linkIncrementally(ctx: Ctx, plan: IncrementalPlan): Promise<LinkResult & { incremental: IncrementalLinkFigures }> {
  const given = ctx.config.linkage.model ? await readModelFile(ctx.config.linkage.model) : undefined;
  // the family context is seeded at the threshold this batch will link at: the previous one when "auto" keeps it
  const keepsThreshold = ctx.config.linkage.threshold === 'auto' && !given && plan.previousModel !== undefined && plan.previousThreshold !== undefined;
  const r = await linkIncremental(ctx, {
    model: given ?? plan.previousModel,
    previousModel: !given && plan.previousModel !== undefined && plan.previousFamilyState === true,
    retrain: ctx.config.retrain && !given,
    previousPairs: plan.previousPairs ?? 0,
    seedThreshold: keepsThreshold ? plan.previousThreshold : undefined,
    previousDb: plan.previousDir ? join(plan.previousDir, 'dtsen.duckdb') : undefined,
    familyInPlace: plan.previousFamilyInPlace === true,
  });
  if (ctx.stagingDir) await writeModelFile(join(ctx.stagingDir, 'model.json'), r.model);
  const source: 'given' | 'trained' | 'previous' = given ? 'given' : plan.previousModel ? 'previous' : 'trained';
  return {
    candidatePairs: r.candidatePairs,
    scoredPairs: r.scoredPairs,
    incremental: r.incremental,
    figures: { engine: 'probabilistic', blocking: r.blocking, model_source: source, ...(r.familyContext ? { family_context: r.familyContext } : {}), seconds: r.seconds, cpu_seconds: r.cpu_seconds, model: r.model },
  };
}

export const linkStage = defineStage({
  name: 'link',
  produces: [...LINK_TABLES, ...RECOMPUTE_TABLES],
  async run(ctx) {
    const linkage = ctx.config.linkage;
    const linker = LINKERS[linkage.engine];
    // what the next batch compares its records with, then whether this one links only what changed
    await writeRecordState(ctx.db);
    const plan = await planIncremental(ctx.db, ctx.config);
    ctx.log.info({ stage: 'link', path: plan.path, reason: plan.reason }, plan.path === 'incremental' ? 'linking incrementally' : 'linking every record');
    // a full path writes the blocking keys and the family context's state whole (the exact engine none: no copy of
    // the previous batch's stays)
    if (plan.path === 'full') {
      for (const t of [BLOCKING_KEYS_TABLE, FAMILY_MEMBER_TABLE, FAMILY_UNKEPT_TABLE] as const) {
        await writtenWhole(ctx.db, t);
        if (linkage.engine !== 'probabilistic') await ctx.db.run(`DROP TABLE IF EXISTS ${t}`);
      }
    }
    const inc = plan.path === 'incremental' ? await linkIncrementally(ctx, plan) : undefined;
    const r = inc ?? (await linker.link(ctx));
    // the family support counts the member pairs the family context compared: weighed with it
    const familySupport = linkage.engine === 'probabilistic' && linkage.family_context ? await applyFamilySupport(ctx.db) : undefined;
    if (familySupport) ctx.log.info({ stage: 'link', family_support: familySupport }, 'family support weighed');
    // the working scored_pairs and candidate_pairs (temporary) become the batch's tables (scored_pairs: unless the
    // family support wrote it)
    await persistWorkingTable(ctx.db, 'scored_pairs');
    await persistWorkingTable(ctx.db, 'candidate_pairs');
    const recompute: RecomputeFigures = { path: plan.path, reason: plan.reason, previous: plan.previousDir ?? ctx.config.previous ?? null, ...(inc ? { link: inc.incremental } : {}) };
    const records = inc?.incremental.records;
    const pairs = inc?.incremental.pairs;
    const nRecords = records?.total ?? (await ctx.db.count(`SELECT count(*) FROM person_clean`));
    await recordRecompute(ctx.db, plan.path, plan.reason, [
      { what: 'records', total: nRecords, recomputed: records ? records.new + records.changed : nRecords },
      { what: 'pairs', total: r.candidatePairs, recomputed: pairs ? pairs.compared : r.candidatePairs },
    ]);
    // The model's expected precision and recall at every threshold; "auto" takes the best expected F1 and is
    // written back into the config, so every later stage (and the stored config) uses it.
    // An incremental batch scoring with the previous batch's model keeps the threshold it linked at (the cluster
    // stage may have raised it): clusters it does not recompute were made at that threshold.
    const curve = await expectedCurve(ctx.db);
    const keepPrevious = linkage.threshold === 'auto' && inc !== undefined && r.figures.model_source === 'previous' && plan.previousThreshold !== undefined;
    const mode = keepPrevious ? 'previous' : linkage.threshold === 'auto' ? 'auto' : 'configured';
    if (keepPrevious) linkage.threshold = plan.previousThreshold!;
    else if (linkage.threshold === 'auto') {
      // The pairs' largest expected F1, whatever its precision: the floor is kept by the persons built (the cluster
      // stage raises the threshold until their expected precision reaches it). Pairs inside one person hold evidence
      // of each other a pair's own score does not count: kept at the pairs, the floor cost recall it need not.
      const best = linkage.engine === 'probabilistic' ? chooseThreshold(curve, 0) : undefined;
      linkage.threshold = best ? best.match_probability : FALLBACK_THRESHOLD;
    }
    const threshold = linkage.threshold;
    const expected = expectedAt(curve, threshold);
    const thresholdFigures = {
      mode,
      precision_floor: linkage.precision_floor,
      match_probability: threshold,
      match_weight: Math.log2(threshold / (1 - threshold)),
      expected_at_threshold: expected,
      expected_curve: curve,
    };
    ctx.log.info({ stage: 'link', engine: linker.name, candidate_pairs: r.candidatePairs, scored_pairs: r.scoredPairs, threshold, threshold_mode: mode }, 'linked');
    return { rows: r.scoredPairs, figures: { ...r.figures, ...(familySupport ? { family_support: familySupport } : {}), candidate_pairs: r.candidatePairs, scored_pairs: r.scoredPairs, threshold: thresholdFigures, recompute } };
  },
});
