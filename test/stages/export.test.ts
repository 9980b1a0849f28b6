import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { tableFromIPC } from 'apache-arrow';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { loadConfig, loadMapping } from '../../src/engine/config.ts';
import { InputError } from '../../src/engine/errors.ts';
import { NULL_PARTITION, checkPseudonymKey, copyToPartitions, exportSelect } from '../../src/stages/export/index.ts';
import { outputTable } from '../../schemas/outputs.ts';
import { silentLogger } from '../../src/engine/log.ts';
import { Db, ident, lit } from '../../src/engine/db.ts';
import { runBatch } from '../../src/pipeline.ts';
import { main } from '../../src/cli/main.ts';
import { withPseudonymKey } from '../../src/stages/export/pseudonym.sql.ts';
import { renderReadme } from '../../src/readme.ts';
import { OUTPUT_TABLES } from '../../schemas/outputs.ts';
import { tempDir, writeConfig } from '../fixtures/inputs.ts';

const SAMPLE = resolve('data-samples/sample');
const KEY = 'test-key-0123456789abcdef';
const OTHER_KEY = 'another-key-0123456789abcdef';

type Row = Record<string, unknown>;

async function readParquet(path: string, columns?: string[]): Promise<Row[]> {
  return parquetReadObjects({ file: await asyncBufferFromFile(path), compressors, columns });
}

/** Every file under `dir` (recursively), except the database. */
function exportedFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile() && !f.endsWith('.duckdb'));
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const pseudonym = (key: string, v: string) => sha256(key + sha256(key + v));

function sampleConfig(dir: string, extra: Record<string, unknown> = {}): string {
  return writeConfig(
    dir,
    { dtks: join(SAMPLE, 'dtks.csv'), regsosek: join(SAMPLE, 'regsosek.parquet'), p3ke: join(SAMPLE, 'p3ke.csv') },
    { linkage: { engine: 'exact' }, ...extra },
  );
}

describe('exports of the sample batch', () => {
  let dir: string;
  let plain: string;
  let pseudo: string;
  let db: Db;
  let pdb: Db;

  beforeAll(async () => {
    dir = tempDir('dtsen-export-');
    plain = join(dir, 'plain');
    pseudo = join(dir, 'pseudo');
    await runBatch(await loadConfig(sampleConfig(dir), { out: plain, threads: 2 }), { log: silentLogger() });
    await runBatch(await loadConfig(sampleConfig(dir, { pseudonymise: true }), { out: pseudo, threads: 1 }), { log: silentLogger(), pseudonymKey: KEY });
    db = await Db.open({ path: join(plain, 'dtsen.duckdb') });
    pdb = await Db.open({ path: join(pseudo, 'dtsen.duckdb') });
  });
  afterAll(() => {
    db?.close();
    pdb?.close();
  });

  it('every single Parquet file reads back with hyparquet: row counts and values as in dtsen.duckdb', async () => {
    for (const t of OUTPUT_TABLES) {
      const rows = await readParquet(join(plain, t.file), t.columns.filter((c) => !c.type.startsWith('STRUCT')).map((c) => c.name));
      const n = await db.count(`SELECT count(*) FROM ${ident(t.table)}`);
      expect(rows.length, t.file).toBe(n);
      if (n > 0) expect(Object.keys(rows[0]).sort()).toEqual(t.columns.filter((c) => !c.type.startsWith('STRUCT')).map((c) => c.name).sort());
    }
    const persons = await readParquet(join(plain, 'dtsen_person.parquet'), ['dtsen_id', 'nik', 'name', 'family_id', 'source_record_ids']);
    const expected = await db.all<{ dtsen_id: string; nik: string | null; name: string; family_id: string; source_record_ids: string[] }>(
      `SELECT dtsen_id, nik, name, family_id, source_record_ids FROM dtsen_person ORDER BY dtsen_id`,
    );
    for (const i of [0, 1, Math.floor(expected.length / 2), expected.length - 1]) expect(persons[i]).toEqual(expected[i]);
    const link = await readParquet(join(plain, 'dtsen_link.parquet'), ['dtsen_id', 'source', 'source_record_id']);
    const first = await db.one(`SELECT dtsen_id, source, source_record_id FROM dtsen_link ORDER BY dtsen_id, source, source_record_id LIMIT 1`);
    expect(link[0]).toEqual(first);
    const fam = await readParquet(join(plain, 'dtsen_family.parquet'), ['family_id', 'n_members', 'members']);
    const firstFam = await db.one<{ family_id: string; n_members: string; members: string[] }>(`SELECT family_id, n_members, members FROM dtsen_family ORDER BY family_id LIMIT 1`);
    expect(fam[0]).toEqual({ family_id: firstFam!.family_id, n_members: BigInt(firstFam!.n_members), members: firstFam!.members });
  });

  it('every single Parquet file is sorted in full by its table\'s order (written from tables stored in that order)', async () => {
    for (const t of OUTPUT_TABLES) {
      const keys = t.order.split(',').map((k) => k.trim());
      const rows = await readParquet(join(plain, t.file), keys);
      const expected = await db.all<Row>(`SELECT ${keys.map(ident).join(', ')} FROM ${ident(t.table)} ORDER BY ${t.order}`);
      const text = (r: Row) => keys.map((k) => String(r[k])).join('|');
      expect(rows.map(text), t.file).toEqual(expected.map(text));
    }
  });

  it('the province partitions read back with hyparquet and add up to the person table', async () => {
    const root = join(plain, 'dtsen_person_by_province');
    const parts = readdirSync(root).sort();
    expect(parts.every((p) => /^province_code=([0-9]{2}|__HIVE_DEFAULT_PARTITION__)$/.test(p))).toBe(true);
    const byProvince = await db.all<{ province_code: string | null; n: string }>(`SELECT province_code, count(*) AS n FROM dtsen_person GROUP BY ALL`);
    expect(parts).toHaveLength(byProvince.length);
    let total = 0;
    for (const p of parts) {
      const files = readdirSync(join(root, p));
      const rows = (await Promise.all(files.map((f) => readParquet(join(root, p, f), ['dtsen_id'])))).flat();
      const code = p.split('=')[1];
      const ids = await db.all<{ dtsen_id: string }>(`SELECT dtsen_id FROM dtsen_person WHERE province_code ${code === NULL_PARTITION ? 'IS NULL' : `= ${lit(code)}`} ORDER BY dtsen_id`);
      expect(rows.map((r) => r.dtsen_id).sort()).toEqual(ids.map((r) => r.dtsen_id));
      total += rows.length;
    }
    expect(total).toBe(await db.count(`SELECT count(*) FROM dtsen_person`));
    expect(readdirSync(join(plain, 'dtsen_family_by_province')).length).toBeGreaterThan(0);
  });

  it('the province key reads back as the text of the single file through the Hive folders (DuckDB hive_types, hyparquet with the path)', async () => {
    for (const t of OUTPUT_TABLES.filter((x) => x.byProvince)) {
      const single = await db.all<{ id: string; province_code: string | null; type: string }>(
        `SELECT ${t.order.split(',')[0]} AS id, province_code, typeof(province_code) AS type FROM read_parquet(${lit(join(plain, t.file))}) ORDER BY id`,
      );
      expect(single[0].type, t.file).toBe('VARCHAR');
      const hive = await db.all<{ id: string; province_code: string | null; type: string }>(
        `SELECT ${t.order.split(',')[0]} AS id, province_code, typeof(province_code) AS type
         FROM read_parquet(${lit(join(plain, t.byProvince!, '*', '*.parquet'))}, hive_partitioning = true, hive_types = {'province_code': VARCHAR}) ORDER BY id`,
      );
      expect(hive, t.byProvince).toEqual(single);
      // A reader of single files (hyparquet, as pyarrow's Hive partitioning with a string key) takes the key from the folder name.
      const viaPath = new Map<string, string | null>();
      for (const folder of readdirSync(join(plain, t.byProvince!))) {
        const value = decodeURIComponent(folder.slice('province_code='.length));
        for (const f of readdirSync(join(plain, t.byProvince!, folder))) {
          const rows = await readParquet(join(plain, t.byProvince!, folder, f));
          expect(Object.keys(rows[0] ?? {}), 'the key is in the folder name only').not.toContain('province_code');
          for (const r of rows) viaPath.set(String(r[t.order.split(',')[0]]), value === NULL_PARTITION ? null : value);
        }
      }
      expect(new Map(single.map((r) => [r.id, r.province_code]))).toEqual(viaPath);
    }
  });

  it('an unknown province is the folder __HIVE_DEFAULT_PARTITION__, which DuckDB reads as NULL with or without hive_types', async () => {
    const out = join(dir, 'nullparts');
    await db.run(`CREATE OR REPLACE TEMP TABLE parts AS SELECT * FROM (VALUES ('a', '32'), ('b', NULL), ('c', '11'), ('d', NULL)) v(id, province_code)`);
    await copyToPartitions(db, 'SELECT * FROM parts', out, 'province_code');
    expect(readdirSync(out).sort()).toEqual(['province_code=11', 'province_code=32', `province_code=${NULL_PARTITION}`]);
    const typed = await db.all<Row>(`SELECT id, province_code, typeof(province_code) AS type FROM read_parquet(${lit(join(out, '*', '*.parquet'))}, hive_partitioning = true, hive_types = {'province_code': VARCHAR}) ORDER BY id`);
    expect(typed).toEqual([
      { id: 'a', province_code: '32', type: 'VARCHAR' },
      { id: 'b', province_code: null, type: 'VARCHAR' },
      { id: 'c', province_code: '11', type: 'VARCHAR' },
      { id: 'd', province_code: null, type: 'VARCHAR' },
    ]);
    const inferred = await db.all<Row>(`SELECT id, province_code::VARCHAR AS p FROM read_parquet(${lit(join(out, '*', '*.parquet'))}, hive_partitioning = true) ORDER BY id`);
    expect(inferred.map((r) => r.p)).toEqual(['32', null, '11', null]);
    // written again: the same folders, never a `province_code=NULL` folder
    await copyToPartitions(db, 'SELECT * FROM parts', join(dir, 'nullparts2'), 'province_code');
    expect(readdirSync(join(dir, 'nullparts2')).sort()).toEqual(readdirSync(out).sort());
  });

  it('the Arrow IPC file reads back with apache-arrow: same rows and values', async () => {
    const table = tableFromIPC(readFileSync(join(plain, 'dtsen_person.arrow')));
    expect(table.numRows).toBe(await db.count(`SELECT count(*) FROM dtsen_person`));
    const expected = await db.all<{ dtsen_id: string; nik: string | null; decile: number | null }>(`SELECT dtsen_id, nik, decile FROM dtsen_person ORDER BY dtsen_id LIMIT 3`);
    for (let i = 0; i < expected.length; i++) {
      expect(table.getChild('dtsen_id')!.get(i)).toBe(expected[i].dtsen_id);
      expect(table.getChild('nik')!.get(i)).toBe(expected[i].nik);
      expect(table.getChild('decile')!.get(i)).toBe(expected[i].decile);
    }
  });

  it('the data dictionary: exported columns and types, the README and the database comments all say what schemas/outputs.ts says', async () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(renderReadme(readme) === readme, 'README is out of date: run make docs').toBe(true);
    for (const t of OUTPUT_TABLES) {
      const described = await db.all<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM read_parquet(${lit(join(plain, t.file))})`);
      expect(described.map((d) => [d.column_name, d.column_type]), t.file).toEqual(t.columns.map((c) => [c.name, c.type]));
      const table = await db.one<{ comment: string }>(`SELECT comment FROM duckdb_tables() WHERE table_name = ${lit(t.table)}`);
      expect(table?.comment).toBe(t.description);
      const comments = await db.all<{ column_name: string; comment: string }>(`SELECT column_name, comment FROM duckdb_columns() WHERE table_name = ${lit(t.table)} AND comment IS NOT NULL ORDER BY column_index`);
      expect(Object.fromEntries(comments.map((c) => [c.column_name, c.comment]))).toEqual(Object.fromEntries(t.columns.map((c) => [c.name, c.description])));
      expect(readme).toContain(`| \`${t.columns[1].name}\` | ${t.columns[1].type.replaceAll('|', '\\|')} |`);
    }
  });

  it('the analysts\' views: persons with programmes, families with members, coverage by region', async () => {
    const persons = await db.count(`SELECT count(*) FROM dtsen_person`);
    expect(await db.count(`SELECT count(*) FROM person_programmes`)).toBe(persons);
    expect(await db.count(`SELECT count(*) FROM family_members`)).toBe(persons);
    expect(await db.count(`SELECT count(*) FROM family_members WHERE is_head`)).toBe(await db.count(`SELECT count(*) FROM dtsen_family`));
    expect(await db.count(`SELECT sum(persons) FROM coverage_by_region`)).toBe(persons);
    expect(await db.count(`SELECT count(*) FROM person_programmes WHERE province IS NULL AND province_code IS NOT NULL`)).toBe(0);
  });

  it('pseudonymised files: keyed hashes of NIK and KK, the same person the same hash, no raw NIK/KK in the file bytes', async () => {
    // the person table inside the database keeps the real values
    const real = await pdb.all<{ dtsen_id: string; nik: string; no_kk: string | null }>(`SELECT dtsen_id, nik, no_kk FROM dtsen_person WHERE nik IS NOT NULL AND no_kk IS NOT NULL ORDER BY dtsen_id LIMIT 5`);
    expect(real.length).toBe(5);
    const rows = await readParquet(join(pseudo, 'dtsen_person.parquet'), ['dtsen_id', 'nik', 'no_kk']);
    const byId = new Map(rows.map((r) => [r.dtsen_id as string, r]));
    for (const p of real) {
      expect(byId.get(p.dtsen_id)).toEqual({ dtsen_id: p.dtsen_id, nik: pseudonym(KEY, p.nik), no_kk: pseudonym(KEY, p.no_kk!) });
    }
    // the same KK gets the same pseudonym in the family file; ids are the same as in the plain run (1 vs 2 threads)
    const fam = await readParquet(join(pseudo, 'dtsen_family.parquet'), ['no_kks']);
    expect(fam.some((f) => (f.no_kks as string[]).includes(pseudonym(KEY, real[0].no_kk!)))).toBe(true);
    const ids = (d: Db) => d.all(`SELECT dtsen_id, family_id FROM dtsen_person ORDER BY dtsen_id`);
    expect(await ids(pdb)).toEqual(await ids(db));

    // no NIK or KK of any input record, and not the key, in any exported file (decoded or as bytes)
    const secrets = new Set(
      (await pdb.all<{ v: string }>(`SELECT DISTINCT v FROM (SELECT nik_digits AS v FROM person_clean UNION ALL SELECT no_kk FROM person_clean) WHERE v IS NOT NULL`)).map((r) => r.v),
    );
    expect(secrets.size).toBeGreaterThan(1000);
    const found = (text: string) => (text.match(/[0-9]{16}/g) ?? []).filter((d) => secrets.has(d));
    const files = exportedFiles(pseudo).filter((f) => !f.endsWith('report.json') && !f.endsWith('report.html') && !f.endsWith('model.json'));
    expect(files.filter((f) => f.endsWith('.parquet')).length).toBeGreaterThan(6);
    for (const f of files) {
      const bytes = readFileSync(f).toString('latin1');
      expect(found(bytes), f).toEqual([]);
      expect(bytes.includes(KEY), f).toBe(false);
      if (f.endsWith('.parquet')) expect(found(JSON.stringify(await readParquet(f), (_k, v) => (typeof v === 'bigint' ? String(v) : v))), f).toEqual([]);
    }
    const arrow = tableFromIPC(readFileSync(join(pseudo, 'dtsen_person.arrow')));
    expect(arrow.getChild('nik')!.toArray().filter((v: string | null) => v !== null).every((v: string) => /^[0-9a-f]{64}$/.test(v))).toBe(true);
    // the quarantined row's NIK/KK fields are hashed too, the rest of the row kept
    const q = (await readParquet(join(pseudo, 'quarantine.parquet'), ['raw'])).map((r) => JSON.parse(r.raw as string));
    const plainQ = (await readParquet(join(plain, 'quarantine.parquet'), ['raw'])).map((r) => JSON.parse(r.raw as string));
    expect(q).toHaveLength(plainQ.length);
    expect(q[0].NO_KK).toBe(pseudonym(KEY, plainQ[0].NO_KK));
    expect(q[0].NAMA).toBe(plainQ[0].NAMA);
    // the key is not kept in the database
    expect(readFileSync(join(pseudo, 'dtsen.duckdb')).toString('latin1').includes(KEY)).toBe(false);
  });

  it('the pseudonym depends on the key: same value and key → same hash, another key → another hash', async () => {
    const hash = (key: string) => withPseudonymKey(db, key, async () => (await db.one<{ a: string; b: string; c: string }>(
      `SELECT dtsen_pseudonym('3204125708850002') AS a, dtsen_pseudonym('3204125708850002') AS b, dtsen_pseudonym('3204125708850003') AS c`,
    ))!);
    const one = await hash(KEY);
    const other = await hash(OTHER_KEY);
    expect(one.a).toBe(one.b);
    expect(one.a).toBe(pseudonym(KEY, '3204125708850002'));
    expect(one.c).not.toBe(one.a);
    expect(other.a).not.toBe(one.a);
    // the key and the macro are gone afterwards
    await expect(db.run(`SELECT dtsen_pseudonym('x')`)).rejects.toThrow();
  });

  it('quarantined rows: the NIK/KK fields of parsed rows and the long digit runs of unparsed lines are pseudonymised', async () => {
    const mem = await Db.open();
    try {
      const mappings = await Promise.all(['dtks', 'p3ke'].map((s) => loadMapping(`pipelines/sources/${s}.json`)));
      await mem.run(`CREATE TABLE quarantine AS SELECT * FROM (VALUES
        ('dtks', 'D1', 'a.csv', 1::BIGINT, 'no_identity', '{"IDDTKS":"D1","NIK":"3204125708850002","NO_KK":"3204121507100003","NAMA":"SITI","_row":1}'),
        ('p3ke', NULL, 'b.csv', 2::BIGINT, 'malformed_line', 'P3KE-1,"KP-1",3204125708850002,"SITI",RT 003'),
        ('p3ke', 'P2', 'b.csv', 3::BIGINT, 'no_identity', '{"id_p3ke":"P2","nik":null}')
      ) t(source, source_record_id, file, row_number, reason, raw)`);
      const rows = await withPseudonymKey(mem, KEY, () => mem.all<{ raw: string }>(exportSelect(outputTable('quarantine'), true, mappings)));
      expect(JSON.parse(rows[0].raw)).toEqual({ IDDTKS: 'D1', NIK: pseudonym(KEY, '3204125708850002'), NO_KK: pseudonym(KEY, '3204121507100003'), NAMA: 'SITI', _row: 1 });
      expect(rows[1].raw).toBe(`P3KE-1,"KP-1",${pseudonym(KEY, '3204125708850002')},"SITI",RT 003`);
      expect(JSON.parse(rows[2].raw)).toEqual({ id_p3ke: 'P2', nik: null });
    } finally {
      mem.close();
    }
  });

  it('a pseudonym key is required and must be long enough', () => {
    expect(() => checkPseudonymKey(true, undefined)).toThrow(InputError);
    expect(() => checkPseudonymKey(true, 'short')).toThrow(/too short/);
    expect(() => checkPseudonymKey(true, KEY)).not.toThrow();
    expect(() => checkPseudonymKey(false, undefined)).not.toThrow();
  });

  it('--pseudonymise without DTSEN_PSEUDONYM_KEY exits 2 before writing anything', async () => {
    const saved = process.env.DTSEN_PSEUDONYM_KEY;
    delete process.env.DTSEN_PSEUDONYM_KEY;
    try {
      const out = join(dir, 'nokey');
      const sink = new Writable({ write(_c, _e, cb) { cb(); } });
      const code = await main(['node', 'dtsen', 'run', '--log-level', 'silent', '--config', sampleConfig(dir), '--out', out, '--pseudonymise'], sink);
      expect(code).toBe(2);
      expect(() => readdirSync(out)).toThrow();
    } finally {
      if (saved !== undefined) process.env.DTSEN_PSEUDONYM_KEY = saved;
    }
  });
});
