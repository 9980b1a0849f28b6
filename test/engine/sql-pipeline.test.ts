/** The SQL-pipeline helper: steps compose into one statement, materialised tables live as long as their scope. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Db } from '../../src/engine/db.ts';
import { composeSql, DEBUG_SCHEMA, materialise, queryRows, step, TempTable, TempTables } from '../../src/engine/sql-pipeline.ts';

const tempTables = async (db: Db): Promise<string[]> =>
  (await db.all<{ t: string }>(`SELECT table_name AS t FROM duckdb_tables() WHERE database_name = 'temp' ORDER BY t`)).map((r) => r.t);

const debugTables = async (db: Db): Promise<string[]> =>
  (await db.all<{ t: string }>(`SELECT table_name AS t FROM duckdb_tables() WHERE schema_name = $1 ORDER BY t`, [DEBUG_SCHEMA])).map((r) => r.t);

const STEPS = [
  step('numbers', 'SELECT i FROM range(10) t(i)'),
  step('evens', 'SELECT i FROM numbers WHERE i % 2 = 0'),
  step('total', 'SELECT sum(i)::INT AS total, count(*)::INT AS n FROM evens'),
];

describe('composeSql', () => {
  it('makes one statement of the steps, each reading the ones before it', async () => {
    const sql = composeSql(STEPS);
    expect(sql.match(/\bWITH\b/g)).toHaveLength(1);
    const db = await Db.open({ debugSql: false });
    try {
      expect(await db.all(sql)).toEqual([{ total: 20, n: 5 }]);
      expect(await db.all(composeSql(STEPS.slice(0, 2), 'SELECT max(i)::INT AS m FROM evens'))).toEqual([{ m: 8 }]);
    } finally {
      await db.close();
    }
  });

  it('refuses a step name given twice', () => {
    expect(() => composeSql([step('a', 'SELECT 1'), step('a', 'SELECT 2')])).toThrow(/twice/);
  });
});

describe('materialise', () => {
  let db: Db;
  beforeEach(async () => {
    db = await Db.open({ debugSql: false });
  });
  afterEach(async () => {
    await db.close();
  });

  it('creates a TEMP table that is dropped when its scope ends', async () => {
    {
      await using t = await materialise(db, 'pipe_numbers', { steps: STEPS });
      expect(await tempTables(db)).toEqual(['pipe_numbers']);
      expect(await db.all(`SELECT * FROM ${t}`)).toEqual([{ total: 20, n: 5 }]);
    }
    expect(await tempTables(db)).toEqual([]);
  });

  it('drops its table also when the scope throws, and the scope error is the one seen', async () => {
    const body = async () => {
      await using t = await materialise(db, 'pipe_fail', 'SELECT 1 AS x');
      expect(await db.count(`SELECT count(*) FROM ${t}`)).toBe(1);
      throw new Error('the body failed');
    };
    await expect(body()).rejects.toThrow('the body failed');
    expect(await tempTables(db)).toEqual([]);
  });

  it('a table dropped early is not dropped again, and a new one of that name survives the old handle', async () => {
    const first = await materialise(db, 'pipe_twice', 'SELECT 1 AS x');
    await first.drop();
    expect(await tempTables(db)).toEqual([]);
    await using second = await materialise(db, 'pipe_twice', 'SELECT 2 AS x');
    await first[Symbol.asyncDispose]();
    expect(await db.all(`SELECT x FROM ${second}`)).toEqual([{ x: 2 }]);
  });

  it('a collection of tables drops every one of them at scope end, also those created by other means', async () => {
    const body = async () => {
      await using tables = new TempTables();
      for (const i of [1, 2, 3]) tables.add(await materialise(db, `pipe_file_${i}`, `SELECT ${i} AS x`));
      await db.run('CREATE TEMP TABLE pipe_adopted AS SELECT 1 AS x');
      tables.add(new TempTable(db, 'pipe_adopted'));
      expect(await tempTables(db)).toEqual(['pipe_adopted', 'pipe_file_1', 'pipe_file_2', 'pipe_file_3']);
      throw new Error('the body failed');
    };
    await expect(body()).rejects.toThrow('the body failed');
    expect(await tempTables(db)).toEqual([]);
  });

  it('binds parameters through the driver', async () => {
    await using t = await materialise(db, 'pipe_params', { steps: [step('v', "SELECT $1::VARCHAR AS s, $2::INT AS n")] }, ["it's", 3]);
    expect(await db.all(`SELECT * FROM ${t}`)).toEqual([{ s: "it's", n: 3 }]);
  });

  it('a drop failing at scope end (connection closed) does not replace the error that ended the scope', async () => {
    const body = async () => {
      await using _t = await materialise(db, 'pipe_closed', 'SELECT 1 AS x');
      await db.close();
      throw new Error('stopped');
    };
    await expect(body()).rejects.toThrow(/^stopped$/);
  });
});

describe('debug mode', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dtsen-sqlpipe-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps every step and every materialised table in the database for inspection', async () => {
    const path = join(dir, 'debug.duckdb');
    const db = await Db.open({ path, debugSql: true });
    try {
      {
        await using _t = await materialise(db, 'pipe_kept', { steps: STEPS });
      }
      expect(await tempTables(db)).toEqual([]);
      expect(await queryRows(db, 'pipe_query', { steps: STEPS.slice(0, 2), select: 'SELECT count(*)::INT AS n FROM evens' })).toEqual([{ n: 5 }]);
    } finally {
      await db.close();
    }
    // after the connection ended: still there, in the file
    const again = await Db.open({ path, readOnly: true, debugSql: false });
    try {
      expect(await debugTables(again)).toEqual(['pipe_kept', 'pipe_kept.evens', 'pipe_kept.numbers', 'pipe_kept.total', 'pipe_query.evens', 'pipe_query.numbers']);
      expect(await again.all(`SELECT * FROM ${DEBUG_SCHEMA}."pipe_kept"`)).toEqual([{ total: 20, n: 5 }]);
      expect(await again.count(`SELECT count(*) FROM ${DEBUG_SCHEMA}."pipe_kept.evens"`)).toBe(5);
    } finally {
      await again.close();
    }
  });

  it('keeps the steps of a query with parameters that only its later steps use', async () => {
    const db = await Db.open({ path: join(dir, 'params.duckdb'), debugSql: true });
    try {
      await using t = await materialise(db, 'pipe_bound', { steps: [step('base', 'SELECT 2 AS x'), step('scaled', 'SELECT x * $1::INT AS x FROM base')] }, [21]);
      expect(await db.all(`SELECT x FROM ${t}`)).toEqual([{ x: 42 }]);
      expect(await db.all(`SELECT x FROM ${DEBUG_SCHEMA}."pipe_bound.base"`)).toEqual([{ x: 2 }]);
      expect(await db.all(`SELECT x FROM ${DEBUG_SCHEMA}."pipe_bound.scaled"`)).toEqual([{ x: 42 }]);
    } finally {
      await db.close();
    }
  });

  it('keeps the tables of connections working at once (the schema is made when the database opens)', async () => {
    const db = await Db.open({ path: join(dir, 'forks.duckdb'), debugSql: true });
    try {
      const forks = await Promise.all([db.fork(), db.fork(), db.fork()]);
      await Promise.all(forks.map(async (fork, i) => {
        await using _t = await materialise(fork, `pipe_fork_${i}`, `SELECT ${i} AS x`);
      }));
      for (const fork of forks) await fork.close();
      expect(await debugTables(db)).toEqual(['pipe_fork_0', 'pipe_fork_1', 'pipe_fork_2']);
    } finally {
      await db.close();
    }
  });

  it('on a read-only database keeps the TEMP table instead of dropping it', async () => {
    const path = join(dir, 'ro.duckdb');
    await (await Db.open({ path })).close();
    const db = await Db.open({ path, readOnly: true, debugSql: true });
    try {
      {
        await using _t = await materialise(db, 'pipe_ro', 'SELECT 1 AS x');
      }
      expect(await tempTables(db)).toEqual(['pipe_ro']);
    } finally {
      await db.close();
    }
  });

  it('is off by default unless DTSEN_DEBUG_SQL=1', async () => {
    const before = process.env.DTSEN_DEBUG_SQL;
    try {
      delete process.env.DTSEN_DEBUG_SQL;
      const off = await Db.open();
      expect(off.debugSql).toBe(false);
      await off.close();
      process.env.DTSEN_DEBUG_SQL = '1';
      const on = await Db.open();
      expect(on.debugSql).toBe(true);
      await on.close();
    } finally {
      if (before === undefined) delete process.env.DTSEN_DEBUG_SQL;
      else process.env.DTSEN_DEBUG_SQL = before;
    }
  });
});
