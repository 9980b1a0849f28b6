/**
 * The pair decisions in clustering (src/stages/cluster): a same_person pair is an edge of its own, stronger
 * than any split tier, so no tier ever cuts it; a different_persons pair is never an edge, and when its two
 * records still meet in one cluster through third records it is a conflict (reason `decision`) that always
 * splits — over the tiers first, then, if the model's links still join them, over the same-person edges alone
 * (DECISION_WEIGHT), where nothing but a human decision holds records together. Reads decision_pair
 * (src/register/decisions.ts); without the table clustering is unchanged.
 */

/** The match weight (bits) of a same_person decision's edge: above every split tier. */
export const DECISION_WEIGHT = 1e9;
/** The model's links weigh at most this (a probability of 1 is an infinite weight): under DECISION_WEIGHT. */
export const MODEL_WEIGHT_CAP = 1e8;

/** Extra edges (both directions): the same_person pairs. */
export const SAME_EDGES_SQL = `
  UNION ALL SELECT rec_id_l, rec_id_r, ${DECISION_WEIGHT}::DOUBLE, 1.0::DOUBLE FROM decision_pair WHERE kind = 'same_person'
  UNION ALL SELECT rec_id_r, rec_id_l, ${DECISION_WEIGHT}::DOUBLE, 1.0::DOUBLE FROM decision_pair WHERE kind = 'same_person'`;

/** A condition on scored_pairs: the pair is not decided different. */
export const NOT_DIFFERENT_SQL = `NOT EXISTS (SELECT 1 FROM decision_pair d WHERE d.kind = 'different_persons'
  AND least(d.rec_id_l, d.rec_id_r) = least(scored_pairs.rec_id_l, scored_pairs.rec_id_r)
  AND greatest(d.rec_id_l, d.rec_id_r) = greatest(scored_pairs.rec_id_l, scored_pairs.rec_id_r))`;

/**
 * After the conflict pairs (`conflicts`, conflictPairsSql over `components`) are found: the different_persons
 * pairs inside one cluster join them (reason `decision`), and the pairs a human said are one person leave them
 * (they are not a conflict).
 */
export function decisionConflictsSql(conflicts: string, components: string): string {
  return `
DELETE FROM ${conflicts} c USING decision_pair d
WHERE d.kind = 'same_person' AND least(d.rec_id_l, d.rec_id_r) = c.rec_id_l AND greatest(d.rec_id_l, d.rec_id_r) = c.rec_id_r;
DELETE FROM ${conflicts} c USING decision_pair d
WHERE d.kind = 'different_persons' AND least(d.rec_id_l, d.rec_id_r) = c.rec_id_l AND greatest(d.rec_id_l, d.rec_id_r) = c.rec_id_r;
INSERT INTO ${conflicts}
SELECT DISTINCT l.cluster_id, least(d.rec_id_l, d.rec_id_r), greatest(d.rec_id_l, d.rec_id_r), 'decision'
FROM decision_pair d JOIN ${components} l ON l.rec_id = d.rec_id_l JOIN ${components} r ON r.rec_id = d.rec_id_r
WHERE d.kind = 'different_persons' AND l.cluster_id = r.cluster_id;`;
}

/** SELECT: the different_persons pairs still inside one cluster of `clusters` (rec_id, cluster_id), as conflicts for a last split. */
export function decisionsLeftSql(clusters: string): string {
  return `
SELECT DISTINCT l.cluster_id, least(d.rec_id_l, d.rec_id_r) AS rec_id_l, greatest(d.rec_id_l, d.rec_id_r) AS rec_id_r
FROM decision_pair d JOIN ${clusters} l ON l.rec_id = d.rec_id_l JOIN ${clusters} r ON r.rec_id = d.rec_id_r
WHERE d.kind = 'different_persons' AND l.cluster_id = r.cluster_id`;
}
