/**
 * Conflicts inside a cluster: two records that are plainly distinct persons, whatever links join them.
 * Pairs are enumerated only inside clusters of at most `maxSize` records (clusters are mostly 1–5 records);
 * hard negatives are found in every cluster, from scored_pairs alone.
 *
 * A NIK is corroborated by its record when the civil registry matched it or its date is the record's stated
 * birth date; a NIK that contradicts its record's birth date is often a relative's NIK typed into the record.
 *  - 'nik': both NIKs valid and different, and either both established in the cluster (carried by records
 *    of two sources, or matched by the civil registry: two sources do not make the same typo, so even one
 *    digit apart they are two persons, twins for instance) or both corroborated and more than two digits apart.
 *  - 'family': two records of one source in one source family (a source lists a person once per family)
 *    whose stated relations to the head differ, whose stated sexes differ, whose stated birth dates are more
 *    than two years apart, or whose names have no token in common, even one edit apart — unless both carry
 *    corroborated NIKs that agree (equal, or one typed digit or one adjacent swap apart): a duplicate row.
 *  - 'hard_negative': a scored pair flagged hard_negative (twins, a son named after his father).
 * When a pair has several, the first of this list is its reason.
 */

import { ConflictReason } from '../../../schemas/config.ts';

export const CONFLICT_REASONS = ConflictReason.options;

/** Two valid NIKs that agree: equal, or one typed digit or one swap of adjacent digits apart. */
const NIK_AGREE = (a: string, b: string) => `(${a} = ${b} OR hamming(${a}, ${b}) = 1 OR (hamming(${a}, ${b}) = 2 AND list_bool_or(list_transform(range(1, 16), i ->
  substr(${a}, i, 1) = substr(${b}, i + 1, 1) AND substr(${a}, i + 1, 1) = substr(${b}, i, 1) AND substr(${a}, i, 1) <> substr(${a}, i + 1, 1)))))`;

/** Names with no token in common, even one edit apart (a typo, a dropped letter). */
const NAMES_DIFFER = `NOT list_bool_or(list_transform(l.name_tokens, token_l -> list_bool_or(list_transform(r.name_tokens, token_r -> damerau_levenshtein(token_l, token_r) <= 1))))`;

/**
 * SELECT: the members of the clusters (of `components`: rec_id, cluster_id) checked pair by pair, with what the
 * conflict rules read (conflict_member).
 */
export function conflictMembersSql(components: string, maxSize: number): string {
  return `
-- the sizes by a hash aggregate, not a window (a sort of every linked record)
WITH checked AS (
  SELECT c.rec_id, c.cluster_id FROM ${components} c
  SEMI JOIN (SELECT cluster_id FROM ${components} GROUP BY cluster_id HAVING count(*) BETWEEN 2 AND ${maxSize}) small USING (cluster_id))
SELECT s.cluster_id, p.rec_id, p.source, p.family_id, p.relation, p.birth_date, p.sex, p.name_tokens,
  CASE WHEN p.nik_status = 'valid' THEN p.nik_digits END AS nik,
  coalesce(p.dukcapil_match, false) AS dukcapil,
  p.nik_status = 'valid' AND (coalesce(p.dukcapil_match, false) OR coalesce(p.nik_birth_date = p.birth_date, false)) AS nik_corroborated
FROM checked s JOIN person_clean p USING (rec_id)`;
}

/**
 * SELECT: the conflict pairs (cluster_id, rec_id_l, rec_id_r, reason) with rec_id_l < rec_id_r, from `members`
 * (conflictMembersSql) and, for the hard negatives, scored_pairs over `components`.
 */
export function conflictPairsSql(members: string, components: string, hasHardNegative: boolean): string {
  const reasonRank = `CASE reason ${CONFLICT_REASONS.map((r, i) => `WHEN '${r}' THEN ${i}`).join(' ')} END`;
  return `
WITH nik_support AS (
  SELECT cluster_id, nik, count(DISTINCT source) >= 2 OR bool_or(dukcapil) AS established
  FROM ${members} WHERE nik IS NOT NULL GROUP BY ALL),
member AS (SELECT m.*, coalesce(n.established, false) AS nik_established FROM ${members} m LEFT JOIN nik_support n USING (cluster_id, nik)),
pairs AS (
  SELECT l.cluster_id, l.rec_id AS rec_id_l, r.rec_id AS rec_id_r,
    CASE
      WHEN l.nik <> r.nik AND ((l.nik_established AND r.nik_established)
        OR (l.nik_corroborated AND r.nik_corroborated AND hamming(l.nik, r.nik) > 2)) THEN 'nik'
      WHEN l.source = r.source AND l.family_id = r.family_id AND NOT coalesce(l.nik_corroborated AND r.nik_corroborated AND ${NIK_AGREE('l.nik', 'r.nik')}, false)
        AND (l.relation <> r.relation OR l.sex <> r.sex
        OR abs(datediff('day', l.birth_date, r.birth_date)) > 731 OR (${NAMES_DIFFER})) THEN 'family'
    END AS reason
  FROM member l JOIN member r ON l.cluster_id = r.cluster_id AND l.rec_id < r.rec_id),
hard AS (
  ${hasHardNegative
    ? `SELECT cl.cluster_id, least(s.rec_id_l, s.rec_id_r) AS rec_id_l, greatest(s.rec_id_l, s.rec_id_r) AS rec_id_r, 'hard_negative' AS reason
  FROM scored_pairs s JOIN ${components} cl ON cl.rec_id = s.rec_id_l JOIN ${components} cr ON cr.rec_id = s.rec_id_r
  WHERE coalesce(s.hard_negative, false) AND cl.cluster_id = cr.cluster_id`
    : `SELECT NULL::BIGINT AS cluster_id, NULL::BIGINT AS rec_id_l, NULL::BIGINT AS rec_id_r, NULL::VARCHAR AS reason WHERE false`}),
found AS (SELECT * FROM pairs WHERE reason IS NOT NULL UNION ALL SELECT * FROM hard)
SELECT cluster_id, rec_id_l, rec_id_r, arg_min(reason, ${reasonRank}) AS reason FROM found GROUP BY ALL`;
}
