/**
 * make bench-series [SERIES_SIZE=100000 MONTHS=6]: generates (cached under bench/cache/) monthly snapshots of one
 * population (dtsen generate --months), runs one batch per month, each continuing the previous one (--previous),
 * and prints per month: the share of true persons whose dtsen_id stayed the same (those whose records and
 * identity did not change, and all persons present both months), the persons new, inactive, merged and split by
 * the change log against the truth's new and gone persons, the wall time of the batch and of its register
 * stage; at the end whether every id ever issued resolves.
 */
import { populationSources } from './population.ts';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateMonths, type MonthFigures } from '../src/generate/months.ts';
import { loadConfig } from '../src/engine/config.ts';
import { silentLogger } from '../src/engine/log.ts';
import { Db, lit } from '../src/engine/db.ts';
import { runBatch } from '../src/pipeline.ts';
import { openBatch } from '../src/engine/batch.ts';
import { resolveIds } from '../src/register/resolve.ts';
import { printTable } from '../src/engine/text-table.ts';
import type { RegisterFigures } from '../src/register/index.ts';

const { values } = parseArgs({
  options: {
    persons: { type: 'string', default: '100000' },
    months: { type: 'string', default: '6' },
    seed: { type: 'string', default: '7' },
    threads: { type: 'string', default: '2' },
  },
});
const persons = Number(values.persons);
const months = Number(values.months);
const seed = Number(values.seed);
const root = resolve(import.meta.dirname, '..');
const cache = join(root, 'bench', 'cache', `series-p${persons}-m${months}-s${seed}`);

if (!existsSync(join(cache, 'series.json'))) {
  console.log(`generating ${months} months of ${persons.toLocaleString('en-US')} persons into ${cache} …`);
  const t = performance.now();
  await generateMonths({ persons, seed, months, out: cache });
  console.log(`generated in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
const series = JSON.parse(readFileSync(join(cache, 'series.json'), 'utf8')) as { months_figures: MonthFigures[] };

const monthDir = (m: number) => join(cache, `month-${String(m).padStart(2, '0')}`);
const outDir = (m: number) => join(cache, 'runs', `month-${String(m).padStart(2, '0')}`);
const db = await Db.open();
const rows: Record<string, unknown>[] = [];
for (let m = 1; m <= months; m++) {
  const src = monthDir(m);
  const config = {
    batch: `series-${m}`,
    snapshot_id: `month-${m}`,
    out: outDir(m),
    threads: Number(values.threads),
    sources: populationSources(src),
    ...(m > 1 ? { previous: outDir(m - 1) } : {}),
  };
  mkdirSync(join(cache, 'runs'), { recursive: true });
  const configPath = join(cache, 'runs', `month-${m}.json`);
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const t0 = performance.now();
  const result = await runBatch(await loadConfig(configPath), { log: silentLogger() });
  const wall = (performance.now() - t0) / 1000;
  const reg = result.figures.register as RegisterFigures;
  const registerSeconds = result.timings.find((t) => t.stage === 'register')?.seconds ?? 0;
  const truth = series.months_figures[m - 1];
  const row: Record<string, unknown> = { month: m, wall_s: Number(wall.toFixed(1)), register_s: registerSeconds, persons: reg.persons.active };
  if (m > 1) {
    const t = (k: number) => `read_csv(${lit(join(monthDir(k), 'truth.csv'))}, all_varchar = true)`;
    const l = (k: number) => `read_parquet(${lit(join(outDir(k), 'dtsen_link.parquet'))})`;
    const ids = (k: number) => `(SELECT person_id, arg_max(dtsen_id, (n, dtsen_id)) AS id, list_sort(list(rec)) AS recs FROM (
        SELECT t.person_id, l.dtsen_id, count(*) OVER (PARTITION BY t.person_id, l.dtsen_id) AS n, t.source || ':' || t.source_record_id AS rec
        FROM ${t(k)} t JOIN ${l(k)} l USING (source, source_record_id)) GROUP BY person_id)`;
    const events = `read_csv(${lit(join(monthDir(m), 'events.csv'))}, all_varchar = true)`;
    const s = await db.one<{ both: string; same: string; unchanged: string; unchanged_same: string }>(`
      WITH a AS ${ids(m - 1)}, b AS ${ids(m)},
      changed AS (SELECT DISTINCT person_id FROM ${events} WHERE event IN ('nik_corrected', 'name_corrected')),
      j AS (SELECT a.person_id, a.id = b.id AS same, a.recs = b.recs AND a.person_id NOT IN (SELECT person_id FROM changed) AS unchanged FROM a JOIN b USING (person_id))
      SELECT count(*) AS both, count(*) FILTER (WHERE same) AS same, count(*) FILTER (WHERE unchanged) AS unchanged, count(*) FILTER (WHERE unchanged AND same) AS unchanged_same FROM j`);
    row.stable_unchanged = Number(s!.unchanged_same) / Number(s!.unchanged);
    row.stable_all = Number(s!.same) / Number(s!.both);
    row.unchanged_persons = Number(s!.unchanged);
    row.new_log = reg.persons.new;
    row.new_truth = truth.new_persons;
    row.inactive_log = reg.persons.inactive;
    row.gone_truth = truth.gone_persons;
    row.merged = reg.persons.merged + reg.persons.retired;
    row.split = reg.persons.split;
    row.returned = reg.persons.returned;
  }
  rows.push(row);
  console.log(JSON.stringify(row));
}
const fmt = rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' && !Number.isInteger(v) ? (k.startsWith('stable') ? `${(v * 100).toFixed(3)}%` : v.toFixed(1)) : v])));
printTable(process.stdout, fmt, ['month', 'wall_s', 'register_s', 'persons', 'unchanged_persons', 'stable_unchanged', 'stable_all', 'new_log', 'new_truth', 'inactive_log', 'gone_truth', 'merged', 'split', 'returned']);

const last = await openBatch(outDir(months));
try {
  const all = (await last.db.all<{ id: string }>(`SELECT id FROM dtsen_id_history`)).map((r) => r.id);
  let resolved = 0;
  for (let i = 0; i < all.length; i += 5000) {
    const r = await resolveIds(last.db, all.slice(i, i + 5000));
    resolved += r.filter((x) => x.known && x.now.length + x.inactive.length > 0).length;
  }
  console.log(`\nids ever issued: ${all.length.toLocaleString('en-US')}; resolving to an active or inactive id: ${resolved.toLocaleString('en-US')}`);
} finally {
  await last.close();
  await db.close();
}
