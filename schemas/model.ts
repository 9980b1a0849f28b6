/** The trained linkage model, saved as model.json in the batch output and accepted back with --model. */
import { z } from 'zod';

export const ModelLevel = z.object({
  label: z.string(),
  m: z.number().gt(0).lte(1),
  u: z.number().gt(0).lte(1),
  tf: z.boolean().optional(),
  /** u among pairs that share the birth date, for NIK levels whose date digits agree by construction */
  u_given_same_birth_date: z.number().gt(0).lte(1).optional(),
});

export const ModelComparison = z.object({
  name: z.string(),
  description: z.string().optional(),
  levels: z.array(ModelLevel).min(2),
  tf_column: z.string().optional(),
});

export const Model = z.object({
  version: z.literal(1),
  /** probability that two records drawn at random from the allowed source pairs are the same person */
  lambda: z.number().gt(0).lt(1),
  comparisons: z.array(ModelComparison).min(1),
  /** upper bound on the absolute term-frequency adjustment, in bits */
  tf_max_adjustment: z.number().min(0).default(6),
  training: z
    .object({
      u_sample_pairs: z.number().int(),
      sessions: z.array(z.object({ rule: z.string(), pairs: z.number(), iterations: z.number(), converged: z.boolean(), lambda: z.number(), fixed: z.array(z.string()) })),
      lambda_candidates: z.number(),
      candidate_pairs: z.number(),
      total_pairs: z.number(),
    })
    .optional(),
});
export type Model = z.infer<typeof Model>;
