/** The one thin object that talks to DuckDB. Stages compose SQL; this runs it. */
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';

export interface DbOptions {
  /** database file, or ':memory:' */
  path?: string;
  threads?: number;
  memoryLimit?: string;
  /** folder for DuckDB's spill files */
  tempDirectory?: string;
  /** open an existing database file read-only (temporary tables still work) */
  readOnly?: boolean;
  /**
   * Seal the instance once open: no file outside the database (and its temp directory) can be read or written
   * (`enable_external_access = false`), except the files of `allowedPaths`; no extension can be installed or
   * loaded; and no setting can be changed afterwards (`lock_configuration = true`), so a statement cannot undo
   * any of it.
   */
  sealed?: { allowedPaths?: readonly string[] };
}

/** Values bound to the `$1, $2, …` (or `?`) parameters of a statement by the driver. */
export type Params = readonly DuckDBValue[];

/** Quote a SQL string literal. */
export function lit(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Quote a SQL identifier. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export class Db {
  private constructor(
    private readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
    private readonly ownsInstance: boolean,
  ) {}

  /** Another connection to the same database, for work that runs concurrently (close it when done). */
  async fork(): Promise<Db> {
    return new Db(this.instance, await this.instance.connect(), false);
  }

  static async open(opts: DbOptions = {}): Promise<Db> {
    const config: Record<string, string> = {
      // No network here: a missing extension must fail at once, not try a download.
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
    };
    if (opts.threads) config.threads = String(opts.threads);
    if (opts.memoryLimit) config.memory_limit = opts.memoryLimit;
    if (opts.tempDirectory) config.temp_directory = opts.tempDirectory;
    if (opts.readOnly) config.access_mode = 'READ_ONLY';
    const instance = await DuckDBInstance.create(opts.path ?? ':memory:', config);
    const conn = await instance.connect();
    const db = new Db(instance, conn, true);
    if (opts.sealed) {
      try {
        await db.seal(opts.sealed.allowedPaths ?? []);
      } catch (e) {
        db.close();
        throw e;
      }
    }
    return db;
  }

  /**
   * allowed_paths can be set neither when the instance is created (the C API refuses a list) nor once external
   * access is off, nor bound as a parameter: so it is set first, from our own resolved paths, then access is
   * turned off and the configuration locked.
   */
  private async seal(allowedPaths: readonly string[]): Promise<void> {
    if (allowedPaths.length) await this.run(`SET allowed_paths = [${allowedPaths.map(lit).join(', ')}]`);
    await this.run('SET enable_external_access = false');
    await this.run('SET lock_configuration = true');
  }

  /** Run one or more statements (one when `params` are given); results are discarded. */
  async run(sql: string, params?: Params): Promise<void> {
    await this.conn.run(sql, params as DuckDBValue[] | undefined);
  }

  /** Rows as plain JSON-safe objects: BIGINT and DATE come back as strings, never lossy JS numbers. */
  async all<T = Record<string, unknown>>(sql: string, params?: Params): Promise<T[]> {
    const reader = await this.conn.runAndReadAll(sql, params as DuckDBValue[] | undefined);
    return reader.getRowObjectsJson() as T[];
  }

  /** First row or undefined. */
  async one<T = Record<string, unknown>>(sql: string, params?: Params): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }

  /** A single numeric value (counts); throws when it is not a finite number. */
  async count(sql: string, params?: Params): Promise<number> {
    const row = await this.one<Record<string, unknown>>(sql, params);
    const v = row ? Object.values(row)[0] : undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`expected a number from: ${sql.slice(0, 200)}`);
    return n;
  }

  async tableExists(name: string): Promise<boolean> {
    return (await this.count(`SELECT count(*) FROM duckdb_tables() WHERE table_name = $1 AND database_name IN (current_database(), 'temp')`, [name])) > 0;
  }

  /** The batch's own table `table` has the column `column` (a linker may add optional columns such as hard_negative). */
  async columnExists(table: string, column: string): Promise<boolean> {
    return (
      (await this.count(
        `SELECT count(*) FROM duckdb_columns() WHERE table_name = $1 AND column_name = $2 AND database_name IN (current_database(), 'temp')`,
        [table, column],
      )) > 0
    );
  }

  close(): void {
    this.conn.closeSync();
    if (this.ownsInstance) this.instance.closeSync();
  }
}
