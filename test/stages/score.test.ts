import { describe, expect, it } from 'vitest';
import { Db } from '../../src/engine/db.ts';
import { COMPARISONS } from '../../src/stages/compare/comparisons.ts';
import { scoreSql } from '../../src/stages/score/index.ts';
import { Model } from '../../schemas/model.ts';

/** A model over the real comparisons: every level m = u = 1/k (weight 0) but the NIK's. */
function model(conditional: Model['conditional_u']): Model {
  return Model.parse({
    version: 2,
    lambda: 0.5,
    comparisons: COMPARISONS.map((c) => ({
      name: c.name,
      levels: c.levels.map((lv, i) => ({ label: lv.label, m: c.name === 'nik' && i === 0 ? 0.8 : 1 / c.levels.length, u: c.name === 'nik' && i === 0 ? 0.001 : 1 / c.levels.length })),
    })).map((c) => (c.name === 'nik' ? { ...c, levels: c.levels.map((lv, i) => (i === 0 ? lv : { ...lv, m: 0.2 / (c.levels.length - 1), u: 0.999 / (c.levels.length - 1) })) } : c)),
    conditional_u: conditional,
  });
}

describe('scoring', () => {
  it('uses a conditional u only where its conditions hold, the first that fits winning', async () => {
    const db = await Db.open();
    const gammas = COMPARISONS.map((c) => `gamma_${c.name}`);
    // Three pairs with the NIK exact: born the same day at home, born the same day elsewhere, born other days.
    await db.run(`CREATE TABLE v AS SELECT * FROM (VALUES (1, 2, 0, 0, 0, 0, 0), (3, 4, 0, 0, 0, 0, 6), (5, 6, 0, 0, 5, 0, 0))
      t(rec_id_l, rec_id_r, ${gammas.join(', ')}); CREATE TABLE tf_name (value VARCHAR, tf DOUBLE);
      ALTER TABLE v ADD COLUMN tf_l_name VARCHAR; ALTER TABLE v ADD COLUMN tf_r_name VARCHAR;`);
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
});
