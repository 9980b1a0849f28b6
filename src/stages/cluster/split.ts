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
import { temporaryComponents } from '../../engine/connected-components.ts';
import { materialise, step, type TempTable } from '../../engine/sql-pipeline.ts';

export interface SplitResult {
  /** the tiers (bits) used, and the conflicted pieces re-clustered at each */
  tiers: { match_weight: number; pieces_reclustered: number }[];
}

/**
 * Over `edges(a, b, w)` (both directions), `components(rec_id, cluster_id)` and `conflicts(cluster_id, rec_id_l, rec_id_r)`:
 * `pieces`, the TEMP table split_piece(rec_id, cluster_id) of the members of conflicted clusters (the new cluster
 * ids), which lives as long as the caller's handle.
 */
export async function splitConflicted(
  db: Db,
  edges: string,
  components: string,
  conflicts: string,
  tiers: readonly number[],
): Promise<SplitResult & { pieces: TempTable }> {
  // split_state(rec_id, orig, label): each member of a conflicted cluster, its cluster and its current piece
  await using state = await materialise(db, 'split_state', `
    SELECT rec_id, cluster_id AS orig, cluster_id AS label FROM ${components}
    WHERE cluster_id IN (SELECT cluster_id FROM ${conflicts})`);
  const used: SplitResult['tiers'] = [];
  for (const tier of tiers) {
    await using hot = await materialise(db, 'split_hot', `
      SELECT DISTINCT piece_l.label FROM ${conflicts} c JOIN ${state} piece_l ON piece_l.rec_id = c.rec_id_l JOIN ${state} piece_r ON piece_r.rec_id = c.rec_id_r
      WHERE piece_l.label = piece_r.label`);
    const hotPieces = await db.count(`SELECT count(*) FROM ${hot}`);
    if (hotPieces === 0) break;
    used.push({ match_weight: tier, pieces_reclustered: hotPieces });
    await using tierEdges = await materialise(db, 'split_tier_edges', `
      SELECT e.a, e.b FROM ${edges} e JOIN ${state} from_piece ON from_piece.rec_id = e.a JOIN ${state} to_piece ON to_piece.rec_id = e.b
      WHERE from_piece.label = to_piece.label AND from_piece.label IN (SELECT label FROM ${hot}) AND e.w >= ${tier}`);
    const { components: tierPieces } = await temporaryComponents(db, String(tierEdges), 'split_tier_pieces');
    await using _tierPieces = tierPieces;
    // split_state anew from itself: the handle `state` keeps owning it
    await materialise(db, 'split_state', `
      SELECT s.rec_id, s.orig, CASE WHEN s.label IN (SELECT label FROM ${hot}) THEN coalesce(c.cluster_id, s.rec_id) ELSE s.label END AS label
      FROM ${state} s LEFT JOIN ${tierPieces} c USING (rec_id)`);
  }
  // Return: each piece without conflict records follows its strongest link out of itself.
  await using follow = await materialise(db, 'split_follow', {
    steps: [
      step('anchored', `
        SELECT DISTINCT s.label FROM ${state} s
        WHERE s.rec_id IN (SELECT rec_id_l FROM ${conflicts} UNION ALL SELECT rec_id_r FROM ${conflicts})`),
      step('strongest_link', `
        SELECT from_piece.label AS a, arg_max(to_piece.label, (e.w, -to_piece.label)) AS b
        FROM ${edges} e JOIN ${state} from_piece ON from_piece.rec_id = e.a JOIN ${state} to_piece ON to_piece.rec_id = e.b
        WHERE from_piece.orig = to_piece.orig AND from_piece.label <> to_piece.label AND from_piece.label NOT IN (SELECT label FROM anchored)
        GROUP BY from_piece.label`),
    ],
    select: 'SELECT a, b FROM strongest_link UNION ALL SELECT b, a FROM strongest_link',
  });
  const { components: returned } = await temporaryComponents(db, String(follow), 'split_returned');
  await using _returned = returned;
  const pieces = await materialise(db, 'split_piece', `
    SELECT s.rec_id, coalesce(r.cluster_id, s.label) AS cluster_id FROM ${state} s LEFT JOIN ${returned} r ON r.rec_id = s.label`);
  return { tiers: used, pieces };
}
