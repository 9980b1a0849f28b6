/**
 * Named SQL steps and the lifetime of the temporary tables a stage makes.
 *
 * - A **step** is a named SELECT that may read the steps before it by name. `composeSql` makes one statement of a
 *   list of steps (each a CTE), so DuckDB plans and streams them together; nothing is written between them.
 * - `materialise` is the explicit exception: it creates a TEMP table (from a query or from steps) and returns a
 *   `TempTable` handle. The handle drops its table when the scope that holds it ends — `await using t = await
 *   materialise(…)`, also when the scope throws — so a table lives exactly as long as the code that made it, in
 *   the file that made it. `drop()` drops it earlier.
 * - **Debug mode** (`DTSEN_DEBUG_SQL=1` in the environment, or `Db.open({ debugSql: true })`): the statements run
 *   as in normal mode, and in addition every step of a composed query is kept as a table of its own, and a
 *   materialised table is kept instead of dropped, in the schema `debug_sql` of the batch database
 *   (`<table>` and `<table>.<step>`; `dtsen sql 'FROM debug_sql."conflict_member"'` reads them after the run). A
 *   read-only database keeps them as TEMP tables of the connection. Re-made tables replace the earlier copy.
 */
import { DEBUG_SCHEMA, ident, type Db, type Params } from './db.ts';

export { DEBUG_SCHEMA };

/** One named SELECT of a composed statement; it reads the steps before it by their names. */
export interface SqlStep {
  readonly name: string;
  readonly sql: string;
}

export const step = (name: string, sql: string): SqlStep => ({ name, sql });

/**
 * One statement of `steps`, each a CTE, ending with `select` (by default every row of the last step). A step name
 * given twice is a bug of the caller.
 */
export function composeSql(steps: readonly SqlStep[], select?: string): string {
  if (steps.length === 0) {
    if (select === undefined) throw new Error('composeSql: no steps and no final SELECT');
    return select;
  }
  const names = new Set<string>();
  for (const s of steps) {
    if (names.has(s.name)) throw new Error(`composeSql: the step ${s.name} is given twice`);
    names.add(s.name);
  }
  return `WITH ${steps.map((s) => `${ident(s.name)} AS (${s.sql})`).join(',\n')}\n${select ?? `SELECT * FROM ${ident(steps.at(-1)!.name)}`}`;
}

/** A query: plain SQL, or steps (ending with their last step, or with `select`). */
export type Query = string | { steps: readonly SqlStep[]; select?: string };

const querySql = (q: Query): string => (typeof q === 'string' ? q : composeSql(q.steps, q.select));

/**
 * A TEMP table made by `materialise` (or created by other means and handed to `new TempTable`): dropped when the `await using` scope holding it ends (normally or by an
 * error), or by `drop()`. Its string form is its quoted name, so it reads as a table in SQL templates.
 */
export class TempTable implements AsyncDisposable {
  private dropped = false;

  constructor(
    private readonly db: Db,
    readonly name: string,
  ) {}

  toString(): string {
    return ident(this.name);
  }

  /** Drops the table now (in debug mode: keeps a copy in debug_sql first). Dropping twice does nothing. */
  async drop(): Promise<void> {
    if (this.dropped) return;
    this.dropped = true;
    if (this.db.debugSql) {
      // a read-only database keeps the TEMP table itself until the connection ends
      if (this.db.readOnly) return;
      await keepCopy(this.db, this.name, `FROM temp.${ident(this.name)}`);
    }
    await this.db.run(`DROP TABLE IF EXISTS temp.${ident(this.name)}`);
  }

  /**
   * The end of the scope: drops the table. A drop that fails there (the connection was stopped or closed because
   * the scope itself failed) is left to the connection's end, which takes its TEMP tables with it: it must never
   * replace the error that ended the scope.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.drop();
    } catch {
      // see above
    }
  }
}

/**
 * Several TEMP tables whose number is known only as they are made (one per file, say): each is dropped, the last
 * made first, when the `await using` scope holding the collection ends.
 */
export class TempTables implements AsyncDisposable {
  private readonly tables: TempTable[] = [];

  add<T extends TempTable>(table: T): T {
    this.tables.push(table);
    return table;
  }

  /** Drops them all now, the last made first. */
  async drop(): Promise<void> {
    for (const table of this.tables.splice(0).reverse()) await table.drop();
  }

  /** The end of the scope: as TempTable's, a failed drop never replaces the error that ended the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    for (const table of this.tables.splice(0).reverse()) await table[Symbol.asyncDispose]();
  }
}

/**
 * Creates (or replaces) the TEMP table `name` from `query` and returns its handle. `params` are bound by the
 * driver. In debug mode the query's steps are kept as tables too (`name.step`).
 */
export async function materialise(db: Db, name: string, query: Query, params?: Params): Promise<TempTable> {
  await db.run(`CREATE OR REPLACE TEMP TABLE ${ident(name)} AS ${querySql(query)}`, params);
  if (db.debugSql && typeof query !== 'string') await keepSteps(db, name, query.steps, params);
  return new TempTable(db, name);
}

/** Rows of a composed query (see Db.all). In debug mode its steps are kept as tables, named after `label`. */
export async function queryRows<T = Record<string, unknown>>(db: Db, label: string, query: Query, params?: Params): Promise<T[]> {
  const rows = await db.all<T>(querySql(query), params);
  if (db.debugSql && typeof query !== 'string') await keepSteps(db, label, query.steps, params);
  return rows;
}

/** Debug mode: each step of `steps` as the table `<label>.<step>` (the steps before it recomputed). */
async function keepSteps(db: Db, label: string, steps: readonly SqlStep[], params?: Params): Promise<void> {
  for (let i = 0; i < steps.length; i++) {
    const sql = composeSql(steps.slice(0, i + 1));
    // the parameters up to the highest one these steps use (a prefix of the steps may use fewer)
    const used = Math.max(0, ...[...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
    await keepCopy(db, `${label}.${steps[i].name}`, sql, params?.slice(0, used));
  }
}

async function keepCopy(db: Db, name: string, sql: string, params?: Params): Promise<void> {
  if (db.readOnly) {
    await db.run(`CREATE OR REPLACE TEMP TABLE ${ident(`${DEBUG_SCHEMA}.${name}`)} AS ${sql}`, params);
    return;
  }
  await db.run(`CREATE OR REPLACE TABLE ${DEBUG_SCHEMA}.${ident(name)} AS ${sql}`, params);
}
