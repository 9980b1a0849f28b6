import { beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateMonths } from '../../src/generate/months.ts';
import { loadConfig } from '../../src/engine/config.ts';
import { silentLogger } from '../../src/engine/log.ts';
import { Db, lit } from '../../src/engine/db.ts';
import { runBatch } from '../../src/pipeline.ts';
import { ingestStage } from '../../src/stages/ingest/index.ts';
import { validateStage } from '../../src/stages/validate/index.ts';
import { normaliseStage } from '../../src/stages/normalise/index.ts';
import type { NormaliseRecompute } from '../../src/incremental/normalise.ts';
import { dtksRow, tempDir, writeConfig } from '../fixtures/inputs.ts';

/**
 * Incremental normalise when the snapshot date moves (as it does every month): only the unchanged rows whose cleaned
 * row depends on the date are cleaned again, and person_clean is exactly what a full normalise with the new date
 * gives. Two generated months, with hand-made rows on top whose cleaned rows do move with the date: birth dates
 * between the dates, a NIK whose two-digit year is the new snapshot year, a stated age only (P3KE read with an age
 * column, and no age reference date of its own: its ages and NIK centuries count to the snapshot date).
 */
describe('incremental normalise with a moved snapshot date', () => {
  let dir: string;
  const out = (name: string) => join(dir, 'runs', name);
  const recompute: Record<string, NormaliseRecompute> = {};
  const folders: string[] = [];

  // DTKS rows (the fixture's family card 3204121507100003, village 32.04.12.2001; women: NIK day + 40)
  const dtksEdge = [
    dtksRow('EDGE-1', '3204126010260001', 'EDGE SATU', { date: '20-10-2026' }), // between 2026-10-01 and 2026-11-01
    dtksRow('EDGE-2', '3204125012260001', 'EDGE DUA', { date: '10-12-2026' }), // between 2026-11-01 and 2027-01-15
    dtksRow('EDGE-3', '3204125507270001', 'EDGE TIGA', { date: '' }), // NIK year 27, no birth date: 1927 up to 2026, 2027 from 2027
    dtksRow('EDGE-4', '3204125509260001', 'EDGE EMPAT', { date: '15-09-2026' }), // between 2026-09-01 and 2026-10-01
    dtksRow('EDGE-5', '3204124101500001', 'EDGE LIMA', { date: '01-01-1950' }), // an age counted to the snapshot date
    dtksRow('EDGE-6', '3204124103270001', 'EDGE ENAM', { date: '01-03-2027' }), // after every snapshot date here
    dtksRow('EDGE-7', '3204125708850001', 'EDGE TUJUH', { date: '17-08-1985' }),
  ];
  const p3keHeader = '"id_p3ke","id_keluarga_p3ke","nik","nama_lengkap","tanggal_lahir","jenis_kelamin","alamat","rt","rw","kode_kemendagri","desil_kesejahteraan","penerima_bansos","umur"';
  const p3ke = (id: string, nik: string, name: string, date: string, age: string) =>
    [id, 'KP3KE-EDGE', nik, name, date, 'Perempuan', 'Jl. Mawar', '003', '005', '3204122001', '1', 'PKH', age].map((v) => `"${v}"`).join(',');
  const p3keRows = [
    p3ke('P3KE-E1', '3204125507270002', 'EDGE P SATU', '', '1'), // stated age 1 and NIK year 27: 1927 with 2026, 2027 with 2027
    p3ke('P3KE-E2', '3204125708850002', 'EDGE P DUA', '17/08/1985', '40'), // stated age: nothing moves
    p3ke('P3KE-E3', '3204125708960002', 'EDGE P TIGA', '', '30'), // stated age only, NIK year 96
    p3ke('P3KE-E4', '3204126510260002', 'EDGE P EMPAT', '25/10/2026', ''), // between 2026-10-01 and 2026-11-01
    p3ke('P3KE-E5', '3204125012800002', 'EDGE P LIMA', '10/12/1980', ''), // an age counted to the snapshot date: a birthday between 2026-11-01 and 2027-01-15
  ];

  async function run(name: string, month: number, snapshotDate: string, extra: Record<string, unknown> = {}, dateFormats: string[] = []): Promise<void> {
    const f = folders[month - 1];
    const mapping = JSON.parse(readFileSync(resolve('pipelines/sources/p3ke.json'), 'utf8'));
    delete mapping.$schema;
    mapping.columns.age = 'umur';
    mapping.date_formats = dateFormats;
    const mappingPath = join(dir, `p3ke-age-${name}.json`);
    writeFileSync(mappingPath, JSON.stringify(mapping));
    const cfg = writeConfig(join(dir, 'cfg', name), { dtks: join(f, 'dtks.csv'), regsosek: join(f, 'regsosek.parquet') }, {
      out: out(name), batch: name, snapshot_id: `month-${month}`, snapshot_date: snapshotDate, ...extra,
    });
    const config = JSON.parse(readFileSync(cfg, 'utf8'));
    config.sources.p3ke = { path: join(f, 'p3ke.csv'), mapping: mappingPath };
    writeFileSync(cfg, JSON.stringify(config));
    const r = await runBatch(await loadConfig(cfg), { log: silentLogger(), stages: [ingestStage, validateStage, normaliseStage] });
    recompute[name] = r.figures.normalise!.recompute!;
  }

  async function withBoth<T>(a: string, b: string, f: (db: Db) => Promise<T>): Promise<T> {
    const db = await Db.open();
    try {
      await db.run(`ATTACH ${lit(join(out(a), 'dtsen.duckdb'))} AS a (READ_ONLY); ATTACH ${lit(join(out(b), 'dtsen.duckdb'))} AS b (READ_ONLY)`);
      return await f(db);
    } finally {
      await db.close();
    }
  }

  /** rows of person_clean in one batch and not in the other, both ways, every column */
  const differences = (a: string, b: string) => withBoth(a, b, async (db) => {
    const diff = (x: string, y: string) => db.count(`SELECT count(*) FROM (SELECT * FROM ${x}.person_clean EXCEPT ALL SELECT * FROM ${y}.person_clean)`);
    return [await diff('a', 'b'), await diff('b', 'a')];
  });

  /**
   * The unchanged source rows of batch `b` (same source row as in batch `a`) whose cleaned row differs from `a`'s in
   * anything but where it sits: what a moved snapshot date must clean again, no more, no fewer.
   */
  const movedRows = (a: string, b: string) => withBoth(a, b, async (db) => {
    const cols = (await db.all<{ c: string }>(`SELECT column_name AS c FROM duckdb_columns() WHERE database_name = 'b' AND table_name = 'person_clean' ORDER BY column_index`))
      .map((r) => r.c).filter((c) => !['rec_id', 'file', 'row_number', 'snapshot_id'].includes(c));
    const content = (t: string) => `hash(${cols.map((c) => `${t}."${c}"`).join(', ')})`;
    return db.count(`
      WITH pa AS (SELECT s.source, s.source_record_id, s.source_hash, ${content('c')} AS h
                  FROM a.normalise_state s JOIN a.person_clean c USING (rec_id)
                  QUALIFY row_number() OVER (PARTITION BY s.source, s.source_record_id, s.source_hash ORDER BY s.rec_id) = 1)
      SELECT count(*) FROM b.normalise_state s JOIN b.person_clean c USING (rec_id)
        JOIN pa ON pa.source = s.source AND pa.source_record_id IS NOT DISTINCT FROM s.source_record_id AND pa.source_hash = s.source_hash
      WHERE pa.h <> ${content('c')}`);
  });

  const edgeStatus = (name: string) => withBoth(name, name, (db) =>
    db.all<{ id: string; birth_date_status: string; age: number | null; nik_birth_date: string | null }>(
      `SELECT source_record_id AS id, birth_date_status, age, nik_birth_date::VARCHAR AS nik_birth_date FROM a.person_clean WHERE source_record_id LIKE '%EDGE%' OR source_record_id LIKE 'P3KE-E%' ORDER BY id`));

  beforeAll(async () => {
    dir = tempDir('dtsen-snapshot-');
    const months = await generateMonths({ persons: 1500, seed: 23, months: 2, out: join(dir, 'pop') });
    for (const m of months) {
      const f = join(dir, 'in', `m${m.month}`);
      mkdirSync(f, { recursive: true });
      const dtks = readFileSync(join(m.folder, 'dtks.csv'), 'utf8').replace(/\n*$/, '\n');
      writeFileSync(join(f, 'dtks.csv'), `${dtks}${dtksEdge.join('\n')}\n`);
      writeFileSync(join(f, 'p3ke.csv'), `${[p3keHeader, ...p3keRows].join('\n')}\n`);
      copyFileSync(join(m.folder, 'regsosek.parquet'), join(f, 'regsosek.parquet'));
      folders.push(f);
    }
    await run('m1', 1, '2026-10-01');
    // a month later; across a year; back a month
    for (const [name, date] of [['later', '2026-11-01'], ['year', '2027-01-15'], ['earlier', '2026-09-01']]) {
      await run(`${name}-inc`, 2, date, { previous: out('m1') });
      await run(`${name}-full`, 2, date, { previous: out('m1'), recompute: 'full' });
    }
  }, 300_000);

  it('the hand-made rows do clean differently with the other dates (copying them would be wrong)', async () => {
    const m1 = await edgeStatus('m1');
    const by = (rows: typeof m1) => Object.fromEntries(rows.map((r) => [r.id, { ...r, age: r.age === null ? null : Number(r.age) }]));
    const [a, later, year, earlier] = [by(m1), by(await edgeStatus('later-full')), by(await edgeStatus('year-full')), by(await edgeStatus('earlier-full'))];
    expect([a['EDGE-1'].birth_date_status, later['EDGE-1'].birth_date_status]).toEqual(['impossible', 'ok']);
    expect([a['P3KE-E4'].birth_date_status, later['P3KE-E4'].birth_date_status]).toEqual(['impossible', 'ok']);
    expect([later['EDGE-2'].birth_date_status, year['EDGE-2'].birth_date_status]).toEqual(['impossible', 'ok']);
    expect([a['EDGE-4'].birth_date_status, earlier['EDGE-4'].birth_date_status]).toEqual(['ok', 'impossible']);
    expect([a['EDGE-3'].nik_birth_date, year['EDGE-3'].nik_birth_date]).toEqual(['1927-07-15', '2027-07-15']);
    expect([a['P3KE-E1'].nik_birth_date, year['P3KE-E1'].nik_birth_date]).toEqual(['1927-07-15', '2027-07-15']);
    expect([a['P3KE-E1'].age, year['P3KE-E1'].age]).toEqual([1, 1]);
    expect(year['EDGE-5'].age).toBe(a['EDGE-5'].age! + 1);
    expect(year['P3KE-E5'].age).toBe(a['P3KE-E5'].age! + 1);
    // ages in completed years: born 1980-12-10, 45 on 2026-10-01 and 2026-11-01, 46 on 2027-01-15
    expect([a['P3KE-E5'].age, later['P3KE-E5'].age, year['P3KE-E5'].age]).toEqual([45, 45, 46]);
    expect([a['EDGE-7'].age, later['EDGE-7'].age]).toEqual([41, 41]);
    expect(year['P3KE-E2']).toEqual(a['P3KE-E2']);
    expect(year['EDGE-6'].birth_date_status).toBe('impossible');
  });

  it('cleans every row again when the mappings changed too, saying both', async () => {
    await run('mapping', 2, '2026-11-01', { previous: out('m1') }, ['%Y.%m.%d']);
    const r = recompute.mapping;
    expect(r.path).toBe('full');
    expect(r.reason).toMatch(/the source mappings differ; the snapshot date differs \(2026-10-01 → 2026-11-01\)/);
    expect([r.cleaned, r.copied]).toEqual([r.rows, 0]);
  });

  it('gives exactly the rows of a full normalise with the new date, every column', async () => {
    for (const name of ['later', 'year', 'earlier']) {
      expect(recompute[`${name}-inc`].path).toBe('incremental');
      expect(recompute[`${name}-full`].path).toBe('full');
      expect(await differences(`${name}-inc`, `${name}-full`)).toEqual([0, 0]);
    }
  });

  it('cleans again exactly the unchanged rows whose cleaned row the date changes, and says so', async () => {
    // the new and changed source rows of month 2: what a batch keeping the date would clean
    const changed = recompute['later-inc'].cleaned - (await movedRows('m1', 'later-full'));
    expect(changed).toBeGreaterThan(0);
    for (const [name, from, to] of [['later', '2026-10-01', '2026-11-01'], ['year', '2026-10-01', '2027-01-15'], ['earlier', '2026-10-01', '2026-09-01']]) {
      const r = recompute[`${name}-inc`];
      const moved = await movedRows('m1', `${name}-full`);
      expect(moved).toBeGreaterThan(0);
      const said = r.reason.match(/the snapshot date moved \((\S+) → (\S+)\): ([\d,]+) unchanged rows cleaned again/);
      expect(said, r.reason).not.toBeNull();
      expect([said![1], said![2], Number(said![3].replace(/,/g, ''))]).toEqual([from, to, moved]);
      expect(r.cleaned + r.copied).toBe(r.rows);
      expect(r.cleaned).toBe(changed + moved);
    }
    // within a year only the few rows with a birth date between the dates: far fewer than all
    expect(recompute['later-inc'].cleaned).toBeLessThan(recompute['later-inc'].rows * 0.05);
    expect(recompute['earlier-inc'].cleaned).toBeLessThan(recompute['earlier-inc'].rows * 0.05);
    // across a year every age counted to the snapshot date moves too, but Regsosek's count to its own reference date
    const y = recompute['year-inc'];
    expect(y.copied).toBeGreaterThan(y.rows * 0.3);
  });

});
