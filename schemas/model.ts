/** The trained linkage model, saved as model.json in the batch output and accepted back with --model. */
import { z } from 'zod';

export const ModelLevel = z.object({
  label: z.string(),
  m: z.number().gt(0).lte(1),
  u: z.number().gt(0).lte(1),
  tf: z.boolean().optional(),
  /** fingerprint of the level's SQL condition (src/linkage/model.ts): a model is refused by code whose level differs */
  sql_fingerprint: z.string().regex(/^[0-9a-f]{16}$/),
});

/**
 * u of one comparison among the non-matches that sit at given levels of other comparisons. Comparisons are not
 * independent among non-matches: two members of one household are far likelier than two random persons to
 * share a birth date (twins) or name tokens, and two persons born the same day nearby carry NIKs that differ
 * only in the serial or a district digit. The first entry (in order) whose conditions all hold replaces the
 * plain u of `comparison` for a pair.
 */
export const ConditionalU = z.object({
  comparison: z.string(),
  description: z.string(),
  /** every condition must hold: the comparison sits at one of the levels (by label; 'null': no evidence) */
  given: z.array(z.object({ comparison: z.string(), levels: z.array(z.string()).min(1) })).min(1),
  /** u per level of `comparison`, in its order */
  u: z.array(z.number().gt(0).lte(1)).min(2),
  /** non-matching pairs it was estimated from */
  pairs: z.number().int().min(0),
});
export type ConditionalU = z.infer<typeof ConditionalU>;

export const ModelComparison = z.object({
  name: z.string(),
  description: z.string().optional(),
  levels: z.array(ModelLevel).min(2),
  tf_column: z.string().optional(),
  /** fingerprint of the comparison's whole gamma SQL (its null condition and its levels in order) */
  sql_fingerprint: z.string().regex(/^[0-9a-f]{16}$/),
});

/** Version 3: every comparison and level carries the fingerprint of its SQL. */
export const MODEL_VERSION = 3;

export const Model = z.object({
  version: z.literal(MODEL_VERSION),
  /** probability that two records drawn at random from the allowed source pairs are the same person */
  lambda: z.number().gt(0).lt(1),
  comparisons: z.array(ModelComparison).min(1),
  conditional_u: z.array(ConditionalU).default([]),
  /**
   * The family context's model (src/linkage/family-context.ts), estimated on the member pairs of linked families:
   * the prior and u per comparison and level among them (m is the model's). It is part of the model: a batch scoring
   * with a model given back (--model, or the previous batch's in an incremental batch) scores the family pairs with
   * this one; a model trained in the batch (or one without it) has it estimated on the batch's member pairs.
   */
  family_context: z
    .object({
      lambda: z.number().gt(0).lt(1),
      member_pairs: z.number().int().min(0),
      u: z.record(z.string(), z.array(z.number().gt(0).lte(1)).min(2)),
    })
    .optional(),
  /** upper bound on the absolute term-frequency adjustment, in bits */
  tf_max_adjustment: z.number().min(0).default(6),
  training: z
    .object({
      u_sample_pairs: z.number().int(),
      /** conditional u entries left out for want of non-matching pairs (a small batch): the next entry that fits applies */
      conditional_u_skipped: z.array(z.object({ description: z.string(), pairs: z.number() })).default([]),
      sessions: z.array(z.object({ rule: z.string(), pairs: z.number(), iterations: z.number(), converged: z.boolean(), lambda: z.number(), fixed: z.array(z.string()) })),
      lambda_candidates: z.number(),
      candidate_pairs: z.number(),
      total_pairs: z.number(),
    })
    .optional(),
});
export type Model = z.infer<typeof Model>;
