/**
 * Incremental clustering: which connected components of this batch's links must be clustered again (conflicts
 * found, split), and the clusters of the others, taken from the previous batch.
 *
 * A record is touched when it is new or changed, had a link to a record now gone or changed (inc_prev_cut), is an
 * end of a pair whose linkability changed (a weight crossing the threshold, a pair no rule finds any more, a new
 * pair of unchanged records) or of a pair decision added or withdrawn since the previous batch. A component is
 * clustered again when it holds a touched record, or when one of its link weights changed and the previous batch
 * had a conflict in it (splitting reads the weights). Every other component holds the same records, links and
 * conflicts as in the previous batch: its clusters are the previous ones, named as a full batch names them (the
 * smallest rec_id), with their rows of cluster_conflicts. Only the components a touched record (or one on a
 * reweighed link in a component that had a conflict) reaches along the links are labelled again; every other one is
 * the previous batch's component (clusters.component_id: the same records, and a record keeps its rec_id, so the
 * same smallest rec_id names it).
 */
import type { Db } from '../engine/db.ts';
import { lit } from '../engine/db.ts';
import { materialise, type TempTable } from '../engine/sql-pipeline.ts';
import { MAX_ROUNDS, temporaryComponents } from '../engine/connected-components.ts';
import { linkableSql } from '../linkage/threshold.ts';
import { NOT_DIFFERENT_SQL } from '../register/cluster.sql.ts';

export interface IncrementalClusterFigures {
  /** connected components of two or more records (linked records) */
  components: number;
  /** of which clustered again */
  components_reclustered: number;
  /** records in the components clustered again */
  records_reclustered: number;
  /** records touched (new, changed, next to a gone or changed record, on a changed link or decision) */
  records_touched: number;
  /** records a touched one (or one on a reweighed link in a component with a conflict) reaches along the links: the only ones labelled with their component */
  records_reached: number;
}

/**
 * Whether this batch can cluster incrementally: the link stage copied the previous state, with the previous batch's
 * connected components (clusters.component_id, kept since records keep their rec_id).
 */
export async function canClusterIncrementally(db: Db): Promise<boolean> {
  if (!((await db.tableExists('inc_prev_cluster')) && (await db.tableExists('inc_prev_pairs')) && (await db.tableExists('incremental_record')))) return false;
  return (await db.count(`SELECT count(*) FROM inc_prev_cluster WHERE prev_component_id IS NULL`)) === 0;
}

/**
 * The components of the links (`edges`, both directions, at `threshold`) to cluster again, without labelling every
 * component: the records a change touched (and those on a reweighed link in a previous component with a conflicted
 * cluster) are followed along the links to every record they reach (`reach`); only the links among those are
 * labelled (`linked`: rec_id, cluster_id, the smallest rec_id of the component, as connected components name
 * them). A component no such record reaches holds the same records and links as in the previous batch (a record
 * keeps its rec_id): it is the previous component, with its previous clusters. Returns `region`, the rows of
 * `linked` of the components to cluster again, and `untouched` (rec_id, cluster_id, orig: the component), the
 * previous clusters of every other linked record. All live as long as the caller's handles.
 */
export async function incrementalScope(
  db: Db,
  o: { edges: TempTable; threshold: number; hasHard: boolean; decided: boolean },
): Promise<{ rounds: number; linked: TempTable; region: TempTable; untouched: TempTable; figures: IncrementalClusterFigures }> {
  const linkable = `${linkableSql(o.threshold, o.hasHard)}${o.decided ? ` AND ${NOT_DIFFERENT_SQL}` : ''}`;
  const hasDecisionPair = await db.tableExists('decision_pair');
  await using touched = await materialise(db, 'inc_touched', `
    WITH pair_state AS (
      SELECT coalesce(s.rec_id_l, pp.rec_id_l) AS rec_id_l, coalesce(s.rec_id_r, pp.rec_id_r) AS rec_id_r,
        coalesce(s.linkable, false) AS now, coalesce(pp.prev_linkable, false) AS was, s.match_weight, pp.prev_weight
      FROM (SELECT rec_id_l, rec_id_r, match_weight, (${linkable}) AS linkable FROM scored_pairs) s
      FULL JOIN inc_prev_pairs pp USING (rec_id_l, rec_id_r)),
    changed_link AS (SELECT rec_id_l, rec_id_r FROM pair_state WHERE now <> was),
    reweighed AS (SELECT rec_id_l, rec_id_r FROM pair_state WHERE now AND was AND match_weight IS DISTINCT FROM prev_weight),
    decisions_now AS (${hasDecisionPair ? `SELECT DISTINCT kind, least(rec_id_l, rec_id_r) AS rec_id_l, greatest(rec_id_l, rec_id_r) AS rec_id_r FROM decision_pair` : `SELECT NULL::VARCHAR AS kind, NULL::BIGINT AS rec_id_l, NULL::BIGINT AS rec_id_r WHERE false`}),
    changed_decision AS (
      (SELECT * FROM decisions_now EXCEPT SELECT * FROM inc_prev_decision) UNION ALL (SELECT * FROM inc_prev_decision EXCEPT SELECT * FROM decisions_now)),
    t AS (
      SELECT rec_id, true AS touched FROM incremental_record WHERE status IN ('new', 'changed')
      UNION ALL SELECT rec_id, true FROM inc_prev_cut
      UNION ALL SELECT rec_id_l, true FROM changed_link UNION ALL SELECT rec_id_r, true FROM changed_link
      UNION ALL SELECT rec_id_l, true FROM changed_decision UNION ALL SELECT rec_id_r, true FROM changed_decision
      UNION ALL SELECT rec_id_l, false FROM reweighed UNION ALL SELECT rec_id_r, false FROM reweighed)
    SELECT rec_id, bool_or(touched) AS touched FROM t GROUP BY rec_id`);
  // where to start: the touched records, and those on a reweighed link whose previous component held a conflicted
  // cluster (splitting reads the weights); a component holding only reweighed links and no conflict is the previous one
  await using seeds = await materialise(db, 'inc_seeds', `
    WITH reweighed AS (SELECT t.rec_id, c.prev_component_id FROM ${touched} t JOIN inc_prev_cluster c USING (rec_id) WHERE NOT t.touched),
    conflicted AS (
      SELECT DISTINCT c.prev_component_id FROM inc_prev_cluster c SEMI JOIN reweighed r USING (prev_component_id) WHERE c.conflicted)
    SELECT rec_id FROM ${touched} WHERE touched
    UNION ALL SELECT rec_id FROM reweighed SEMI JOIN conflicted USING (prev_component_id)`);
  // every record a seed reaches along the links: a frontier followed until it finds none new
  await using reach = await materialise(db, 'inc_reach', `SELECT rec_id FROM ${seeds}`);
  await using frontier = await materialise(db, 'inc_frontier', `SELECT rec_id FROM ${seeds}`);
  for (let step = 0; ; step++) {
    if (step >= MAX_ROUNDS) throw new Error(`incremental clustering: the records a change reaches were not all found in ${MAX_ROUNDS} steps`);
    await db.run(`
      CREATE OR REPLACE TEMP TABLE inc_frontier_next AS
        SELECT DISTINCT e.b AS rec_id FROM ${o.edges} e SEMI JOIN ${frontier} f ON f.rec_id = e.a ANTI JOIN ${reach} r ON r.rec_id = e.b;
      DROP TABLE ${frontier}; ALTER TABLE inc_frontier_next RENAME TO ${frontier};`);
    if ((await db.count(`SELECT count(*) FROM ${frontier}`)) === 0) break;
    await db.run(`INSERT INTO ${reach} SELECT rec_id FROM ${frontier}`);
  }
  // the links among the records reached (a link of one of them has both its records there) and their components
  await using reachedEdges = await materialise(db, 'inc_reached_edges', `SELECT e.* FROM ${o.edges} e SEMI JOIN ${reach} r ON r.rec_id = e.a`);
  const { rounds, components: linked } = await temporaryComponents(db, String(reachedEdges), 'cluster_linked');
  try {
    await using components = await materialise(db, 'inc_components', `
      SELECT l.cluster_id, bool_or(coalesce(t.touched, false)) AS touched, bool_or(t.rec_id IS NOT NULL AND NOT t.touched) AS reweighed,
        bool_or(coalesce(c.conflicted, false)) AS conflicted_before, count(*) AS records
      FROM ${linked} l LEFT JOIN ${touched} t USING (rec_id) LEFT JOIN inc_prev_cluster c USING (rec_id)
      GROUP BY l.cluster_id`);
    const again = `(SELECT cluster_id FROM ${components} WHERE touched OR (reweighed AND conflicted_before))`;
    // every linked record (an end of a link) but those of the components clustered again
    await using other = await materialise(db, 'inc_other_linked', `
      SELECT DISTINCT e.a AS rec_id FROM ${o.edges} e ANTI JOIN (SELECT rec_id FROM ${linked} WHERE cluster_id IN ${again}) g ON g.rec_id = e.a`);
    const region = await materialise(db, 'inc_region', `SELECT l.* FROM ${linked} l WHERE l.cluster_id IN ${again}`);
    try {
      // their previous clusters, named as a full batch names them (the smallest rec_id), in their component (the
      // previous one: the same records and links)
      const untouched = await materialise(db, 'inc_untouched', `
        SELECT c.rec_id, min(c.rec_id) OVER (PARTITION BY c.prev_cluster_id) AS cluster_id, c.prev_component_id AS orig
        FROM inc_prev_cluster c SEMI JOIN ${other} o USING (rec_id)`);
      const f = await db.one<Record<string, bigint | number>>(`
        SELECT g.again + (SELECT count(DISTINCT orig) FROM ${untouched}) AS components, g.again, g.records,
          (SELECT count(*) FILTER (WHERE touched) FROM ${touched}) AS touched, (SELECT count(*) FROM ${reach}) AS reached
        FROM (SELECT count(*) AS again, coalesce(sum(records), 0) AS records FROM ${components} WHERE cluster_id IN ${again}) g`);
      const unmapped = await db.count(`SELECT count(*) FROM ${other} o ANTI JOIN ${untouched} u USING (rec_id)`);
      if (unmapped > 0) throw new Error(`incremental clustering: ${unmapped} linked records are neither clustered again nor found in the previous clusters`);
      return {
        rounds,
        linked,
        region,
        untouched,
        figures: { components: Number(f?.components ?? 0), components_reclustered: Number(f?.again ?? 0), records_reclustered: Number(f?.records ?? 0), records_touched: Number(f?.touched ?? 0), records_reached: Number(f?.reached ?? 0) },
      };
    } catch (e) {
      await region[Symbol.asyncDispose]();
      throw e;
    }
  } catch (e) {
    await linked[Symbol.asyncDispose]();
    throw e;
  }
}

/** Adds to cluster_conflicts the previous batch's rows of the clusters taken over (`untouched`), on this batch's ids. */
export async function carryConflicts(db: Db, untouched: TempTable): Promise<void> {
  await db.run(`
    CREATE OR REPLACE TEMP TABLE inc_cluster_map AS SELECT DISTINCT c.prev_cluster_id, u.cluster_id FROM ${untouched} u JOIN inc_prev_cluster c USING (rec_id);
    CREATE OR REPLACE TABLE cluster_conflicts AS
    SELECT * FROM (
      SELECT * FROM cluster_conflicts
      UNION ALL
      SELECT p.rec_id_l, p.rec_id_r, p.reason, p.outcome, ml.cluster_id AS cluster_id_l, mr.cluster_id AS cluster_id_r
      FROM inc_prev_conflicts p JOIN inc_cluster_map ml ON ml.prev_cluster_id = p.prev_cluster_id_l JOIN inc_cluster_map mr ON mr.prev_cluster_id = p.prev_cluster_id_r)
    ORDER BY cluster_id_l, rec_id_l NULLS FIRST, rec_id_r;
    COMMENT ON TABLE cluster_conflicts IS ${lit('records of one cluster that are plainly distinct persons: split apart, or flagged when their links could not separate them; clusters too large to be checked')};
    DROP TABLE inc_cluster_map;`);
}
