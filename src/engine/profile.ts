/**
 * `dtsen run --profile DIR`: DuckDB's profile of every statement of the batch is kept in DIR, one JSON file per
 * statement named by its number, stage and what it makes (Db.profileInto); at the end, `summary.tsv` lists the
 * statements slowest first and `stages.tsv` the time per stage, so the slow statements can be found.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from './db.ts';

const PROFILE_FILE = /^(\d{5})-([a-z_]+)(?:-(.*))?\.json$/;

/** Empties the profiles of an earlier run from `dir` (creating it) and profiles every statement of `db` into it. */
export async function startProfile(db: Db, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const f of await readdir(dir)) if (PROFILE_FILE.test(f) || f === 'summary.tsv' || f === 'stages.tsv') await rm(join(dir, f), { force: true });
  db.profileInto(dir);
}

export interface ProfiledStatement {
  file: string;
  stage: string;
  /** wall seconds of the statement */
  latency: number;
  /** CPU seconds over all threads */
  cpu: number;
  /** peak of DuckDB's buffer memory, bytes */
  peakMemory: number;
  /** peak of the spill folder, bytes */
  peakSpill: number;
  rows: number;
  /** the statement's text on one line, cut at 200 characters (SQL only: values are bound or read from tables) */
  query: string;
}

/** Reads the statement profiles of `dir`; writes summary.tsv (slowest first) and stages.tsv; returns the statements. */
export async function summariseProfile(dir: string): Promise<ProfiledStatement[]> {
  const rows: ProfiledStatement[] = [];
  for (const f of (await readdir(dir)).sort()) {
    const m = PROFILE_FILE.exec(f);
    if (!m) continue;
    let p: Record<string, unknown>;
    try {
      p = JSON.parse(await readFile(join(dir, f), 'utf8')) as Record<string, unknown>;
    } catch {
      continue;
    }
    const num = (k: string) => Number(p[k] ?? 0) || 0;
    rows.push({
      file: f,
      stage: m[2]!,
      latency: num('latency'),
      cpu: num('cpu_time'),
      peakMemory: num('system_peak_buffer_memory'),
      peakSpill: num('system_peak_temp_dir_size'),
      rows: num('rows_returned'),
      query: String(p.query_name ?? '').replace(/\s+/g, ' ').trim().slice(0, 200),
    });
  }
  const slowest = [...rows].sort((a, b) => b.latency - a.latency);
  const tsv = (cols: (string | number)[][]) => cols.map((c) => c.join('\t')).join('\n') + '\n';
  await writeFile(
    join(dir, 'summary.tsv'),
    tsv([['seconds', 'cpu_seconds', 'peak_memory_mb', 'peak_spill_mb', 'rows', 'stage', 'file', 'query'],
      ...slowest.map((r) => [r.latency.toFixed(3), r.cpu.toFixed(3), (r.peakMemory / 2 ** 20).toFixed(0), (r.peakSpill / 2 ** 20).toFixed(0), r.rows, r.stage, r.file, r.query])]),
  );
  const byStage = new Map<string, { n: number; s: number; cpu: number }>();
  for (const r of rows) {
    const t = byStage.get(r.stage) ?? { n: 0, s: 0, cpu: 0 };
    t.n += 1;
    t.s += r.latency;
    t.cpu += r.cpu;
    byStage.set(r.stage, t);
  }
  await writeFile(join(dir, 'stages.tsv'), tsv([['stage', 'statements', 'seconds', 'cpu_seconds'], ...[...byStage].map(([k, t]) => [k, t.n, t.s.toFixed(3), t.cpu.toFixed(3)])]));
  return rows;
}

/** The CPU seconds (user + system, every thread) of this process since `start` (process.cpuUsage()), to the millisecond. */
export function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return Number(((used.user + used.system) / 1e6).toFixed(3));
}
