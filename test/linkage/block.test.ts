import { describe, expect, it } from 'vitest';
import { Db } from '../../src/engine/db.ts';
import { buildCandidatePairs } from '../../src/linkage/blocking.ts';
import { Linkage } from '../../schemas/config.ts';

interface Rec {
  source?: string;
  nik?: string | null;
  name?: string;
  dob?: string | null;
  village?: string;
  kk?: string | null;
}

/** A person_clean holding just the columns blocking reads. */
async function people(recs: Rec[]): Promise<Db> {
  const db = await Db.open();
  await db.run(`CREATE TABLE person_clean (rec_id BIGINT, source VARCHAR, nik_status VARCHAR, nik_digits VARCHAR, birth_date DATE, nik_birth_date DATE,
    district_code VARCHAR, nik_region VARCHAR, name_phonetic VARCHAR, village_code VARCHAR, name_tokens VARCHAR[], birth_year INTEGER,
    kk_valid BOOLEAN, no_kk VARCHAR, name_first VARCHAR, regency_code VARCHAR, name_last VARCHAR, sex VARCHAR, name_norm VARCHAR)`);
  for (const [i, r] of recs.entries()) {
    const name = r.name ?? `PERSON ${i}`;
    const tokens = name.split(' ');
    const dob = r.dob === undefined ? `19${50 + (i % 40)}-01-${String((i % 28) + 1).padStart(2, '0')}` : r.dob;
    const v = (x: string | null | undefined) => (x == null ? 'NULL' : `'${x}'`);
    await db.run(`INSERT INTO person_clean VALUES (${i + 1}, '${r.source ?? 'dtks'}', ${r.nik ? "'valid'" : "'missing'"}, ${v(r.nik)}, ${v(dob)}, NULL,
      '${(r.village ?? '3204122001').slice(0, 6)}', NULL, '${name.replaceAll(' ', '')}', '${r.village ?? '3204122001'}', [${tokens.map((t) => `'${t}'`).join(', ')}],
      ${dob ? `year(DATE '${dob}')` : 'NULL'}, ${r.kk ? 'true' : 'false'}, ${v(r.kk)}, '${tokens[0]}', '${(r.village ?? '3204122001').slice(0, 4)}', '${tokens[tokens.length - 1]}', 'P', '${name}')`);
  }
  return db;
}

const pairsOf = async (db: Db) =>
  (await db.all<{ l: string; r: string; rule_id: number }>('SELECT rec_id_l AS l, rec_id_r AS r, rule_id FROM candidate_pairs ORDER BY 1, 2')).map((p) => `${p.l}-${p.r}`);

describe('blocking', () => {
  it('finds a NIK with one typed digit and one with two adjacent digits swapped, not a NIK two far positions apart', async () => {
    const db = await people([
      { nik: '3204125708850002', name: 'SITI AMINAH', dob: '1985-08-17' },
      { nik: '3204125708850007', name: 'SITI AMNAH', dob: '1970-03-03', village: '3101011001' },
      { nik: '3204125780850002', name: 'SITI AMINA', dob: '1971-04-04', village: '3201011001' },
      // a typed digit, but another first initial: a neighbour born the same day, not a typo
      { nik: '3204125708850003', name: 'NUR AMINAH', dob: '1972-05-05', village: '3301011001' },
      { nik: '9204125708850009', name: 'SUPARMAN', dob: '1960-05-05', village: '3301011001' },
    ]);
    const f = await buildCandidatePairs(db, Linkage.parse({}));
    expect(await pairsOf(db)).toEqual(['1-2', '1-3']);
    expect(f.rules.find((r) => r.rule === 'nik_variant')?.pairs).toBe(2);
  });

  it('caps giant blocks and reports them instead of pairing them', async () => {
    // 30 records share one placeholder-like NIK: a block of 30 under a cap of 10 is dropped.
    const recs: Rec[] = Array.from({ length: 30 }, (_, i) => ({ nik: '3204121111110001', name: `ORANG ${i} X${i}`, dob: null, village: `32041220${String(i).padStart(2, '0')}` }));
    const db = await people(recs);
    const f = await buildCandidatePairs(db, Linkage.parse({ max_block_size: 10 }));
    const nik = f.rules.find((r) => r.rule === 'nik')!;
    expect(nik.capped_blocks).toBe(1);
    expect(nik.capped_records).toBe(30);
    expect(nik.pairs).toBe(0);
    expect(f.largest_blocks[0]).toMatchObject({ rule: 'nik', records: 30 });
    expect(f.largest_blocks[0]).not.toHaveProperty('key');
    // Under a cap of 40 the same block gives all 30·29/2 pairs.
    const g = await buildCandidatePairs(db, Linkage.parse({ max_block_size: 40 }));
    expect(g.rules.find((r) => r.rule === 'nik')!.pairs).toBe(435);
  });

  it('pairs only the sources the config asks for, each pair once', async () => {
    const recs: Rec[] = [
      { source: 'dtks', nik: '3204125708850002', name: 'SITI', dob: '1985-08-17' },
      { source: 'dtks', nik: '3204125708850002', name: 'SITI', dob: '1985-08-17' },
      { source: 'p3ke', nik: '3204125708850002', name: 'SITI', dob: '1985-08-17' },
      { source: 'regsosek', nik: '3204125708850002', name: 'SITI', dob: '1985-08-17' },
    ];
    const db = await people(recs);
    await buildCandidatePairs(db, Linkage.parse({ dedupe: [], link: [['dtks', 'regsosek']] }));
    expect(await pairsOf(db)).toEqual(['1-4', '2-4']);
    const f = await buildCandidatePairs(db, Linkage.parse({}));
    expect(await pairsOf(db)).toEqual(['1-2', '1-3', '1-4', '2-3', '2-4', '3-4']);
    // found by several rules, counted once; the first rule is recorded
    expect(f.candidate_pairs).toBe(6);
    expect((await db.all<{ rule_id: number }>('SELECT DISTINCT rule_id FROM candidate_pairs')).map((r) => Number(r.rule_id))).toEqual([0]);
  });

  it('pairs a phonetic name in a village only when born the same year or on the same day and month; an undated record with all of them', async () => {
    const db = await people([
      { name: 'SUPARMAN', dob: '1960-05-05' },
      { name: 'SUPARMAN', dob: '1961-05-05' }, // a year typed wrong
      { name: 'SUPARMAN', dob: '1960-07-09' }, // a day and month typed wrong
      { name: 'SUPARMAN', dob: null }, // no date at all: a probe
      { name: 'SUPARMAN', dob: null, village: '3301011001' }, // another village
    ]);
    const f = await buildCandidatePairs(db, Linkage.parse({}));
    expect(await pairsOf(db)).toEqual(['1-2', '1-3', '1-4', '2-4', '3-4']);
    const pv = f.rules.find((r) => r.rule === 'phonetic_village')!;
    expect(pv.pairs).toBe(5);
    // year keys (1960 ×2, 1961), day-month keys (0505 ×2, 0709), and the one coarse block holding the probe
    expect(pv.blocks).toBe(3);
  });

  it('pairs a conventional date (1 January, 1 July, 31 December) with the same name in the village within two years', async () => {
    const db = await people([
      { name: 'SUPARMAN', dob: '1960-01-01' }, // a convention of an estimated year
      { name: 'SUPARMAN', dob: '1961-03-15' }, // a real date a year later
      { name: 'SUPARMAN', dob: '1958-07-01' }, // another convention two years earlier
      { name: 'SUPARMAN', dob: '1957-03-15' }, // three years before the first convention, one before the second
      { name: 'SUPARMAN', dob: '1962-09-09' }, // two years after the first convention
    ]);
    await buildCandidatePairs(db, Linkage.parse({}));
    // 2-4: the same day and month; 2-3 (1961, a convention of 1958) and 4-5 (two real dates): not paired
    expect(await pairsOf(db)).toEqual(['1-2', '1-3', '1-5', '2-4', '3-4']);
  });
});
