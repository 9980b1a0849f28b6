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
     * expected F1 of the pairs (src/linkage/threshold.ts), raised by the cluster stage until the persons' expected
     * precision is at least precision_floor
     */
    threshold: z.union([z.number().gt(0).lt(1), z.literal('auto')]).default('auto'),
    /**
     * the expected precision of the persons built the "auto" threshold keeps to: a target of 0.995 plus a margin for the model's own
     * calibration error (0.0004 to 0.0015 on the named populations of make bench-quality)
     */
    precision_floor: z.number().gt(0).lt(1).default(0.996),
    /** compare every member pair of two families linked by another member pair, scored by a model of its own (src/linkage/family-context.ts) */
    family_context: z.boolean().default(true),
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

const rate = z.number().min(0).max(1);

/**
 * The fields whose parse rate validate measures and gates, each with its default floor (parsed / non-missing
 * values of one file). The floors sit well below what a messy but correctly mapped source gives and well above
 * what a wrong format or a wrong column gives (a rate near 0): see README "Data-quality gates".
 */
export const GATED_FIELDS = ['birth_date', 'nik', 'no_kk', 'village_code', 'relation', 'sex'] as const;
export type GatedField = (typeof GATED_FIELDS)[number];
export const DEFAULT_MIN_PARSE_RATE: Record<GatedField, number> = {
  // a conventional date (1 January, 1 July, 31 December) still parses; a wrong format parses almost nothing
  birth_date: 0.9,
  // DTKS audits: 10.9 million invalid NIKs among ~80 million present (≈ 86% valid); a mangled column (every value
  // in scientific notation, the family-card column mapped as NIK) gives ≈ 0%
  nik: 0.5,
  // DTKS audits: 16.4 million invalid family-card numbers among ~97 million records (≥ 80% valid)
  no_kk: 0.5,
  // codes of villages since renamed or split are unknown to the 2025 reference; BPS codes in place of Kemendagri's are mostly unknown
  village_code: 0.8,
  // coded fields: a handful of codes, nearly all readable when the mapping's codes are right
  relation: 0.9,
  sex: 0.9,
};

export const QualityGates = z
  .object({
    /** per field: the share of its non-missing values that must parse (0..1); below it the batch fails */
    min_parse_rate: z
      .object(Object.fromEntries(GATED_FIELDS.map((f) => [f, rate.default(DEFAULT_MIN_PARSE_RATE[f])])) as Record<GatedField, z.ZodDefault<typeof rate>>)
      .strict()
      .default({ ...DEFAULT_MIN_PARSE_RATE }),
    /** a file's field with fewer non-missing values than this is measured and warned about, not failed (a rate of a few values says little) */
    min_values: z.number().int().min(1).default(20),
  })
  .strict();

export const BatchConfig = z
  .object({
    /** the JSON Schema an editor checks this file against (schemas/*.schema.json); ignored by dtsen */
    $schema: z.string().optional(),
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
    /** DuckDB's spill folder (absolute, or relative to the config); default: a folder inside the batch's staging folder */
    temp_directory: z.string().min(1).optional(),
    linkage: Linkage.default(Linkage.parse({})),
    /** optional ground truth (source,source_record_id,person_id) used only to evaluate */
    truth: z.string().optional(),
    /** quarantine share above which validate fails the batch (0..1) */
    max_quarantine_share: z.number().min(0).max(1).default(0.5),
    survivorship: Survivorship.default(Survivorship.parse({})),
    /** data-quality gates of validate: the parse-rate floors per field */
    quality_gates: QualityGates.default(QualityGates.parse({})),
    /** replace NIK and family-card numbers in the exported files by a keyed hash (key: DTSEN_PSEUDONYM_KEY) */
    pseudonymise: z.boolean().default(false),
    /** the previous batch's output folder: the register's state this batch continues (ids, history); absolute or relative to the config */
    previous: z.string().min(1).optional(),
    /**
     * with a previous batch: "incremental" (default) links, clusters and builds golden records again only for what
     * changed since it (src/incremental/); "full" recomputes everything, as a batch without a previous one
     */
    recompute: z.enum(['incremental', 'full']).default('incremental'),
    /** an incremental batch trains the model again on all its pairs instead of scoring with the previous batch's model */
    retrain: z.boolean().default(false),
    /** the decisions store (JSON lines, schemas/decision.ts), applied by every batch; absolute or relative to the config */
    decisions: z.string().min(1).optional(),
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
export type QualityGates = z.infer<typeof QualityGates>;
