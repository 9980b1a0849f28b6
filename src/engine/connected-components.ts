/**
 * Connected components in SQL by label propagation with pointer jumping: each record starts with its own
 * rec_id; each round takes the smallest label among itself and its neighbours, then the label of its label.
 */
import type { Db } from './db.ts';

export const MAX_ROUNDS = 200;

/** Connected components over `edges(a, b)` (both directions present); returns the rounds used. */
export async function connectedComponents(db: Db, edges: string, out: string): Promise<number> {
  await db.run(`
    CREATE OR REPLACE TEMP TABLE cc_label AS SELECT DISTINCT a AS v, a AS c FROM ${edges};
  `);
  let rounds = 0;
  for (; rounds < MAX_ROUNDS; rounds++) {
    await db.run(`
      CREATE OR REPLACE TEMP TABLE cc_next AS
        WITH m AS (SELECT e.a AS v, min(l.c) AS c FROM ${edges} e JOIN cc_label l ON l.v = e.b GROUP BY e.a),
             s AS (SELECT l.v, least(l.c, coalesce(m.c, l.c)) AS c FROM cc_label l LEFT JOIN m USING (v))
        SELECT s.v, least(s.c, p.c) AS c FROM s JOIN s p ON p.v = s.c;
    `);
    const changed = await db.count(`SELECT count(*) FROM cc_next n JOIN cc_label l USING (v) WHERE n.c <> l.c`);
    await db.run(`DROP TABLE cc_label; ALTER TABLE cc_next RENAME TO cc_label;`);
    if (changed === 0) break;
  }
  if (rounds >= MAX_ROUNDS) throw new Error(`connected components did not converge in ${MAX_ROUNDS} rounds`);
  await db.run(`CREATE OR REPLACE TABLE ${out} AS SELECT v AS rec_id, c AS cluster_id FROM cc_label; DROP TABLE cc_label;`);
  return rounds + 1;
}
