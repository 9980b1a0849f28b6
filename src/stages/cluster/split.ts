/**
 * Splitting conflicted clusters (protection against chaining). One wrong link between two persons merges all
 * their records; the conflict pairs (conflicts.sql.ts) of the reasons set to split show where that happened.
 *
 * 1. Tiers: every cluster holding a conflict pair is re-clustered (connected components) over only its links
 *    of at least the first tier's match weight; every piece still holding a conflict pair is re-clustered over
 *    its links of at least the next tier, and so on until no piece holds a conflict or the tiers run out.
 * 2. Return: a piece holding no record of any conflict pair was cut off only because it hung on a weak link;
 *    it goes back to the neighbouring piece it has the strongest link to (ties: the smallest id). Each piece
 *    follows one link, so a group formed this way holds at most one piece with conflict records: no resolved
 *    conflict is joined again.
 * 3. A conflict pair whose two records are still together after the last tier is flagged, not split.
 * Every step works inside one original cluster: a split never joins records that were apart. Ids are the
 * smallest rec_id of each piece, so the result does not depend on row order.
 */
import type { Db } from '../../engine/db.ts';
import { connectedComponents } from '../../engine/connected-components.ts';

export interface SplitResult {
  /** the tiers (bits) used, and the conflicted pieces re-clustered at each */
  tiers: { match_weight: number; pieces_reclustered: number }[];
}

/**
 * Over `edges(a, b, w)` (both directions), `components(rec_id, cluster_id)` and `conflicts(cluster_id, rec_id_l, rec_id_r)`:
 * writes cl_split(rec_id, cluster_id) for the members of conflicted clusters (the new cluster ids).
 */
export async function splitConflicted(db: Db, edges: string, components: string, conflicts: string, tiers: readonly number[]): Promise<SplitResult> {
  await db.run(`
    CREATE OR REPLACE TEMP TABLE cl_state AS
      SELECT rec_id, cluster_id AS orig, cluster_id AS label FROM ${components}
      WHERE cluster_id IN (SELECT cluster_id FROM ${conflicts});`);
  const used: SplitResult['tiers'] = [];
  for (const tier of tiers) {
    await db.run(`
      CREATE OR REPLACE TEMP TABLE cl_hot AS
        SELECT DISTINCT a.label FROM ${conflicts} c JOIN cl_state a ON a.rec_id = c.rec_id_l JOIN cl_state b ON b.rec_id = c.rec_id_r
        WHERE a.label = b.label;`);
    const hot = await db.count(`SELECT count(*) FROM cl_hot`);
    if (hot === 0) break;
    used.push({ match_weight: tier, pieces_reclustered: hot });
    await db.run(`
      CREATE OR REPLACE TEMP TABLE cl_tier_edges AS
        SELECT e.a, e.b FROM ${edges} e JOIN cl_state x ON x.rec_id = e.a JOIN cl_state y ON y.rec_id = e.b
        WHERE x.label = y.label AND x.label IN (SELECT label FROM cl_hot) AND e.w >= ${tier};`);
    await connectedComponents(db, 'cl_tier_edges', 'cl_tier_cc');
    await db.run(`
      CREATE OR REPLACE TEMP TABLE cl_state AS
        SELECT s.rec_id, s.orig, CASE WHEN s.label IN (SELECT label FROM cl_hot) THEN coalesce(c.cluster_id, s.rec_id) ELSE s.label END AS label
        FROM cl_state s LEFT JOIN cl_tier_cc c USING (rec_id);
      DROP TABLE cl_tier_cc; DROP TABLE cl_tier_edges; DROP TABLE cl_hot;`);
  }
  // Return: each piece without conflict records follows its strongest link out of itself.
  await db.run(`
    CREATE OR REPLACE TEMP TABLE cl_follow AS
    WITH anchored AS (
      SELECT DISTINCT s.label FROM cl_state s
      WHERE s.rec_id IN (SELECT rec_id_l FROM ${conflicts} UNION ALL SELECT rec_id_r FROM ${conflicts})),
    best AS (
      SELECT x.label AS a, arg_max(y.label, (e.w, -y.label)) AS b
      FROM ${edges} e JOIN cl_state x ON x.rec_id = e.a JOIN cl_state y ON y.rec_id = e.b
      WHERE x.orig = y.orig AND x.label <> y.label AND x.label NOT IN (SELECT label FROM anchored)
      GROUP BY x.label)
    SELECT a, b FROM best UNION ALL SELECT b, a FROM best;`);
  await connectedComponents(db, 'cl_follow', 'cl_returned');
  await db.run(`
    CREATE OR REPLACE TEMP TABLE cl_split AS
      SELECT s.rec_id, coalesce(r.cluster_id, s.label) AS cluster_id FROM cl_state s LEFT JOIN cl_returned r ON r.rec_id = s.label;
    DROP TABLE cl_follow; DROP TABLE cl_returned; DROP TABLE cl_state;`);
  return { tiers: used };
}
