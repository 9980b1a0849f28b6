/** The linking interface: a linker fills candidate_pairs and scored_pairs; clustering reads scored_pairs. */
import type { Ctx } from '../../engine/context.ts';
import type { BlockingFigures } from '../../linkage/blocking.ts';
import type { Model } from '../../../schemas/model.ts';

/** What a linker measured; the link stage adds the pair counts and the threshold. */
export interface LinkerFigures {
  engine: 'exact' | 'probabilistic';
  /** the exact engine's rule, in words */
  rule?: string;
  blocking?: BlockingFigures;
  model_source?: 'given' | 'trained' | 'previous';
  /** the model the pairs were scored with (also model.json) */
  model?: Model;
  seconds?: { blocking: number; compare: number; train: number; score: number };
  /** CPU seconds of the process (every thread) in a step of linking: on a shared machine wall seconds grow with the others' load */
  cpu_seconds?: { family_context: number };
}

export interface LinkResult {
  candidatePairs: number;
  scoredPairs: number;
  figures: LinkerFigures;
}

/**
 * A linker creates
 *  - candidate_pairs(rec_id_l BIGINT, rec_id_r BIGINT, rule_id, …) with rec_id_l < rec_id_r, each pair once;
 *  - scored_pairs(rec_id_l, rec_id_r, match_weight DOUBLE, match_probability DOUBLE, …),
 * pairing records only inside the sources of linkage.dedupe and between the pairs of linkage.link
 * (LINK_TABLES in index.ts: checked after the stage, whichever engine ran).
 */
export interface Linker {
  name: string;
  link(ctx: Ctx): Promise<LinkResult>;
}
