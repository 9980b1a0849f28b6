/** The batch config (pipelines/*.json). Paths are relative to the config file's folder. */
import { z } from 'zod';
import { SOURCES } from './canonical.ts';

const sourceName = z.enum(SOURCES);

export const SourceInput = z
  .object({
    /** a file or a folder of files of one format */
    path: z.string().min(1, 'path must name a file or a folder'),
    /** the mapping file of this source layout */
    mapping: z.string().min(1),
  })
  .strict();

/** Why two records of one cluster are plainly distinct persons (src/stages/cluster/conflicts.sql.ts). */
export const ConflictReason = z.enum(['nik', 'family', 'hard_negative']);

export const Linkage = z
  .object({
    engine: z.enum(['exact', 'probabilistic']).default('probabilistic'),
    /** blocks with more records than this are dropped from blocking and reported */
    max_block_size: z.number().int().min(2).default(400),
    /** a trained model.json to use instead of training (absolute, or relative to the config) */
    model: z.string().optional(),
    /** random record pairs drawn to estimate u */
    u_sample_pairs: z.number().int().min(1000).default(1_000_000),
    /** pairs are scored only inside these sources (dedupe) … */
    dedupe: z.array(sourceName).default([...SOURCES]),
    /** … and between these source pairs (link) */
    link: z.array(z.tuple([sourceName, sourceName])).default([
      ['dtks', 'regsosek'],
      ['dtks', 'p3ke'],
      ['regsosek', 'p3ke'],
    ]),
    /**
     * pairs at or above this match probability are linked; "auto": the threshold that maximises the model's
     * expected F1 among those whose expected precision is at least precision_floor (src/stages/score/threshold.ts)
     */
    threshold: z.union([z.number().gt(0).lt(1), z.literal('auto')]).default('auto'),
    /** the expected precision the "auto" threshold keeps to */
    precision_floor: z.number().gt(0).lt(1).default(0.995),
    /** split clusters holding records that are plainly distinct persons (else such clusters are only flagged) */
    split_conflicts: z.boolean().default(true),
    /** the conflict reasons that split a cluster; conflicts of the others are only flagged */
    split_reasons: z.array(ConflictReason).default([...ConflictReason.options]),
    /** match weights (bits, ascending) a conflicted cluster is re-clustered at, one after another, until its conflict is resolved */
    split_tiers: z
      .array(z.number().finite())
      .min(1)
      .refine((t) => t.every((x, i) => i === 0 || x > t[i - 1]), { message: 'split_tiers must be strictly ascending match weights in bits' })
      .default([10, 14, 18, 22, 26, 30]),
    /** clusters with more records than this are not searched pair by pair for conflicts (only hard negatives) and are flagged */
    max_conflict_cluster_size: z.number().int().min(2).default(50),
  })
  .strict();

export const Survivorship = z
  .object({
    /** the source whose welfare decile a person and a family keep; the other sources only fill in where it has none */
    decile_source: sourceName.default('regsosek'),
  })
  .strict();

export const BatchConfig = z
  .object({
    batch: z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/, 'batch must be letters, digits, _ . -'),
    snapshot_id: z.string().min(1),
    /** the date of the snapshots: birth dates after it are impossible; NIK centuries are inferred up to it */
    snapshot_date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date YYYY-MM-DD').default('2026-10-01'),
    out: z.string().min(1).default('out'),
    sources: z
      .object({ dtks: SourceInput.optional(), regsosek: SourceInput.optional(), p3ke: SourceInput.optional() })
      .strict()
      .refine((s) => Object.values(s).some(Boolean), { message: 'at least one source is needed' }),
    threads: z.number().int().min(1).max(256).optional(),
    memory_limit: z.string().regex(/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'memory_limit like "4GB"').optional(),
    linkage: Linkage.default(Linkage.parse({})),
    /** optional ground truth (source,source_record_id,person_id) used only to evaluate */
    truth: z.string().optional(),
    /** quarantine share above which validate fails the batch (0..1) */
    max_quarantine_share: z.number().min(0).max(1).default(0.5),
    survivorship: Survivorship.default(Survivorship.parse({})),
    /** replace NIK and family-card numbers in the exported files by a keyed hash (key: DTSEN_PSEUDONYM_KEY) */
    pseudonymise: z.boolean().default(false),
  })
  .strict();
export type BatchConfig = z.infer<typeof BatchConfig>;
export type Linkage = z.infer<typeof Linkage>;

/**
 * The threshold in use: the configured probability, or the one the link stage chose for "auto" (written back
 * into the batch's config by the link stage, so the stages after it and the stored config hold the number).
 */
export function thresholdOf(linkage: Pick<Linkage, 'threshold'>): number {
  if (linkage.threshold === 'auto') throw new Error('linkage.threshold "auto" has not been resolved: the link stage chooses it');
  return linkage.threshold;
}
export type ConflictReason = z.infer<typeof ConflictReason>;
export type Survivorship = z.infer<typeof Survivorship>;
