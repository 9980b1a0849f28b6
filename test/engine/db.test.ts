/** Db owns its connections and queries: interrupt, cancel, close and groups of concurrent work. */
import { describe, expect, it } from 'vitest';
import { Db, TaskGroup, concurrently } from '../../src/engine/db.ts';
import { ResourceError, resourceKind } from '../../src/engine/errors.ts';
import { asResourceError } from '../../src/engine/resources.ts';

/** A query that runs for minutes unless interrupted. */
const LONG = 'SELECT count(*) FROM range(100000000000) t(i) WHERE i % 7 = 3';

const since = (t0: number) => performance.now() - t0;

describe('Db', () => {
  it('a fork after close throws a clear error instead of crashing', async () => {
    const db = await Db.open({ threads: 1 });
    await db.close();
    await expect(db.fork()).rejects.toThrow(/closed/);
    await expect(db.run('SELECT 1')).rejects.toThrow(/closed/);
  });

  it('close interrupts the queries still running on any connection and waits for them', async () => {
    const db = await Db.open({ threads: 2 });
    const fork = await db.fork();
    const a = db.run(LONG).catch((e: unknown) => e);
    const b = fork.run(LONG).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    expect(db.busy && fork.busy).toBe(true);
    const t0 = performance.now();
    await db.close();
    expect(since(t0)).toBeLessThan(10_000);
    // both ended before close returned, as interrupted
    expect(String(await a)).toMatch(/INTERRUPT/);
    expect(String(await b)).toMatch(/INTERRUPT/);
    expect(db.busy || fork.busy).toBe(false);
    await expect(fork.run('SELECT 1')).rejects.toThrow(/closed/);
  });

  it('interrupt() on the first connection reaches the queries of its forks', async () => {
    const db = await Db.open({ threads: 2 });
    try {
      const fork = await db.fork();
      const q = fork.run(LONG);
      await new Promise((r) => setTimeout(r, 200));
      db.interrupt();
      await expect(q).rejects.toThrow(/INTERRUPT/);
      // an interrupt does not stick: the connection runs the next query
      expect(await fork.count('SELECT 42')).toBe(42);
      await fork.close();
    } finally {
      await db.close();
    }
  });

  it('guard: an aborted signal interrupts the running query and refuses new ones until the guarded work ends', async () => {
    const db = await Db.open({ threads: 2 });
    try {
      const controller = new AbortController();
      const t0 = performance.now();
      let second: unknown;
      const work = db.guard(controller.signal, async () => {
        try {
          await db.run(LONG);
        } catch {
          // a stage that swallowed the interruption still cannot start another query
          second = await db.run('SELECT 1').catch((e: unknown) => e);
        }
        return 'done';
      });
      setTimeout(() => controller.abort('SIGTERM'), 200);
      expect(await work).toBe('done');
      expect(since(t0)).toBeLessThan(10_000);
      expect(String(second)).toMatch(/stopped \(SIGTERM\)/);
      expect(await db.count('SELECT 7')).toBe(7);
    } finally {
      await db.close();
    }
  });
});

describe('concurrent branches', () => {
  it('the first failure interrupts its siblings, awaits them and is the error thrown', async () => {
    const db = await Db.open({ threads: 2 });
    try {
      let siblingEnded = false;
      const t0 = performance.now();
      const p = concurrently(db, [
        async (g) => {
          const conn = await g.fork();
          try {
            await conn.run(LONG);
          } finally {
            siblingEnded = true;
          }
        },
        async () => {
          await new Promise((r) => setTimeout(r, 200));
          throw new Error('the first failure');
        },
      ]);
      await expect(p).rejects.toThrow('the first failure');
      expect(siblingEnded).toBe(true);
      expect(since(t0)).toBeLessThan(10_000);
      expect(await db.count('SELECT 1')).toBe(1);
    } finally {
      await db.close();
    }
  });

  it('a cancelled group starts nothing more: no fork, no query, hooks run once', async () => {
    const db = await Db.open({ threads: 1 });
    try {
      const group = new TaskGroup(db);
      let hooks = 0;
      group.onCancel(() => hooks++);
      const conn = await group.fork();
      void group.run(async () => {
        throw new Error('boom');
      });
      await new Promise((r) => setTimeout(r, 10));
      expect(group.cancelled).toBe(true);
      expect(hooks).toBe(1);
      await expect(group.fork()).rejects.toThrow();
      await expect(conn.run('SELECT 1')).rejects.toThrow(/cancelled/);
      expect(await group.run(async () => 'late')).toBeUndefined();
      await expect(group.wait()).rejects.toThrow('boom');
    } finally {
      await db.close();
    }
  });

  it('all branches succeed: results in order', async () => {
    const db = await Db.open({ threads: 2 });
    try {
      const r = await concurrently(db, [async (g) => (await g.fork()).count('SELECT 1'), async (g) => (await g.fork()).count('SELECT 2')]);
      expect(r).toEqual([1, 2]);
    } finally {
      await db.close();
    }
  });
});

describe('resource errors', () => {
  it('recognises DuckDB and Node wordings of memory and disk', () => {
    expect(resourceKind(new Error('Out of Memory Error: could not allocate block of size 256.0 KiB (4.7 MiB/4.7 MiB used)'))).toBe('memory');
    expect(resourceKind(new Error('IO Error: Could not write file "/x/y.wal": No space left on device'))).toBe('disk');
    expect(resourceKind(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }))).toBe('disk');
    expect(resourceKind(Object.assign(new Error('EDQUOT'), { code: 'EDQUOT' }))).toBe('disk');
    expect(resourceKind(new Error('Binder Error: column NAMA not found'))).toBeUndefined();
  });

  it('a real out-of-memory names the stage and the limit in force', async () => {
    const db = await Db.open({ threads: 1, memoryLimit: '8MB' });
    try {
      const e = await db.run('CREATE TABLE t AS SELECT i, repeat(i::VARCHAR, 50) AS s FROM range(2000000) r(i) ORDER BY s').catch((x: unknown) => x);
      expect(resourceKind(e)).toBe('memory');
      const r = await asResourceError(e, { stage: 'normalise', db });
      expect(r).toBeInstanceOf(ResourceError);
      expect(r!.exitCode).toBe(3);
      expect(r!.message).toMatch(/^out of memory during stage normalise \(memory limit 7\.\d MiB;/);
      expect(r!.message).toMatch(/--memory-limit.*--threads.*--temp-directory/);
    } finally {
      await db.close();
    }
  });

  it('a full disk names the output folder the failed file is in', async () => {
    const e = new Error('IO Error: Could not write file "/data/out/.tmp-1-staging/dtsen_link.parquet": No space left on device');
    const r = await asResourceError(e, { stage: 'export', folders: ['/data/out'] });
    expect(r!.exitCode).toBe(4);
    expect(r!.message).toMatch(/^disk full during stage export: \/data\/out is full \(/);
  });
});
