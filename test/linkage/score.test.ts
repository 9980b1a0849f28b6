import { describe, expect, it } from 'vitest';
import { Db } from '../../src/engine/db.ts';
import { COMPARISONS, type Comparison } from '../../src/linkage/comparisons.ts';
import { modelComparison } from '../../src/linkage/model.ts';
import { buildTermFrequencies, scoreSql } from '../../src/linkage/score.ts';
import { MODEL_VERSION, Model } from '../../schemas/model.ts';

/** A model over the real comparisons: every level m = u = 1/k (weight 0) but the NIK's. */
function model(conditional: Model['conditional_u']): Model {
  const probabilities = (c: Comparison, i: number) => {
    if (c.name !== 'nik') return { m: 1 / c.levels.length, u: 1 / c.levels.length };
    return i === 0 ? { m: 0.8, u: 0.001 } : { m: 0.2 / (c.levels.length - 1), u: 0.999 / (c.levels.length - 1) };
  };
  return Model.parse({
    version: MODEL_VERSION,
    lambda: 0.5,
    comparisons: COMPARISONS.map((c) => modelComparison(c, c.levels.map((_, i) => probabilities(c, i)))),
    conditional_u: conditional,
  });
}

describe('scoring', () => {
  it('uses a conditional u only where its conditions hold, the first that fits winning', async () => {
    const db = await Db.open();
    const gammas = COMPARISONS.map((c) => `gamma_${c.name}`);
    // Three pairs with the NIK exact: born the same day at home, born the same day elsewhere, born other days.
    await db.run(`CREATE TABLE v AS SELECT * FROM (VALUES (1, 2, 0, 0, 0, 0, 0, 1), (3, 4, 0, 0, 0, 0, 6, 1), (5, 6, 0, 0, 5, 0, 0, 1))
      t(rec_id_l, rec_id_r, ${gammas.join(', ')}); CREATE TABLE tf_name (rec_id BIGINT, tf DOUBLE, tf_village DOUBLE);`);
    const nikLevels = COMPARISONS.find((c) => c.name === 'nik')!.levels.length;
    const uHome = [0.1, ...new Array(nikLevels - 1).fill(0.9 / (nikLevels - 1))];
    const uDay = [0.01, ...new Array(nikLevels - 1).fill(0.99 / (nikLevels - 1))];
    const m = model([
      { comparison: 'nik', description: 'home', given: [{ comparison: 'birth_date', levels: ['exact'] }, { comparison: 'household', levels: ['same family card and village'] }], u: uHome, pairs: 500 },
      { comparison: 'nik', description: 'day', given: [{ comparison: 'birth_date', levels: ['exact'] }], u: uDay, pairs: 500 },
    ]);
    const rows = await db.all<{ rec_id_l: number; bf_nik: number }>(`SELECT rec_id_l, bf_nik FROM (${scoreSql(m, 'v')}) ORDER BY rec_id_l`);
    expect(rows.map((r) => r.bf_nik)).toEqual([Math.log2(0.8 / 0.1), Math.log2(0.8 / 0.01), Math.log2(0.8 / 0.001)]);
    db.close();
  });

  it('lowers a name by its village frequency only where no conditional u of the name applies (one locality, counted once)', async () => {
    const db = await Db.open();
    const gammas = COMPARISONS.map((c) => `gamma_${c.name}`);
    // Two pairs of one exact name in one RT: dates unknown (the household's conditional u of names applies), and
    // born the same day (it does not: twins keep the plain u).
    await db.run(`CREATE TABLE v AS SELECT * FROM (VALUES (1, 2, -1, 0, -1, 0, 1, 0), (3, 4, -1, 0, 0, 0, 1, 0))
      t(rec_id_l, rec_id_r, ${gammas.join(', ')});
      CREATE TABLE tf_name AS SELECT i::BIGINT AS rec_id, 0.05::DOUBLE AS tf, 0.25::DOUBLE AS tf_village FROM range(1, 5) t(i);`);
    const nameLevels = COMPARISONS.find((c) => c.name === 'name')!.levels.length;
    const m = model([
      { comparison: 'name', description: 'household, dates unknown', given: [{ comparison: 'household', levels: ['same village and RT/RW'] }, { comparison: 'birth_date', levels: ['null'] }], u: new Array(nameLevels).fill(1 / nameLevels), pairs: 500 },
    ]);
    const rows = await db.all<{ rec_id_l: number; tf_name: number }>(`SELECT rec_id_l, tf_name FROM (${scoreSql(m, 'v')}) ORDER BY rec_id_l`);
    const u = 1 / nameLevels;
    expect(rows[0].tf_name).toBeCloseTo(Math.log2(u / 0.05), 12);
    expect(rows[1].tf_name).toBeCloseTo(Math.log2(u / 0.25), 12);
    db.close();
  });

  it('term frequencies: national, or provincial (leaving the record out) where the name is commoner there', async () => {
    const db = await Db.open();
    // 100 records: province 32 holds records 1-10 (ASEP 4 times, BUDI once), records 11-20 have no village but a NIK
    // of province 33 and are all SITI, province 35 holds 21-100 (SITI 15 times); SITI is 30 of 100 nationally.
    await db.run(`CREATE TABLE person_clean AS
      SELECT i::BIGINT AS rec_id, CASE WHEN i <= 4 THEN 'ASEP' WHEN i = 5 THEN 'BUDI' WHEN i <= 35 THEN 'SITI' ELSE 'N' || i END AS name_norm,
             CASE WHEN i <= 10 THEN '32' WHEN i <= 20 THEN NULL ELSE '35' END AS province_code,
             CASE WHEN i BETWEEN 11 AND 20 THEN '330101' END AS nik_region,
             CASE WHEN i <= 10 THEN '3201012001' WHEN i > 20 THEN '3501012001' END AS village_code,
             CASE WHEN i = 4 THEN 'p3ke' ELSE 'dtks' END AS source
      FROM range(1, 101) t(i)`);
    await buildTermFrequencies(db, model([]));
    const tf = new Map((await db.all<{ rec_id: string; tf: number }>(`SELECT rec_id::VARCHAR AS rec_id, tf FROM tf_name`)).map((r) => [Number(r.rec_id), r.tf]));
    expect(tf.get(1)).toBeCloseTo(3 / 9, 12); // ASEP: 3 other records of 9 others in province 32, against 4/100 nationally
    expect(tf.get(5)).toBeCloseTo(1 / 100, 12); // BUDI: alone in its province, so the national 1/100
    expect(tf.get(12)).toBeCloseTo(1, 12); // SITI: every other record of province 33 (from the NIK)
    expect(tf.get(30)).toBeCloseTo(30 / 100, 12); // SITI: national 30/100 beats 14/79 in province 35
    expect(tf.get(40)).toBeCloseTo(1 / 100, 12); // a name seen once
    // In its village, counted within its source: ASEP twice more among the 8 other DTKS records of record 1's village;
    // record 4 is alone in P3KE there; the records without a village have none.
    const village = new Map((await db.all<{ rec_id: string; tf: number | null }>(`SELECT rec_id::VARCHAR AS rec_id, tf_village AS tf FROM tf_name`)).map((r) => [Number(r.rec_id), r.tf]));
    expect(village.get(1)).toBeCloseTo(2 / 8, 12);
    expect(village.get(4)).toBe(0);
    expect(village.get(12)).toBeNull();
    db.close();
  });
});
