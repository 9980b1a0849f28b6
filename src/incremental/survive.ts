/**
 * Incremental golden records: a person whose records are exactly those of a person of the previous batch, none of
 * them changed in any value (record_state's row_hash) and whose golden record carried no field decision, keeps the
 * golden record the previous batch built; only the others are built again (personSql). Families, conflicts and
 * dtsen_link are built over every person as in a full batch (a family is a connected component over all persons).
 *
 * The previous golden records are read from the previous batch's dtsen.duckdb (attached read-only), with the ids
 * survive derives (the register's ids and family ids are put back by the register stage as for any person). The
 * survivorship options of both batches must be equal (survive_options), else every person is built again.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../engine/db.ts';
import { lit } from '../engine/db.ts';
import type { SurviveOptions } from '../stages/survive/person.sql.ts';

/** Writes survive_options: what the golden records were built with (compared by the next batch). */
export async function writeSurviveOptions(db: Db, o: SurviveOptions): Promise<void> {
  await db.run(`
    CREATE OR REPLACE TABLE survive_options AS SELECT ${lit(optionsText(o))} AS options;
    COMMENT ON TABLE survive_options IS ${lit('the survivorship options the golden records were built with: an incremental batch keeps the previous golden records only when its own are the same')};`);
}

const optionsText = (o: SurviveOptions) => JSON.stringify({ decileSource: o.decileSource, sourceDates: Object.fromEntries(Object.entries(o.sourceDates).sort()) });

/**
 * surv_carried(cluster_id, prev_cluster_id): the persons (clusters) of this batch whose previous golden record is
 * kept, and `attached`: the previous database attached as surv_prev (the caller detaches it). Undefined when no
 * golden record can be kept (no previous batch folder, other options, no incremental link).
 */
export async function carriedPersons(db: Db, previousDir: string | undefined, o: SurviveOptions): Promise<number | undefined> {
  if (!previousDir || !(await db.tableExists('incremental_record')) || !(await db.tableExists('inc_prev_cluster'))) return undefined;
  const dbPath = join(previousDir, 'dtsen.duckdb');
  if (!existsSync(dbPath)) return undefined;
  await db.run(`ATTACH ${lit(dbPath)} AS surv_prev (READ_ONLY)`);
  const has = async (t: string) => (await db.count(`SELECT count(*) FROM duckdb_tables() WHERE database_name = 'surv_prev' AND table_name = ${lit(t)}`)) > 0;
  if (!(await has('survive_options')) || (await db.one<{ options: string }>(`SELECT options FROM surv_prev.survive_options`))?.options !== optionsText(o)) {
    await db.run(`DETACH surv_prev`);
    return undefined;
  }
  await db.run(`
    CREATE OR REPLACE TEMP TABLE surv_carried AS
    WITH per AS (
      SELECT c.cluster_id, count(*) AS records, min(pc.prev_cluster_id) AS prev_cluster_id, count(DISTINCT pc.prev_cluster_id) AS prev_clusters,
        bool_and(r.status = 'unchanged' AND NOT r.fields_changed) AS unchanged
      FROM clusters c JOIN incremental_record r USING (rec_id) LEFT JOIN inc_prev_cluster pc USING (rec_id)
      GROUP BY c.cluster_id)
    SELECT per.cluster_id, per.prev_cluster_id FROM per JOIN surv_prev.dtsen_person p ON p.cluster_id = per.prev_cluster_id
    WHERE per.unchanged AND per.prev_clusters = 1 AND p.n_records = per.records AND p.decision_refs IS NULL;`);
  return db.count(`SELECT count(*) FROM surv_carried`);
}

/**
 * Adds to dtsen_person the kept golden records of surv_carried, with this batch's survive id, family and cluster
 * (fam_person), and to dtsen_link their records, each table in its order.
 */
export async function insertCarried(db: Db): Promise<void> {
  // one write of each table: the persons built and the kept ones together, in the table's order
  await db.run(`
    CREATE OR REPLACE TABLE dtsen_person AS
    SELECT * FROM (
      SELECT * FROM dtsen_person
      UNION ALL BY NAME
      SELECT p.* EXCLUDE (dtsen_id, family_id, cluster_id, decision_refs), f.dtsen_id, f.family_id, c.cluster_id
      FROM surv_carried c JOIN surv_prev.dtsen_person p ON p.cluster_id = c.prev_cluster_id JOIN fam_person f ON f.cluster_id = c.cluster_id)
    ORDER BY dtsen_id;
    CREATE OR REPLACE TABLE dtsen_link AS
    SELECT * FROM (
      SELECT * FROM dtsen_link
      UNION ALL
      SELECT dtsen_id, source, source_record_id, best_link_probability AS match_probability, rec_id FROM surv_member SEMI JOIN surv_carried USING (cluster_id))
    ORDER BY dtsen_id, source, source_record_id;
    DROP TABLE surv_carried;
    DETACH surv_prev;`);
}
