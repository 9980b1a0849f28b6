/** The one thin object that talks to DuckDB. Stages compose SQL; this runs it. */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

export interface DbOptions {
  /** database file, or ':memory:' */
  path?: string;
  threads?: number;
  memoryLimit?: string;
  /** folder for DuckDB's spill files */
  tempDirectory?: string;
  /** open an existing database file read-only (temporary tables still work) */
  readOnly?: boolean;
}

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
    return new Db(instance, conn, true);
  }

  /** Run one or more statements; results are discarded. */
  async run(sql: string): Promise<void> {
    await this.conn.run(sql);
  }

  /** Rows as plain JSON-safe objects: BIGINT and DATE come back as strings, never lossy JS numbers. */
  async all<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    const reader = await this.conn.runAndReadAll(sql);
    return reader.getRowObjectsJson() as T[];
  }

  /** First row or undefined. */
  async one<T = Record<string, unknown>>(sql: string): Promise<T | undefined> {
    return (await this.all<T>(sql))[0];
  }

  /** A single numeric value (counts); throws when it is not a finite number. */
  async count(sql: string): Promise<number> {
    const row = await this.one<Record<string, unknown>>(sql);
    const v = row ? Object.values(row)[0] : undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`expected a number from: ${sql.slice(0, 200)}`);
    return n;
  }

  async tableExists(name: string): Promise<boolean> {
    return (await this.count(`SELECT count(*) FROM duckdb_tables() WHERE table_name = ${lit(name)} AND database_name IN (current_database(), 'temp')`)) > 0;
  }

  /** The batch's own table `table` has the column `column` (a linker may add optional columns such as hard_negative). */
  async columnExists(table: string, column: string): Promise<boolean> {
    return (
      (await this.count(
        `SELECT count(*) FROM duckdb_columns() WHERE table_name = ${lit(table)} AND column_name = ${lit(column)} AND database_name IN (current_database(), 'temp')`,
      )) > 0
    );
  }

  close(): void {
    this.conn.closeSync();
    if (this.ownsInstance) this.instance.closeSync();
  }
}
