/**
 * Incremental golden records: a person whose records are exactly those of a person of the previous batch, none of
 * them changed in any value (record_state's row_hash) and whose golden record carried no field decision, keeps the
 * golden record the previous batch built, and its conflicts; only the others are built again (personSql, conflictSql).
 * dtsen_link and the families' components are built over every person as in a full batch (a family is a connected
 * component over all persons).
 *
 * The previous golden records are read from the previous batch's dtsen.duckdb (attached read-only), with the ids
 * survive derives (the register's ids and family ids are put back by the register stage as for any person). The
 * survivorship options of both batches must be equal (survive_options), else every person is built again.
 * A family all of whose members kept their golden record, and that is exactly one previous family, keeps its row
 * too (carriedFamilies); the others, every family with a person built again, are built again.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../engine/db.ts';
import { lit } from '../engine/db.ts';
import type { SurviveOptions } from '../stages/survive/person.sql.ts';
import { columnsOf, updatedInPlaceSql, updateInPlace, writtenWhole } from './staging.ts';

/** Writes survive_options: what the golden records were built with (compared by the next batch). */
export async function writeSurviveOptions(db: Db, o: SurviveOptions): Promise<void> {
  await db.run(`
    CREATE OR REPLACE TABLE survive_options AS SELECT ${lit(optionsText(o))} AS options;
    COMMENT ON TABLE survive_options IS ${lit('the survivorship options the golden records were built with: an incremental batch keeps the previous golden records only when its own are the same')};`);
}

const optionsText = (o: SurviveOptions) => JSON.stringify({ decileSource: o.decileSource, sourceDates: Object.fromEntries(Object.entries(o.sourceDates).sort()) });

/**
 * surv_carried(cluster_id, prev_cluster_id) (and a copy surv_kept, for the families): the persons (clusters) of this
 * batch whose previous golden record is kept, with the previous database attached as surv_prev (the caller detaches
 * it); returns how many. Undefined when no golden record can be kept (no previous batch folder, other options, no
 * incremental link).
 */
export async function carriedPersons(db: Db, previousDir: string | undefined, o: SurviveOptions): Promise<number | undefined> {
  if (!previousDir || !(await db.tableExists('incremental_record')) || !(await db.tableExists('inc_prev_cluster'))) return undefined;
  const dbPath = join(previousDir, 'dtsen.duckdb');
  if (!existsSync(dbPath)) return undefined;
  await db.run(`ATTACH ${lit(dbPath)} AS surv_prev (READ_ONLY)`);
  const has = async (t: string) => (await db.count(`SELECT count(*) FROM duckdb_tables() WHERE database_name = 'surv_prev' AND table_name = ${lit(t)}`)) > 0;
  if (!(await has('survive_options')) || !(await has('dtsen_conflict')) || (await db.one<{ options: string }>(`SELECT options FROM surv_prev.survive_options`))?.options !== optionsText(o)) {
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
  await db.run(`CREATE OR REPLACE TEMP TABLE surv_kept AS SELECT * FROM surv_carried`);
  return db.count(`SELECT count(*) FROM surv_carried`);
}

/** The golden records an incremental batch builds again, when it keeps the others in place (survive's `inPlace`). */
export const BUILT_TABLE = 'surv_built';

/**
 * Adds to dtsen_person the kept golden records of surv_carried, with this batch's survive id, family and cluster
 * (fam_person), and to dtsen_link their records (`ordered`: each table in its order, see addRows).
 *
 * `inPlace`: dtsen_person is the previous batch's, copied with its database (src/incremental/staging.ts), and the
 * golden records built again are in BUILT_TABLE. Then, in one transaction, the previous rows of the persons not kept
 * are deleted, the kept ones take this batch's ids and cluster (the columns the copy above replaces), and the built
 * ones are added — unless the built ones have other columns than the previous table (another version's golden
 * records): then the table is written whole as above. True when the kept golden records stayed in place.
 */
export async function insertCarried(db: Db, ordered = true, inPlace = false): Promise<boolean> {
  const builtColumns = inPlace ? await columnsOf(db, 'temp', BUILT_TABLE) : [];
  const previousColumns = inPlace ? (await columnsOf(db, 'main', 'dtsen_person')).filter((c) => c.column_name !== 'decision_refs') : [];
  const kept = inPlace && JSON.stringify(builtColumns) === JSON.stringify(previousColumns);
  if (kept) {
    await updateInPlace(db, `
      DELETE FROM main.dtsen_person WHERE cluster_id NOT IN (SELECT prev_cluster_id FROM surv_carried);
      -- decision_refs is not set: it is NULL on every person kept (carriedPersons), and DuckDB updates a list column by
      -- deleting and inserting the whole row
      UPDATE main.dtsen_person SET dtsen_id = x.dtsen_id, family_id = x.family_id, cluster_id = x.cluster_id
      FROM (SELECT c.prev_cluster_id, f.dtsen_id, f.family_id, c.cluster_id FROM surv_carried c JOIN fam_person f ON f.cluster_id = c.cluster_id) x
      WHERE main.dtsen_person.cluster_id = x.prev_cluster_id;
      INSERT INTO main.dtsen_person BY NAME SELECT * FROM ${BUILT_TABLE};
      ${updatedInPlaceSql('dtsen_person')}`);
  } else if (inPlace) {
    await writtenWhole(db, 'dtsen_person');
    await db.run(`CREATE OR REPLACE TABLE dtsen_person AS SELECT * FROM ${BUILT_TABLE}`);
  }
  await db.run(`
    ${inPlace ? `DROP TABLE ${BUILT_TABLE};` : ''}
    ${kept ? '' : addRows('dtsen_person', `
      SELECT p.* EXCLUDE (dtsen_id, family_id, cluster_id, decision_refs), f.dtsen_id, f.family_id, c.cluster_id
      FROM surv_carried c JOIN surv_prev.dtsen_person p ON p.cluster_id = c.prev_cluster_id JOIN fam_person f ON f.cluster_id = c.cluster_id`, 'dtsen_id', ordered)}
    ${addRows('dtsen_link', `
      SELECT dtsen_id, source, source_record_id, best_link_probability AS match_probability, rec_id FROM surv_member SEMI JOIN surv_carried USING (cluster_id)`,
      'dtsen_id, source, source_record_id', ordered)}
    DROP TABLE surv_carried;`);
  return kept;
}

/**
 * The statement adding the rows of `select` to `table`. `ordered`: one write of the table, its rows and the added
 * ones together, in `order`; else appended (a batch continuing a register: the register stage rewrites the table in
 * its order, so a sort here would be done twice).
 */
function addRows(table: string, select: string, order: string, ordered: boolean): string {
  return ordered
    ? `CREATE OR REPLACE TABLE ${table} AS SELECT * FROM (SELECT * FROM ${table} UNION ALL BY NAME ${select}) ORDER BY ${order};`
    : `INSERT INTO ${table} BY NAME ${select};`;
}

/**
 * Adds to dtsen_conflict (built for the persons built again) the previous conflicts of the persons that kept their
 * golden record (surv_kept), with this batch's survive id (fam_person), in the table's order. They are the ones a
 * build would give: a conflict is read from the person's records (the same records, none changed) and from its
 * golden record's surviving value (the same golden record, which no decision changed). `ordered`: see addRows.
 */
export async function insertCarriedConflicts(db: Db, ordered = true): Promise<void> {
  await db.run(addRows('dtsen_conflict', `
      SELECT pc.* REPLACE (f.dtsen_id AS dtsen_id)
      FROM surv_kept c JOIN surv_prev.dtsen_person pp ON pp.cluster_id = c.prev_cluster_id
      JOIN surv_prev.dtsen_conflict pc ON pc.dtsen_id = pp.dtsen_id JOIN fam_person f ON f.cluster_id = c.cluster_id`, 'dtsen_id, conflict_type', ordered));
}

/**
 * surv_fam_carried(family_id) and surv_fam_rows: the families whose members all kept their golden record (surv_carried,
 * before insertCarried drops it) and were all the members of one previous family; their previous rows, with this
 * batch's survive ids (fam_person). Returns how many.
 */
export async function carriedFamilies(db: Db): Promise<number> {
  await db.run(`
    CREATE OR REPLACE TEMP TABLE surv_fam_carried AS
    WITH m AS (
      SELECT f.family_id, f.dtsen_id, c.cluster_id IS NOT NULL AS kept, pp.family_id AS prev_family_id
      FROM fam_person f LEFT JOIN surv_kept c USING (cluster_id) LEFT JOIN surv_prev.dtsen_person pp ON pp.cluster_id = c.prev_cluster_id),
    fam AS (
      SELECT family_id, count(*) AS members, bool_and(kept) AS kept, min(prev_family_id) AS prev_family_id, count(DISTINCT prev_family_id) AS prev_families
      FROM m GROUP BY family_id)
    SELECT fam.family_id, fam.prev_family_id FROM fam JOIN surv_prev.dtsen_family pf ON pf.family_id = fam.prev_family_id
    WHERE fam.kept AND fam.prev_families = 1 AND pf.n_members = fam.members;
    CREATE OR REPLACE TEMP TABLE surv_fam_rows AS
    WITH ids AS (
      SELECT pp.dtsen_id AS prev_id, f.dtsen_id, f.family_id FROM surv_kept c JOIN surv_prev.dtsen_person pp ON pp.cluster_id = c.prev_cluster_id JOIN fam_person f ON f.cluster_id = c.cluster_id
      WHERE f.family_id IN (SELECT family_id FROM surv_fam_carried)),
    mem AS (SELECT family_id, list_sort(list(dtsen_id)) AS members FROM ids GROUP BY family_id)
    SELECT pf.* REPLACE (c.family_id AS family_id, h.dtsen_id AS head_dtsen_id, mem.members AS members)
    FROM surv_fam_carried c JOIN surv_prev.dtsen_family pf ON pf.family_id = c.prev_family_id
    JOIN ids h ON h.prev_id = pf.head_dtsen_id JOIN mem ON mem.family_id = c.family_id;`);
  const n = await db.count(`SELECT count(*) FROM surv_fam_rows`);
  const c = await db.count(`SELECT count(*) FROM surv_fam_carried`);
  if (n !== c) throw new Error(`incremental families: ${c} families kept but ${n} previous rows found`);
  return n;
}

/** Adds the kept families' rows (carriedFamilies) to dtsen_family (`ordered`: in its order, see addRows). */
export async function insertCarriedFamilies(db: Db, ordered = true): Promise<void> {
  await db.run(`
    ${addRows('dtsen_family', 'SELECT * FROM surv_fam_rows', 'family_id', ordered)}
    DROP TABLE surv_fam_rows; DROP TABLE surv_fam_carried; DROP TABLE surv_kept;`);
}
