/**
 * The tables linking rewrites several times (scored_pairs: scored, the family context merged in, the family support
 * weighed; candidate_pairs: blocked, the family context's pairs added) are temporary while it works on them and
 * written to the database file once: each write of a table of the database file compresses every row, a temporary
 * table's does not. A batch that crashes while linking leaves neither table in the file (the stage runs again whole).
 */
import type { Db } from '../engine/db.ts';
import { lit } from '../engine/db.ts';

/** The working tables, with the comment the batch's table carries. */
const WORKING_TABLES = {
  scored_pairs: 'candidate pairs with their match weight (bits) and match probability',
  candidate_pairs: 'pairs of records blocking proposed, with the first rule and the bit mask of every rule that found them',
} as const;
export type WorkingTable = keyof typeof WORKING_TABLES;

async function isTemporary(db: Db, table: WorkingTable): Promise<boolean> {
  return Boolean((await db.one<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM duckdb_tables() WHERE temporary AND table_name = ${lit(table)}`))?.n);
}

/** SQL starting the working `table` from `select`: the batch's table of that name (an earlier run's) is dropped. */
export function startWorkingTableSql(table: WorkingTable, select: string): string {
  return `DROP TABLE IF EXISTS main.${table}; CREATE OR REPLACE TEMP TABLE ${table} AS ${select};`;
}

/** Rewrites `table` from `select` (which may read it): the working table while there is one, else the batch's. */
export async function rewriteWorkingTable(db: Db, table: WorkingTable, select: string): Promise<void> {
  if (await isTemporary(db, table)) await db.run(`CREATE OR REPLACE TEMP TABLE ${table} AS ${select}`);
  else await db.run(`CREATE OR REPLACE TABLE ${table} AS ${select}; COMMENT ON TABLE ${table} IS ${lit(WORKING_TABLES[table])};`);
}

/**
 * Writes the batch's `table` (in the database file) from `select` over the working one and drops the working one.
 * Called by the last step that rewrites it (the family support, for scored_pairs), else at the end of linking as it
 * is. False, and nothing done, when there is no working table.
 */
export async function persistWorkingTable(db: Db, table: WorkingTable, select = `SELECT * FROM temp.${table}`): Promise<boolean> {
  if (!(await isTemporary(db, table))) return false;
  await db.run(`
    CREATE OR REPLACE TABLE main.${table} AS ${select};
    DROP TABLE temp.${table};
    COMMENT ON TABLE main.${table} IS ${lit(WORKING_TABLES[table])};`);
  return true;
}
