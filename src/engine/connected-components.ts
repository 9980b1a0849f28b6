/**
 * Connected components in SQL by label propagation with pointer jumping: each record starts with its own
 * rec_id; each round takes the smallest label among itself and its neighbours, then the label of its label.
 */
import type { Db } from './db.ts';
import { materialise, TempTable } from './sql-pipeline.ts';

export const MAX_ROUNDS = 200;

/**
 * The TEMP table cc_label(v, c) — each vertex of `edges(a, b)` (both directions present) and the smallest vertex
 * of its component — and the rounds used.
 */
async function labelComponents(db: Db, edges: string): Promise<{ rounds: number; labels: TempTable }> {
  await db.run(`CREATE OR REPLACE TEMP TABLE cc_label AS SELECT DISTINCT a AS v, a AS c FROM ${edges}`);
  let rounds = 0;
  try {
    for (; rounds < MAX_ROUNDS; rounds++) {
      await db.run(`
        CREATE OR REPLACE TEMP TABLE cc_next AS
          WITH neighbour_min AS (SELECT e.a AS v, min(l.c) AS c FROM ${edges} e JOIN cc_label l ON l.v = e.b GROUP BY e.a),
               own_min AS (SELECT l.v, l.c AS was, least(l.c, coalesce(n.c, l.c)) AS c FROM cc_label l LEFT JOIN neighbour_min n USING (v))
          SELECT o.v, least(o.c, label_of_label.c) AS c, least(o.c, label_of_label.c) <> o.was AS moved
          FROM own_min o JOIN own_min label_of_label ON label_of_label.v = o.c;
      `);
      // the labels that moved this round, counted on the new table alone (no join back to the previous labels)
      const changed = await db.count(`SELECT count(*) FROM cc_next WHERE moved`);
      await db.run(`DROP TABLE cc_label; ALTER TABLE cc_next RENAME TO cc_label;`);
      if (changed === 0) break;
    }
    if (rounds >= MAX_ROUNDS) throw new Error(`connected components did not converge in ${MAX_ROUNDS} rounds`);
  } catch (e) {
    await db.run(`DROP TABLE IF EXISTS temp.cc_label; DROP TABLE IF EXISTS temp.cc_next`).catch(() => undefined);
    throw e;
  }
  return { rounds: rounds + 1, labels: new TempTable(db, 'cc_label') };
}

/** Connected components over `edges(a, b)` (both directions present) into the table `out`(rec_id, cluster_id); returns the rounds used. */
export async function connectedComponents(db: Db, edges: string, out: string): Promise<number> {
  const { rounds, labels } = await labelComponents(db, edges);
  await using _labels = labels;
  await db.run(`CREATE OR REPLACE TABLE ${out} AS SELECT v AS rec_id, c AS cluster_id FROM ${labels}`);
  return rounds;
}

/**
 * Connected components over `edges(a, b)` into the TEMP table `name`(rec_id, cluster_id), which lives as long as
 * the handle returned; and the rounds used.
 */
export async function temporaryComponents(db: Db, edges: string, name: string): Promise<{ rounds: number; components: TempTable }> {
  const { rounds, labels } = await labelComponents(db, edges);
  await using _labels = labels;
  return { rounds, components: await materialise(db, name, `SELECT v AS rec_id, c AS cluster_id FROM ${labels}`) };
}
