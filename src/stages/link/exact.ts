/**
 * The exact linker: the baseline rule — same valid NIK, same normalised name and same birth date.
 * Honest and simple; kept as a baseline and for batches that want deterministic links only.
 */
import type { Linker } from './types.ts';
import { allowedSourcePairsSql } from '../../linkage/blocking.ts';

/** A finite weight for a certain link (the exact rule leaves no doubt it can express). */
export const EXACT_MATCH_WEIGHT = 20;

export const exactLinker: Linker = {
  name: 'exact',
  async link(ctx) {
    const { db, config } = ctx;
    await db.run(`
      CREATE OR REPLACE TABLE candidate_pairs AS
      SELECT l.rec_id AS rec_id_l, r.rec_id AS rec_id_r, 0::UTINYINT AS rule_id, 1::UINTEGER AS rules
      FROM person_clean l JOIN person_clean r
        ON l.nik = r.nik AND l.name_norm = r.name_norm AND l.birth_date = r.birth_date AND l.rec_id < r.rec_id
      SEMI JOIN (${allowedSourcePairsSql(config.linkage)}) s ON s.source_l = l.source AND s.source_r = r.source;
      CREATE OR REPLACE TABLE scored_pairs AS
      SELECT rec_id_l, rec_id_r, rule_id, rules, ${EXACT_MATCH_WEIGHT}::DOUBLE AS match_weight, 1.0::DOUBLE AS match_probability FROM candidate_pairs;
    `);
    const n = await db.count(`SELECT count(*) FROM candidate_pairs`);
    return { candidatePairs: n, scoredPairs: n, figures: { engine: 'exact' as const, rule: 'same valid NIK + same normalised name + same birth date' } };
  },
};
