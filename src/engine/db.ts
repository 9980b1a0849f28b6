/** The one thin object that talks to DuckDB. Stages compose SQL; this runs it. */
import { DuckDBInstance, listValue, type DuckDBConnection, type DuckDBPreparedStatement, type DuckDBResultReader, type DuckDBValue, type StatementType } from '@duckdb/node-api';
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

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
  /**
   * Keep every step and temporary table of the SQL pipelines for inspection (src/engine/sql-pipeline.ts); default:
   * the environment variable DTSEN_DEBUG_SQL is 1.
   */
  debugSql?: boolean;
}

/** The schema the SQL pipelines' debug mode keeps its tables in (src/engine/sql-pipeline.ts). */
export const DEBUG_SCHEMA = 'debug_sql';

/** Values bound to the `$1, $2, …` (or `?`) parameters of a statement by the driver. */
export type Params = readonly DuckDBValue[];

/** A list bound as one parameter (`$1::BIGINT[]`, …). */
export const listParam = (values: readonly DuckDBValue[]): DuckDBValue => listValue([...values]);

/** Quote a SQL string literal. */
export function lit(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Quote a SQL identifier. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** What every connection of one DuckDB instance shares. */
interface Shared {
  readonly instance: DuckDBInstance;
  /** the instance is closing or closed: no new connection, no new query */
  closed: boolean;
  /** every open connection, the first one included */
  readonly conns: Set<Db>;
  /** every query and connect still running on the instance */
  readonly inflight: Set<Promise<unknown>>;
  /** set while a guarded signal is aborted: every connection refuses new queries with it */
  refusal?: Error;
  /** the database was opened read-only */
  readonly readOnly: boolean;
  /** the SQL pipelines' debug mode (DbOptions.debugSql) */
  readonly debugSql: boolean;
  /** set by profileInto(): every statement's DuckDB profile is written to a file of its own there */
  profile?: ProfileState;
}

/** Where statements are profiled, the stage running, and the number of the last statement profiled (shared by the forks). */
interface ProfileState {
  dir: string;
  stage: string;
  seq: number;
}

/**
 * A short file-name label of a statement: what it makes or does (`create-dtsen_person`, `insert-dtsen_link`,
 * `copy-dtsen_person.parquet`, `select`), from its first words; never a value of the data.
 */
export function statementLabel(sql: string): string {
  const text = sql.replace(/--[^\n]*/g, ' ').replace(/\/\*[\s\S]*?\*\//g, ' ').trim();
  const clean = (name: string) => name.replace(/^.*\//, '').replace(/[^\w.-]+/g, '').slice(0, 60) || 'x';
  let m = /^CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?(?:TABLE|VIEW|MACRO|SEQUENCE|INDEX)\s+(?:IF\s+NOT\s+EXISTS\s+)?([\w."]+)/i.exec(text);
  if (m) return `create-${clean(m[1]!)}`;
  m = /^INSERT\s+(?:OR\s+\w+\s+)?INTO\s+([\w."]+)/i.exec(text);
  if (m) return `insert-${clean(m[1]!)}`;
  m = /^COPY\s+([\w."]+)?[\s\S]*?\bTO\s+'([^']*)'/i.exec(text);
  if (m) return `copy-${clean(m[2]!)}`;
  m = /^(\w+)/.exec(text);
  return (m?.[1] ?? 'statement').toLowerCase();
}

/** How often a cancelled connection is interrupted again while its query has not ended (a query still waiting for a native thread misses an interrupt). */
const REINTERRUPT_MS = 50;

/**
 * One DuckDB connection, and the instance it belongs to. Every query runs through it and is tracked, so that
 * `interrupt()` reaches all of them and `close()` never closes anything underneath native work that still runs.
 */
export class Db {
  /** the queries running on this connection */
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;
  /** set by cancel(): this connection refuses new queries with it */
  private refusal?: Error;
  /** profiling was switched on for this connection (enable_profiling is a setting of each connection) */
  private profiling = false;

  private constructor(
    private readonly shared: Shared,
    private readonly conn: DuckDBConnection,
    private readonly ownsInstance: boolean,
  ) {
    shared.conns.add(this);
  }

  /** Another connection to the same database, for work that runs concurrently (close it when done). */
  async fork(): Promise<Db> {
    this.check();
    const connecting = this.shared.instance.connect();
    this.shared.inflight.add(connecting);
    let conn: DuckDBConnection;
    try {
      conn = await connecting;
    } finally {
      this.shared.inflight.delete(connecting);
    }
    if (this.shared.closed) {
      conn.closeSync();
      throw new Error('the DuckDB database was closed while a connection was being opened');
    }
    return new Db(this.shared, conn, false);
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
    const debugSql = opts.debugSql ?? process.env.DTSEN_DEBUG_SQL === '1';
    const db = new Db({ instance, closed: false, conns: new Set(), inflight: new Set(), readOnly: opts.readOnly ?? false, debugSql }, conn, true);
    // made once here, before any fork: connections creating it at once would conflict
    if (debugSql && !opts.readOnly) await db.run(`CREATE SCHEMA IF NOT EXISTS ${DEBUG_SCHEMA}`);
    if (opts.sealed) {
      try {
        await db.seal(opts.sealed.allowedPaths ?? []);
      } catch (e) {
        await db.close();
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

  /**
   * Keeps DuckDB's profile of every statement from now on, on this connection and its forks: one JSON file per
   * statement in `dir` (`enable_profiling = 'json'`, `profiling_output`), named by its number, the stage set by
   * profileStage() and what the statement makes (statementLabel), e.g. `0042-survive-create-dtsen_person.json`.
   */
  profileInto(dir: string, stage = 'batch'): void {
    this.shared.profile = { dir, stage, seq: 0 };
  }

  /** Names the statements profiled from now on after `stage` (see profileInto); nothing when not profiling. */
  profileStage(stage: string): void {
    if (this.shared.profile) this.shared.profile.stage = stage;
  }

  /** Switches profiling on for this connection; the file of the next statement's profile, named by its number and stage. */
  private async profileTarget(): Promise<string> {
    const p = this.shared.profile!;
    if (!this.profiling) {
      await this.conn.run(`SET enable_profiling = 'json'`);
      this.profiling = true;
    }
    p.seq += 1;
    const file = join(p.dir, `${String(p.seq).padStart(5, '0')}-${p.stage}`);
    await this.conn.run(`SET profiling_output = ${lit(`${file}.json`)}`);
    return file;
  }

  /** Adds what the statement made (statementLabel of the profile's query_name) to its profile file's name. */
  private static labelProfile(file: string): void {
    try {
      const query = (JSON.parse(readFileSync(`${file}.json`, 'utf8')) as { query_name?: string }).query_name ?? '';
      renameSync(`${file}.json`, `${file}-${statementLabel(query)}.json`);
    } catch {
      // a statement DuckDB wrote no profile for: nothing to name
    }
  }

  /** Runs one statement (or one call) with its profile kept. */
  private async profiled<T>(work: () => Promise<T>): Promise<T> {
    const file = await this.profileTarget();
    try {
      return await work();
    } finally {
      Db.labelProfile(file);
    }
  }

  /** run() while profiling: the statements one by one, each with a profile file of its own. */
  private async runProfiled(sql: string, params?: Params): Promise<void> {
    if (params) {
      await this.profiled(() => this.conn.run(sql, params as DuckDBValue[]));
      return;
    }
    const statements = await this.conn.extractStatements(sql);
    for (let i = 0; i < statements.count; i++) {
      const prepared = await statements.prepare(i);
      await this.profiled(() => prepared.run());
    }
  }

  /** Throws when this connection may not start a query (closed, cancelled, stopped). */
  private check(): void {
    if (this.closed || this.shared.closed) throw new Error('the DuckDB connection is closed: no query or connection can start on it');
    if (this.refusal) throw this.refusal;
    if (this.shared.refusal) throw this.shared.refusal;
  }

  /** Runs one native call on this connection, tracked until it settles. */
  private track<T>(work: () => Promise<T>): Promise<T> {
    this.check();
    const p = work();
    this.running.add(p);
    this.shared.inflight.add(p);
    const settle = () => {
      this.running.delete(p);
      this.shared.inflight.delete(p);
    };
    p.then(settle, settle);
    return p;
  }

  /** The database was opened read-only. */
  get readOnly(): boolean {
    return this.shared.readOnly;
  }

  /** The SQL pipelines keep their steps and temporary tables (src/engine/sql-pipeline.ts). */
  get debugSql(): boolean {
    return this.shared.debugSql;
  }

  /** Queries still running on this connection. */
  get busy(): boolean {
    return this.running.size > 0;
  }

  /**
   * Interrupts the running queries: on the first connection (the one `open` returned), those of every
   * connection of the instance; on a fork, its own. They fail with DuckDB's "INTERRUPT Error".
   */
  interrupt(): void {
    for (const db of this.ownsInstance ? this.shared.conns : [this]) if (db.running.size > 0) db.conn.interrupt();
  }

  /** Interrupts until every query of `dbs` has ended (an interrupt can miss a query not yet started natively). */
  private static async interruptAndWait(dbs: Iterable<Db>, inflight: () => Promise<unknown>[]): Promise<void> {
    const list = [...dbs];
    for (const db of list) if (db.running.size > 0) db.conn.interrupt();
    let pending = inflight();
    if (pending.length === 0) return;
    const timer = setInterval(() => {
      for (const db of list) if (db.running.size > 0) db.conn.interrupt();
    }, REINTERRUPT_MS);
    timer.unref();
    try {
      while (pending.length > 0) {
        await Promise.allSettled(pending);
        pending = inflight();
      }
    } finally {
      clearInterval(timer);
    }
  }

  /**
   * Cancels this connection: it refuses every new query with `reason`, and its running queries are interrupted.
   * Resolves once none runs any more.
   */
  async cancel(reason: Error): Promise<void> {
    this.refusal ??= reason;
    await Db.interruptAndWait([this], () => [...this.running]);
  }

  /**
   * Runs `work` watching `signal`: once it is aborted, every connection of the instance refuses new queries with
   * the signal's reason and every running query is interrupted. When `work` ends (normally or not) no query of the
   * instance runs any more, and the connections accept queries again (for the caller's cleanup).
   */
  async guard<T>(signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
    if (!signal) return work();
    const stop = () => {
      this.shared.refusal = signal.reason instanceof Error ? signal.reason : new Error(`stopped (${String(signal.reason)})`);
      void Db.interruptAndWait(this.shared.conns, () => [...this.shared.inflight]);
    };
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
    try {
      return await work();
    } finally {
      signal.removeEventListener('abort', stop);
      if (signal.aborted) await Db.interruptAndWait(this.shared.conns, () => [...this.shared.inflight]);
      this.shared.refusal = undefined;
    }
  }

  /** Run one or more statements; results are discarded. */
  async run(sql: string, params?: Params): Promise<void> {
    if (this.shared.profile) await this.track(() => this.runProfiled(sql, params));
    else await this.track(() => this.conn.run(sql, params as DuckDBValue[] | undefined));
  }

  /** Rows as plain JSON-safe objects: BIGINT and DATE come back as strings, never lossy JS numbers. */
  async all<T = Record<string, unknown>>(sql: string, params?: Params): Promise<T[]> {
    const reader = await this.track(async () => {
      const read = () => this.conn.runAndReadAll(sql, params as DuckDBValue[] | undefined);
      return this.shared.profile ? this.profiled(read) : read();
    });
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

  /**
   * The statements of `sql` as DuckDB's own parser splits them (nothing runs): how many, and `prepare(i)` to prepare
   * the i-th (close the statement when done).
   */
  async statements(sql: string): Promise<{ count: number; prepare(index: number): Promise<PreparedStatement> }> {
    const extracted = await this.track(() => this.conn.extractStatements(sql));
    return {
      count: extracted.count,
      prepare: async (index) => new PreparedStatement(await this.track(() => extracted.prepare(index)), this.track.bind(this)),
    };
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

  /**
   * Closes this connection; on the first connection, the whole instance. Nothing is closed underneath native work:
   * closing the instance first refuses new connections and queries, interrupts what still runs on any connection
   * and waits for it, then closes every connection and the instance. Idle, it closes at once (synchronously).
   * Never rejects.
   */
  async close(): Promise<void> {
    if (this.ownsInstance) {
      if (this.shared.closed) return;
      this.shared.closed = true;
      if (this.shared.inflight.size > 0) await Db.interruptAndWait(this.shared.conns, () => [...this.shared.inflight]);
      for (const db of this.shared.conns) db.closeConnection();
      try {
        this.shared.instance.closeSync();
      } catch {
        // an instance DuckDB invalidated (a failed write) may refuse to close cleanly; nothing runs on it any more
      }
      return;
    }
    if (this.closed || this.shared.closed) return;
    if (this.running.size > 0) {
      this.refusal ??= new Error('the DuckDB connection is closing');
      await Db.interruptAndWait([this], () => [...this.running]);
    }
    this.closeConnection();
  }

  private closeConnection(): void {
    if (this.closed) return;
    this.closed = true;
    this.shared.conns.delete(this);
    try {
      this.conn.closeSync();
    } catch {
      // see close(): nothing runs on it any more
    }
  }
}

/** One prepared statement of a connection (Db.statements): its type as DuckDB bound it, and a streamed read. */
export class PreparedStatement implements Disposable {
  constructor(
    private readonly prepared: DuckDBPreparedStatement,
    private readonly track: <T>(work: () => Promise<T>) => Promise<T>,
  ) {}

  /** The statement's type as DuckDB's parser and binder see it (SELECT, EXPLAIN, …). */
  get statementType(): StatementType {
    return this.prepared.statementType;
  }

  /** Binds `params` to its `$1, $2, …` parameters (by the driver). */
  bind(params: Params): void {
    this.prepared.bind(params as DuckDBValue[]);
  }

  /** Runs it, streaming the result, and reads at most about `rows` rows: a huge result is never held in memory. */
  async readUntil(rows: number): Promise<DuckDBResultReader> {
    return this.track(() => this.prepared.streamAndReadUntil(rows));
  }

  close(): void {
    this.prepared.destroySync();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** A sibling branch failed: this one was cancelled (never the error a group rethrows). */
export class CancelledError extends Error {
  constructor() {
    super('cancelled: a concurrent branch failed');
    this.name = 'CancelledError';
  }
}

/**
 * Work that runs at once on several connections (and in JS). The first branch to fail cancels the group: its
 * signal is aborted, its connections refuse new queries and their running queries are interrupted, its cancel hooks
 * run (e.g. clearing a queue, so no further branch starts). `wait()` returns once every branch has ended, and then
 * rethrows that first error — never the "interrupted" of a sibling.
 */
export class TaskGroup {
  private readonly controller = new AbortController();
  private first?: { error: unknown };
  private readonly branches = new Set<Promise<unknown>>();
  private readonly forks = new Set<Db>();
  private readonly hooks: (() => void)[] = [];
  private readonly unlink: () => void;

  /** `parent`: a signal (the batch's, an outer group's) whose abort cancels this group too. */
  constructor(
    private readonly db: Db,
    parent?: AbortSignal,
  ) {
    const onParent = () => this.cancel(parent?.reason instanceof Error ? parent.reason : new CancelledError());
    if (parent?.aborted) onParent();
    else parent?.addEventListener('abort', onParent, { once: true });
    this.unlink = () => parent?.removeEventListener('abort', onParent);
  }

  /** Aborted when the group is cancelled: JS work checks it between steps. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get cancelled(): boolean {
    return this.controller.signal.aborted;
  }

  /** Called (once) when the group is cancelled. */
  onCancel(hook: () => void): void {
    this.hooks.push(hook);
  }

  /** A connection of the group: cancelled with it, closed by `wait()` at the latest. */
  async fork(): Promise<Db> {
    this.signal.throwIfAborted();
    const conn = await this.db.fork();
    this.forks.add(conn);
    if (this.cancelled) void conn.cancel(this.signal.reason as Error);
    return conn;
  }

  private cancel(reason: Error): void {
    if (this.cancelled) return;
    this.controller.abort(reason);
    for (const conn of this.forks) void conn.cancel(reason);
    for (const hook of this.hooks) hook();
  }

  /** Runs one branch. Its failure cancels the group; the promise resolves to undefined then (wait() rethrows). */
  run<T>(branch: () => Promise<T>): Promise<T | undefined> {
    const p = (async () => {
      try {
        this.signal.throwIfAborted();
        return await branch();
      } catch (e) {
        if (!this.first) {
          this.first = { error: e };
          this.cancel(new CancelledError());
        }
        return undefined;
      }
    })();
    this.branches.add(p);
    return p;
  }

  /** Waits for every branch, closes the group's connections, then rethrows the first failure. */
  async wait(): Promise<void> {
    while (this.branches.size > 0) {
      const list = [...this.branches];
      await Promise.all(list);
      for (const b of list) this.branches.delete(b);
    }
    this.unlink();
    for (const conn of this.forks) await conn.close();
    if (this.first) throw this.first.error;
  }
}

/** Runs `branches` at once in one TaskGroup (see there); their results in order, or the first failure. */
export async function concurrently<T>(db: Db, branches: readonly ((group: TaskGroup) => Promise<T>)[], parent?: AbortSignal): Promise<T[]> {
  const group = new TaskGroup(db, parent);
  const results = branches.map((b) => group.run(() => b(group)));
  await group.wait();
  return (await Promise.all(results)) as T[];
}
