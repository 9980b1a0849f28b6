/**
 * make bench-scale [SCALE_SIZES="1000000 3000000 10000000 30000000" CALIB=…]: one batch per population size, each
 * held to `--memory-limit` (16GB), and per size the wall time, the time per record, the peak RSS, the spill peak,
 * the candidate pairs per record, precision and recall (and the ratio to the reference workload when CALIB is
 * given); then every stage's time per record at every size, so that a stage growing faster than the records shows.
 */
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { layoutOf } from '../src/engine/batchdir.ts';
import { printTable } from '../src/engine/text-table.ts';
import { candidatePairs, fmt, perRecord, population, printStages, runBench, runCalib, type BenchResult } from './measure.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000000 3000000 10000000 30000000' },
    seed: { type: 'string', default: '7' },
    /** the population's profile (src/generate/profiles.ts; empty: the generator's default) */
    profile: { type: 'string', default: '' },
    threads: { type: 'string', default: '2' },
    'memory-limit': { type: 'string', default: '16GB' },
    calib: { type: 'string', default: '' },
    // each size's batch folder is removed once measured (30M persons write tens of GB); this keeps them
    'keep-batches': { type: 'boolean', default: false },
  },
});
const sizes = values.sizes!.split(/[\s,]+/).filter(Boolean).map(Number);
const rows: Record<string, unknown>[] = [];
const results: BenchResult[] = [];
for (const persons of sizes) {
  const cache = population(persons, values.seed!, values.profile);
  const calib = values.calib ? runCalib(values.calib, cache) : undefined;
  const r = runBench(cache, persons, values.seed!, Number(values.threads), values['memory-limit']!);
  results.push(r);
  if (!values['keep-batches']) {
    rmSync(r.out, { force: true });
    rmSync(layoutOf(r.out).versionsDir, { recursive: true, force: true });
  }
  console.log(`\n${fmt(persons)} persons, ${fmt(r.records)} records`);
  printStages(r);
  const pairs = candidatePairs(r) ?? 0;
  const ev = r.figures.evaluate;
  rows.push({
    persons: fmt(persons),
    records: fmt(r.records),
    wall_s: r.wall.toFixed(1),
    us_per_record: perRecord(r.wall, r.records).toFixed(1),
    peak_rss_gib: (r.peakRssBytes / 2 ** 30).toFixed(2),
    spill_gib: (r.peakSpillBytes / 2 ** 30).toFixed(2),
    pairs_per_record: (pairs / Math.max(r.records, 1)).toFixed(2),
    precision: ev?.precision?.toFixed(4) ?? '',
    recall: ev?.recall?.toFixed(4) ?? '',
    calib_s: calib?.seconds.toFixed(1) ?? '',
    ratio: calib ? (r.wall / calib.seconds).toFixed(2) : '',
  });
  // the table so far after every size: a long run that is stopped still leaves its figures
  console.log(`\nscaling (threads ${values.threads}, memory limit ${values['memory-limit']})`);
  printTable(process.stdout, rows, ['persons', 'records', 'wall_s', 'us_per_record', 'peak_rss_gib', 'spill_gib', 'pairs_per_record', 'precision', 'recall', 'calib_s', 'ratio']);
}
console.log('\nµs per record by stage and size (growth: the last size against the first)');
const stages = results[0]?.timings.map((t) => t.stage) ?? [];
printTable(
  process.stdout,
  [...stages, 'total'].map((s) => {
    const us = results.map((r) => perRecord(s === 'total' ? r.wall : (r.timings.find((t) => t.stage === s)?.seconds ?? 0), r.records));
    const row: Record<string, string> = { stage: s };
    results.forEach((r, i) => (row[fmt(r.persons)] = us[i]!.toFixed(2)));
    row.growth = us.length > 1 && us[0]! > 0 ? (us.at(-1)! / us[0]!).toFixed(2) : '';
    return row;
  }),
  ['stage', ...results.map((r) => fmt(r.persons)), 'growth'],
);
