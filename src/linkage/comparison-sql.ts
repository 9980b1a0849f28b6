/**
 * The SQL a comparison renders: its gamma (the index of the first level that holds), its weight in bits under a
 * model (log2(m/u), a conditional u replacing the plain one where its conditions hold) and its term-frequency
 * adjustment. The columns are named after the comparison: gamma_<name>, bf_<name>, tf_<name>.
 */
import type { Comparison } from './comparisons.ts';

/** m and u of one level, as a model holds them */
export interface LevelProbabilities {
  m: number;
  u: number;
  tf?: boolean;
}

/** u of a comparison among pairs at given levels of other comparisons (conditional-u.ts); `given` by gamma column */
export interface ConditionalWeights {
  given: { gammaColumn: string; levels: readonly number[] }[];
  u: readonly number[];
}

export function gammaColumn(c: Pick<Comparison, 'name'>): string {
  return `gamma_${c.name}`;
}

export function weightColumn(c: Pick<Comparison, 'name'>): string {
  return `bf_${c.name}`;
}

export function tfAdjustmentColumn(c: Pick<Comparison, 'name'>): string {
  return `tf_${c.name}`;
}

/** The table of term frequencies per record, tf(rec_id, tf) (score.ts builds it). */
export function tfTable(c: Pick<Comparison, 'name'>): string {
  return `tf_${c.name}`;
}

/** SQL expression giving the gamma of one comparison over a pair (l.*, r.*): -1 no evidence, else the level index. */
export function gammaSql(c: Comparison): string {
  const levels = c.levels.map((lv, i) => `WHEN ${lv.when} THEN ${i}`).join(' ');
  return `CASE WHEN ${c.isNull} THEN -1 ${levels} END::TINYINT`;
}

export function levelWeight(level: { m: number; u: number }): number {
  return Math.log2(level.m / level.u);
}

/** SQL over comparison vectors (alias `v`): the conditions of a conditional u hold. */
export function conditionalHoldsSql(e: Pick<ConditionalWeights, 'given'>): string {
  return `(${e.given.map((x) => `v.${x.gammaColumn} IN (${x.levels.join(', ')})`).join(' AND ')})`;
}

/**
 * SQL over comparison vectors (alias `v`): the weight in bits of the comparison's level. The first conditional u
 * whose conditions hold replaces the plain u (em.ts applies the same rule in training); a null gamma weighs 0.
 */
export function weightSql(c: Comparison, levels: readonly LevelProbabilities[], conditional: readonly ConditionalWeights[] = []): string {
  const gamma = `v.${gammaColumn(c)}`;
  const byLevel = (u: readonly number[]) => `CASE ${levels.map((lv, i) => `WHEN ${gamma} = ${i} THEN ${levelWeight({ m: lv.m, u: u[i] })}::DOUBLE`).join(' ')} ELSE 0::DOUBLE END`;
  const plain = byLevel(levels.map((lv) => lv.u));
  if (conditional.length === 0) return plain;
  const conditions = conditional.map((e) => `WHEN ${conditionalHoldsSql(e)} THEN ${byLevel(e.u)}`);
  return `CASE ${conditions.join(' ')} ELSE ${plain} END`;
}

/** SQL: the match probability of a match weight in bits (`w`, an expression), 1 / (1 + 2^-w): as probabilityOfWeight in threshold.ts. */
export function probabilitySql(w: string): string {
  return `1.0 / (1.0 + pow(2.0, -(${w})))`;
}

/**
 * The term-frequency adjustment of the comparison's tf levels, bounded to ±`bound` bits: log2(u_level / tf), tf the
 * larger of the two records' frequencies (joined from tfTable), and of their frequencies in their village
 * (tf_village) where `sameVillage` (SQL over v) holds. Undefined when the comparison has none.
 */
export function tfAdjustmentSql(c: Comparison, levels: readonly LevelProbabilities[], bound: number, sameVillage = 'false'): { joins: string; sql: string } | undefined {
  const tfLevels = levels.map((lv, i) => ({ lv, i })).filter((x) => x.lv.tf);
  if (!c.tfColumn || tfLevels.length === 0) return undefined;
  // bounded to nothing (the family model): every adjustment is 0 (+0: greatest(least(x, 0), -0) is the literal 0),
  // without joining the frequencies
  if (bound === 0) return { joins: '', sql: '0::DOUBLE' };
  const gamma = `v.${gammaColumn(c)}`;
  const left = `tfl_${c.name}`;
  const right = `tfr_${c.name}`;
  const joins = `LEFT JOIN ${tfTable(c)} ${left} ON ${left}.rec_id = v.rec_id_l
        LEFT JOIN ${tfTable(c)} ${right} ON ${right}.rec_id = v.rec_id_r`;
  // greatest() passes over NULLs: a village frequency counts only for two records of one village
  const tf = `greatest(${left}.tf, ${right}.tf, CASE WHEN ${sameVillage} THEN greatest(${left}.tf_village, ${right}.tf_village) END)`;
  const cases = tfLevels.map(({ lv, i }) => `WHEN ${gamma} = ${i} THEN greatest(least(log2(${lv.u} / ${tf}), ${bound}), -${bound})`).join(' ');
  return { joins, sql: `coalesce(CASE ${cases} END, 0)` };
}
