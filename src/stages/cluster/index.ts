/**
 * Cluster: records linked by pairs at or above the threshold form one person (connected components).
 * Components are found in SQL by label propagation with pointer jumping: each record starts with its own
 * rec_id; each round takes the smallest label among itself and its neighbours, then the label of its label.
 * Output clusters(rec_id, cluster_id, best_link_probability) holds every record, singletons included.
 */
import type { Ctx, Stage } from '../../engine/context.ts';
import type { Db } from '../../engine/db.ts';

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

/** Pairs that may join two records: at or above the threshold, and not flagged as a hard negative. */
export function linkableSql(threshold: number, hasHardNegative: boolean): string {
  return `match_probability >= ${threshold}${hasHardNegative ? ' AND NOT coalesce(hard_negative, false)' : ''}`;
}

export async function clusterRecords(db: Db, threshold: number): Promise<{ rounds: number; clusters: number }> {
  const hasHard = (await db.count(`SELECT count(*) FROM duckdb_columns() WHERE table_name = 'scored_pairs' AND column_name = 'hard_negative'`)) > 0;
  const linkable = linkableSql(threshold, hasHard);
  await db.run(`
    CREATE OR REPLACE TEMP TABLE cluster_edges AS
      SELECT rec_id_l AS a, rec_id_r AS b FROM scored_pairs WHERE ${linkable}
      UNION ALL SELECT rec_id_r, rec_id_l FROM scored_pairs WHERE ${linkable};
  `);
  const rounds = await connectedComponents(db, 'cluster_edges', 'cluster_linked');
  await db.run(`
    CREATE OR REPLACE TABLE clusters AS
    WITH best AS (
      SELECT rec_id, max(p) AS best_link_probability FROM (
        SELECT rec_id_l AS rec_id, match_probability AS p FROM scored_pairs WHERE ${linkable}
        UNION ALL SELECT rec_id_r, match_probability FROM scored_pairs WHERE ${linkable})
      GROUP BY rec_id)
    SELECT p.rec_id, coalesce(c.cluster_id, p.rec_id) AS cluster_id, coalesce(b.best_link_probability, 1.0) AS best_link_probability
    FROM person_clean p LEFT JOIN cluster_linked c USING (rec_id) LEFT JOIN best b USING (rec_id)
    ORDER BY p.rec_id;
    DROP TABLE cluster_edges; DROP TABLE cluster_linked;
  `);
  return { rounds, clusters: await db.count(`SELECT count(DISTINCT cluster_id) FROM clusters`) };
}

export const clusterStage: Stage = {
  name: 'cluster',
  async run(ctx: Ctx) {
    const { rounds, clusters } = await clusterRecords(ctx.db, ctx.config.linkage.threshold);
    const sizes = await ctx.db.all<{ size: string; clusters: string }>(`
      SELECT size, count(*) AS clusters FROM (SELECT cluster_id, count(*) AS size FROM clusters GROUP BY ALL) GROUP BY ALL ORDER BY size`);
    return {
      rows: clusters,
      figures: { rounds, clusters, threshold: ctx.config.linkage.threshold, size_distribution: sizes.map((s) => ({ size: Number(s.size), clusters: Number(s.clusters) })) },
    };
  },
};
