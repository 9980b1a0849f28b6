import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate, type GenerateResult } from '../../src/generate/index.ts';
import { profileByName } from '../../src/generate/profiles.ts';
import { Db, lit } from '../../src/engine/db.ts';
import { loadReference } from '../../src/engine/reference.ts';
import { tempDir } from '../fixtures/inputs.ts';

const SOURCE_FORMAT_HEADERS = {
  dtks: 'IDDTKS;NO_KK;NIK;NAMA;TEMPAT_LAHIR;TGL_LAHIR;JENIS_KELAMIN;HUB_KRT;NAMA_IBU_KANDUNG;ALAMAT;KODE_WILAYAH;PROVINSI;KABUPATEN_KOTA;KECAMATAN;DESA_KELURAHAN;PKH;BPNT;PBI_JKN;STATUS_DUKCAPIL;TGL_UPDATE',
  p3ke: '"id_p3ke","id_keluarga_p3ke","nik","nama_lengkap","tanggal_lahir","jenis_kelamin","alamat","rt","rw","kode_kemendagri","desil_kesejahteraan","penerima_bansos"',
};

describe('the sample generator', () => {
  let dir: string;
  let result: GenerateResult;
  let db: Db;

  beforeAll(async () => {
    dir = tempDir('dtsen-gen-');
    result = await generate({ persons: 4000, seed: 7, out: dir });
    db = await Db.open();
    await loadReference(db);
    await db.run(`
      CREATE TABLE truth AS SELECT * FROM read_csv(${lit(join(dir, 'truth.csv'))}, all_varchar = true);
      CREATE TABLE dtks AS SELECT * FROM read_csv(${lit(join(dir, 'dtks.csv'))}, delim = ';', all_varchar = true, header = true, strict_mode = false, null_padding = true);
      CREATE TABLE p3ke AS SELECT * FROM read_csv(${lit(join(dir, 'p3ke.csv'))}, all_varchar = true, header = true);
      CREATE TABLE regsosek AS SELECT * FROM read_parquet(${lit(join(dir, 'regsosek.parquet'))});
    `);
  });

  it('writes the layouts of source-formats.md', async () => {
    expect(readFileSync(join(dir, 'dtks.csv'), 'utf8').split('\n')[0]).toBe(SOURCE_FORMAT_HEADERS.dtks);
    expect(readFileSync(join(dir, 'p3ke.csv'), 'utf8').split('\n')[0]).toBe(SOURCE_FORMAT_HEADERS.p3ke);
    const cols = await db.all<{ column_name: string; column_type: string }>(`DESCRIBE regsosek`);
    expect(cols.map((c) => `${c.column_name}:${c.column_type}`)).toEqual([
      'id_art:VARCHAR', 'id_keluarga:VARCHAR', 'nik:VARCHAR', 'nama:VARCHAR', 'tgl_lahir:DATE', 'umur:INTEGER',
      'jenis_kelamin:INTEGER', 'hub_kk:INTEGER', 'kode_desa:VARCHAR', 'alamat:VARCHAR', 'desil:INTEGER',
    ]);
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const again = tempDir('dtsen-gen-');
    await generate({ persons: 4000, seed: 7, out: again });
    for (const f of ['dtks.csv', 'p3ke.csv', 'truth.csv']) expect(readFileSync(join(again, f)).equals(readFileSync(join(dir, f)))).toBe(true);
    const other = tempDir('dtsen-gen-');
    await generate({ persons: 4000, seed: 8, out: other });
    expect(readFileSync(join(other, 'dtks.csv')).equals(readFileSync(join(dir, 'dtks.csv')))).toBe(false);
  });

  it('truth covers every record exactly once, ids unique per source', async () => {
    const n = result.records.dtks + result.records.regsosek + result.records.p3ke;
    expect(await db.count(`SELECT count(*) FROM truth`)).toBe(n);
    expect(await db.count(`SELECT count(*) FROM (SELECT source, source_record_id FROM truth GROUP BY ALL HAVING count(*) > 1)`)).toBe(0);
    for (const [src, id] of [['dtks', 'IDDTKS'], ['p3ke', 'id_p3ke'], ['regsosek', 'id_art']]) {
      expect(await db.count(`SELECT count(*) FROM ${src} s ANTI JOIN truth t ON t.source = '${src}' AND t.source_record_id = s.${id}`)).toBe(0);
    }
    expect(n / result.persons).toBeGreaterThan(1.3);
  });

  it('uncorrupted NIKs are structurally valid and decode to the birth date and sex', async () => {
    // Regsosek rows whose NIK is 16 digits and whose birth date is present: most must decode exactly.
    const r = await db.one<{ n: string; ok: string }>(`
      SELECT count(*) AS n, count(*) FILTER (WHERE
        substr(nik, 1, 2) IN (SELECT code FROM ref_province)
        AND (substr(nik, 7, 2)::INT % 40) = day(tgl_lahir) AND substr(nik, 9, 2)::INT = month(tgl_lahir)
        AND substr(nik, 11, 2)::INT = year(tgl_lahir) % 100
        AND (substr(nik, 7, 2)::INT > 40) = (jenis_kelamin = 2)) AS ok
      FROM regsosek WHERE regexp_full_match(nik, '[0-9]{16}') AND tgl_lahir IS NOT NULL`);
    expect(Number(r!.ok) / Number(r!.n)).toBeGreaterThan(0.9);
  });

  it('places families in real villages', async () => {
    expect(await db.count(`SELECT count(*) FROM regsosek ANTI JOIN ref_village v ON v.code = kode_desa`)).toBe(0);
    // the sparse spread by default: about 150 persons per village
    expect(await db.count(`SELECT count(DISTINCT kode_desa) FROM regsosek`)).toBeGreaterThan(20);
  });

  it("a profile's village size sets how densely the persons sit", async () => {
    const dense = tempDir('dtsen-gen-dense-');
    await generate({ persons: 4000, seed: 7, out: dense, profile: profileByName('dense') });
    expect(JSON.parse(readFileSync(join(dense, 'manifest.json'), 'utf8')).villages).toBe(1);
    expect(profileByName('random:11').villagePersons).toBeGreaterThanOrEqual(150);
    expect(profileByName('random:11').villagePersons).toBeLessThanOrEqual(4000);
  });

  it('DTKS and P3KE skew poor; P3KE only ranks deciles 1-4', async () => {
    const mean = async (src: string) =>
      Number((await db.one<{ m: number }>(`
        SELECT avg(d.desil) AS m FROM truth t JOIN (SELECT DISTINCT t2.family_id, r.desil FROM regsosek r JOIN truth t2 ON t2.source = 'regsosek' AND t2.source_record_id = r.id_art) d
        USING (family_id) WHERE t.source = '${src}'`))!.m);
    expect(await mean('dtks')).toBeLessThan((await mean('regsosek')) - 1);
    expect(await mean('p3ke')).toBeLessThan(await mean('dtks'));
    expect(await db.count(`SELECT count(*) FROM p3ke WHERE desil_kesejahteraan NOT IN ('1', '2', '3', '4')`)).toBe(0);
  });

  it('injects duplicates, corruptions and hard negatives, and counts them truthfully', async () => {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    for (const k of ['nik_missing', 'nik_typo', 'nik_scientific', 'name_typo', 'duplicate_record', 'date_missing']) expect(m.corruptions.dtks[k], k).toBeGreaterThan(0);
    expect(m.hard_negatives.twins).toBeGreaterThan(0);
    const placeholders = await db.count(`SELECT count(*) FROM dtks WHERE NIK IN ('0000000000000000', '1234567890123456', '9999999999999999')`);
    expect(placeholders).toBe(m.corruptions.dtks.nik_placeholder ?? 0);
    const scientific = await db.count(`SELECT count(*) FROM dtks WHERE NIK LIKE '%E+15'`);
    expect(scientific).toBe(m.corruptions.dtks.nik_scientific);
    // duplicates: persons with two records in one source
    const dups = await db.count(`SELECT count(*) FROM (SELECT person_id FROM truth WHERE source = 'dtks' GROUP BY ALL HAVING count(*) > 1)`);
    expect(dups).toBe(m.corruptions.dtks.duplicate_record);
  });
});
