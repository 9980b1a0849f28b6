/**
 * make bench-series [SERIES_SIZE=100000 MONTHS=6]: generates (cached under bench/cache/) monthly snapshots of one
 * population (dtsen generate --months), runs one batch per month, each continuing the previous one (--previous),
 * and prints per month: the share of true persons whose dtsen_id stayed the same (those whose records and
 * identity did not change, and all persons present both months), the persons new, inactive, merged and split by
 * the change log against the truth's new and gone persons, the wall time of the batch and of its register
 * stage; at the end whether every id ever issued resolves.
 *
 * Then (`--compare`, the default) the last month again, twice, each batch in a child process of its own
 * (bench/batch.ts): incrementally from the month before, and with --full. It prints both runs' stage timings side by
 * side, the wall ratio, each run's peak RSS, and the share of records whose person is the same in both (the same
 * records together), with the differing ones listed and why they differ. `--same-model` also runs it --full with the
 * previous batch's model and threshold, whose persons must be the incremental batch's exactly. Each stage is shown in
 * wall seconds and in CPU seconds of the batch's process (user + system, every thread: on a shared machine the
 * wall time grows with the others' load, the CPU time much less), with the rows normalise cleaned and copied.
 * `--compare-only` runs only this comparison, on the months' batches already in the cache; `--compare-month N` compares
 * month N instead of the last.
 *
 * Each month's batch has its own snapshot date, the first of the month from 2026-10-01 (monthSnapshotDate), as real
 * monthly snapshots do: a moved date makes normalise clean again the unchanged rows depending on it (a birth date
 * between the two dates; across a year, every age counted to the snapshot date and NIK centuries inferred with its
 * year). Per month it also prints normalise's seconds and the rows it cleaned and copied.
 */
import { populationSources, runCommand, ROOT } from './population.ts';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateMonths, monthSnapshotDate, type MonthFigures } from '../src/generate/months.ts';
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
    'memory-limit': { type: 'string', default: '' },
    compare: { type: 'boolean', default: true },
    'no-compare': { type: 'boolean', default: false },
    /** the month compared (default the last): e.g. the month whose snapshot date crosses a year (4 with the default dates) */
    'compare-month': { type: 'string', default: '' },
    /** only the comparison of the last month (the months' batches already in the cache) */
    'compare-only': { type: 'boolean', default: false },
    /** also run the last month --full with the previous model and threshold: its persons must equal the incremental batch's */
    'same-model': { type: 'boolean', default: false },
    /** list at most this many differing records */
    list: { type: 'string', default: '20' },
  },
});
const persons = Number(values.persons);
const months = Number(values.months);
const cmpMonth = Number(values['compare-month'] || months);
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
const compareOnly = values['compare-only'];
if (compareOnly && !existsSync(join(outDir(cmpMonth - 1), 'report.json'))) {
  console.error(`--compare-only: no batch of month ${cmpMonth - 1} in ${cache}; run without --compare-only first`);
  process.exit(2);
}
for (let m = 1; m <= (compareOnly ? 0 : months); m++) {
  const src = monthDir(m);
  const config = {
    batch: `series-${m}`,
    snapshot_id: `month-${m}`,
    snapshot_date: monthSnapshotDate(m),
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
  const norm = result.figures.normalise?.recompute;
  const row: Record<string, unknown> = {
    month: m, snapshot_date: config.snapshot_date, wall_s: Number(wall.toFixed(1)), register_s: registerSeconds,
    normalise_s: result.timings.find((t) => t.stage === 'normalise')?.seconds ?? 0, cleaned: norm?.cleaned, copied: norm?.copied, persons: reg.persons.active,
  };
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
if (!compareOnly) {
  const fmt = rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' && !Number.isInteger(v) ? (k.startsWith('stable') ? `${(v * 100).toFixed(3)}%` : v.toFixed(1)) : v])));
  printTable(process.stdout, fmt, ['month', 'snapshot_date', 'wall_s', 'register_s', 'normalise_s', 'cleaned', 'copied', 'persons', 'unchanged_persons', 'stable_unchanged', 'stable_all', 'new_log', 'new_truth', 'inactive_log', 'gone_truth', 'merged', 'split', 'returned']);
}

if ((compareOnly || (values.compare && !values['no-compare'])) && cmpMonth > 1) await compareLastMonth();

const last = existsSync(join(outDir(months), 'report.json')) ? await openBatch(outDir(months)) : undefined;
try {
  if (last) {
    const all = (await last.db.all<{ id: string }>(`SELECT id FROM dtsen_id_history`)).map((r) => r.id);
    let resolved = 0;
    for (let i = 0; i < all.length; i += 5000) {
      const r = await resolveIds(last.db, all.slice(i, i + 5000));
      resolved += r.filter((x) => x.known && x.now.length + x.inactive.length > 0).length;
    }
    console.log(`\nids ever issued: ${all.length.toLocaleString('en-US')}; resolving to an active or inactive id: ${resolved.toLocaleString('en-US')}`);
  }
} finally {
  await last?.close();
  await db.close();
}

interface ChildRun {
  wall: number;
  /** CPU seconds of the batch's process (user + system, every thread), and per stage */
  cpuSeconds: number;
  stageCpu: Record<string, number>;
  peakRssBytes: number;
  peakSpillBytes: number;
  timings: { stage: string; rows: number; seconds: number }[];
  // biome-ignore lint: the batch's figures as report.json holds them
  figures: Record<string, any>;
}

/**
 * The last month in a child process of its own (its peak RSS is the batch's): incremental, or --full (`sameModel`:
 * scoring with the previous batch's model at its threshold, as the incremental batch does).
 */
function runLast(path: 'incremental' | 'full', sameModel = false): { out: string; run: ChildRun } {
  const m = cmpMonth;
  const name = `${m === months ? 'last' : `m${m}`}-${path}${sameModel ? '-same-model' : ''}`;
  const out = join(cache, 'runs', name);
  const previous = outDir(m - 1);
  const prevConfig = JSON.parse(readFileSync(join(previous, 'report.json'), 'utf8')).run?.config as { linkage?: { threshold?: number } } | undefined;
  const config = {
    batch: `series-${m}-${path}`,
    snapshot_id: `month-${m}`,
    snapshot_date: monthSnapshotDate(m),
    out,
    sources: populationSources(monthDir(m)),
    previous,
    recompute: path,
    ...(sameModel ? { linkage: { model: join(previous, 'model.json'), threshold: prevConfig?.linkage?.threshold } } : {}),
  };
  const configPath = join(cache, 'runs', `${name}.json`);
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const spill = join(cache, 'runs', `spill-${path}`);
  const stdout = runCommand('npx', ['tsx', join(ROOT, 'bench', 'batch.ts'), configPath, out, values.threads!, values['memory-limit']!, spill], { capture: true });
  return { out, run: JSON.parse(stdout.trim().split('\n').pop()!) as ChildRun };
}

async function compareLastMonth(): Promise<void> {
  console.log(`\nmonth ${cmpMonth} (snapshot date ${monthSnapshotDate(cmpMonth)}, the month before ${monthSnapshotDate(cmpMonth - 1)}) again, incrementally and with --full (each in a process of its own) …`);
  const inc = runLast('incremental');
  const full = runLast('full');
  const same = values['same-model'] ? runLast('full', true) : undefined;
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
  const stages = full.run.timings.map((t) => t.stage);
  const sec = (r: ChildRun, s: string) => r.timings.find((t) => t.stage === s)?.seconds ?? 0;
  const cpu = (r: ChildRun, s: string) => r.stageCpu?.[s] ?? 0;
  const sm = (v: (r: ChildRun) => number, c: (r: ChildRun) => number) => (same ? { full_same_model_s: v(same.run).toFixed(2), full_same_model_cpu_s: c(same.run).toFixed(2) } : {});
  const ratio = (a: number, b: number) => (a / Math.max(b, 1e-3)).toFixed(2);
  printTable(process.stdout, [
    ...stages.map((s) => ({
      stage: s, incremental_s: sec(inc.run, s).toFixed(2), full_s: sec(full.run, s).toFixed(2), ratio: ratio(sec(inc.run, s), sec(full.run, s)),
      incremental_cpu_s: cpu(inc.run, s).toFixed(2), full_cpu_s: cpu(full.run, s).toFixed(2), cpu_ratio: ratio(cpu(inc.run, s), cpu(full.run, s)),
      ...sm((r) => sec(r, s), (r) => cpu(r, s)),
    })),
    {
      stage: 'total', incremental_s: inc.run.wall.toFixed(2), full_s: full.run.wall.toFixed(2), ratio: (inc.run.wall / full.run.wall).toFixed(3),
      incremental_cpu_s: inc.run.cpuSeconds.toFixed(2), full_cpu_s: full.run.cpuSeconds.toFixed(2), cpu_ratio: (inc.run.cpuSeconds / full.run.cpuSeconds).toFixed(3),
      ...sm((r) => r.wall, (r) => r.cpuSeconds),
    },
  ], ['stage', 'incremental_s', 'full_s', 'ratio', 'incremental_cpu_s', 'full_cpu_s', 'cpu_ratio', ...(same ? ['full_same_model_s', 'full_same_model_cpu_s'] : [])]);
  const norm = (r: ChildRun) => r.figures.normalise?.recompute as { path: string; reason: string; cleaned: number; copied: number } | undefined;
  for (const [name, r] of [['incremental', inc.run], ['full', full.run]] as const) {
    const n = norm(r);
    if (n) console.log(`normalise (${name}): ${n.cleaned.toLocaleString('en-US')} rows cleaned, ${n.copied.toLocaleString('en-US')} copied (${n.path}: ${n.reason})`);
  }
  const rec = inc.run.figures.link?.recompute;
  console.log(`incremental path: ${rec?.path} (${rec?.reason}); link seconds ${JSON.stringify(inc.run.figures.link?.seconds)} against ${JSON.stringify(full.run.figures.link?.seconds)}${same ? ` and ${JSON.stringify(same.run.figures.link?.seconds)} (--full, previous model)` : ''}`);
  const famCpu = (r: ChildRun) => (r.figures.link as { cpu_seconds?: { family_context?: number } } | undefined)?.cpu_seconds?.family_context;
  console.log(`family context CPU seconds: incremental ${famCpu(inc.run)}, full ${famCpu(full.run)}${same ? `, --full with the previous model ${famCpu(same.run)}` : ''}`);
  const fam = rec?.link?.family;
  if (fam) console.log(`family context (incremental): ${JSON.stringify(fam)}`);
  for (const r of inc.run.figures.register?.recompute ?? []) console.log(`  ${r.what}: ${r.recomputed.toLocaleString('en-US')} of ${r.total.toLocaleString('en-US')} computed (${((100 * r.recomputed) / Math.max(r.total, 1)).toFixed(2)}%)`);
  console.log(`wall: incremental ${inc.run.wall.toFixed(1)} s, full ${full.run.wall.toFixed(1)} s: ${((100 * inc.run.wall) / full.run.wall).toFixed(1)}% of the full batch`);
  console.log(`CPU: incremental ${inc.run.cpuSeconds.toFixed(1)} s, full ${full.run.cpuSeconds.toFixed(1)} s: ${((100 * inc.run.cpuSeconds) / full.run.cpuSeconds).toFixed(1)}% of the full batch`);
  console.log(`peak RSS: incremental ${gib(inc.run.peakRssBytes)}, full ${gib(full.run.peakRssBytes)}; peak spill: ${gib(inc.run.peakSpillBytes)}, ${gib(full.run.peakSpillBytes)}`);
  console.log(`thresholds: incremental ${inc.run.figures.cluster?.threshold} (${inc.run.figures.link?.threshold?.mode}, model ${inc.run.figures.link?.model_source}), full ${full.run.figures.cluster?.threshold} (${full.run.figures.link?.threshold?.mode}, model ${full.run.figures.link?.model_source})`);

  // Persons record by record: the same records together in both (rec_ids are the same: one snapshot, normalised alike).
  await db.run(`ATTACH ${lit(join(inc.out, 'dtsen.duckdb'))} AS inc (READ_ONLY); ATTACH ${lit(join(full.out, 'dtsen.duckdb'))} AS fl (READ_ONLY)`);
  try {
    await db.run(`
      CREATE OR REPLACE TEMP TABLE cmp_members AS
      WITH a AS (SELECT l.rec_id, list_sort(list(l.rec_id) OVER (PARTITION BY l.dtsen_id)) AS members, l.dtsen_id FROM inc.dtsen_link l),
      b AS (SELECT l.rec_id, list_sort(list(l.rec_id) OVER (PARTITION BY l.dtsen_id)) AS members, l.dtsen_id FROM fl.dtsen_link l)
      SELECT a.rec_id, a.members AS inc_members, b.members AS full_members, a.dtsen_id = b.dtsen_id AS same_id FROM a JOIN b USING (rec_id);
      CREATE OR REPLACE TEMP TABLE cmp_diff AS
      WITH d AS (SELECT rec_id, list_filter(list_concat(inc_members, full_members), x -> NOT (list_contains(inc_members, x) AND list_contains(full_members, x))) AS partners FROM cmp_members WHERE inc_members <> full_members),
      one AS (SELECT rec_id, list_min(partners) AS partner FROM d),
      pr AS (
        SELECT o.rec_id, o.partner, si.match_probability AS p_inc, sf.match_probability AS p_full,
          si.match_probability >= (SELECT (config->'linkage'->>'threshold')::DOUBLE FROM inc.batch_info) AND NOT coalesce(si.hard_negative, false) AS linked_inc,
          sf.match_probability >= (SELECT (config->'linkage'->>'threshold')::DOUBLE FROM fl.batch_info) AND NOT coalesce(sf.hard_negative, false) AS linked_full
        FROM one o LEFT JOIN inc.scored_pairs si ON si.rec_id_l = least(o.rec_id, o.partner) AND si.rec_id_r = greatest(o.rec_id, o.partner)
        LEFT JOIN fl.scored_pairs sf ON sf.rec_id_l = least(o.rec_id, o.partner) AND sf.rec_id_r = greatest(o.rec_id, o.partner))
      SELECT pr.*, CASE
          WHEN p_inc IS NULL AND p_full IS NULL THEN 'joined through other records in one batch only'
          WHEN linked_inc <> linked_full THEN 'the two models weigh the pair on either side of the threshold'
          ELSE 'linked in both, parted differently (conflict split over other weights)' END AS reason
      FROM pr;`);
    const s = await db.one<{ n: bigint; same: bigint; same_id: bigint }>(`SELECT count(*) AS n, count(*) FILTER (WHERE inc_members = full_members) AS same, count(*) FILTER (WHERE same_id) AS same_id FROM cmp_members`);
    const n = Number(s!.n);
    console.log(`\nrecords whose person is the same in both: ${Number(s!.same).toLocaleString('en-US')} of ${n.toLocaleString('en-US')} (${((100 * Number(s!.same)) / n).toFixed(3)}%); with the same dtsen_id: ${((100 * Number(s!.same_id)) / n).toFixed(3)}%`);
    const reasons = await db.all<{ reason: string; records: bigint }>(`SELECT reason, count(*) AS records FROM cmp_diff GROUP BY ALL ORDER BY records DESC`);
    if (reasons.length) printTable(process.stdout, reasons.map((r) => ({ reason: r.reason, records: Number(r.records) })), ['reason', 'records']);
    const listed = await db.all<{ record: string; partner: string; p_inc: number | null; p_full: number | null; reason: string }>(`
      SELECT pi.source || ':' || pi.source_record_id AS record, pp.source || ':' || pp.source_record_id AS partner, round(d.p_inc, 6) AS p_inc, round(d.p_full, 6) AS p_full, d.reason
      FROM cmp_diff d JOIN inc.person_clean pi ON pi.rec_id = d.rec_id JOIN inc.person_clean pp ON pp.rec_id = d.partner ORDER BY d.rec_id LIMIT ${Number(values.list)}`);
    if (listed.length) {
      console.log(`the first ${listed.length} differing records, each with one record it is joined with in one batch only:`);
      printTable(process.stdout, listed.map((r) => ({ ...r, p_inc: r.p_inc ?? '–', p_full: r.p_full ?? '–' })), ['record', 'partner', 'p_inc', 'p_full', 'reason']);
    }
    if (same) {
      // the same model at the same threshold: the incremental batch must give the persons of the full one exactly
      await db.run(`ATTACH ${lit(join(same.out, 'dtsen.duckdb'))} AS sm (READ_ONLY)`);
      const eq = await db.one<{ n: bigint; same: bigint; pairs_differ: bigint }>(`
        WITH a AS (SELECT rec_id, list_sort(list(rec_id) OVER (PARTITION BY dtsen_id)) AS m FROM inc.dtsen_link),
        b AS (SELECT rec_id, list_sort(list(rec_id) OVER (PARTITION BY dtsen_id)) AS m FROM sm.dtsen_link)
        SELECT count(*) AS n, count(*) FILTER (WHERE a.m = b.m) AS same,
          (SELECT count(*) FROM (SELECT rec_id_l, rec_id_r, rules FROM inc.candidate_pairs EXCEPT SELECT rec_id_l, rec_id_r, rules FROM sm.candidate_pairs)) AS pairs_differ
        FROM a JOIN b USING (rec_id)`);
      await db.run(`DETACH sm`);
      console.log(`\nagainst --full with the previous model and threshold (${same.run.wall.toFixed(1)} s): ${Number(eq!.same).toLocaleString('en-US')} of ${Number(eq!.n).toLocaleString('en-US')} records with the same person; candidate pairs only in the incremental batch: ${Number(eq!.pairs_differ)}`);
    }
  } finally {
    await db.run(`DETACH inc; DETACH fl`);
  }
}
