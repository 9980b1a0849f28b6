import { afterEach, describe, expect, it } from 'vitest';
import { Db, lit } from '../../src/engine/db.ts';
import { survive, surviveFigures } from '../../src/stages/survive/index.ts';
import type { SurviveOptions } from '../../src/stages/survive/person.sql.ts';

/** A hand-made person_clean record: the columns survive reads; `person` is its cluster. */
interface Rec {
  person: number;
  source: 'dtks' | 'regsosek' | 'p3ke';
  id: string;
  nik?: string;
  dukcapil?: boolean;
  no_kk?: string;
  family?: string;
  name?: string;
  birth_date?: string;
  sex?: 'L' | 'P';
  relation?: number;
  village?: string;
  decile?: number;
  pkh?: boolean;
  bpnt?: boolean;
  updated?: string;
}

const OPTIONS: SurviveOptions = { decileSource: 'regsosek', sourceDates: { regsosek: '2022-10-15' } };

const v = (x: string | number | boolean | undefined, type: string) => (x === undefined ? `NULL::${type}` : typeof x === 'string' ? `${lit(x)}::${type}` : `${x}::${type}`);

/** person_clean and clusters from `recs`; rec_id follows the array order (so a reordered array renumbers them). */
async function load(db: Db, recs: Rec[]): Promise<void> {
  const rows = recs.map((r, i) => {
    const nikDate = r.nik ? `TRY_STRPTIME('19' || substr(${lit(r.nik)}, 11, 2) || '-' || substr(${lit(r.nik)}, 9, 2) || '-' || lpad((substr(${lit(r.nik)}, 7, 2)::INT % 40)::VARCHAR, 2, '0'), '%Y-%m-%d')::DATE` : 'NULL::DATE';
    const nikSex = r.nik ? `CASE WHEN substr(${lit(r.nik)}, 7, 2)::INT > 40 THEN 'P' ELSE 'L' END` : 'NULL::VARCHAR';
    const family = r.family ? `${lit(`${r.source}:${r.family}`)}` : r.no_kk ? lit(`${r.source}-kk:${r.no_kk}`) : 'NULL::VARCHAR';
    const village = r.village;
    return `(${i + 1}::BIGINT, ${r.person}::BIGINT, ${lit(r.source)}, ${lit(r.id)}, ${v(r.nik, 'VARCHAR')}, ${nikDate}, ${nikSex}, ${v(r.dukcapil, 'BOOLEAN')},
      ${v(r.no_kk, 'VARCHAR')}, ${family}, ${v(r.name ?? 'SITI AMINAH', 'VARCHAR')}, ${v(r.birth_date, 'DATE')}, ${v(r.sex, 'VARCHAR')}, ${v(r.relation, 'INTEGER')},
      ${v(village, 'VARCHAR')}, ${v(village?.slice(0, 6), 'VARCHAR')}, ${v(village?.slice(0, 4), 'VARCHAR')}, ${v(village?.slice(0, 2), 'VARCHAR')},
      ${v(r.decile, 'INTEGER')}, ${v(r.pkh, 'BOOLEAN')}, ${v(r.bpnt, 'BOOLEAN')}, ${v(r.updated, 'DATE')})`;
  });
  await db.run(`
    CREATE OR REPLACE TABLE person_clean AS
    SELECT rec_id, source, source_record_id, nik, nik_birth_date, nik_sex, dukcapil_match, no_kk, family_id, name_norm, birth_date, sex, relation,
           village_code, district_code, regency_code, province_code, '001' AS rt, '002' AS rw, 'JL MAWAR' AS address_norm, decile,
           pkh, bpnt, NULL::BOOLEAN AS pbi_jkn,
           list_filter(['PKH', 'BPNT'], p -> (p = 'PKH' AND coalesce(pkh, false)) OR (p = 'BPNT' AND coalesce(bpnt, false))) AS programmes, updated_at
    FROM (VALUES ${rows.join(',\n')}) t(rec_id, person, source, source_record_id, nik, nik_birth_date, nik_sex, dukcapil_match, no_kk, family_id, name_norm,
      birth_date, sex, relation, village_code, district_code, regency_code, province_code, decile, pkh, bpnt, updated_at);
    CREATE OR REPLACE TABLE clusters AS
    SELECT rec_id, min(rec_id) OVER (PARTITION BY person) AS cluster_id, 1.0::DOUBLE AS best_link_probability
    FROM (VALUES ${recs.map((r, i) => `(${i + 1}::BIGINT, ${r.person})`).join(', ')}) t(rec_id, person);
  `);
}

async function person<T = Record<string, unknown>>(db: Db, sourceRecordId: string): Promise<T> {
  const row = await db.one<T>(`SELECT p.* EXCLUDE (cluster_id) FROM dtsen_person p JOIN dtsen_link l USING (dtsen_id) WHERE l.source_record_id = ${lit(sourceRecordId)}`);
  if (!row) throw new Error(`no person for ${sourceRecordId}`);
  return row;
}

// NIKs: 3204125708850002 is a woman born 17-08-1985; 3204121708850003 a man born the same day.
const NIK_A = '3204125708850002';
const NIK_B = '3204125708850010';

describe('survivorship rules on hand-made clusters', () => {
  let db: Db;
  afterEach(() => db?.close());

  it('NIK: the Dukcapil-matched one wins over one more sources carry; both go to dtsen_conflict', async () => {
    db = await Db.open({ threads: 2 });
    await load(db, [
      { person: 1, source: 'dtks', id: 'D1', nik: NIK_A, dukcapil: true },
      { person: 1, source: 'regsosek', id: 'R1', nik: NIK_B },
      { person: 1, source: 'p3ke', id: 'P1', nik: NIK_B },
    ]);
    await survive(db, OPTIONS);
    const p = await person<{ nik: string; nik_dukcapil: boolean; nik_sources: string[] }>(db, 'D1');
    expect(p.nik).toBe(NIK_A);
    expect(p.nik_dukcapil).toBe(true);
    expect(p.nik_sources).toEqual(['dtks']);
    const c = await db.all<{ conflict_type: string; n_values: string; values: { value: string; source_record_ids: string[] }[]; surviving_value: string }>(
      `SELECT conflict_type, n_values, "values", surviving_value FROM dtsen_conflict`,
    );
    expect(c).toHaveLength(1);
    expect(c[0].conflict_type).toBe('nik');
    expect(c[0].surviving_value).toBe(NIK_A);
    expect(c[0].values).toEqual([
      { value: NIK_A, source_record_ids: ['dtks:D1'] },
      { value: NIK_B, source_record_ids: ['p3ke:P1', 'regsosek:R1'] },
    ]);
  });

  it('NIK: without a Dukcapil match, the one most sources agree on; one marked TIDAK PADAN comes last', async () => {
    db = await Db.open({ threads: 2 });
    await load(db, [
      { person: 1, source: 'dtks', id: 'D1', nik: NIK_A },
      { person: 1, source: 'regsosek', id: 'R1', nik: NIK_B },
      { person: 1, source: 'p3ke', id: 'P1', nik: NIK_B },
      { person: 2, source: 'dtks', id: 'D2', nik: NIK_A, dukcapil: false },
      { person: 2, source: 'p3ke', id: 'P2', nik: NIK_B },
    ]);
    await survive(db, OPTIONS);
    expect((await person<{ nik: string; nik_dukcapil: boolean }>(db, 'D1')).nik).toBe(NIK_B);
    expect((await person<{ nik: string }>(db, 'D2')).nik).toBe(NIK_B);
  });

  it("birth date: the one agreeing with the NIK's date beats a more frequent one; > 1 year apart is a conflict", async () => {
    db = await Db.open({ threads: 2 });
    await load(db, [
      { person: 1, source: 'dtks', id: 'D1', nik: NIK_A, birth_date: '1985-08-17', sex: 'P' },
      { person: 1, source: 'regsosek', id: 'R1', birth_date: '1986-01-17', sex: 'P' },
      { person: 1, source: 'p3ke', id: 'P1', birth_date: '1986-01-17', sex: 'P' },
      { person: 2, source: 'regsosek', id: 'R2', birth_date: '1970-01-01' },
      { person: 2, source: 'p3ke', id: 'P2', birth_date: '1971-06-01' },
      { person: 3, source: 'p3ke', id: 'P3', nik: NIK_A },
    ]);
    await survive(db, OPTIONS);
    const p1 = await person<{ birth_date: string; birth_date_basis: string }>(db, 'D1');
    expect(p1).toMatchObject({ birth_date: '1985-08-17', birth_date_basis: 'nik_agrees' });
    const p2 = await person<{ birth_date: string; birth_date_basis: string }>(db, 'R2');
    expect(p2).toMatchObject({ birth_date: '1970-01-01', birth_date_basis: 'stated' });
    // no stated date: the NIK's own
    expect(await person(db, 'P3')).toMatchObject({ birth_date: '1985-08-17', birth_date_basis: 'nik', sex: 'P' });
    const conflicts = await db.all<{ dtsen_id: string; conflict_type: string }>(`SELECT dtsen_id, conflict_type FROM dtsen_conflict ORDER BY ALL`);
    // person 1's dates are five months apart: no conflict; person 2's seventeen months: a conflict
    expect(conflicts).toEqual([{ dtsen_id: (await person<{ dtsen_id: string }>(db, 'R2')).dtsen_id, conflict_type: 'birth_date' }]);
  });

  it("sex: the NIK's sex wins, and a different stated sex is a conflict", async () => {
    db = await Db.open({ threads: 2 });
    await load(db, [
      { person: 1, source: 'dtks', id: 'D1', nik: NIK_A, sex: 'L' },
      { person: 1, source: 'regsosek', id: 'R1', sex: 'L' },
      { person: 1, source: 'p3ke', id: 'P1', sex: 'P' },
    ]);
    await survive(db, OPTIONS);
    expect((await person<{ sex: string }>(db, 'D1')).sex).toBe('P');
    expect(await db.all(`SELECT conflict_type, surviving_value FROM dtsen_conflict`)).toEqual([{ conflict_type: 'sex', surviving_value: 'P' }]);
  });

  it("address: the most recent record's (update date, else the source's reference date); P3KE's undated last", async () => {
    db = await Db.open({ threads: 2 });
    await load(db, [
      { person: 1, source: 'dtks', id: 'D1', village: '3204122001', updated: '2025-01-01' },
      { person: 1, source: 'regsosek', id: 'R1', village: '3273010001' },
      { person: 1, source: 'p3ke', id: 'P1', village: '3578131003' },
      { person: 2, source: 'dtks', id: 'D2', village: '3204122001', updated: '2020-05-01' },
      { person: 2, source: 'regsosek', id: 'R2', village: '3273010001' },
      { person: 2, source: 'p3ke', id: 'P2', village: '3578131003' },
      { person: 3, source: 'dtks', id: 'D3', updated: '2026-01-01' },
      { person: 3, source: 'p3ke', id: 'P3', village: '3578131003' },
    ]);
    await survive(db, OPTIONS);
    expect(await person(db, 'D1')).toMatchObject({ village_code: '3204122001', province_code: '32', address_source: 'dtks', address_date: '2025-01-01' });
    expect(await person(db, 'D2')).toMatchObject({ village_code: '3273010001', address_source: 'regsosek', address_date: '2022-10-15' });
    // the newest record has no village: the one that has one
    expect(await person(db, 'D3')).toMatchObject({ village_code: '3578131003', address_source: 'p3ke', address_date: null });
  });

  it('decile: from the configured source, else the poorest of the others', async () => {
    const recs: Rec[] = [
      { person: 1, source: 'regsosek', id: 'R1', decile: 5 },
      { person: 1, source: 'p3ke', id: 'P1', decile: 2 },
      { person: 2, source: 'p3ke', id: 'P2', decile: 3 },
      { person: 2, source: 'dtks', id: 'D2' },
    ];
    db = await Db.open({ threads: 2 });
    await load(db, recs);
    await survive(db, OPTIONS);
    expect(await person(db, 'R1')).toMatchObject({ decile: 5, decile_source: 'regsosek' });
    expect(await person(db, 'P2')).toMatchObject({ decile: 3, decile_source: 'p3ke' });
    await survive(db, { ...OPTIONS, decileSource: 'p3ke' });
    expect(await person(db, 'R1')).toMatchObject({ decile: 2, decile_source: 'p3ke' });
  });

  it('programmes: the union of DTKS and P3KE, each flag with its sources; lineage keeps every record', async () => {
    db = await Db.open({ threads: 2 });
    await load(db, [
      { person: 1, source: 'dtks', id: 'D1', pkh: true, bpnt: false },
      { person: 1, source: 'p3ke', id: 'P1', pkh: true, bpnt: true },
      { person: 1, source: 'regsosek', id: 'R1' },
      { person: 2, source: 'dtks', id: 'D2', pkh: false, bpnt: false },
    ]);
    await survive(db, OPTIONS);
    expect(await person(db, 'D1')).toMatchObject({
      pkh: true, pkh_sources: ['dtks', 'p3ke'], bpnt: true, bpnt_sources: ['p3ke'], pbi_jkn: false, pbi_jkn_sources: [],
      programmes: ['BPNT', 'PKH'], n_records: '3', sources: ['dtks', 'p3ke', 'regsosek'], source_record_ids: ['dtks:D1', 'p3ke:P1', 'regsosek:R1'],
    });
    expect(await person(db, 'D2')).toMatchObject({ pkh: false, pkh_sources: [], programmes: [] });
    expect(await db.count(`SELECT count(*) FROM dtsen_link`)).toBe(4);
  });
});

describe('families', () => {
  let db: Db;
  afterEach(() => db?.close());

  // Person 2 is in Regsosek family R1 and in DTKS under KK K1, so R1 and K1 are one family; person 5 has no key.
  const KK = '3204121507100003';
  const FAMILY: Rec[] = [
    { person: 1, source: 'regsosek', id: 'R1', family: 'RS-1', relation: 3, birth_date: '2010-01-01', village: '3204122001' },
    { person: 2, source: 'regsosek', id: 'R2', family: 'RS-1', relation: 1, birth_date: '1980-01-01', village: '3204122001', decile: 3 },
    { person: 2, source: 'dtks', id: 'D2', no_kk: KK, relation: 1, village: '3204122001', updated: '2025-01-01' },
    { person: 3, source: 'dtks', id: 'D3', no_kk: KK, relation: 2, birth_date: '1982-01-01', village: '3204122001' },
    { person: 4, source: 'p3ke', id: 'P4', family: 'KP-9', birth_date: '1950-01-01', village: '3578131003', decile: 1 },
    { person: 4, source: 'p3ke', id: 'P4b', family: 'KP-9', birth_date: '1950-01-01', village: '3578131003' },
    { person: 6, source: 'p3ke', id: 'P6', family: 'KP-9', birth_date: '1975-01-01', village: '3578131003', decile: 2 },
    { person: 5, source: 'dtks', id: 'D5', birth_date: '1990-01-01' },
  ];

  it('joins persons through shared KKs and source family ids; head by relation, else the oldest', async () => {
    db = await Db.open({ threads: 2 });
    await load(db, FAMILY);
    await survive(db, OPTIONS);
    const fams = await db.all<{ family_id: string; head_dtsen_id: string; head_basis: string; n_members: string; members: string[]; village_code: string; decile: number; no_kks: string[]; source_family_ids: string[] }>(
      `SELECT * FROM dtsen_family ORDER BY n_members DESC, family_id`,
    );
    expect(fams.map((f) => Number(f.n_members))).toEqual([3, 2, 1]);
    const id = async (rec: string) => (await person<{ dtsen_id: string; family_id: string }>(db, rec));
    const [p1, p2, p3, p4, p5, p6] = await Promise.all(['R1', 'R2', 'D3', 'P4', 'D5', 'P6'].map(id));
    expect(fams[0]).toMatchObject({ head_dtsen_id: p2.dtsen_id, head_basis: 'relation', village_code: '3204122001', decile: 3, no_kks: [KK], source_family_ids: ['regsosek:RS-1'] });
    expect(fams[0].members).toEqual([p1.dtsen_id, p2.dtsen_id, p3.dtsen_id].sort());
    expect(p1.family_id).toBe(fams[0].family_id);
    expect(p3.family_id).toBe(fams[0].family_id);
    expect(fams[1]).toMatchObject({ head_dtsen_id: p4.dtsen_id, head_basis: 'oldest', village_code: '3578131003', source_family_ids: ['p3ke:KP-9'], no_kks: [] });
    expect(fams[1].members).toEqual([p4.dtsen_id, p6.dtsen_id].sort());
    // decile: p3ke's two members disagree (1 and 2); no Regsosek decile; ties to the poorer
    expect(fams[1].decile).toBe(1);
    expect(fams[2]).toMatchObject({ head_dtsen_id: p5.dtsen_id, members: [p5.dtsen_id] });
    expect(fams[0].family_id).toMatch(/^FM[0-9A-F]{16}$/);
    const figures = await surviveFigures(db, 6);
    expect(figures).toMatchObject({
      families: 3, largest_family: 3, families_with_several_kks: 0, family_heads_by_basis: { relation: 1, oldest: 2 },
      conflicts: 0, conflicts_by_type: { nik: 0, birth_date: 0, sex: 0 },
    });
    expect(figures.families_by_size).toEqual([{ size: '1', families: 1 }, { size: '2', families: 1 }, { size: '3', families: 1 }]);
  });

  it('dtsen_id and family_id do not depend on record order or thread count', async () => {
    const digest = async (d: Db) => ({
      person: await d.all(`SELECT * EXCLUDE (cluster_id) FROM dtsen_person ORDER BY dtsen_id`),
      family: await d.all(`SELECT * FROM dtsen_family ORDER BY family_id`),
      conflict: await d.all(`SELECT * FROM dtsen_conflict ORDER BY ALL`),
    });
    db = await Db.open({ threads: 2 });
    await load(db, FAMILY);
    await survive(db, OPTIONS);
    const a = await digest(db);
    const other = await Db.open({ threads: 1 });
    try {
      await load(other, [...FAMILY].reverse());
      await survive(other, OPTIONS);
      expect(await digest(other)).toEqual(a);
      // built in 16 parts of the id space (one record each here): the same rows, and in id order as stored
      await survive(other, OPTIONS, 1);
      expect(await digest(other)).toEqual(a);
      const stored = async (table: string, id: string) => (await other.all<Record<string, string>>(`SELECT ${id} FROM ${table}`)).map((r) => r[id]);
      const persons = await stored('dtsen_person', 'dtsen_id');
      expect(persons).toEqual([...persons].sort());
      expect(new Set(persons.map((x) => x[2])).size).toBeGreaterThan(1);
      const families = await stored('dtsen_family', 'family_id');
      expect(families).toEqual([...families].sort());
      expect(await stored('dtsen_link', 'dtsen_id')).toEqual((await stored('dtsen_link', 'dtsen_id')).sort());
    } finally {
      other.close();
    }
    expect(a.person.map((p) => p.dtsen_id)).toContain(`DT${(await db.one<{ h: string }>(`SELECT upper(substr(md5('dtks:D2'), 1, 16)) AS h`))!.h}`);
  });

  it('a person of one record gets the same golden record by the single-record path as through the votes', async () => {
    // NIK_A: a woman born 17-08-1985 (the NIK's date); every person here is one record, each a different case
    const singles: Rec[] = [
      { person: 1, source: 'dtks', id: 'S1', nik: NIK_A, dukcapil: true, birth_date: '1985-08-17', sex: 'P', village: '3204122001', pkh: true, relation: 1, updated: '2024-02-01' },
      { person: 2, source: 'regsosek', id: 'S2', nik: NIK_A, dukcapil: false, birth_date: '1986-08-17', village: '3204122001', decile: 4, no_kk: '3204121507100003' },
      { person: 3, source: 'p3ke', id: 'S3', nik: NIK_B, bpnt: true, pkh: false, decile: 1 },
      { person: 4, source: 'dtks', id: 'S4', name: 'BUDI', sex: 'L', family: 'X' },
      { person: 5, source: 'regsosek', id: 'S5', birth_date: '1970-01-01' },
      { person: 6, source: 'p3ke', id: 'S6', nik: NIK_A, village: '3578131003', pkh: true, bpnt: true },
      // and one person of two records beside them
      { person: 7, source: 'dtks', id: 'S7a', nik: NIK_B, birth_date: '1985-08-17' },
      { person: 7, source: 'p3ke', id: 'S7b', nik: NIK_B, sex: 'P', decile: 2 },
    ];
    const all = async (d: Db) => ({
      person: await d.all(`SELECT * FROM dtsen_person`),
      family: await d.all(`SELECT * FROM dtsen_family`),
      link: await d.all(`SELECT * FROM dtsen_link`),
    });
    db = await Db.open();
    await load(db, singles);
    await survive(db, OPTIONS);
    const fast = await all(db);
    await survive(db, OPTIONS, undefined, false);
    expect(await all(db)).toEqual(fast);
    expect(fast.person).toHaveLength(7);
  });
});
