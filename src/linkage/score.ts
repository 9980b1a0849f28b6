/**
 * Scoring: comparison vectors + model → match weight and probability per pair.
 * match_weight = log2(lambda / (1 - lambda)) + Σ log2(m / u) over the non-null comparisons
 *              + term-frequency adjustments (log2(u_level / tf(value)), bounded), in bits.
 * match_probability = 2^w / (1 + 2^w).
 */
import type { Db } from '../engine/db.ts';
import type { Model } from '../../schemas/model.ts';
import { COMPARISONS, HARD_NEGATIVE_SQL, SAME_VILLAGE_LEVELS, levelIndex } from './comparisons.ts';
import { conditionalHoldsSql, gammaColumn, probabilitySql, tfAdjustmentColumn, tfAdjustmentSql, tfTable, weightColumn, weightSql } from './comparison-sql.ts';
import { conditionalUs } from './conditional-u.ts';
import { assertModelFits } from './model.ts';
import { startWorkingTableSql } from './working-tables.ts';

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
  assertModelFits(model);
  for (const c of COMPARISONS.filter((x) => x.tfColumn)) {
    await db.run(`
      CREATE OR REPLACE TABLE ${tfTable(c)} AS
      WITH v AS (
        SELECT rec_id, ${c.tfColumn} AS value, coalesce(province_code, substr(nik_region, 1, 2)) AS grp FROM person_clean WHERE ${c.tfColumn} IS NOT NULL),
      nat AS (SELECT value, count(*) / sum(count(*)) OVER () AS tf FROM v GROUP BY value),
      loc AS (SELECT grp, value, (count(*) - 1) / greatest(sum(count(*)) OVER (PARTITION BY grp) - 1, 1) AS tf FROM v WHERE grp IS NOT NULL GROUP BY grp, value)
      SELECT v.rec_id, greatest(nat.tf, coalesce(loc.tf, 0)) AS tf, vil.tf AS tf_village
      FROM v JOIN nat USING (value) LEFT JOIN loc USING (grp, value) LEFT JOIN (${villageFrequencySql(c.tfColumn!)}) vil USING (rec_id);`);
  }
}

/**
 * How often a record's value recurs among the other records of its source in its village: (count - 1) /
 * (records - 1). Names are local (a family name, a name of one generation or one place), so among persons of one
 * village an exact name is commoner than the province's frequency says; counted within one source, which lists
 * a person once, a name's recurrence there is other persons bearing it (a son named after his father), not the
 * same person's records in the other sources. It applies only to pairs of one village (tfAdjustmentSql).
 */
function villageFrequencySql(column: string): string {
  return `SELECT rec_id, (count(*) OVER (PARTITION BY village_code, source, ${column}) - 1)
      / greatest(count(*) OVER (PARTITION BY village_code, source) - 1, 1) AS tf
    FROM person_clean WHERE ${column} IS NOT NULL AND village_code IS NOT NULL`;
}

/** SQL over comparison vectors (alias v): the two records live in one village (the household comparison says so). */
export const SAME_VILLAGE_SQL = `v.${gammaColumn({ name: 'household' })} IN (${SAME_VILLAGE_LEVELS.map((l) => levelIndex('household', l)).join(', ')})`;

/**
 * SQL: the per-comparison weight columns (bf_<name>), the term-frequency adjustments (tf_<name>) and the totals,
 * over `vectors` (alias v). The model must fit the code's comparisons (model.ts): each comparison renders its own
 * columns from the model's m and u of its levels.
 */
export function scoreSql(model: Model, vectors: string, extraColumns: string[] = []): string {
  assertModelFits(model);
  const conditional = conditionalUs(model);
  const weightColumns: string[] = [];
  const tfColumns: string[] = [];
  const tfNames: string[] = [];
  const tfJoins: string[] = [];
  for (const [ci, comparison] of COMPARISONS.entries()) {
    const levels = model.comparisons[ci].levels;
    const conditionalWeights = conditional
      .filter((e) => e.comparison === ci)
      .map((e) => ({ given: e.given.map((x) => ({ gammaColumn: gammaColumn(COMPARISONS[x.comparison]), levels: x.levels })), u: e.u }));
    weightColumns.push(`${weightSql(comparison, levels, conditionalWeights)} AS ${weightColumn(comparison)}`);
    // A conditional u already measures how much commoner an agreement is among the pairs its conditions select
    // (a name among the members of one household): the village frequency, which measures the same locality, counts
    // only where none applies (else one fact would lower the weight twice).
    const villageTf = conditionalWeights.length ? `(${SAME_VILLAGE_SQL} AND NOT (${conditionalWeights.map(conditionalHoldsSql).join(' OR ')}))` : SAME_VILLAGE_SQL;
    const tf = tfAdjustmentSql(comparison, levels, model.tf_max_adjustment, villageTf);
    if (tf) {
      tfJoins.push(tf.joins);
      tfColumns.push(`${tf.sql} AS ${tfAdjustmentColumn(comparison)}`);
      tfNames.push(tfAdjustmentColumn(comparison));
    }
  }
  const total = [`${priorWeight(model)}::DOUBLE`, ...COMPARISONS.map(weightColumn), ...tfNames].join(' + ');
  return `
    WITH w AS (
      SELECT v.rec_id_l, v.rec_id_r${extraColumns.map((e) => `, v.${e}`).join('')},
        ${COMPARISONS.map((c) => `v.${gammaColumn(c)}`).join(', ')},
        ${[...weightColumns, ...tfColumns].join(',\n        ')}
      FROM ${vectors} v ${tfJoins.join('\n')}
    )
    SELECT *, ${total} AS match_weight, ${probabilitySql(total)} AS match_probability,
      ${HARD_NEGATIVE_SQL} AS hard_negative FROM w`;
}

export async function scorePairs(db: Db, model: Model, vectors = 'comparison_vectors', extraColumns = ['rule_id', 'rules']): Promise<number> {
  await buildTermFrequencies(db, model);
  // a working table while the family context and the family support rewrite it (working-tables.ts)
  await db.run(startWorkingTableSql('scored_pairs', scoreSql(model, vectors, extraColumns)));
  return db.count(`SELECT count(*) FROM scored_pairs`);
}
