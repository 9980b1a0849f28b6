/**
 * Scoring: comparison vectors + model → match weight and probability per pair.
 * match_weight = log2(lambda / (1 - lambda)) + Σ log2(m / u) over the non-null comparisons
 *              + term-frequency adjustments (log2(u_level / tf(value)), bounded), in bits.
 * match_probability = 2^w / (1 + 2^w).
 */
import type { Db } from '../engine/db.ts';
import { lit } from '../engine/db.ts';
import type { Model } from '../../schemas/model.ts';
import { COMPARISONS, HARD_NEGATIVE_SQL } from './comparisons.ts';
import { gammaColumn } from './comparison-vectors.ts';
import { conditionalUs } from './conditional-u.ts';

export function levelWeight(level: { m: number; u: number }): number {
  return Math.log2(level.m / level.u);
}

export function priorWeight(model: Pick<Model, 'lambda'>): number {
  return Math.log2(model.lambda / (1 - model.lambda));
}

/**
 * Term frequencies of each tf column, per record (tf_<comparison>(rec_id, tf)): how likely another record is to
 * carry the same value, over all sources together — nationally, or within the record's province (of residence,
 * else of NIK registration) where the value is commoner there: names are regional (a Sundanese name is rare
 * nationally and common in West Java), and a name common where two records live is weak evidence there.
 * The provincial frequency leaves the record itself out ((count - 1) / (records - 1)), so a value seen once in
 * a small province does not look common.
 */
export async function buildTermFrequencies(db: Db, model: Model): Promise<void> {
  for (const c of model.comparisons.filter((x) => x.tf_column)) {
    await db.run(`
      CREATE OR REPLACE TABLE tf_${c.name} AS
      WITH v AS (
        SELECT rec_id, ${c.tf_column} AS value, coalesce(province_code, substr(nik_region, 1, 2)) AS grp FROM person_clean WHERE ${c.tf_column} IS NOT NULL),
      nat AS (SELECT value, count(*) / sum(count(*)) OVER () AS tf FROM v GROUP BY value),
      loc AS (SELECT grp, value, (count(*) - 1) / greatest(sum(count(*)) OVER (PARTITION BY grp) - 1, 1) AS tf FROM v WHERE grp IS NOT NULL GROUP BY grp, value)
      SELECT v.rec_id, greatest(nat.tf, coalesce(loc.tf, 0)) AS tf FROM v JOIN nat USING (value) LEFT JOIN loc USING (grp, value);`);
  }
}

/** SQL: the per-comparison weight columns, the tf adjustment and the totals, over `vectors` (alias v). */
export function scoreSql(model: Model, vectors: string, extraColumns: string[] = []): string {
  const byName = new Map(model.comparisons.map((c) => [c.name, c]));
  const weightCols: string[] = [];
  const tfJoins: string[] = [];
  const tfCols: string[] = [];
  const conditional = conditionalUs(model);
  for (const comp of COMPARISONS) {
    const mc = byName.get(comp.name);
    if (!mc) continue;
    const ci = model.comparisons.indexOf(mc);
    const g = `v.${gammaColumn(comp)}`;
    const levelCase = (u: readonly number[]) => `CASE ${mc.levels.map((lv, i) => `WHEN ${g} = ${i} THEN ${levelWeight({ m: lv.m, u: u[i] })}::DOUBLE`).join(' ')} ELSE 0::DOUBLE END`;
    // The first conditional u whose conditions hold replaces the plain u (see em.ts: the same rule in training).
    const conds = conditional
      .filter((c) => c.comparison === ci)
      .map((c) => `WHEN ${c.given.map((x) => `v.${gammaColumn(model.comparisons[x.comparison])} IN (${x.levels.join(', ')})`).join(' AND ')} THEN ${levelCase(c.u)}`);
    const plain = levelCase(mc.levels.map((lv) => lv.u));
    weightCols.push(`${conds.length ? `CASE ${conds.join(' ')} ELSE ${plain} END` : plain} AS bf_${comp.name}`);
    const tfLevels = mc.levels.map((lv, i) => ({ lv, i })).filter((x) => x.lv.tf);
    if (mc.tf_column && tfLevels.length) {
      const bound = model.tf_max_adjustment;
      tfJoins.push(`LEFT JOIN tf_${comp.name} tfl_${comp.name} ON tfl_${comp.name}.rec_id = v.rec_id_l
        LEFT JOIN tf_${comp.name} tfr_${comp.name} ON tfr_${comp.name}.rec_id = v.rec_id_r`);
      const cases = tfLevels
        .map(({ lv, i }) => `WHEN ${g} = ${i} THEN greatest(least(log2(${lv.u} / greatest(tfl_${comp.name}.tf, tfr_${comp.name}.tf)), ${bound}), -${bound})`)
        .join(' ');
      tfCols.push(`coalesce(CASE ${cases} END, 0) AS tf_${comp.name}`);
    }
  }
  const names = COMPARISONS.filter((c) => byName.has(c.name)).map((c) => c.name);
  const tfNames = tfCols.map((c) => c.split(' AS ')[1]);
  const total = [`${priorWeight(model)}::DOUBLE`, ...names.map((n) => `bf_${n}`), ...tfNames].join(' + ');
  return `
    WITH w AS (
      SELECT v.rec_id_l, v.rec_id_r${extraColumns.map((e) => `, v.${e}`).join('')},
        ${names.map((n) => `v.gamma_${n}`).join(', ')},
        ${[...weightCols, ...tfCols].join(',\n        ')}
      FROM ${vectors} v ${tfJoins.join('\n')}
    )
    SELECT *, ${total} AS match_weight, 1.0 / (1.0 + pow(2.0, -(${total}))) AS match_probability,
      ${HARD_NEGATIVE_SQL} AS hard_negative FROM w`;
}

export async function scorePairs(db: Db, model: Model, vectors = 'comparison_vectors', extraColumns = ['rule_id', 'rules']): Promise<number> {
  await buildTermFrequencies(db, model);
  await db.run(`CREATE OR REPLACE TABLE scored_pairs AS ${scoreSql(model, vectors, extraColumns)}`);
  await db.run(`COMMENT ON TABLE scored_pairs IS ${lit('candidate pairs with their match weight (bits) and match probability')}`);
  return db.count(`SELECT count(*) FROM scored_pairs`);
}
