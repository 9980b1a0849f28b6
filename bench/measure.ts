/**
 * What make bench and make bench-scale share: a generated population (cached under bench/cache/), one batch over it
 * in a child process (bench/batch.ts: wall time, stage times, peak RSS, spill peak, figures), the reference
 * workload calib.mjs on the same files, and the per-stage table with the time per record.
 */
import { ensurePopulation, populationCurrent, populationSources, runCommand, ROOT } from './population.ts';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { printTable } from '../src/engine/text-table.ts';

export interface BenchResult {
  persons: number;
  threads: number;
  /** records read (the ingest stage's rows) */
  records: number;
  wall: number;
  /** the batch's output folder */
  out: string;
  /** CPU seconds (user + system) of the batch's process */
  cpuSeconds: number;
  /** CPU seconds per stage */
  stageCpu: Record<string, number>;
  peakRssBytes: number;
  /** the largest size DuckDB's spill folder reached during the batch */
  peakSpillBytes: number;
  timings: { stage: string; rows: number; seconds: number }[];
  // biome-ignore lint: the batch's figures as report.json holds them
  figures: Record<string, any>;
}

export const fmt = (n: number) => n.toLocaleString('en-US');

/**
 * The folder of a generated population of `persons` (seed `seed`, profile `profile`: the generator's default when
 * empty), generated once.
 */
export function population(persons: number, seed: string, profile = ''): string {
  const cache = join(ROOT, 'bench', 'cache', `p${persons}-s${seed}${profile ? `-${profile.replace(':', '-')}` : ''}`);
  if (!populationCurrent(cache, profile || 'default')) {
    console.log(`generating ${fmt(persons)} persons${profile ? ` (profile ${profile})` : ''} into ${cache} …`);
    const t = performance.now();
    ensurePopulation(cache, persons, seed, profile || 'default', false);
    console.log(`generated in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  return cache;
}

/** One batch over the population in `cache`, in a child process of its own (its peak RSS is the batch's). */
export function runBench(cache: string, persons: number, seed: string, threads: number, memoryLimit: string): BenchResult {
  const out = join(cache, `out-t${threads}`);
  const config = {
    batch: `bench-${persons}`,
    snapshot_id: `bench-${persons}-s${seed}`,
    out,
    sources: populationSources(cache),
    truth: join(cache, 'truth.csv'),
  };
  mkdirSync(cache, { recursive: true });
  const configPath = join(cache, 'batch.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  // the spill folder is named so that its size can be watched; emptied before and after
  const spill = join(cache, 'spill');
  rmSync(spill, { recursive: true, force: true });
  const stdout = runCommand('npx', ['tsx', join(ROOT, 'bench', 'batch.ts'), configPath, out, String(threads), memoryLimit, spill], { capture: true });
  rmSync(spill, { recursive: true, force: true });
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as Omit<BenchResult, 'out' | 'persons' | 'threads' | 'records'>;
  const records = r.timings.find((t) => t.stage === 'ingest')?.rows ?? 0;
  return { ...r, out, persons, threads, records };
}

/** The reference workload's wall seconds and CPU seconds (user + system, every thread). */
export interface CalibResult {
  seconds: number;
  cpuSeconds: number;
}

/**
 * CPU seconds of the child processes this process has waited for (Linux: cutime + cstime of /proc/self/stat, in
 * clock ticks of 1/100 s); 0 elsewhere.
 */
function childCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is the state (field 3): cutime and cstime are fields 16 and 17
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return 0;
  }
}

/**
 * The reference workload (calib.mjs, see the Makefile's CALIB) on the same files, run from the checkout so that it
 * uses the project's DuckDB; its seconds and CPU seconds.
 */
export function runCalib(calib: string, cache: string): CalibResult {
  const cpu0 = childCpuSeconds();
  const out = runCommand('node', [calib, cache], { capture: true });
  const cpuSeconds = childCpuSeconds() - cpu0;
  const m = /calib_s\s+([\d.]+)/.exec(out);
  if (!m) throw new Error(`${calib} printed no "calib_s N" line: ${out.slice(0, 200)}`);
  return { seconds: Number(m[1]), cpuSeconds };
}

/** µs per record of `seconds`. */
export const perRecord = (seconds: number, records: number) => (records > 0 ? (seconds * 1e6) / records : 0);

/** The candidate pairs the linkage scored. */
export const candidatePairs = (r: BenchResult): number | undefined => r.figures.link?.candidate_pairs ?? r.figures.link?.candidatePairs;

/** The stage table: seconds, µs per record, CPU seconds, rows and rows/s per stage, then the total. */
export function printStages(r: BenchResult): void {
  printTable(
    process.stdout,
    [
      ...r.timings.map((t) => ({ stage: t.stage, seconds: t.seconds.toFixed(2), us_per_record: perRecord(t.seconds, r.records).toFixed(2), cpu_s: r.stageCpu?.[t.stage]?.toFixed(2) ?? '', rows: t.rows, rows_per_s: Math.round(t.rows / Math.max(t.seconds, 1e-3)) })),
      { stage: 'total (wall)', seconds: r.wall.toFixed(2), us_per_record: perRecord(r.wall, r.records).toFixed(2), cpu_s: r.cpuSeconds?.toFixed(2) ?? '', rows: r.records, rows_per_s: Math.round(r.records / Math.max(r.wall, 1e-3)) },
    ],
    ['stage', 'seconds', 'us_per_record', 'cpu_s', 'rows', 'rows_per_s'],
  );
}

/** Per stage, seconds with each thread count and the parallel efficiency t(1) / (n × t(n)) against the fewest threads. */
export function printThreads(results: BenchResult[]): void {
  const base = results[0]!;
  const stages = base.timings.map((t) => t.stage);
  const sec = (r: BenchResult, s: string) => (s === 'total' ? r.wall : (r.timings.find((t) => t.stage === s)?.seconds ?? 0));
  const rows = [...stages, 'total'].map((s) => {
    const row: Record<string, string> = { stage: s };
    for (const r of results) {
      row[`s_${r.threads}t`] = sec(r, s).toFixed(2);
      if (r !== base) row[`efficiency_${r.threads}t`] = ((sec(base, s) * base.threads) / Math.max(r.threads * sec(r, s), 1e-9)).toFixed(2);
    }
    return row;
  });
  const cols = ['stage', ...results.map((r) => `s_${r.threads}t`), ...results.slice(1).map((r) => `efficiency_${r.threads}t`)];
  console.log(`\nparallel efficiency per stage: t(${base.threads}) × ${base.threads} / (n × t(n)); 1.00 is perfect scaling`);
  printTable(process.stdout, rows, cols);
}
