/**
 * make bench [SIZE=1000000]: generates (and caches under bench/cache/, outside git) a population,
 * runs a full batch in a child process and prints per stage wall time, rows and pairs, the peak RSS and
 * the quality against the generator's truth beside the exact-NIK baseline.
 */
import { populationSources, runCommand } from './population.ts';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { printBlocking, printEvaluation } from '../src/cli/quality.ts';

const { values } = parseArgs({
  options: {
    persons: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '7' },
    threads: { type: 'string', default: '2' },
    'memory-limit': { type: 'string', default: '' },
    /** leave out the blocking report and the quality breakdown (false negatives, false positives) */
    brief: { type: 'boolean', default: false },
  },
});
const persons = Number(values.persons);
// From 5 million persons the batch is held to 16 GB of DuckDB memory (it spills to disk beyond it).
const memoryLimit = values['memory-limit'] || (persons >= 5_000_000 ? '16GB' : '');
const root = resolve(import.meta.dirname, '..');
const cache = join(root, 'bench', 'cache', `p${persons}-s${values.seed}`);
const bin = join(root, 'bin', 'dtsen.js');

const run = (cmd: string, args: string[], capture = false) => runCommand(cmd, args, { capture });

if (!existsSync(join(cache, 'manifest.json'))) {
  console.log(`generating ${persons.toLocaleString('en-US')} persons into ${cache} …`);
  const t = performance.now();
  run('node', [bin, 'generate', '--persons', String(persons), '--seed', values.seed!, '--out', cache]);
  console.log(`generated in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}

const config = {
  batch: `bench-${persons}`,
  snapshot_id: `bench-${persons}-s${values.seed}`,
  out: join(cache, 'out'),
  sources: populationSources(cache),
  truth: join(cache, 'truth.csv'),
};
mkdirSync(cache, { recursive: true });
const configPath = join(cache, 'batch.json');
writeFileSync(configPath, JSON.stringify(config, null, 2));

const out = run('npx', ['tsx', join(root, 'bench', 'batch.ts'), configPath, join(cache, 'out'), values.threads!, memoryLimit], true);
const result = JSON.parse(out.trim().split('\n').pop()!) as {
  wall: number;
  peakRssBytes: number;
  timings: { stage: string; rows: number; seconds: number }[];
  figures: Record<string, any>;
};

const pairs = result.figures.link?.candidate_pairs ?? result.figures.link?.candidatePairs;
const fmt = (n: number) => n.toLocaleString('en-US');
console.log(`\ndtsen benchmark: ${fmt(persons)} persons, threads ${values.threads}${memoryLimit ? `, memory limit ${memoryLimit}` : ''}`);
console.log('stage        seconds        rows   rows/s');
for (const t of result.timings) {
  console.log(`${t.stage.padEnd(10)} ${t.seconds.toFixed(2).padStart(9)} ${fmt(t.rows).padStart(11)} ${fmt(Math.round(t.rows / Math.max(t.seconds, 1e-3))).padStart(12)}`);
}
if (pairs !== undefined) {
  const linkT = result.timings.find((t) => t.stage === 'link')?.seconds ?? 0;
  console.log(`candidate pairs: ${fmt(pairs)} (${fmt(Math.round(pairs / Math.max(linkT, 1e-3)))} pairs/s in link)`);
  const parts = result.figures.link?.seconds as Record<string, number> | undefined;
  if (parts) console.log(`link: ${Object.entries(parts).map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(', ')}`);
}
console.log(`total wall time: ${result.wall.toFixed(1)} s`);
console.log(`peak RSS: ${(result.peakRssBytes / 2 ** 30).toFixed(2)} GiB`);
const ev = result.figures.evaluate;
if (ev) {
  console.log(`quality: precision ${ev.precision?.toFixed(4)}  recall ${ev.recall?.toFixed(4)}  F1 ${ev.f1?.toFixed(4)}`);
  if (ev.baseline) console.log(`exact-NIK baseline: precision ${ev.baseline.precision?.toFixed(4)}  recall ${ev.baseline.recall?.toFixed(4)}  F1 ${ev.baseline.f1?.toFixed(4)}`);
}
if (!values.brief) {
  if (result.figures.link?.blocking) printBlocking(process.stdout, result.figures.link.blocking, ev?.blocking);
  if (ev) printEvaluation(process.stdout, ev);
}
