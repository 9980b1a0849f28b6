/** The linking interface: a linker fills candidate_pairs and scored_pairs; clustering reads scored_pairs. */
import type { Ctx } from '../../engine/context.ts';

export interface LinkResult {
  candidatePairs: number;
  scoredPairs: number;
  figures: Record<string, unknown>;
}

/**
 * A linker creates
 *  - candidate_pairs(rec_id_l BIGINT, rec_id_r BIGINT, rule_id, …) with rec_id_l < rec_id_r, each pair once;
 *  - scored_pairs(rec_id_l, rec_id_r, match_weight DOUBLE, match_probability DOUBLE, …),
 * pairing records only inside the sources of linkage.dedupe and between the pairs of linkage.link.
 */
export interface Linker {
  name: string;
  link(ctx: Ctx): Promise<LinkResult>;
}
