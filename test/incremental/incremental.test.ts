import { beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateMonths, type MonthFigures } from '../../src/generate/months.ts';
import { loadConfig } from '../../src/engine/config.ts';
import { silentLogger } from '../../src/engine/log.ts';
import { Db, ident, lit } from '../../src/engine/db.ts';
import { BLOCKING_RULE_MASK, FAMILY_RULE_BIT } from '../../src/linkage/family-context.ts';
import { runBatch, type BatchResult } from '../../src/pipeline.ts';
import { appendDecision } from '../../src/register/decisions.ts';
import { tempDir, writeConfig } from '../fixtures/inputs.ts';
import { makeCtx } from '../fixtures/ctx.ts';
import { copyPreviousDatabase, keepInPlaceTables, previousCopyOf } from '../../src/incremental/staging.ts';
import { ingestStage } from '../../src/stages/ingest/index.ts';
import { goldenColumns, writeRecordState } from '../../src/incremental/state.ts';
import { validateStage } from '../../src/stages/validate/index.ts';
import { normaliseStage } from '../../src/stages/normalise/index.ts';
import { linkStage } from '../../src/stages/link/index.ts';
import { decisionsStage } from '../../src/register/decisions.ts';

const common = { author: 'operator desa', reason: 'groundcheck' };

/**
 * Month after month of a generated population, each month run incrementally (--previous) and in full with the
 * previous batch's model and threshold: the two must hold the same pairs, clusters and persons, record by record.
 * A small block cap makes blocks cross it from month to month (the incremental blocking's hardest case). Human
 * decisions come in month 2 (clusters parted and joined, a golden record's field set) and one more in month 3.
 */
describe('an incremental batch gives what a full batch gives', () => {
  let dir: string;
  let months: MonthFigures[];
  const runs: Record<string, BatchResult> = {};
  const out = (name: string) => join(dir, 'runs', name);
  const linkage = { max_block_size: 12 };

  async function run(name: string, m: MonthFigures, extra: Record<string, unknown> = {}): Promise<BatchResult> {
    const cfg = writeConfig(join(dir, 'cfg', name), { dtks: join(m.folder, 'dtks.csv'), regsosek: join(m.folder, 'regsosek.parquet'), p3ke: join(m.folder, 'p3ke.csv') },
      { out: out(name), batch: name, snapshot_id: `month-${m.month}`, ...extra, linkage: { ...linkage, ...((extra.linkage as object) ?? {}) } });
    runs[name] = await runBatch(await loadConfig(cfg), { log: silentLogger() });
    return runs[name];
  }

  /** A copy of batch `from`'s folder as `name`, its database altered by `sql` (a batch an earlier version wrote); its path. */
  async function alteredCopy(from: string, name: string, sql: string): Promise<string> {
    const copy = join(dir, 'runs', name);
    cpSync(out(from), copy, { recursive: true, dereference: true });
    const db = await Db.open({ path: join(copy, 'dtsen.duckdb') });
    try {
      await db.run(`${sql}; CHECKPOINT`);
    } finally {
      await db.close();
    }
    return copy;
  }

  /** Month 2's snapshots with one DTKS row (`id`) edited by `edit` (its cells), in a folder `name` of their own. */
  function monthWithDtksEdit(name: string, id: string, edit: (cells: string[], lines: string[]) => void): MonthFigures {
    const m = months[1];
    const folder = join(dir, name);
    mkdirSync(folder, { recursive: true });
    const lines = readFileSync(join(m.folder, 'dtks.csv'), 'utf8').split('\n');
    const at = lines.findIndex((l) => l.startsWith(`${id};`));
    const cells = lines[at].split(';');
    edit(cells, lines);
    lines[at] = cells.join(';');
    writeFileSync(join(folder, 'dtks.csv'), lines.join('\n'));
    for (const f of ['regsosek.parquet', 'p3ke.csv']) writeFileSync(join(folder, f), readFileSync(join(m.folder, f)));
    return { ...m, folder, month: 2 };
  }

  /** rows of `table` (the columns given, the rows `where` holds) in one batch and not in the other, both ways */
  async function differences(a: string, b: string, table: string, columns: string, where = 'TRUE'): Promise<[number, number]> {
    const db = await Db.open();
    try {
      await db.run(`ATTACH ${lit(join(out(a), 'dtsen.duckdb'))} AS a (READ_ONLY); ATTACH ${lit(join(out(b), 'dtsen.duckdb'))} AS b (READ_ONLY)`);
      const diff = (x: string, y: string) => db.count(`SELECT count(*) FROM (SELECT ${columns} FROM ${x}.${table} WHERE ${where} EXCEPT ALL SELECT ${columns} FROM ${y}.${table} WHERE ${where})`);
      return [await diff('a', 'b'), await diff('b', 'a')];
    } finally {
      await db.close();
    }
  }

  /**
   * The linked family pairs of batch `b` holding member pairs (by family_id; `families`) a change of record `id` (DTKS)
   * since batch `a` touches: those of its family (`changed`), and those whose seed pairs between the two families, or
   * inside either, differ (records matched by source keys). `all`: both.
   */
  async function touchedFamilyPairs(a: string, b: string, id: string): Promise<{ families: number; changed: number; all: number }> {
    const db = await Db.open();
    try {
      await db.run(`ATTACH ${lit(join(out(a), 'dtsen.duckdb'))} AS a (READ_ONLY); ATTACH ${lit(join(out(b), 'dtsen.duckdb'))} AS b (READ_ONLY)`);
      const seeds = (x: string) => `
        SELECT pl.source || ':' || pl.source_record_id AS kl, pr.source || ':' || pr.source_record_id AS kr, pl.family_id AS fl, pr.family_id AS fr
        FROM ${x}.family_seed_pairs s JOIN ${x}.person_clean pl ON pl.rec_id = s.rec_id_l JOIN ${x}.person_clean pr ON pr.rec_id = s.rec_id_r`;
      const r = await db.one<{ families: bigint; changed: bigint; all: bigint }>(`
        WITH now AS (${seeds('b')}), was AS (${seeds('a')}),
        fam AS (
          SELECT DISTINCT least(pl.family_id, pr.family_id) AS fa, greatest(pl.family_id, pr.family_id) AS fb
          FROM b.family_member_pairs m JOIN b.person_clean pl ON pl.rec_id = m.rec_id_l JOIN b.person_clean pr ON pr.rec_id = m.rec_id_r),
        diff AS (SELECT * FROM (SELECT kl, kr, least(fl, fr) AS fa, greatest(fl, fr) AS fb FROM now EXCEPT SELECT kl, kr, least(fl, fr), greatest(fl, fr) FROM was)
          UNION SELECT * FROM (SELECT kl, kr, least(fl, fr), greatest(fl, fr) FROM was EXCEPT SELECT kl, kr, least(fl, fr), greatest(fl, fr) FROM now)),
        changed_family AS (SELECT family_id FROM b.person_clean WHERE source = 'dtks' AND source_record_id = ${lit(id)}),
        t AS (
          SELECT fa, fb, fa IN (SELECT * FROM changed_family) OR fb IN (SELECT * FROM changed_family) AS changed,
            (fa, fb) IN (SELECT (fa, fb) FROM diff WHERE fa <> fb)
            OR fa IN (SELECT fa FROM diff WHERE fa = fb) OR fb IN (SELECT fa FROM diff WHERE fa = fb) AS seeds_moved
          FROM fam)
        SELECT count(*) AS families, count(*) FILTER (WHERE changed) AS changed, count(*) FILTER (WHERE changed OR seeds_moved) AS "all" FROM t`);
      return { families: Number(r!.families), changed: Number(r!.changed), all: Number(r!.all) };
    } finally {
      await db.close();
    }
  }

  async function previousThreshold(name: string): Promise<number> {
    const db = await Db.open({ path: join(out(name), 'dtsen.duckdb'), readOnly: true });
    try {
      return Number((await db.one<{ t: string }>(`SELECT config->'linkage'->>'threshold' AS t FROM batch_info`))!.t);
    } finally {
      await db.close();
    }
  }

  beforeAll(async () => {
    dir = tempDir('dtsen-incremental-');
    months = await generateMonths({ persons: 3000, seed: 11, months: 3, out: join(dir, 'pop') });
    await run('m1', months[0]);
    const store = join(dir, 'decisions.jsonl');
    const db = await Db.open();
    try {
      const link = lit(join(out('m1'), 'dtsen_link.parquet'));
      const keys = (having: string, n: number) => db.all<{ keys: string[] }>(`SELECT list(source || ':' || source_record_id ORDER BY source, source_record_id) AS keys FROM read_parquet(${link}) GROUP BY dtsen_id HAVING ${having} ORDER BY dtsen_id LIMIT ${n}`);
      const [big, big2] = await keys('count(*) >= 3', 2);
      const singles = (await keys('count(*) = 1', 2)).map((r) => r.keys[0]);
      const [pair] = await keys('count(*) = 2', 1);
      await appendDecision(store, { ...common, kind: 'different_persons', records: [big.keys[0], big.keys[1]], reference: 'SANGGAH-001', date: '2026-01-05' });
      await appendDecision(store, { ...common, kind: 'same_person', records: [singles[0], singles[1]], reference: 'USUL-002', date: '2026-01-06' });
      await appendDecision(store, { ...common, kind: 'field_value', target: pair.keys[0], field: 'decile', value: 7, reference: 'SANGGAH-003', date: '2026-01-07' });
      for (const m of [2, 3]) {
        const prev = m === 2 ? 'm1' : 'm2-inc';
        if (m === 3) await appendDecision(store, { ...common, kind: 'different_persons', records: [big2.keys[0], big2.keys[1]], reference: 'SANGGAH-004', date: '2026-02-05' });
        await run(`m${m}-inc`, months[m - 1], { previous: out(prev), decisions: store });
        // the full path, scoring with the model and at the threshold the incremental batch keeps
        await run(`m${m}-full`, months[m - 1], { previous: out(prev), decisions: store, recompute: 'full', linkage: { model: join(out(prev), 'model.json'), threshold: await previousThreshold(prev) } });
      }
    } finally {
      await db.close();
    }
    // a cap of 2: the block of a person's records grows over it when a record comes, and the previous pairs of
    // the block lose the rule
    await run('c2-m1', months[0], { linkage: { max_block_size: 2 } });
    await run('c2-m2-inc', months[1], { previous: out('c2-m1'), linkage: { max_block_size: 2 } });
    await run('c2-m2-full', months[1], { previous: out('c2-m1'), recompute: 'full', linkage: { max_block_size: 2, model: join(out('c2-m1'), 'model.json'), threshold: await previousThreshold('c2-m1') } });
    // the first month again after itself: nothing changed, every golden record is kept and no id is renamed
    await run('m1-again', months[0], { previous: out('m1') });
  }, 600_000);

  it('takes the incremental path with a previous batch, and says how much it recomputed', () => {
    for (const m of [2, 3]) {
      const inc = runs[`m${m}-inc`].figures as Required<BatchResult["figures"]>;
      expect(inc.link.recompute.path).toBe('incremental');
      const r = inc.link.recompute.link!;
      expect(r.records.new + r.records.changed).toBeGreaterThan(0);
      expect(r.records.gone).toBeGreaterThan(0);
      expect(r.records.new + r.records.changed + r.records.unchanged).toBe(r.records.total);
      expect(r.pairs.reused).toBeGreaterThan(r.pairs.total * 0.8);
      expect(r.pairs.reused + r.pairs.compared).toBe(r.pairs.total);
      expect(r.pairs.compared).toBeGreaterThan(0);
      expect(r.flipped_blocks).toBeGreaterThan(0);
      // the family context compares only member pairs the previous batch had not compared
      const f = r.family!;
      // its state read from and updated in the copy of the previous batch's tables
      expect(f.in_place).toBe(true);
      expect(f.reused_pairs).toBeGreaterThan(0);
      expect(f.compared_pairs).toBeLessThan(f.member_pairs * 0.2);
      expect(f.compared_family_pairs).toBeLessThan(f.family_pairs * 0.2);
      // it keeps the previous batch's family model, and scores only the family pairs a change touched
      expect(f.model_source).toBe('given');
      expect(f.scored_family_pairs + f.reused_family_pairs).toBeLessThanOrEqual(f.family_pairs);
      expect(f.scored_family_pairs + f.reused_family_pairs).toBeGreaterThan(f.family_pairs * 0.5);
      expect(f.scored_member_pairs + f.reused_member_pairs).toBe(f.member_pairs);
      expect(f.scored_family_pairs).toBeGreaterThan(0);
      expect(f.scored_family_pairs).toBeLessThan(f.family_pairs * 0.5);
      expect(f.scored_family_pairs).toBeGreaterThanOrEqual(f.compared_family_pairs);
      expect(inc.link.model_source).toBe('previous');
      const cl = inc.cluster.incremental!;
      expect(cl.components_reclustered).toBeGreaterThan(0);
      expect(cl.components_reclustered).toBeLessThan(cl.components * 0.2);
      // only the components a change reaches are labelled: their records, not every linked one
      expect(cl.records_reached).toBeGreaterThanOrEqual(cl.records_reclustered);
      expect(cl.records_reached).toBeLessThan(cl.components * 0.2);
      const rows = inc.register.recompute!;
      expect(rows.map((x) => x.what)).toEqual(['rows', 'records', 'pairs', 'components', 'families', 'persons']);
      expect(rows.every((x) => x.path === 'incremental' && x.recomputed <= x.total)).toBe(true);
      expect(rows.find((x) => x.what === 'pairs')!.recomputed).toBe(r.pairs.compared);
      // golden records are built again only for the persons whose records changed; the others stay in the database
      // copied from the previous batch's (every column of every person is checked against the full batch below)
      expect(inc.survive.golden_records_in_place).toBe(true);
      expect(runs[`m${m}-full`].figures.survive?.golden_records_in_place).toBe(false);
      const persons = rows.find((x) => x.what === 'persons')!;
      expect(persons.recomputed).toBeGreaterThan(0);
      expect(persons.recomputed).toBeLessThan(persons.total * 0.2);
      const families = rows.find((x) => x.what === 'families')!;
      expect(families.recomputed).toBeGreaterThan(0);
      expect(families.recomputed).toBeLessThan(families.total * 0.5);
      expect(inc.register.decisions.applied).toBeGreaterThanOrEqual(3);
      const full = runs[`m${m}-full`].figures as Required<BatchResult["figures"]>;
      expect(full.link.recompute.path).toBe('full');
      expect(full.link.recompute.reason).toMatch(/--full/);
      expect(full.register.recompute!.every((x) => x.recomputed === x.total)).toBe(true);
      // both count the same items
      expect(full.register.recompute!.map((x) => [x.what, x.total])).toEqual(rows.map((x) => [x.what, x.total]));
    }
  });

  it('cleans only the new and changed source rows, and copies the others to exactly the rows a full normalise gives', async () => {
    for (const m of [2, 3]) {
      const inc = (runs[`m${m}-inc`].figures as Required<BatchResult['figures']>).normalise.recompute;
      expect(inc.path).toBe('incremental');
      expect(inc.cleaned + inc.copied).toBe(inc.rows);
      expect(inc.cleaned).toBeGreaterThan(0);
      expect(inc.copied).toBeGreaterThan(inc.rows * 0.9);
      // the batch's database began as a copy of the previous one's: the copied rows were kept in place
      expect(inc.in_place).toBe(true);
      const full = (runs[`m${m}-full`].figures as Required<BatchResult['figures']>).normalise.recompute;
      expect(full.path).toBe('full');
      expect(full.in_place).toBe(false);
      expect(full.cleaned).toBe(full.rows);
      expect(full.rows).toBe(inc.rows);
      // every column of every row, the copied ones with this batch's rec_id, file, row_number and snapshot_id
      expect(await differences(`m${m}-inc`, `m${m}-full`, 'person_clean', '*')).toEqual([0, 0]);
      expect(await differences(`m${m}-inc`, `m${m}-full`, 'normalise_state', '*')).toEqual([0, 0]);
      expect(await differences(`m${m}-inc`, `m${m}-full`, 'normalise_fingerprint', '*')).toEqual([0, 0]);
      // and holds the same tables, views and macros as the full batch's: nothing else of the previous database is left
      const db = await Db.open();
      try {
        await db.run(`ATTACH ${lit(join(out(`m${m}-inc`), 'dtsen.duckdb'))} AS a (READ_ONLY); ATTACH ${lit(join(out(`m${m}-full`), 'dtsen.duckdb'))} AS b (READ_ONLY)`);
        const objects = (x: string) => `
          SELECT 'table ' || table_name FROM duckdb_tables() WHERE database_name = '${x}'
          UNION ALL SELECT 'view ' || view_name FROM duckdb_views() WHERE database_name = '${x}' AND NOT internal
          UNION ALL SELECT 'macro ' || function_name FROM duckdb_functions() WHERE database_name = '${x}' AND NOT internal AND function_type IN ('macro', 'table_macro')`;
        // listed one database at a time (two of DuckDB's catalog functions in one query gave both lists to each)
        const list = async (x: string) => (await db.all<{ o: string }>(`SELECT DISTINCT o FROM (${objects(x)}) t(o) ORDER BY o`)).map((r) => r.o);
        // (incremental_record is the incremental path's own: the records it found new, changed or unchanged)
        const [inc, fullObjects] = [(await list('a')).filter((o) => o !== 'table incremental_record'), await list('b')];
        expect(inc.length).toBeGreaterThan(20);
        expect(inc).toEqual(fullObjects);
        expect(await db.count(`SELECT count(*) FROM duckdb_tables() WHERE database_name = 'a' AND table_name = 'staging_copy'`)).toBe(0);
      } finally {
        await db.close();
      }
      const rows = (runs[`m${m}-inc`].figures as Required<BatchResult['figures']>).register.recompute!.find((x) => x.what === 'rows')!;
      expect([rows.path, rows.total, rows.recomputed]).toEqual(['incremental', inc.rows, inc.cleaned]);
    }
  });

  it('keeps every record its rec_id from month to month, and numbers new records above every id issued before', async () => {
    const db = await Db.open();
    try {
      const batches = ['m1', 'm2-inc', 'm2-full', 'm3-inc', 'm3-full', 'm1-again'];
      for (const b of batches) await db.run(`ATTACH ${lit(join(out(b), 'dtsen.duckdb'))} AS ${ident(b)} (READ_ONLY)`);
      const state = async (b: string) => (await db.one<{ high_water: string; carried: string; issued: string }>(`SELECT * FROM ${ident(b)}.rec_id_state`))!;
      // a first batch numbers its rows 1..n
      expect(await db.count(`SELECT count(*) FROM m1.person_clean`)).toBe(await db.count(`SELECT max(rec_id) FROM m1.person_clean`));
      expect(Number((await state('m1')).issued)).toBe(await db.count(`SELECT count(*) FROM m1.person_clean`));
      for (const [prev, b] of [['m1', 'm2-inc'], ['m1', 'm2-full'], ['m2-inc', 'm3-inc'], ['m2-inc', 'm3-full'], ['m1', 'm1-again']] as const) {
        const [p, x] = [ident(prev), ident(b)];
        const kept = await db.count(`SELECT count(*) FROM ${x}.person_clean n JOIN ${p}.person_clean o USING (source, source_record_id) WHERE o.rec_id = n.rec_id`);
        const both = await db.count(`SELECT count(*) FROM ${x}.person_clean n JOIN ${p}.person_clean o USING (source, source_record_id)`);
        expect(both).toBeGreaterThan(1000);
        expect(kept, `${b}: a record the previous batch held kept its rec_id`).toBe(both);
        const s = await state(b);
        const highBefore = Number((await state(prev)).high_water);
        expect(Number(s.carried)).toBe(both);
        // the new records: above every id the previous batches issued (a gone record's id is not issued again)
        const fresh = await db.all<{ lo: string; n: string; top: string }>(
          `SELECT min(rec_id) AS lo, count(*) AS n, (SELECT max(rec_id) FROM ${x}.person_clean) AS top FROM ${x}.person_clean n ANTI JOIN ${p}.person_clean o USING (source, source_record_id)`);
        expect(Number(fresh[0].n)).toBe(Number(s.issued));
        if (b === 'm1-again') expect(Number(s.issued)).toBe(0);
        else expect(Number(fresh[0].lo)).toBe(highBefore + 1);
        expect(Number(s.high_water)).toBe(Math.max(highBefore, Number(fresh[0].top)));
      }
      // records left in month 2: month 3's new records still start above month 1's highest id
      expect(Number((await state('m2-inc')).high_water)).toBeGreaterThan(await db.count(`SELECT max(rec_id) FROM m1.person_clean`));
      expect(await db.count(`SELECT count(*) FROM m1.person_clean o ANTI JOIN "m2-inc".person_clean n USING (source, source_record_id)`)).toBeGreaterThan(0);
    } finally {
      await db.close();
    }
  });

  it('writes the same person_clean when normalise runs again after updating it in place (a batch resumed there), and on a database not copied', async () => {
    const loaded = await loadConfig(join(dir, 'cfg', 'm2-inc', 'batch.json'));
    const full = join(out('m2-full'), 'dtsen.duckdb');
    for (const how of ['resumed', 'not copied'] as const) {
      const staging = join(dir, `staging-${how}`);
      mkdirSync(staging, { recursive: true });
      const dbPath = join(staging, 'dtsen.duckdb');
      const copied = how === 'resumed' ? await copyPreviousDatabase(loaded.config, dbPath) : undefined;
      expect(Boolean(copied)).toBe(how === 'resumed');
      const db = await Db.open({ path: dbPath, threads: 2 });
      try {
        if (copied) await keepInPlaceTables(db, copied);
        const ctx = await makeCtx(loaded, db);
        const ingest = await ingestStage.run(ctx, {});
        const validate = await validateStage.run(ctx, { ingest: ingest.figures });
        const prior = { ingest: ingest.figures, validate: validate.figures };
        const first = (await normaliseStage.run(ctx, prior)).figures!.recompute;
        expect(first.in_place).toBe(how === 'resumed');
        if (how === 'resumed') {
          // the stage again on the database it left: its table is no longer the previous batch's copy
          const again = (await normaliseStage.run(ctx, prior)).figures!.recompute;
          expect(again.in_place).toBe(false);
          expect(again.copied).toBe(first.copied);
        }
        await db.run(`ATTACH ${lit(full)} AS f (READ_ONLY)`);
        const diff = (x: string, y: string) => db.count(`SELECT count(*) FROM (SELECT * FROM ${x}.person_clean EXCEPT ALL SELECT * FROM ${y}.person_clean)`);
        expect([await diff('main', 'f'), await diff('f', 'main')]).toEqual([0, 0]);
        // person_clean is no longer marked as the previous batch's copy (dtsen_person is, until survive)
        expect(await previousCopyOf(db, 'person_clean')).toBeUndefined();
        expect(await previousCopyOf(db, 'dtsen_person')).toBe(copied);
      } finally {
        await db.close();
      }
    }
  });

  it('copies the previous database only for an incremental batch, from a finished batch whose log is empty', async () => {
    const prev = join(dir, 'copy-prev');
    cpSync(out('m1'), prev, { recursive: true, dereference: true });
    const target = (n: string) => join(dir, 'copy-targets', n, 'dtsen.duckdb');
    for (const n of ['a', 'b', 'c', 'd']) mkdirSync(join(dir, 'copy-targets', n), { recursive: true });
    expect(await copyPreviousDatabase({ previous: prev, recompute: 'incremental' }, target('a'))).toBe(join(realpathSync(prev), 'dtsen.duckdb'));
    expect(await copyPreviousDatabase({ previous: prev, recompute: 'full' }, target('b'))).toBeUndefined();
    expect(await copyPreviousDatabase({ previous: undefined, recompute: 'incremental' }, target('b'))).toBeUndefined();
    writeFileSync(join(prev, 'dtsen.duckdb.wal'), 'not empty');
    expect(await copyPreviousDatabase({ previous: prev, recompute: 'incremental' }, target('c'))).toBeUndefined();
    writeFileSync(join(prev, 'dtsen.duckdb.wal'), '');
    rmSync(join(prev, 'report.json'));
    expect(await copyPreviousDatabase({ previous: prev, recompute: 'incremental' }, target('d'))).toBeUndefined();
    expect(existsSync(target('b')) || existsSync(target('c')) || existsSync(target('d'))).toBe(false);
    // a copy that fails leaves nothing behind, and says why
    const broken = join(dir, 'copy-broken');
    mkdirSync(join(broken, 'dtsen.duckdb'), { recursive: true });
    writeFileSync(join(broken, 'report.json'), '{}');
    const said: string[] = [];
    expect(await copyPreviousDatabase({ previous: broken, recompute: 'incremental' }, target('d'), (r) => said.push(r))).toBeUndefined();
    expect(existsSync(target('d'))).toBe(false);
    expect(said).toEqual([expect.stringMatching(/could not be copied/)]);
  });

  it('cleans every row again, saying why, when a mapping changed (a moved snapshot date alone costs only the rows depending on it)', async () => {
    // the snapshot date alone: copied but for the rows it changes (test/incremental/normalise-snapshot.test.ts)
    const date = await run('m2-date', months[1], { previous: out('m1'), snapshot_date: '2026-11-01' });
    const d = date.figures.normalise!.recompute;
    expect(d.path).toBe('incremental');
    expect(d.reason).toMatch(/the snapshot date moved \(2026-10-01 → 2026-11-01\): \d+ unchanged rows cleaned again/);
    expect(d.copied).toBeGreaterThan(d.rows * 0.9);
    // a mapping with one more value code (one no row holds: only the refusal is tested)
    const maps = join(dir, 'maps');
    mkdirSync(maps, { recursive: true });
    for (const s of ['dtks', 'regsosek', 'p3ke']) {
      const mapping = JSON.parse(readFileSync(resolve('pipelines/sources', `${s}.json`), 'utf8'));
      if (s === 'dtks') mapping.values = { ...mapping.values, sex: { ...(mapping.values?.sex ?? {}), ZZ: 'L' } };
      delete mapping.$schema;
      writeFileSync(join(maps, `${s}.json`), JSON.stringify(mapping));
    }
    const m = months[1];
    const files: Record<string, string> = { dtks: 'dtks.csv', regsosek: 'regsosek.parquet', p3ke: 'p3ke.csv' };
    const mapped = await run('m2-mapping', m, { previous: out('m1'), sources: Object.fromEntries(Object.entries(files).map(([s, f]) => [s, { path: join(m.folder, f), mapping: join(maps, `${s}.json`) }])) });
    const r = mapped.figures.normalise!.recompute;
    expect(r.path).toBe('full');
    expect(r.reason).toMatch(/mappings differ/);
    expect(r.copied).toBe(0);
    // no row holds the code: the rows are the full batch's
    expect(await differences('m2-mapping', 'm2-full', 'person_clean', '*')).toEqual([0, 0]);
  }, 240_000);

  it('holds the same candidate and scored pairs as the full batch', async () => {
    for (const m of [2, 3]) {
      expect(await differences(`m${m}-inc`, `m${m}-full`, 'candidate_pairs', 'rec_id_l, rec_id_r, rule_id, rules')).toEqual([0, 0]);
      expect(await differences(`m${m}-inc`, `m${m}-full`, 'scored_pairs', 'rec_id_l, rec_id_r, gamma_nik, gamma_name, gamma_birth_date, gamma_sex, gamma_household, hard_negative, round(match_weight, 9)')).toEqual([0, 0]);
      // the family context with the previous family model (the full batch's --model brings it), every column
      for (const t of ['scored_pairs', 'family_unkept_pairs', 'family_member_pairs', 'family_seed_pairs']) {
        expect([t, await differences(`m${m}-inc`, `m${m}-full`, t, '*')]).toEqual([t, [0, 0]]);
      }
    }
  });

  it('counts only the blocks a change touched, and gives every blocking figure grouping every key gives', async () => {
    for (const name of ['m2', 'm3', 'c2-m2']) {
      const blocking = (run: string) => (runs[run].figures as Required<BatchResult['figures']>).link.blocking!;
      const inc = blocking(`${name}-inc`);
      // (a cap of 2 caps blocks)
      if (name === 'c2-m2') expect(inc.rules.some((r) => r.capped_blocks > 0)).toBe(true);
      expect(inc.largest_blocks.length).toBe(10);
      expect(inc).toEqual(blocking(`${name}-full`));
      // the blocks' figures and large blocks the next batch reads: the full batch's (large_from aside, which only
      // a full batch sets again)
      expect(await differences(`${name}-inc`, `${name}-full`, 'blocking_state', 'rule_id, rule, keys, blocks, capped_blocks, capped_records, fingerprint')).toEqual([0, 0]);
      // every record's keys: the previous batch's, updated in place with the dirty records', are those computed again
      expect((runs[`${name}-inc`].figures as Required<BatchResult['figures']>).link.recompute.link!.keys_in_place).toBe(true);
      expect(await differences(`${name}-inc`, `${name}-full`, 'blocking_keys', '*')).toEqual([0, 0]);
      const db = await Db.open();
      let from: number;
      try {
        await db.run(`ATTACH ${lit(join(out(`${name}-inc`), 'dtsen.duckdb'))} AS a (READ_ONLY); ATTACH ${lit(join(out(`${name}-full`), 'dtsen.duckdb'))} AS b (READ_ONLY)`);
        from = await db.count(`SELECT max(large_from) FROM (SELECT large_from FROM a.blocking_state UNION ALL SELECT large_from FROM b.blocking_state)`);
      } finally {
        await db.close();
      }
      expect(await differences(`${name}-inc`, `${name}-full`, 'blocking_large_blocks', '*', `records >= ${from}`)).toEqual([0, 0]);
      expect((runs[`${name}-inc`].figures as Required<BatchResult['figures']>).link.recompute.link!.rules_regrouped).toBe(0);
    }
  });

  it('groups every block of a rule again when its largest blocks shrank under the previous batch\'s large_from', async () => {
    // the previous batch's state as if its largest blocks had been far larger than any now (none holds a million
    // records): the next batch finds fewer than ten of them and groups every block again
    const prev = join(dir, 'm1-shrunk');
    cpSync(out('m1'), prev, { recursive: true, dereference: true });
    const db = await Db.open({ path: join(prev, 'dtsen.duckdb') });
    try {
      await db.run(`UPDATE blocking_state SET large_from = 1000000; DELETE FROM blocking_large_blocks`);
    } finally {
      await db.close();
    }
    const r = await run('m2-regrouped', months[1], { previous: prev });
    const figures = (x: BatchResult) => (x.figures as Required<BatchResult['figures']>).link;
    expect(figures(r).recompute.link!.rules_regrouped).toBe(FAMILY_RULE_BIT); // every blocking rule
    expect(figures(r).blocking).toEqual(figures(runs['m2-full']).blocking);
    expect(await differences('m2-regrouped', 'm2-full', 'blocking_state', '*')).toEqual([0, 0]);
    expect(await differences('m2-regrouped', 'm2-full', 'blocking_large_blocks', '*')).toEqual([0, 0]);
  });

  it('holds the same clusters, conflicts and persons, record by record', async () => {
    for (const m of [2, 3]) {
      const [a, b] = [`m${m}-inc`, `m${m}-full`];
      expect(await differences(a, b, 'clusters', 'rec_id, cluster_id, conflicted, round(best_link_probability, 12), component_id')).toEqual([0, 0]);
      expect(await differences(a, b, 'cluster_conflicts', '*')).toEqual([0, 0]);
      expect(await differences(a, b, 'dtsen_link', 'dtsen_id, source, source_record_id, round(match_probability, 12)')).toEqual([0, 0]);
      expect(await differences(a, b, 'dtsen_person', '*')).toEqual([0, 0]);
      expect(await differences(a, b, 'dtsen_family', '*')).toEqual([0, 0]);
      // the conflicts of the persons that kept their golden record are the previous batch's (insertCarriedConflicts)
      expect(await differences(a, b, 'dtsen_conflict', '*')).toEqual([0, 0]);
      // the change log differs only in the rows that say which path ran
      expect(await differences(a, b, 'dtsen_change', "* EXCLUDE (before, after, kind, related_id) REPLACE (CASE WHEN entity = 'batch' THEN NULL ELSE id END AS id)")).toEqual([0, 0]);
    }
  });

  it('writes the output files of a batch continuing a register in their order, as a first batch does', async () => {
    // survive leaves the tables of such a batch unordered; the register stage puts them in order, also after the
    // field decisions of m2 and m3 are written into dtsen_person (an UPDATE of a list column moves the row)
    const orders: Record<string, string> = { dtsen_person: 'dtsen_id', dtsen_link: 'dtsen_id, source, source_record_id', dtsen_family: 'family_id', dtsen_conflict: 'dtsen_id, conflict_type' };
    const db = await Db.open();
    try {
      for (const run of ['m2-inc', 'm3-inc', 'm3-full', 'c2-m2-inc', 'm1-again']) {
        for (const [table, order] of Object.entries(orders)) {
          const file = lit(join(out(run), `${table}.parquet`));
          const rows = await db.count(`SELECT count(*) FROM read_parquet(${file})`);
          const unordered = await db.count(`
            SELECT count(*) FROM (SELECT [${order}] AS k, lag([${order}]) OVER (ORDER BY file_row_number) AS before FROM read_parquet(${file}, file_row_number = true))
            WHERE before > k`);
          expect(rows, `${run} ${table}`).toBeGreaterThan(0);
          expect(unordered, `${run} ${table}`).toBe(0);
        }
      }
    } finally {
      await db.close();
    }
  });

  it('compares again only the member pairs of the families a change touches, and still gives what the full batch gives', async () => {
    // month 2 again, after the incremental month 2, with one record changed: a DTKS member of a linked family, in a
    // member pair blocking had not proposed (its gammas would otherwise be taken from the scored pairs)
    const db = await Db.open({ path: join(out('m2-inc'), 'dtsen.duckdb'), readOnly: true });
    let id: string;
    try {
      expect(await db.count(`SELECT count(*) FROM scored_pairs WHERE (rules >> ${FAMILY_RULE_BIT}) & 1 = 1`)).toBeGreaterThan(0);
      id = (await db.one<{ id: string }>(`
        SELECT min(p.source_record_id) AS id FROM family_unkept_pairs s JOIN person_clean p ON p.rec_id IN (s.rec_id_l, s.rec_id_r)
        WHERE p.source = 'dtks'`))!.id;
    } finally {
      await db.close();
    }
    const one = monthWithDtksEdit('one-change', id, (cells) => {
      cells[3] = `${cells[3]} A`;
    });
    const decisions = join(dir, 'decisions.jsonl');
    const inc = await run('one-inc', one, { previous: out('m2-inc'), decisions });
    await run('one-full', one, { previous: out('m2-inc'), decisions, recompute: 'full', linkage: { model: join(out('m2-inc'), 'model.json'), threshold: await previousThreshold('m2-inc') } });
    const r = inc.figures.link!.recompute.link!;
    expect([r.records.new, r.records.changed, r.records.gone]).toEqual([0, 1, 0]);
    const f = r.family!;
    expect(f.compared_family_pairs).toBeGreaterThan(0);
    expect(f.compared_family_pairs).toBeLessThanOrEqual(5);
    expect(f.compared_pairs).toBeLessThanOrEqual(5 * 20 * 20);
    expect(f.reused_pairs).toBeGreaterThan(f.member_pairs * 0.5);
    // The family model is the previous batch's, in both batches; the incremental one scores exactly the family
    // pairs the change touched: those of the changed record's family, and those whose seed pairs (between the two
    // families, or inside either) came or went — counted here from the two batches' tables, by source keys.
    expect(f.model_source).toBe('given');
    const familyModel = (name: string) => JSON.stringify(JSON.parse(readFileSync(join(out(name), 'model.json'), 'utf8')).family_context);
    expect(familyModel('one-inc')).toBe(familyModel('m2-inc'));
    expect(familyModel('one-full')).toBe(familyModel('m2-inc'));
    const touched = await touchedFamilyPairs('m2-inc', 'one-full', id);
    expect(touched.changed).toBeGreaterThan(0);
    expect(f.scored_family_pairs).toBe(touched.all);
    expect(f.reused_family_pairs).toBe(touched.families - touched.all);
    expect(f.reused_family_pairs).toBeGreaterThan(touched.families * 0.9);
    expect(f.scored_member_pairs).toBeLessThan(f.member_pairs * 0.1);
    // every table the family context writes, every column, bit for bit
    for (const t of ['candidate_pairs', 'scored_pairs', 'family_unkept_pairs', 'family_member_pairs', 'family_seed_pairs']) {
      expect([t, await differences('one-inc', 'one-full', t, '*')]).toEqual([t, [0, 0]]);
    }
    expect(await differences('one-inc', 'one-full', 'clusters', 'rec_id, cluster_id, conflicted, round(best_link_probability, 12), component_id')).toEqual([0, 0]);
    expect(await differences('one-inc', 'one-full', 'dtsen_link', 'dtsen_id, source, source_record_id, round(match_probability, 12)')).toEqual([0, 0]);
    expect(await differences('one-inc', 'one-full', 'family_unkept_pairs', '*')).toEqual([0, 0]);
  }, 240_000);

  it('finds again only the families a change can reach, and still gives the full batch\'s families', async () => {
    // month 2 again, after the incremental month 2, with one record changed: a person known by one DTKS record, in a
    // family of three or more, takes the family card of another family (DTKS's only family key is its KK): it
    // leaves the first family and joins the second
    const db = await Db.open({ path: join(out('m2-inc'), 'dtsen.duckdb'), readOnly: true });
    let id: string;
    let other: string;
    try {
      const row = await db.one<{ id: string; other: string }>(`
        WITH single AS (SELECT dtsen_id FROM dtsen_link GROUP BY dtsen_id HAVING count(*) = 1),
        mover AS (
          SELECT l.source_record_id AS id, p.family_id FROM dtsen_link l SEMI JOIN single USING (dtsen_id) JOIN dtsen_person p USING (dtsen_id)
          WHERE l.source = 'dtks' AND p.family_id IN (SELECT family_id FROM dtsen_family WHERE n_members >= 3) ORDER BY id LIMIT 1)
        SELECT m.id, min(l.source_record_id) AS other FROM mover m, dtsen_link l JOIN dtsen_person p USING (dtsen_id)
        WHERE l.source = 'dtks' AND p.family_id <> m.family_id AND p.family_id IN (SELECT family_id FROM dtsen_family WHERE n_members >= 2)
        GROUP BY m.id`);
      id = row!.id;
      other = row!.other;
    } finally {
      await db.close();
    }
    const moved = monthWithDtksEdit('family-move', id, (cells, lines) => {
      const kk = lines.find((l) => l.startsWith(`${other};`))!.split(';')[1];
      expect(cells[1]).not.toBe(kk);
      cells[1] = kk;
    });
    const decisions = join(dir, 'decisions.jsonl');
    const inc = await run('move-inc', moved, { previous: out('m2-inc'), decisions });
    await run('move-full', moved, { previous: out('m2-inc'), decisions, recompute: 'full', linkage: { model: join(out('m2-inc'), 'model.json'), threshold: await previousThreshold('m2-inc') } });
    // the person is now in the other record's family, and the family it left has one member fewer
    const check = await Db.open();
    try {
      await check.run(`ATTACH ${lit(join(out('m2-inc'), 'dtsen.duckdb'))} AS a (READ_ONLY); ATTACH ${lit(join(out('move-inc'), 'dtsen.duckdb'))} AS b (READ_ONLY)`);
      const familyOf = (x: string, record: string) => `(SELECT p.family_id FROM ${x}.dtsen_link l JOIN ${x}.dtsen_person p USING (dtsen_id) WHERE l.source = 'dtks' AND l.source_record_id = ${lit(record)})`;
      expect(await check.count(`SELECT count(*) FROM (SELECT ${familyOf('b', id)} = ${familyOf('b', other)} AS same) WHERE same`)).toBe(1);
      const sizes = await check.one<{ before: number; after: number }>(`
        SELECT (SELECT n_members FROM a.dtsen_family WHERE family_id = ${familyOf('a', id)}) AS before,
          (SELECT n_members FROM b.dtsen_family WHERE list_contains(members, (SELECT min(dtsen_id) FROM a.dtsen_person WHERE family_id = ${familyOf('a', id)} AND dtsen_id <> (SELECT dtsen_id FROM a.dtsen_link WHERE source = 'dtks' AND source_record_id = ${lit(id)})))) AS after`);
      expect(Number(sizes!.after)).toBe(Number(sizes!.before) - 1);
    } finally {
      await check.close();
    }
    // the families found again: the ones the change reached, a few persons, every person built again among them
    const persons = inc.figures.register!.recompute!.find((x) => x.what === 'persons')!;
    const scope = inc.figures.survive!.family_scope!;
    expect(scope.persons).toBeGreaterThanOrEqual(persons.recomputed);
    expect(scope.persons).toBeGreaterThanOrEqual(3);
    expect(scope.persons).toBeLessThan(persons.total * 0.02);
    expect(runs['move-full'].figures.survive!.family_scope).toBeUndefined();
    for (const t of ['dtsen_family', 'dtsen_person', 'dtsen_link', 'dtsen_conflict']) expect([t, await differences('move-inc', 'move-full', t, '*')]).toEqual([t, [0, 0]]);
  }, 240_000);

  it('builds a golden record again for the values survive reads, not for the age counted to the snapshot date', async () => {
    expect(goldenColumns()).toEqual(expect.arrayContaining(['decile', 'no_kk', 'name_norm', 'relation']));
    expect(goldenColumns()).not.toContain('age');
    const copy = await alteredCopy('m1', 'm1-hashes', `
      CREATE TABLE rs_before AS SELECT * FROM record_state;
      UPDATE person_clean SET age = coalesce(age, 30) + 1 WHERE rec_id % 10 = 1;
      UPDATE person_clean SET decile = coalesce(decile, 0) % 10 + 1 WHERE rec_id % 10 = 2`);
    const db = await Db.open({ path: join(copy, 'dtsen.duckdb') });
    try {
      await writeRecordState(db);
      const moved = (which: number, hash: string) => db.count(`SELECT count(*) FROM record_state n JOIN rs_before o USING (rec_id) WHERE n.rec_id % 10 = ${which} AND n.${hash} <> o.${hash}`);
      expect(await db.count(`SELECT count(*) FROM person_clean WHERE rec_id % 10 = 1`)).toBeGreaterThan(100);
      expect([await moved(1, 'row_hash'), await moved(1, 'link_hash')]).toEqual([0, 0]);
      expect(await moved(2, 'row_hash')).toBe(await db.count(`SELECT count(*) FROM person_clean WHERE rec_id % 10 = 2`));
      expect(await moved(0, 'row_hash')).toBe(0);
    } finally {
      await db.close();
    }
  });

  it('follows blocks over and under the cap', async () => {
    const r = (runs['c2-m2-inc'].figures as Required<BatchResult['figures']>).link.recompute.link!;
    expect(await differences('c2-m2-inc', 'c2-m2-full', 'candidate_pairs', 'rec_id_l, rec_id_r, rule_id, rules')).toEqual([0, 0]);
    expect(await differences('c2-m2-inc', 'c2-m2-full', 'dtsen_link', 'dtsen_id, source, source_record_id')).toEqual([0, 0]);
    expect(r.rule_bits_cleared).toBeGreaterThan(0);
    expect(r.flipped_blocks).toBeGreaterThan(0);
  });

  it('writes the path and the counts into dtsen_change', async () => {
    const db = await Db.open();
    try {
      const rows = await db.all<{ kind: string; field: string; before: string; after: string }>(
        `SELECT kind, field, before, after FROM read_parquet(${lit(join(out('m2-inc'), 'dtsen_change.parquet'))}) WHERE entity = 'batch' ORDER BY field`);
      expect(rows.map((r) => r.field)).toEqual(['components', 'families', 'pairs', 'persons', 'records', 'rows']);
      expect(rows.every((r) => r.kind === 'incremental' && Number(r.after) <= Number(r.before))).toBe(true);
      expect(Number(rows.find((r) => r.field === 'records')!.after)).toBeLessThan(Number(rows.find((r) => r.field === 'records')!.before) / 10);
    } finally {
      await db.close();
    }
  });

  it('trains the model again with --retrain, on the same pairs', async () => {
    const r = await run('m2-retrain', months[1], { previous: out('m1'), retrain: true });
    expect(r.figures.link!.recompute.path).toBe('incremental');
    expect(r.figures.link!.model_source).toBe('trained');
    // a model trained again brings no family model: it is estimated on every member pair, each scored
    const f = r.figures.link!.recompute.link!.family!;
    expect(f.model_source).toBe('estimated');
    expect([f.reused_family_pairs, f.reused_member_pairs, f.scored_member_pairs]).toEqual([0, 0, f.member_pairs]);
    expect(f.scored_family_pairs).toBeGreaterThan(0);
    // The blocking rules' pairs: the family context's pairs follow the model's weights, and u is sampled from random
    // pairs drawn by record id, so a retrained model is close to the full batch's, not equal to it.
    const blocked = `rules & ${BLOCKING_RULE_MASK} <> 0`;
    expect(await differences('m2-retrain', 'm2-full', 'candidate_pairs', `rec_id_l, rec_id_r, rule_id, rules & ${BLOCKING_RULE_MASK}`, blocked)).toEqual([0, 0]);
  }, 120_000);

  it('falls back to the full path, even with --retrain, when the previous batch compared with other comparisons', async () => {
    // the previous batch as a version with another NIK level would have left it: its gammas cannot be reused
    const copy = join(dir, 'm1-other-comparisons');
    cpSync(realpathSync(out('m1')), copy, { recursive: true });
    const model = JSON.parse(readFileSync(join(copy, 'model.json'), 'utf8'));
    model.comparisons[0].levels[1].sql_fingerprint = '0000000000000000';
    writeFileSync(join(copy, 'model.json'), JSON.stringify(model));
    const r = await run('m2-other-comparisons', months[1], { previous: copy, retrain: true });
    expect(r.figures.link!.recompute.path).toBe('full');
    expect(r.figures.link!.recompute.reason).toMatch(/does not fit the code's comparisons/);
  }, 120_000);

  it('falls back to the full path, saying why, when a linkage setting changed', async () => {
    const r = await run('m2-cap', months[1], { previous: out('m1'), linkage: { max_block_size: 20 } });
    expect(r.figures.link!.recompute.path).toBe('full');
    expect(r.figures.link!.recompute.reason).toMatch(/max_block_size/);
  }, 120_000);

  it('links in full, saying why, when the keys of a blocking rule are not those the previous batch used', async () => {
    // the same rule names, another SQL of one rule's keys (a new version): its kept pairs and keys are not this version's
    const prev = await alteredCopy('m1', 'm1-rekeyed', `UPDATE blocking_state SET fingerprint = 'other' WHERE rule = 'token_year'`);
    const r = await run('m2-rekeyed', months[1], { previous: prev });
    expect(r.figures.link!.recompute.path).toBe('full');
    expect(r.figures.link!.recompute.reason).toMatch(/keys of the blocking rules token_year differ/);
  }, 120_000);

  it('computes every record\'s blocking keys when the previous batch kept none, and links as with them', async () => {
    const prev = await alteredCopy('m1', 'm1-no-keys', `DROP TABLE blocking_keys`);
    const r = await run('m2-no-keys', months[1], { previous: prev });
    expect(r.figures.link!.recompute.path).toBe('incremental');
    expect(r.figures.link!.recompute.link!.keys_in_place).toBe(false);
    expect(await differences('m2-no-keys', 'm2-full', 'blocking_keys', '*')).toEqual([0, 0]);
    expect(await differences('m2-no-keys', 'm2-inc', 'candidate_pairs', '*')).toEqual([0, 0]);
  }, 120_000);

  it('carries the family pairs from copies of the previous state when the link stage runs again after updating them in place (a batch resumed there)', async () => {
    const loaded = await loadConfig(join(dir, 'cfg', 'm2-inc', 'batch.json'));
    const staging = join(dir, 'staging-link-again');
    mkdirSync(staging, { recursive: true });
    const copied = await copyPreviousDatabase(loaded.config, join(staging, 'dtsen.duckdb'));
    expect(copied).toBeDefined();
    const db = await Db.open({ path: join(staging, 'dtsen.duckdb'), threads: 2 });
    try {
      await keepInPlaceTables(db, copied!);
      const ctx = await makeCtx(loaded, db);
      const ingest = await ingestStage.run(ctx, {});
      const validate = await validateStage.run(ctx, { ingest: ingest.figures });
      const prior = { ingest: ingest.figures, validate: validate.figures };
      await normaliseStage.run(ctx, prior);
      await decisionsStage.run(ctx, prior);
      const family = async () => (await linkStage.run(ctx, prior)).figures!.recompute.link!.family!;
      const first = await family();
      expect(first.in_place).toBe(true);
      expect(await previousCopyOf(db, 'family_member_pairs')).toBeUndefined();
      expect(await previousCopyOf(db, 'family_unkept_pairs')).toBeUndefined();
      // again on the database it left: its tables are no longer the previous batch's copies, which are read instead
      const again = await family();
      expect(again.in_place).toBe(false);
      expect(again.model_source).toBe('given');
      expect(again.reused_family_pairs).toBe(first.reused_family_pairs);
      expect(again.scored_member_pairs).toBe(first.scored_member_pairs);
      await db.run(`ATTACH ${lit(join(out('m2-full'), 'dtsen.duckdb'))} AS f (READ_ONLY)`);
      for (const t of ['scored_pairs', 'family_unkept_pairs', 'family_member_pairs', 'family_seed_pairs']) {
        const diff = (x: string, y: string) => db.count(`SELECT count(*) FROM (SELECT * FROM ${x}.${t} EXCEPT ALL SELECT * FROM ${y}.${t})`);
        expect([t, await diff('main', 'f'), await diff('f', 'main')]).toEqual([t, 0, 0]);
      }
    } finally {
      await db.close();
    }
  }, 180_000);

  it('labels every component again when the previous batch kept no components, and still clusters as the incremental path does', async () => {
    const prev = await alteredCopy('m2-inc', 'm2-no-components', `ALTER TABLE clusters DROP COLUMN component_id`);
    const r = await run('m3-no-components', months[2], { previous: prev, decisions: join(dir, 'decisions.jsonl') });
    expect(r.figures.link!.recompute.path).toBe('incremental');
    expect(r.figures.cluster!.incremental).toBeUndefined();
    expect((runs['m3-inc'].figures as Required<BatchResult['figures']>).cluster.incremental).toBeDefined();
    expect(await differences('m3-no-components', 'm3-inc', 'clusters', 'rec_id, cluster_id, conflicted, round(best_link_probability, 12), component_id')).toEqual([0, 0]);
  }, 120_000);

  it('links in full, saying why, when the previous batch numbered its records otherwise', async () => {
    // a previous batch whose records have other ids than this batch gives them (written before records kept theirs)
    const prev = await alteredCopy('m1', 'm1-renumbered', `UPDATE record_state SET rec_id = rec_id + 1000000`);
    const r = await run('m2-renumbered', months[1], { previous: prev });
    expect(r.figures.link!.recompute.path).toBe('full');
    expect(r.figures.link!.recompute.reason).toMatch(/numbered its records otherwise/);
    expect(await differences('m2-renumbered', 'm2-inc', 'clusters', 'rec_id')).toEqual([0, 0]);
    const check = await Db.open();
    try {
      await check.run(`ATTACH ${lit(join(out('m2-renumbered'), 'dtsen.duckdb'))} AS x (READ_ONLY)`);
      expect(await check.count(`SELECT count(*) FROM duckdb_tables() WHERE database_name = 'x' AND (table_name = 'incremental_record' OR table_name LIKE 'inc_prev%')`)).toBe(0);
    } finally {
      await check.close();
    }
  }, 120_000);
});
