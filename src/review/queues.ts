/**
 * The review queues, computed once when the app starts, into TEMP tables of the read-only batch (nothing is
 * written to it): every item has its place `pos` (1 = review first), so that "the next item" is a lookup of the
 * smallest `pos` after the current one. Each queue puts first what a wrong answer costs most — persons in deciles
 * 1–4 or receiving a programme (`priority` 1) — and then, for pairs, the closeness to the threshold.
 *
 * - rv_pair: scored pairs whose match weight is within `band` bits of the threshold's weight, with the stored
 *   comparison vector (the waterfall is read from it), whether the batch put the two records in one person, and
 *   whether the pair was linked.
 * - rv_cluster: groups of clusters joined by a conflict of the chaining protection (cluster_conflicts): clusters
 *   it split (outcome `split`) and clusters it only flagged.
 * - rv_person: persons with conflicting NIKs, birth dates or sexes (dtsen_conflict).
 * - rv_decision: decisions of the store the batch did not apply (orphaned, contradicted).
 * - rv_rec: the fields of every record those queues show, with its dtsen_id, by rec_id.
 */
import type { Db } from '../engine/db.ts';
import { lit } from '../engine/db.ts';

export const QUEUES = ['pairs', 'clusters', 'persons', 'decisions'] as const;
export type QueueName = (typeof QUEUES)[number];

/** What a person is worth protecting: deciles 1–4 or any programme. */
const VULNERABLE = `(coalesce(d.decile BETWEEN 1 AND 4, false) OR coalesce(d.pkh, false) OR coalesce(d.bpnt, false) OR coalesce(d.pbi_jkn, false) OR len(coalesce(d.programmes, [])) > 0)`;

export interface QueueOptions {
  /** half-width of the uncertain band, in bits of match weight around the threshold's */
  band: number;
  threshold: number;
}

/** log2 of the odds of p: the match weight at probability p. */
export function weightOf(p: number): number {
  return Math.log2(p / (1 - p));
}

export async function buildQueues(db: Db, o: QueueOptions): Promise<void> {
  const tw = weightOf(o.threshold);
  const hasHard = await db.columnExists('scored_pairs', 'hard_negative');
  const hasConflicts = await db.tableExists('cluster_conflicts');
  const hasStatus = await db.tableExists('decision_status');
  await db.run(`
CREATE OR REPLACE TEMP TABLE rv_person_risk AS
SELECT l.rec_id, l.dtsen_id, ${VULNERABLE} AS vulnerable
FROM dtsen_link l JOIN dtsen_person d USING (dtsen_id);

CREATE OR REPLACE TEMP TABLE rv_pair AS
WITH band AS (
  SELECT s.* ${hasHard ? '' : ', false AS hard_negative'} FROM scored_pairs s
  WHERE s.match_weight BETWEEN ${tw - o.band} AND ${tw + o.band})
SELECT row_number() OVER (ORDER BY (coalesce(a.vulnerable, false) OR coalesce(b.vulnerable, false)) DESC, abs(band.match_weight - ${tw}), band.rec_id_l, band.rec_id_r)::INTEGER AS pos,
  CASE WHEN coalesce(a.vulnerable, false) OR coalesce(b.vulnerable, false) THEN 1 ELSE 2 END AS priority,
  a.dtsen_id AS dtsen_id_l, b.dtsen_id AS dtsen_id_r, a.dtsen_id IS NOT DISTINCT FROM b.dtsen_id AS same_person,
  band.match_probability >= ${o.threshold} AND NOT coalesce(band.hard_negative, false) AS linked,
  band.*
FROM band LEFT JOIN rv_person_risk a ON a.rec_id = band.rec_id_l LEFT JOIN rv_person_risk b ON b.rec_id = band.rec_id_r;
CREATE INDEX rv_pair_pos ON rv_pair (pos);

-- groups of the clusters a conflict joins (the parts of a split cluster, or one flagged cluster)
CREATE OR REPLACE TEMP TABLE rv_cc_edge AS
${hasConflicts ? `SELECT DISTINCT cluster_id_l AS a, cluster_id_r AS b FROM cluster_conflicts WHERE cluster_id_l IS NOT NULL AND cluster_id_r IS NOT NULL` : `SELECT NULL::BIGINT AS a, NULL::BIGINT AS b WHERE false`};
CREATE OR REPLACE TEMP TABLE rv_cc AS SELECT DISTINCT c AS cluster_id, c AS grp FROM (SELECT a AS c FROM rv_cc_edge UNION SELECT b FROM rv_cc_edge);`);
  // label propagation: each cluster takes the smallest group id of its neighbours until nothing changes
  for (let round = 0; round < 50; round++) {
    const changed = await db.count(`
      WITH nb AS (SELECT e.a AS c, g.grp FROM rv_cc_edge e JOIN rv_cc g ON g.cluster_id = e.b
                  UNION ALL SELECT e.b, g.grp FROM rv_cc_edge e JOIN rv_cc g ON g.cluster_id = e.a),
      m AS (SELECT c, min(grp) AS grp FROM nb GROUP BY c)
      SELECT count(*) FROM rv_cc JOIN m ON m.c = rv_cc.cluster_id WHERE m.grp < rv_cc.grp`);
    if (changed === 0) break;
    await db.run(`
      CREATE OR REPLACE TEMP TABLE rv_cc AS
      WITH nb AS (SELECT e.a AS c, g.grp FROM rv_cc_edge e JOIN rv_cc g ON g.cluster_id = e.b
                  UNION ALL SELECT e.b, g.grp FROM rv_cc_edge e JOIN rv_cc g ON g.cluster_id = e.a)
      SELECT g.cluster_id, least(g.grp, coalesce(min(nb.grp), g.grp)) AS grp FROM rv_cc g LEFT JOIN nb ON nb.c = g.cluster_id GROUP BY g.cluster_id, g.grp`);
  }
  await db.run(`
CREATE OR REPLACE TEMP TABLE rv_cluster AS
WITH members AS (
  SELECT g.grp, c.rec_id, r.vulnerable FROM rv_cc g JOIN clusters c ON c.cluster_id = g.cluster_id LEFT JOIN rv_person_risk r ON r.rec_id = c.rec_id),
k AS (
  SELECT grp, count(*) AS n_records, bool_or(coalesce(vulnerable, false)) AS vulnerable FROM members GROUP BY grp),
o AS (${hasConflicts
    ? `SELECT g.grp, count(*) AS n_conflicts, bool_or(cf.outcome = 'flagged') AS flagged, list(DISTINCT cf.reason ORDER BY cf.reason) AS reasons
       FROM cluster_conflicts cf JOIN rv_cc g ON g.cluster_id = cf.cluster_id_l GROUP BY g.grp`
    : `SELECT NULL::BIGINT AS grp, 0 AS n_conflicts, false AS flagged, []::VARCHAR[] AS reasons WHERE false`})
SELECT row_number() OVER (ORDER BY k.vulnerable DESC, o.flagged DESC, k.n_records DESC, k.grp)::INTEGER AS pos,
  CASE WHEN k.vulnerable THEN 1 ELSE 2 END AS priority, k.grp, k.n_records, o.n_conflicts,
  CASE WHEN o.flagged THEN 'flagged' ELSE 'split' END AS outcome, o.reasons,
  (SELECT list(cluster_id ORDER BY cluster_id) FROM rv_cc x WHERE x.grp = k.grp) AS clusters
FROM k JOIN o USING (grp);
CREATE INDEX rv_cluster_pos ON rv_cluster (pos);

CREATE OR REPLACE TEMP TABLE rv_person AS
WITH c AS (SELECT dtsen_id, list(DISTINCT conflict_type ORDER BY conflict_type) AS types FROM dtsen_conflict GROUP BY dtsen_id)
SELECT row_number() OVER (ORDER BY ${VULNERABLE} DESC, len(c.types) DESC, c.dtsen_id)::INTEGER AS pos,
  CASE WHEN ${VULNERABLE} THEN 1 ELSE 2 END AS priority, c.dtsen_id, c.types, d.n_records
FROM c JOIN dtsen_person d USING (dtsen_id);
CREATE INDEX rv_person_pos ON rv_person (pos);

CREATE OR REPLACE TEMP TABLE rv_decision AS
${hasStatus
    ? `SELECT row_number() OVER (ORDER BY s.decision_no)::INTEGER AS pos, 2 AS priority, s.decision_no, s.kind, s.status, s.detail, s.reference,
         d.source_l, d.source_record_id_l, d.source_r, d.source_record_id_r, d.target, d.field
       FROM decision_status s JOIN decision d USING (decision_no) WHERE s.status IN ('orphaned', 'contradicted')`
    : `SELECT 1::INTEGER AS pos, 2 AS priority, 1 AS decision_no, '' AS kind, '' AS status, '' AS detail, '' AS reference,
         '' AS source_l, '' AS source_record_id_l, '' AS source_r, '' AS source_record_id_r, '' AS target, '' AS field WHERE false`};

CREATE OR REPLACE TEMP TABLE rv_rec AS
SELECT p.*, r.dtsen_id FROM person_clean p LEFT JOIN rv_person_risk r ON r.rec_id = p.rec_id SEMI JOIN (
  SELECT rec_id_l AS rec_id FROM rv_pair UNION SELECT rec_id_r FROM rv_pair
  UNION SELECT c.rec_id FROM clusters c JOIN rv_cc g ON g.cluster_id = c.cluster_id) k ON k.rec_id = p.rec_id;
CREATE INDEX rv_rec_id ON rv_rec (rec_id);
DROP TABLE rv_cc_edge;`);
}

export interface QueueCounts {
  queue: QueueName;
  items: number;
  /** items in priority 1: persons in deciles 1–4 or receiving a programme */
  priority: number;
}

const TABLE: Record<QueueName, string> = { pairs: 'rv_pair', clusters: 'rv_cluster', persons: 'rv_person', decisions: 'rv_decision' };

export function queueTable(q: QueueName): string {
  return TABLE[q];
}

export async function queueCounts(db: Db): Promise<QueueCounts[]> {
  const rows = await db.all<{ queue: QueueName; items: string; priority: string }>(
    QUEUES.map((q) => `SELECT ${lit(q)} AS queue, count(*) AS items, count(*) FILTER (WHERE priority = 1) AS priority FROM ${TABLE[q]}`).join(' UNION ALL '),
  );
  const by = new Map(rows.map((r) => [r.queue, r]));
  return QUEUES.map((q) => ({ queue: q, items: Number(by.get(q)?.items ?? 0), priority: Number(by.get(q)?.priority ?? 0) }));
}
