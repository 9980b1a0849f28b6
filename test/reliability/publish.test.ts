/**
 * The batch folder under stress, through the command line: two runs into one folder, kill -9 at random instants
 * of a run that replaces a previous batch, and --resume after each kill.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { Db, lit } from '../../src/engine/db.ts';
import { tempDir } from '../fixtures/inputs.ts';

const BIN = resolve('bin/dtsen.js');
const SAMPLE = resolve('data-samples/sample');
const RUN_TIMEOUT = 90_000;

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Running {
  child: ChildProcess;
  done: Promise<Finished>;
  /** resolves true once a stderr line matches, false if the run ended first */
  waitFor(re: RegExp): Promise<boolean>;
}

function startRun(args: string[]): Running {
  const child = spawn(process.execPath, [BIN, 'run', '--log-level', 'info', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let ended = false;
  const waiters: { re: RegExp; resolve: (v: boolean) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (w.re.test(stderr) || ended) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(w.re.test(stderr));
      }
    }
  };
  child.stdout!.on('data', (d) => (stdout += String(d)));
  child.stderr!.on('data', (d) => {
    stderr += String(d);
    check();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT);
  const done = new Promise<Finished>((res) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      ended = true;
      check();
      res({ code, signal, stdout, stderr });
    }),
  );
  return {
    child,
    done,
    waitFor: (re) =>
      new Promise<boolean>((res) => {
        waiters.push({ re, resolve: res });
        check();
      }),
  };
}

const run = (args: string[]) => startRun(args).done;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** mulberry32: the kills' instants are seeded, so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A hash of a relation's rows, in sorted order. */
async function rowsHash(db: Db, from: string): Promise<string> {
  const r = await db.one<{ h: string; n: string }>(
    `SELECT md5(coalesce(string_agg(x, chr(10) ORDER BY x), '')) AS h, count(*)::VARCHAR AS n FROM (SELECT CAST(t AS VARCHAR) AS x FROM (${from}) t)`,
  );
  return `${r!.n}:${r!.h}`;
}

interface BatchSignature {
  persons: string;
  links: string;
  parquet: Record<string, string>;
  reportPersons: number;
}

const PARQUET = ['dtsen_person.parquet', 'dtsen_link.parquet', 'dtsen_family.parquet', 'dtsen_conflict.parquet', 'quarantine.parquet'];

/** What the published batch of `out` holds; fails unless it is a whole batch whose parts agree. */
async function inspect(out: string): Promise<BatchSignature> {
  expect(lstatSync(out).isSymbolicLink()).toBe(true);
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { survive: { persons: number } };
  const db = await Db.open({ path: join(out, 'dtsen.duckdb'), readOnly: true });
  try {
    const persons = await rowsHash(db, 'SELECT * FROM dtsen_person');
    const links = await rowsHash(db, 'SELECT * FROM dtsen_link');
    const parquet: Record<string, string> = {};
    for (const f of PARQUET) parquet[f] = await rowsHash(db, `SELECT * FROM read_parquet(${lit(join(out, f))})`);
    for (const d of ['dtsen_person_by_province', 'dtsen_family_by_province']) {
      parquet[d] = await rowsHash(db, `SELECT * FROM read_parquet(${lit(join(out, d, '**', '*.parquet'))}, hive_partitioning = true)`);
    }
    const n = await db.count('SELECT count(*) FROM dtsen_person');
    expect(report.survive.persons).toBe(n);
    expect(parquet['dtsen_person.parquet'].split(':')[0]).toBe(String(n));
    expect(links.split(':')[0]).toBe(parquet['dtsen_link.parquet'].split(':')[0]);
    return { persons, links, parquet, reportPersons: report.survive.persons };
  } finally {
    db.close();
  }
}

/** report.json without what may differ between two runs of one batch: timings, the run (start, folder), float noise, list order of the reconciliation. */
function reportFigures(out: string): unknown {
  const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Record<string, unknown>;
  delete json.timings;
  delete json.run;
  const link = json.link as { seconds?: unknown; cpu_seconds?: unknown } | undefined;
  if (link) {
    delete link.seconds;
    delete link.cpu_seconds;
  }
  const rec = (json.validate as { reconciliation: { source: string }[] }).reconciliation;
  rec.sort((a, b) => a.source.localeCompare(b.source));
  return JSON.parse(JSON.stringify(json), (_k, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(9)) : v));
}

describe('a batch folder: locked, published in one rename, resumable', () => {
  let dir: string;
  /** two configs over copies of the sample, giving two different batches */
  const cfg: Record<'exact' | 'prob' | 'slow', string> = { exact: '', prob: '', slow: '' };

  beforeAll(() => {
    dir = tempDir('dtsen-publish-');
    mkdirSync(join(dir, 'in'));
    for (const f of ['dtks.csv', 'regsosek.parquet', 'p3ke.csv', 'truth.csv']) copyFileSync(join(SAMPLE, f), join(dir, 'in', f));
    const sample = JSON.parse(readFileSync('pipelines/sample.json', 'utf8')) as Record<string, unknown> & { sources: Record<string, { path: string; mapping: string }> };
    for (const engine of ['exact', 'prob', 'slow'] as const) {
      const c = {
        ...sample,
        out: join(dir, 'unused'),
        truth: join(dir, 'in', 'truth.csv'),
        sources: Object.fromEntries(
          Object.entries(sample.sources).map(([s, v]) => [s, { path: join(dir, 'in', v.path.split('/').pop()!), mapping: resolve('pipelines', v.mapping) }]),
        ),
        // prob trains on fewer random pairs than the default, to be quick; slow keeps the default
        linkage: engine === 'exact' ? { engine: 'exact' } : { engine: 'probabilistic', ...(engine === 'prob' ? { u_sample_pairs: 20_000 } : {}) },
      };
      cfg[engine] = join(dir, `${engine}.json`);
      writeFileSync(cfg[engine], JSON.stringify(c, null, 2));
    }
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('a second run into a locked folder exits 5 naming the holder; with --wait it waits, and takes over once the holder is gone', async () => {
    const out = join(dir, 'locked', 'out');
    mkdirSync(join(dir, 'locked'));
    const lock = join(dir, 'locked', '.out.lock');
    // This test process holds the folder: alive, on this host.
    writeFileSync(lock, JSON.stringify({ pid: process.pid, host: hostname(), started: '2026-12-01T00:00:00.000Z', command: 'dtsen run --config holder.json', token: 'held-by-the-test' }));
    const refused = await run(['--config', cfg.exact, '--out', out]);
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain(`pid ${process.pid} on host ${hostname()}`);
    expect(refused.stderr).toContain('dtsen run --config holder.json');
    expect(refused.stderr).toContain('2026-12-01T00:00:00.000Z');
    expect(existsSync(out)).toBe(false);
    expect(readFileSync(lock, 'utf8')).toContain('held-by-the-test');

    const waiting = startRun(['--config', cfg.exact, '--out', out, '--wait']);
    expect(await waiting.waitFor(/waiting for the batch folder lock/)).toBe(true);
    await sleep(500);
    expect(waiting.child.exitCode).toBe(null);
    // The holder dies without releasing the lock: a stale lock (its pid is gone), taken over with a warning.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(lock, JSON.stringify({ pid: dead, host: hostname(), started: '2026-12-01T00:00:00.000Z', command: 'dtsen run', token: 'dead' }));
    const r = await waiting.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/stale batch folder lock/);
    await inspect(out);
    expect(existsSync(lock)).toBe(false);
  }, 120_000);

  it('two real runs into one folder: the second refuses while the first writes; a third waits for the first to finish', async () => {
    const out = join(dir, 'two', 'out');
    const first = startRun(['--config', cfg.slow, '--out', out]);
    expect(await first.waitFor(/"stage":"normalise","msg":"stage started"/)).toBe(true);
    const second = await run(['--config', cfg.exact, '--out', out]);
    expect(second.code, second.stderr).toBe(5);
    expect(second.stderr).toContain(`pid ${first.child.pid} on host`);
    const third = startRun(['--config', cfg.exact, '--out', out, '--wait']);
    const a = await first.done;
    expect(a.code, a.stderr).toBe(0);
    const c = await third.done;
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toMatch(/waiting for the batch folder lock/);
    expect(c.stderr).not.toMatch(/stale/);
    await inspect(out);
    // Both batches are whole: the current one and the one it replaced are kept, nothing else.
    expect(readdirSync(join(dir, 'two', '.out.batches'))).toHaveLength(2);
    expect(existsSync(join(dir, 'two', '.out.lock'))).toBe(false);
  }, 180_000);

  it('moves a folder of the old layout aside as the previous batch and publishes the new one beside it', async () => {
    const out = join(dir, 'legacy', 'out');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'report.json'), '{"old": true}\n');
    writeFileSync(join(out, '.tmp-999999999-staging'), 'left by a crashed run');
    const r = await run(['--config', cfg.exact, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    await inspect(out);
    const versions = readdirSync(join(dir, 'legacy', '.out.batches')).sort();
    expect(versions).toHaveLength(2);
    expect(versions[0]).toMatch(/-migrated$/);
    expect(readdirSync(join(dir, 'legacy', '.out.batches', versions[0]))).toEqual(['report.json']);
  }, 120_000);

  it('kill -9 at random instants leaves the old or the new batch, whole; --resume then gives what an uninterrupted run gives', async () => {
    // Uninterrupted runs of both configs: what a resumed run must give. The first is the batch the kills replace.
    const out = join(dir, 'kills', 'out');
    const ref: Record<string, BatchSignature> = {};
    const refReport: Record<string, unknown> = {};
    for (const engine of ['exact', 'prob'] as const) {
      const o = engine === 'exact' ? out : join(dir, 'ref-prob', 'out');
      const r = await run(['--config', cfg[engine], '--out', o]);
      expect(r.code, r.stderr).toBe(0);
      ref[engine] = await inspect(o);
      refReport[engine] = reportFigures(o);
    }
    expect(ref.exact.persons).not.toBe(ref.prob.persons);

    let published: 'exact' | 'prob' = 'exact';
    const random = rng(20261201);
    // A kill at every stage and while publishing; after every other one the batch is resumed (link, export, cluster,
    // report, publishing), after the others the next run starts afresh and discards the dead run's staging folder.
    // (and the register's stages: decisions afresh, register resumed)
    const events = ['ingest', 'link', 'validate', 'export', 'normalise', 'cluster', 'survive', 'report', 'evaluate', 'publishing', 'decisions', 'register'];
    const outcomes: string[] = [];
    for (const [i, event] of events.entries()) {
      const engine: 'exact' | 'prob' = published === 'exact' ? 'prob' : 'exact';
      const running = startRun(['--config', cfg[engine], '--out', out]);
      const pattern = event === 'publishing' ? /"msg":"publishing"/ : new RegExp(`"stage":"${event}","msg":"stage started"`);
      const seen = await running.waitFor(pattern);
      // Into the stage: up to 400 ms (the sample's stages take 0.05 to 2 s); at once for publishing, which is short.
      if (event !== 'publishing') await sleep(Math.floor(random() * 400));
      running.child.kill('SIGKILL');
      const killed = await running.done;
      outcomes.push(`${event}:${killed.signal ?? `exit ${killed.code}`}${seen ? '' : ' (not reached)'}`);

      // Never a mix: the folder holds one whole batch, the old one or the new one.
      const sig = await inspect(out);
      expect([ref[published], ref[engine]], `kill ${i} at ${event}`).toContainEqual(sig);
      // killed at publishing, the run may have renamed its batch into place before the signal landed: nothing is left to resume
      const publishedBeforeKill = JSON.stringify(sig) === JSON.stringify(ref[engine]);
      if (publishedBeforeKill) published = engine;

      const versions = readdirSync(join(dir, 'kills', '.out.batches'));
      expect(versions.length).toBeLessThanOrEqual(3);
      if (i % 2 === 0) continue;
      // A run that died holding it left the lock, which the resuming run takes over; --resume finishes the batch.
      const resumed = await run(['--config', cfg[engine], '--out', out, '--resume']);
      expect(resumed.code, resumed.stderr).toBe(0);
      if (killed.signal === 'SIGKILL') expect(resumed.stderr, `kill ${i} at ${event}`).toMatch(publishedBeforeKill ? /nothing to resume here/ : /resuming an unfinished batch/);
      expect(await inspect(out), `resume after kill ${i} at ${event}`).toEqual(ref[engine]);
      expect(reportFigures(out), `report after kill ${i} at ${event}`).toEqual(refReport[engine]);
      published = engine;
      // The new batch and the one it replaced are kept; the staging folders of killed runs are gone.
      expect(readdirSync(join(dir, 'kills', '.out.batches'))).toHaveLength(2);
      expect(existsSync(join(dir, 'kills', '.out.lock'))).toBe(false);
    }
    expect(outcomes.filter((o) => o.includes('SIGKILL')).length).toBeGreaterThanOrEqual(8);
  }, 600_000);

  it('a batch that fails keeps its staging folder for --resume, says so, removes its spill folder and releases the lock', async () => {
    const badTruth = join(dir, 'in', 'bad-truth.csv');
    writeFileSync(badTruth, 'not a truth file\n');
    const c = JSON.parse(readFileSync(cfg.exact, 'utf8')) as Record<string, unknown>;
    const failing = join(dir, 'failing.json');
    writeFileSync(failing, JSON.stringify({ ...c, truth: badTruth }));
    const out = join(dir, 'failed', 'out');
    const r = await run(['--config', failing, '--out', out]);
    expect(r.code).not.toBe(0);
    const versions = readdirSync(join(dir, 'failed', '.out.batches'));
    expect(versions).toHaveLength(1);
    const kept = join(dir, 'failed', '.out.batches', versions[0]);
    expect(r.stderr).toContain(`the unfinished batch is kept in ${kept}`);
    expect(existsSync(join(kept, 'dtsen.duckdb'))).toBe(true);
    expect(existsSync(join(kept, 'spill'))).toBe(false);
    expect(existsSync(join(dir, 'failed', '.out.lock'))).toBe(false);
    expect(existsSync(out)).toBe(false);
  }, 120_000);

  it('refuses to resume (exit 2) when an input changed since the batch began; a run without --resume discards it', async () => {
    const out = join(dir, 'changed', 'out');
    const running = startRun(['--config', cfg.exact, '--out', out]);
    expect(await running.waitFor(/"stage":"normalise","msg":"stage started"/)).toBe(true);
    running.child.kill('SIGKILL');
    await running.done;
    await sleep(50);
    const staging = readdirSync(join(dir, 'changed', '.out.batches'));
    expect(staging).toHaveLength(1);
    const p3ke = join(dir, 'in', 'p3ke.csv');
    const t = new Date(Date.now() + 5000);
    utimesSync(p3ke, t, t);
    const r = await run(['--config', cfg.exact, '--out', out, '--resume']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cannot resume: input file ${p3ke} was modified`);
    expect(r.stderr).toContain('Run without --resume to start a new batch');
    expect(readdirSync(join(dir, 'changed', '.out.batches'))).toEqual(staging);
    const fresh = await run(['--config', cfg.exact, '--out', out]);
    expect(fresh.code, fresh.stderr).toBe(0);
    const versions = readdirSync(join(dir, 'changed', '.out.batches'));
    expect(versions).toHaveLength(1);
    expect(versions).not.toEqual(staging);
    await inspect(out);
  }, 120_000);
});
