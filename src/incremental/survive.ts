/**
 * Incremental golden records: a person whose records are exactly those of a person of the previous batch, none of
 * them changed in any value (record_state's row_hash) and whose golden record carried no field decision, keeps the
 * golden record the previous batch built, and its conflicts; only the others are built again (personSql, conflictSql).
 * dtsen_link is built over every person as in a full batch.
 *
 * The previous golden records are read from the previous batch's dtsen.duckdb (attached read-only), with the ids
 * survive derives (the register's ids and family ids are put back by the register stage as for any person). The
 * survivorship options of both batches must be equal (survive_options), else every person is built again.
 * Families are found again only where a change can reach them (familyScope: the components of the persons built
 * again and of the keys gone or changed records held); every other family is exactly a previous one and keeps its
 * row (carriedFamilies).
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

/** The persons whose families an incremental batch finds again (familyScope): every other keeps its previous family. */
export const FAMILY_SCOPE_TABLE = 'fam_scope';
/** The persons (cluster_id) that keep their previous family, with its id (family) and their previous id (prev_id). */
export const FAMILY_OUTSIDE_TABLE = 'fam_outside';

/**
 * The persons whose family may differ from the previous batch's (FAMILY_SCOPE_TABLE), and the others with their
 * previous family (FAMILY_OUTSIDE_TABLE), after carriedPersons and fam_key (survive's family keys per person).
 *
 * A family is a connected component of persons joined by shared keys (a valid KK, a source family id). It can differ
 * only where a person was built again (a record of it new, changed in any value, or gone; its records regrouped; a
 * decision) or where a key a gone or changed record held then now joins other persons or no longer does. So a
 * frontier starts from the persons built again and from the holders of the keys the previous batch's records gone
 * or changed held, and follows the keys to every holder until it reaches no one new: the scope is then a union of
 * whole components, found again by survive. A person outside it kept its golden record, holds the keys it held, and
 * every member of its previous family is outside too (a member built again, or a key that left the family, would
 * have reached it): its family is the previous one, member for member.
 *
 * Needs surv_carried and surv_prev (carriedPersons), fam_key, incremental_record and inc_prev_gone. Returns the
 * persons in scope and the frontier's steps.
 */
export async function familyScope(db: Db): Promise<{ persons: number; steps: number }> {
  await db.run(`
    CREATE OR REPLACE TEMP TABLE ${FAMILY_SCOPE_TABLE} AS SELECT DISTINCT cluster_id FROM surv_member ANTI JOIN surv_carried USING (cluster_id);
    -- the keys the previous rows of the records gone or changed (in any value) held
    CREATE OR REPLACE TEMP TABLE fam_scope_keys AS
    WITH was AS (
      SELECT p.no_kk, p.family_id FROM surv_prev.person_clean p
      WHERE p.rec_id IN (SELECT prev_rec_id FROM inc_prev_gone UNION ALL SELECT rec_id FROM incremental_record WHERE status = 'changed' OR fields_changed))
    SELECT DISTINCT key FROM (
      SELECT key FROM fam_key SEMI JOIN ${FAMILY_SCOPE_TABLE} USING (cluster_id)
      UNION ALL SELECT 'kk:' || no_kk FROM was WHERE no_kk IS NOT NULL
      UNION ALL SELECT family_id FROM was WHERE family_id IS NOT NULL AND family_id NOT LIKE '%-kk:%');`);
  let steps = 0;
  for (;;) {
    steps++;
    await db.run(`
      CREATE OR REPLACE TEMP TABLE fam_scope_new AS
      SELECT DISTINCT cluster_id FROM fam_key SEMI JOIN fam_scope_keys USING (key) ANTI JOIN ${FAMILY_SCOPE_TABLE} USING (cluster_id)`);
    if ((await db.count(`SELECT count(*) FROM fam_scope_new`)) === 0) break;
    await db.run(`
      INSERT INTO ${FAMILY_SCOPE_TABLE} SELECT cluster_id FROM fam_scope_new;
      INSERT INTO fam_scope_keys SELECT DISTINCT key FROM fam_key SEMI JOIN fam_scope_new USING (cluster_id) ANTI JOIN fam_scope_keys USING (key);`);
  }
  await db.run(`
    DROP TABLE fam_scope_new; DROP TABLE fam_scope_keys;
    CREATE OR REPLACE TEMP TABLE ${FAMILY_OUTSIDE_TABLE} AS
    SELECT c.cluster_id, pp.family_id AS family, pp.dtsen_id AS prev_id
    FROM surv_carried c ANTI JOIN ${FAMILY_SCOPE_TABLE} USING (cluster_id) JOIN surv_prev.dtsen_person pp ON pp.cluster_id = c.prev_cluster_id;`);
  return { persons: await db.count(`SELECT count(*) FROM ${FAMILY_SCOPE_TABLE}`), steps };
}

/**
 * surv_fam_rows: the previous rows of the families outside the scope (FAMILY_OUTSIDE_TABLE), with this batch's survive
 * ids (fam_person) for the family, its head and its members. Returns how many; an error when a family outside the
 * scope is not exactly one previous family (familyScope's reasoning would be wrong).
 */
export async function carriedFamilies(db: Db): Promise<number> {
  await db.run(`
    CREATE OR REPLACE TEMP TABLE surv_fam_rows AS
    WITH ids AS (SELECT o.prev_id, o.family AS prev_family_id, f.dtsen_id, f.family_id FROM ${FAMILY_OUTSIDE_TABLE} o JOIN fam_person f USING (cluster_id)),
    mem AS (
      SELECT family_id, min(prev_family_id) AS prev_family_id, count(DISTINCT prev_family_id) AS prev_families, count(*) AS n, list_sort(list(dtsen_id)) AS members
      FROM ids GROUP BY family_id)
    SELECT pf.* REPLACE (mem.family_id AS family_id, h.dtsen_id AS head_dtsen_id, mem.members AS members)
    FROM mem JOIN surv_prev.dtsen_family pf ON pf.family_id = mem.prev_family_id AND pf.n_members = mem.n AND mem.prev_families = 1
    JOIN ids h ON h.prev_id = pf.head_dtsen_id;`);
  const n = await db.count(`SELECT count(*) FROM surv_fam_rows`);
  const c = await db.count(`SELECT count(DISTINCT f.family_id) FROM ${FAMILY_OUTSIDE_TABLE} o JOIN fam_person f USING (cluster_id)`);
  if (n !== c) throw new Error(`incremental families: ${c} families kept but ${n} of them are exactly one previous family`);
  return n;
}

/** Adds the kept families' rows (carriedFamilies) to dtsen_family (`ordered`: in its order, see addRows). */
export async function insertCarriedFamilies(db: Db, ordered = true): Promise<void> {
  await db.run(`
    ${addRows('dtsen_family', 'SELECT * FROM surv_fam_rows', 'family_id', ordered)}
    DROP TABLE surv_fam_rows; DROP TABLE surv_kept; DROP TABLE ${FAMILY_OUTSIDE_TABLE}; DROP TABLE ${FAMILY_SCOPE_TABLE};`);
}
