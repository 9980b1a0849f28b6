/**
 * make bench-quality [QUALITY_SIZE=100000]: the linker on every population of the zoo (src/generate/profiles.ts)
 * and on random profiles, with the default configuration. Each population is generated (and cached under
 * bench/cache/, outside git) and run as a full batch in a child process; the bench prints per profile the
 * pairwise precision, recall and F1 against the truth, the exact-NIK baseline, where the missed pairs were lost,
 * the threshold in use, and the model's own expected precision and recall there (no truth) with their error
 * against the truth. The last line is the worst case.
 *
 *   npx tsx bench/quality.ts --persons 20000 [--profiles clean,dtks2019] [--random 3 | --random-seeds 11,12]
 */
import { ensurePopulation, populationSources, runCommand } from './population.ts';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PROFILE_NAMES } from '../src/generate/profiles.ts';

const { values } = parseArgs({
  options: {
    persons: { type: 'string', default: '100000' },
    /** the population seed (the same persons' layout under every profile) */
    seed: { type: 'string', default: '7' },
    threads: { type: 'string', default: '2' },
    /** comma-separated profile names (default: every named profile) */
    profiles: { type: 'string', default: '' },
    /** random profiles with these seeds */
    'random-seeds': { type: 'string', default: '' },
    /** this many random profiles with fresh seeds drawn from the clock (printed, so a run can be repeated) */
    random: { type: 'string', default: '0' },
    /** print the output folder of each batch */
    verbose: { type: 'boolean', default: false },
  },
});

const persons = Number(values.persons);
const root = resolve(import.meta.dirname, '..');

const names = values.profiles ? values.profiles.split(',').map((s) => s.trim()).filter(Boolean) : [...PROFILE_NAMES];
const seeds = values['random-seeds'] ? values['random-seeds'].split(',').map((s) => Number(s.trim())) : [];
for (let i = 0; i < Number(values.random); i++) seeds.push(((Date.now() + i * 7919) % 1_000_000) + 1);
names.push(...seeds.map((s) => `random:${s}`));
if (seeds.length) console.log(`random profile seeds: ${seeds.join(', ')}`);

const run = (cmd: string, args: string[], capture = false) => runCommand(cmd, args, { capture, quiet: true });

interface Row {
  profile: string;
  precision: number;
  recall: number;
  f1: number;
  baseline: { precision: number; recall: number; f1: number };
  fn: Record<string, number>;
  threshold: number | string;
  expected?: { precision: number; recall: number };
  pairLevel?: { precision: number; recall: number };
  seconds: number;
}

const rows: Row[] = [];
const f4 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '   -  ' : x.toFixed(4));
const header = `${'profile'.padEnd(16)} precision recall  F1      | baseline P  R      F1     | lost: never below hard split | threshold | expected P  R      | error P  R`;
console.log(`\nlinkage quality across the population zoo: ${persons.toLocaleString('en-US')} persons per profile, population seed ${values.seed}`);
for (const name of names) {
  const dir = join(root, 'bench', 'cache', `q-${name.replace(':', '-')}-p${persons}-s${values.seed}`);
  ensurePopulation(dir, persons, values.seed!, name);
  const config = {
    batch: `quality-${name.replace(':', '-')}`,
    snapshot_id: `quality-${name.replace(':', '-')}-${persons}`,
    out: join(dir, 'out'),
    sources: populationSources(dir),
    truth: join(dir, 'truth.csv'),
  };
  const configPath = join(dir, 'batch.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const t = performance.now();
  const out = run('npx', ['tsx', join(root, 'bench', 'batch.ts'), configPath, join(dir, 'out'), values.threads!, ''], true);
  const result = JSON.parse(out.trim().split('\n').pop()!) as { figures: Record<string, any> };
  const ev = result.figures.evaluate;
  const cl = result.figures.cluster ?? {};
  const expected = cl.expected as { precision: number; recall: number } | undefined;
  const at = ev.threshold_curve?.at_threshold as { precision: number; recall: number } | undefined;
  const row: Row = {
    profile: name,
    precision: ev.precision,
    recall: ev.recall,
    f1: ev.f1,
    baseline: ev.baseline,
    fn: ev.false_negatives,
    threshold: cl.threshold_chosen ?? cl.threshold,
    expected,
    pairLevel: at,
    seconds: (performance.now() - t) / 1000,
  };
  rows.push(row);
  if (rows.length === 1) console.log(header);
  printRow(row);
  if (values.verbose) console.log(`  ${dir}/out`);
}

function printRow(r: Row): void {
  const fn = r.fn ?? {};
  const lost = [fn.never_candidate, fn.scored_below_threshold, fn.held_apart_as_hard_negative, fn.split_by_clustering].map((x) => String(x ?? '-').padStart(5)).join(' ');
  const thr = typeof r.threshold === 'number' ? r.threshold.toFixed(4) : String(r.threshold ?? '-');
  const err = r.expected ? `${f4(Math.abs(r.expected.precision - r.precision))} ${f4(Math.abs(r.expected.recall - r.recall))}` : '-';
  console.log(
    `${r.profile.padEnd(16)} ${f4(r.precision)}    ${f4(r.recall)}  ${f4(r.f1)}  | ${f4(r.baseline.precision)}  ${f4(r.baseline.recall)} ${f4(r.baseline.f1)} | ${lost}       | ${thr.padEnd(9)} | ${f4(r.expected?.precision)}  ${f4(r.expected?.recall)} | ${err}   (${r.seconds.toFixed(0)} s)`,
  );
}

if (rows.length) {
  const worst = (k: 'precision' | 'recall' | 'f1') => rows.reduce((a, r) => (r[k] < a[k] ? r : a));
  console.log(`\nworst precision ${f4(worst('precision').precision)} (${worst('precision').profile}), worst recall ${f4(worst('recall').recall)} (${worst('recall').profile}), worst F1 ${f4(worst('f1').f1)} (${worst('f1').profile})`);
  const withExp = rows.filter((r) => r.expected);
  if (withExp.length) {
    const errP = Math.max(...withExp.map((r) => Math.abs(r.expected!.precision - r.precision)));
    const errR = Math.max(...withExp.map((r) => Math.abs(r.expected!.recall - r.recall)));
    console.log(`largest calibration error: precision ${f4(errP)}, recall ${f4(errR)}`);
  }
  const pass = rows.filter((r) => r.precision >= 0.995 && r.recall >= 0.98).length;
  console.log(`profiles reaching precision >= 0.995 and recall >= 0.98: ${pass} of ${rows.length}`);
}
