/**
 * `dtsen resolve`: where an id issued by any batch of the register lives now. An active id is itself; a merged
 * or split id is followed through its successors (across as many batches as it took) to the ids active now; an
 * inactive id stays itself (its person left every snapshot, since status_batch). Read from the finished batch's
 * dtsen_id_history only.
 */
import type { Db } from '../engine/db.ts';
import { lit } from '../engine/db.ts';

export interface Resolved {
  id: string;
  /** false: the register never issued this id */
  known: boolean;
  kind: string | null;
  status: string | null;
  first_batch: number | null;
  last_batch: number | null;
  status_batch: number | null;
  split_from: string | null;
  /** the ids active now that hold this id's records (itself when active) */
  now: string[];
  /** ids it leads to that are inactive now */
  inactive: string[];
}

export async function resolveIds(db: Db, ids: readonly string[]): Promise<Resolved[]> {
  if (!ids.length) return [];
  const rows = await db.all<Omit<Resolved, 'known'> & { known: boolean }>(`
    WITH RECURSIVE asked(start, pos) AS (SELECT * FROM (VALUES ${ids.map((id, i) => `(${lit(id)}, ${i})`).join(', ')})),
    edge AS (SELECT id, unnest(successors) AS next FROM dtsen_id_history WHERE status IN ('merged', 'split')),
    walk(start, id, depth) AS (
      SELECT start, start, 0 FROM asked
      UNION
      SELECT w.start, e.next, w.depth + 1 FROM walk w JOIN edge e ON e.id = w.id WHERE w.depth < 256),
    ends AS (
      SELECT w.start, list(DISTINCT w.id ORDER BY w.id) FILTER (WHERE h.status = 'active') AS now,
             list(DISTINCT w.id ORDER BY w.id) FILTER (WHERE h.status = 'inactive') AS inactive
      FROM walk w JOIN dtsen_id_history h ON h.id = w.id GROUP BY w.start)
    SELECT a.start AS id, h.id IS NOT NULL AS known, h.kind, h.status, h.first_batch, h.last_batch, h.status_batch, h.split_from,
           coalesce(e.now, []) AS now, coalesce(e.inactive, []) AS inactive
    FROM asked a LEFT JOIN dtsen_id_history h ON h.id = a.start LEFT JOIN ends e ON e.start = a.start
    ORDER BY a.pos`);
  return rows.map((r) => ({ ...r, known: Boolean(r.known) }));
}
