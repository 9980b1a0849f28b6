import { beforeAll, describe, expect, it } from 'vitest';
import { Db } from '../../src/engine/db.ts';
import { COMPARISONS, HARD_NEGATIVE_SQL, NIK_DIFFERENT_CORROBORATED, levelIndex } from '../../src/linkage/comparisons.ts';
import { comparisonVectorsSql, prepareCompareInput } from '../../src/linkage/comparison-vectors.ts';

interface Rec {
  nik?: string | null;
  status?: string;
  name?: string | null;
  dob?: string | null;
  nikDob?: string | null;
  sex?: string | null;
  village?: string | null;
  rt?: string | null;
  rw?: string | null;
  kk?: string | null;
}

const base: Required<Rec> = {
  nik: '3204125708850002', status: 'valid', name: 'SITI AMINAH', dob: '1985-08-17', nikDob: '1985-08-17', sex: 'P',
  village: '3204122001', rt: '003', rw: '005', kk: '3204121507100003',
};

const q = (v: string | null | undefined) => (v == null ? 'NULL' : `'${v}'`);
const phon = (n: string) => n.replace(/[AEIOU]/g, '');

/** Level label of each comparison for the pair (a, b). */
async function levels(db: Db, a: Rec, b: Rec): Promise<Record<string, string>> {
  const rows = [a, b].map((r, i) => {
    const x = { ...base, ...r };
    const tokens = x.name ? `[${x.name.split(' ').map((t) => `'${t}'`).join(', ')}]` : 'NULL';
    return `(${i + 1}, 'dtks', ${q(x.nik)}, ${q(x.status)}, ${x.nikDob ? `DATE '${x.nikDob}'` : 'NULL'}, ${q(x.name)}, ${tokens}, ${q(x.name ? phon(x.name) : null)},
      ${x.dob ? `DATE '${x.dob}'` : 'NULL'}, ${q(x.sex)}, ${q(x.village)}, ${q(x.village?.slice(0, 6))}, ${q(x.village?.slice(0, 4))}, ${q(x.rt)}, ${q(x.rw)}, ${q(x.kk)}, ${x.kk ? 'true' : 'false'})`;
  });
  await db.run(`CREATE OR REPLACE TABLE person_clean AS SELECT rec_id::BIGINT AS rec_id, source::VARCHAR AS source, nik_digits::VARCHAR AS nik_digits,
    nik_status::VARCHAR AS nik_status, nik_birth_date::DATE AS nik_birth_date, name_norm::VARCHAR AS name_norm, name_tokens::VARCHAR[] AS name_tokens,
    name_phonetic::VARCHAR AS name_phonetic, birth_date::DATE AS birth_date, sex::VARCHAR AS sex, village_code::VARCHAR AS village_code,
    district_code::VARCHAR AS district_code, regency_code::VARCHAR AS regency_code, rt::VARCHAR AS rt, rw::VARCHAR AS rw, no_kk::VARCHAR AS no_kk,
    kk_valid::BOOLEAN AS kk_valid
    FROM (VALUES ${rows.join(', ')}) t(rec_id, source, nik_digits, nik_status, nik_birth_date, name_norm,
    name_tokens, name_phonetic, birth_date, sex, village_code, district_code, regency_code, rt, rw, no_kk, kk_valid)`);
  await prepareCompareInput(db);
  await db.run(`CREATE OR REPLACE TABLE pr AS SELECT 1::BIGINT AS rec_id_l, 2::BIGINT AS rec_id_r`);
  const v = (await db.one<Record<string, number>>(comparisonVectorsSql('pr')))!;
  return Object.fromEntries(COMPARISONS.map((c) => [c.name, Number(v[`gamma_${c.name}`]) < 0 ? 'null' : c.levels[Number(v[`gamma_${c.name}`])].label]));
}

describe('comparison levels', () => {
  let db: Db;
  beforeAll(async () => {
    db = await Db.open();
  });

  it.each([
    ['exact', {}, 'exact'],
    ['one substitution in the region code', { nik: '3204135708850002' }, 'one substitution in the region code'],
    ['one typo in the date digits, stated dates equal', { nik: '3204125708860002' }, 'one typo in the date digits'],
    ['a date-digit difference with stated dates that differ too is not a typo', { nik: '3204125708860002', dob: '1986-08-17', nikDob: '1986-08-17' }, NIK_DIFFERENT_CORROBORATED],
    ['adjacent swap', { nik: '3204125708850020' }, 'adjacent swap'],
    ['serial differs (twins or a serial typo)', { nik: '3204125708850003' }, 'same first 12 digits, serial differs'],
    ['the same date for the other sex', { nik: '3204121708850002' }, 'same date, other sex'],
    ['another NIK, each carrying its own record\'s birth date', { nik: '3171015708850002' }, NIK_DIFFERENT_CORROBORATED],
    ['another NIK whose date is not its record\'s (a relative\'s, or damaged)', { nik: '3171010101900001', nikDob: '1990-01-01' }, 'different'],
    ['missing on one side', { nik: null, status: 'missing' }, 'null'],
    ['a placeholder carries no evidence', { nik: '0000000000000000', status: 'placeholder' }, 'null'],
  ])('NIK: %s', async (_label, b, expected) => {
    expect((await levels(db, {}, b as Rec)).nik).toBe(expected);
  });

  it.each([
    ['exact', {}, 'exact'],
    ['tokens in another order', { name: 'AMINAH SITI' }, 'same tokens, other order'],
    ['one token missing', { name: 'SITI' }, 'one token missing'],
    ['a typo', { name: 'SITI AMINAJ' }, 'Jaro-Winkler >= 0.95'],
    ['two typos', { name: 'SITU AMNAH' }, 'Jaro-Winkler >= 0.88'],
    ['a wrong first letter in a short name', { name: 'RITI AMINAH' }, 'one typo'],
    ['a shared token only', { name: 'SITI RAHAYU' }, 'a token shared'],
    ['different', { name: 'BUDI SANTOSO' }, 'different'],
    ['missing', { name: null }, 'null'],
  ])('name: %s', async (_label, b, expected) => {
    expect((await levels(db, {}, b as Rec)).name).toBe(expected);
  });

  it('name: tokens abbreviated to their initial (a birth-order name, MUHAMMAD as M), not initials alone', async () => {
    expect((await levels(db, { name: 'I KOMANG SUDIARTA' }, { name: 'I K SUDIARTA' })).name).toBe('tokens agree, some abbreviated to an initial');
    expect((await levels(db, { name: 'M RIDWAN' }, { name: 'MUHAMMAD RIDWAN' })).name).toBe('tokens agree, some abbreviated to an initial');
    // another birth-order name, or no token written out in both: not an abbreviation
    expect((await levels(db, { name: 'I KOMANG SUDIARTA' }, { name: 'I P SUDIARTA' })).name).not.toBe('tokens agree, some abbreviated to an initial');
    expect((await levels(db, { name: 'SITI AMINAH' }, { name: 'S A' })).name).not.toBe('tokens agree, some abbreviated to an initial');
  });

  it('name: one typed letter in a one-word name (Jaro-Winkler too weak there)', async () => {
    expect((await levels(db, { name: 'NENENG' }, { name: 'RENENG' })).name).toBe('one typo');
    expect((await levels(db, { name: 'JUSUF' }, { name: 'YUSUF' })).name).toBe('one typo');
  });

  it.each([
    ['exact', {}, 'exact'],
    ['one year apart', { dob: '1986-08-17', nik: '3171010101900001', nikDob: '1990-01-01' }, 'one year apart'],
    ['the NIK-decoded date of one is the stated date of the other', { dob: '1985-09-20', nik: '3171015708850009', nikDob: '1985-08-17' }, 'NIK-decoded date agrees'],
    ['same year and month', { dob: '1985-08-02', nik: '3171010101900001', nikDob: '1990-01-01' }, 'same year and month'],
    ['different', { dob: '1990-01-01', nik: '3171010101900001', nikDob: '1990-01-01' }, 'different'],
    ['missing everywhere', { dob: null, nikDob: null, nik: null, status: 'missing' }, 'null'],
  ])('birth date: %s', async (_label, b, expected) => {
    expect((await levels(db, {}, b as Rec)).birth_date).toBe(expected);
  });

  it('birth date: swapped day and month', async () => {
    expect((await levels(db, { dob: '1985-08-07', nikDob: null, nik: null, status: 'missing' }, { dob: '1985-07-08', nikDob: null, nik: null, status: 'missing' })).birth_date).toBe('day and month swapped');
  });

  it('birth date: NIKs of one date and district (another serial, the other sex) do not count their date again', async () => {
    // no stated dates: the NIK comparison has counted the NIKs' date, the birth date carries nothing more
    const twin = { dob: null, nikDob: '1985-08-17' };
    expect((await levels(db, twin, { ...twin, nik: '3204125708850003' })).birth_date).toBe('null');
    expect((await levels(db, { dob: '1985-08-17' }, { ...twin, nik: '3204121708850002' })).birth_date).toBe('null');
    // NIKs of other districts that happen to hold one date: the NIK comparison says only "different"
    expect((await levels(db, twin, { ...twin, nik: '3171015708850002' })).birth_date).toBe('exact');
  });

  it('birth date: a shared NIK does not also count as a shared date', async () => {
    // Both records carry one NIK (a relative's); one states no date: its date is unknown, not the NIK's.
    expect((await levels(db, { dob: '2010-01-01' }, { dob: null })).birth_date).toBe('null');
  });

  it.each([
    ['same', {}, 'same'],
    ['different', { sex: 'L' }, 'different'],
    ['missing', { sex: null }, 'null'],
  ])('sex: %s', async (_label, b, expected) => {
    expect((await levels(db, {}, b as Rec)).sex).toBe(expected);
  });

  it.each([
    ['same family card and village', {}, 'same family card and village'],
    ['same village and RT/RW', { kk: null }, 'same village and RT/RW'],
    ['same family card, another village', { village: '3204122002' }, 'same family card'],
    ['same village only', { kk: null, rt: '009' }, 'same village'],
    ['same district', { kk: null, village: '3204122009' }, 'same district'],
    ['same regency', { kk: null, village: '3204132001' }, 'same regency'],
    ['different', { kk: null, village: '3171011001' }, 'different'],
    ['nothing to compare', { kk: null, village: null }, 'null'],
  ])('household: %s', async (_label, b, expected) => {
    expect((await levels(db, {}, b as Rec)).household).toBe(expected);
  });
});

describe('hard negatives (twins)', () => {
  const lv = (c: string, label: string) => (label === 'null' ? -1 : levelIndex(c, label));
  async function hard(levels: Record<string, string>): Promise<boolean> {
    const db = await Db.open();
    const cols = COMPARISONS.map((c) => `${lv(c.name, levels[c.name] ?? 'null')} AS gamma_${c.name}`).join(', ');
    const r = await db.one<{ h: boolean }>(`SELECT ${HARD_NEGATIVE_SQL} AS h FROM (SELECT ${cols})`);
    db.close();
    return r!.h;
  }
  const twins = { birth_date: 'exact', household: 'same village and RT/RW', sex: 'same' };

  it.each([
    ['serial differs, near-identical names', { nik: 'same first 12 digits, serial differs', name: 'Jaro-Winkler >= 0.95' }, true],
    ['the other sex digit, one token missing', { nik: 'same date, other sex', name: 'one token missing' }, true],
    ['no NIK, names alike only phonetically', { nik: 'null', name: 'same phonetic key' }, true],
    ['another NIK each dated as its record states, near-identical names', { nik: NIK_DIFFERENT_CORROBORATED, name: 'Jaro-Winkler >= 0.95' }, true],
    ['another NIK not dated as its record states (a relative\'s, or damaged): the model weighs it', { nik: 'different', name: 'Jaro-Winkler >= 0.95' }, false],
    ['serial differs, the same name: one person, a typo in the serial', { nik: 'same first 12 digits, serial differs', name: 'exact' }, false],
    ['the same NIK and a mistyped name', { nik: 'exact', name: 'Jaro-Winkler >= 0.95' }, false],
    ['no NIK, one typo in the name', { nik: 'null', name: 'one typo' }, false],
    ['no NIK, a token abbreviated (I K SUDIARTA)', { nik: 'null', name: 'tokens agree, some abbreviated to an initial' }, false],
  ])('born the same day in one household: %s', async (_label, x, expected) => {
    expect(await hard({ ...twins, ...x })).toBe(expected);
  });

  it('in one village too (an RT not recorded, grown twins apart in their village), never farther or for other birth dates', async () => {
    expect(await hard({ ...twins, household: 'same village', nik: 'same first 12 digits, serial differs', name: 'a token shared' })).toBe(true);
    expect(await hard({ ...twins, household: 'same family card', nik: 'null', name: 'initials agree' })).toBe(true);
    expect(await hard({ ...twins, household: 'same village', nik: 'same first 12 digits, serial differs', name: 'exact' })).toBe(false);
    expect(await hard({ ...twins, household: 'same district', nik: 'same first 12 digits, serial differs', name: 'one typo' })).toBe(false);
    expect(await hard({ ...twins, birth_date: 'one year apart', nik: 'different', name: 'one typo' })).toBe(false);
  });
});
