/**
 * Comparison vectors: for every pair of a pair table, the gamma (level index) of each comparison,
 * computed in one set-based SQL statement over person_clean joined twice.
 */
import type { Db } from '../engine/db.ts';
import { materialise, type TempTable } from '../engine/sql-pipeline.ts';
import { COMPARISONS, type Comparison } from './comparisons.ts';
import { gammaColumn, gammaSql } from './comparison-sql.ts';

/** The person_clean columns the comparisons read (kept narrow so the pair join stays light). */
export function compareColumns(comparisons: readonly Comparison[] = COMPARISONS): string[] {
  return [...new Set(['rec_id', 'source', ...comparisons.flatMap((c) => c.columns)])];
}

/** SQL selecting rec_id_l, rec_id_r, the extra columns and one gamma per comparison from `pairTable`. */
export function comparisonVectorsSql(pairTable: string, extra: string[] = [], comparisons: readonly Comparison[] = COMPARISONS): string {
  return `
    SELECT pr.rec_id_l, pr.rec_id_r${extra.map((e) => `, pr.${e}`).join('')},
      ${comparisons.map((c) => `${gammaSql(c)} AS ${gammaColumn(c)}`).join(',\n      ')}
    FROM ${pairTable} pr
    JOIN compare_input l ON l.rec_id = pr.rec_id_l
    JOIN compare_input r ON r.rec_id = pr.rec_id_r`;
}

/**
 * compare_input, a narrow copy of person_clean for the pair joins: a TEMP table that lives as long as the caller's
 * handle (`await using`).
 */
export async function prepareCompareInput(db: Db): Promise<TempTable> {
  return materialise(db, 'compare_input', `SELECT ${compareColumns().join(', ')} FROM person_clean`);
}
