/**
 * make bench [SIZE=1000000 THREADS=2 CALIB=…]: generates (and caches under bench/cache/, outside git) a population,
 * runs the reference workload calib.mjs on its files, then a full batch in a child process, and prints per stage the
 * wall time and the time per record, the peak RSS and spill, the batch's ratio to the reference workload (same run)
 * and the quality against the generator's truth beside the exact-NIK baseline.
 *
 * `--threads 1,2` runs the batch once per thread count and prints the parallel efficiency of every stage.
 */
import { parseArgs } from 'node:util';
import { printBlocking, printEvaluation } from '../src/cli/quality.ts';
import { candidatePairs, fmt, population, printStages, printThreads, runBench, runCalib, type BenchResult, type CalibResult } from './measure.ts';

const { values } = parseArgs({
  options: {
    persons: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '7' },
    /** the population's profile (src/generate/profiles.ts; empty: the generator's default) */
    profile: { type: 'string', default: '' },
    /** a thread count, or several separated by commas (each a run of its own) */
    threads: { type: 'string', default: '2' },
    'memory-limit': { type: 'string', default: '' },
    /** the reference workload (calib.mjs); none: no ratio */
    calib: { type: 'string', default: '' },
    /** leave out the blocking report and the quality breakdown (false negatives, false positives) */
    brief: { type: 'boolean', default: false },
  },
});
const persons = Number(values.persons);
const seed = values.seed!;
// From 5 million persons the batch is held to 16 GB of DuckDB memory (it spills to disk beyond it).
const memoryLimit = values['memory-limit'] || (persons >= 5_000_000 ? '16GB' : '');
const threadCounts = values.threads!.split(',').map(Number);
if (threadCounts.some((t) => !Number.isInteger(t) || t < 1)) throw new Error(`--threads: thread counts, e.g. 2 or 1,2 (got ${values.threads})`);

const cache = population(persons, seed, values.profile);
let calib: CalibResult | undefined;
if (values.calib) {
  console.log(`reference workload ${values.calib} …`);
  calib = runCalib(values.calib, cache);
}
const results: BenchResult[] = [];
for (const threads of threadCounts) {
  const r = runBench(cache, persons, seed, threads, memoryLimit);
  results.push(r);
  console.log(`\ndtsen benchmark: ${fmt(persons)} persons, ${fmt(r.records)} records, threads ${threads}${memoryLimit ? `, memory limit ${memoryLimit}` : ''}`);
  printStages(r);
  const pairs = candidatePairs(r);
  if (pairs !== undefined) {
    console.log(`candidate pairs: ${fmt(pairs)} (${(pairs / Math.max(r.records, 1)).toFixed(2)} per record)`);
    const parts = r.figures.link?.seconds as Record<string, number> | undefined;
    if (parts) console.log(`link: ${Object.entries(parts).map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(', ')}`);
  }
  console.log(`total wall time: ${r.wall.toFixed(1)} s`);
  console.log(`peak RSS: ${(r.peakRssBytes / 2 ** 30).toFixed(2)} GiB; spill peak: ${(r.peakSpillBytes / 2 ** 20).toFixed(0)} MiB`);
  if (calib !== undefined) {
    console.log(`reference workload (calib.mjs): ${calib.seconds.toFixed(2)} s; batch / reference: ${(r.wall / calib.seconds).toFixed(2)}`);
    // the same in CPU seconds: much less sensitive than wall time to other work on a shared machine
    console.log(`reference workload CPU: ${calib.cpuSeconds.toFixed(2)} s; batch CPU: ${r.cpuSeconds.toFixed(2)} s; batch / reference (CPU): ${(r.cpuSeconds / Math.max(calib.cpuSeconds, 1e-3)).toFixed(2)}`);
  }
}
const last = results.at(-1)!;
const ev = last.figures.evaluate;
if (ev) {
  console.log(`quality: precision ${ev.precision?.toFixed(4)}  recall ${ev.recall?.toFixed(4)}  F1 ${ev.f1?.toFixed(4)}`);
  if (ev.baseline) console.log(`exact-NIK baseline: precision ${ev.baseline.precision?.toFixed(4)}  recall ${ev.baseline.recall?.toFixed(4)}  F1 ${ev.baseline.f1?.toFixed(4)}`);
}
if (results.length > 1) printThreads(results);
if (!values.brief) {
  if (last.figures.link?.blocking) printBlocking(process.stdout, last.figures.link.blocking, ev?.blocking);
  if (ev) printEvaluation(process.stdout, ev);
}
