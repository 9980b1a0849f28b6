/**
 * u of the family model (family-context.ts): the level frequencies among the member pairs of linked families that
 * are not one person — relatives, who share an address, a family card, family names, sometimes a birth day (twins)
 * or a NIK (a parent's typed in). EM over the member pairs with m held cannot find them: every member pair of one
 * exact name (a son named after his father) is explained as well by a match whose dates and NIKs were damaged as by
 * a relative, and EM's fixed point takes them all for matches, driving u of an exact name towards zero (30 bits of
 * evidence for a name two relatives share). So each comparison's u is counted among member pairs that other,
 * independent evidence marks as two persons:
 *  - every comparison but the name: among member pairs whose names are 'different' (nothing shared: never one
 *    person's two records, whatever their dates or NIKs);
 *  - the name: among member pairs born years apart (no typo, convention or estimated year moves one person's date
 *    five years) mixed with pairs close in age of the other sex, weighed by the share of pairs years apart among
 *    the pairs whose names differ (mixByAgeGap, as the main model's conditional u of names in one household): a
 *    sample kept to pairs years apart holds parents and children, where juniors are, and leaves out spouses and
 *    siblings.
 * One pseudo-pair per level (rare, not impossible). A comparison with fewer than MIN_CONDITIONAL_PAIRS such pairs
 * keeps the main model's u (a small batch).
 */
import type { Db } from '../engine/db.ts';
import type { Model } from '../../schemas/model.ts';
import { COMPARISONS, levelIndex } from './comparisons.ts';
import { gammaColumn } from './comparison-sql.ts';
import { MIN_CONDITIONAL_PAIRS, mixByAgeGap } from './conditional-u.ts';

/** Birth years (stated, else decoded from the NIK) this many years apart or more: two persons. */
export const FAMILY_AGES_DIFFER = 5;

export interface FamilyU {
  /** u per comparison and level */
  u: Record<string, number[]>;
  /** the non-matching member pairs each comparison's u was counted on (0: the main model's u kept) */
  pairs: Record<string, number>;
}

/** Family-model u from `vectors` (rec_id_l, rec_id_r, gamma_* of the member pairs), the main model's u as fallback. */
export async function estimateFamilyU(db: Db, vectors: string, model: Model): Promise<FamilyU> {
  const nameCol = gammaColumn({ name: 'name' });
  const sexCol = gammaColumn({ name: 'sex' });
  const namesDiffer = `${nameCol} = ${levelIndex('name', 'different')}`;
  const otherSex = `${sexCol} = ${levelIndex('sex', 'different')}`;
  const year = (s: string) => `year(coalesce(${s}.birth_date, ${s}.nik_birth_date))`;
  // one pass: per comparison and level, the counts of each sample
  const selects = COMPARISONS.map((c) => {
    const col = gammaColumn(c);
    return `SELECT '${c.name}' AS comparison, ${col} AS g,
        count(*) FILTER (WHERE ${namesDiffer})::DOUBLE AS names_differ,
        count(*) FILTER (WHERE years_apart >= ${FAMILY_AGES_DIFFER})::DOUBLE AS far,
        count(*) FILTER (WHERE years_apart < ${FAMILY_AGES_DIFFER} AND ${otherSex})::DOUBLE AS close,
        count(*) FILTER (WHERE years_apart IS NOT NULL)::DOUBLE AS known
      FROM v WHERE ${col} >= 0 GROUP BY ALL`;
  });
  const rows = await db.all<{ comparison: string; g: number; names_differ: number; far: number; close: number; known: number }>(`
    WITH v AS MATERIALIZED (
      SELECT f.*, abs(${year('l')} - ${year('r')}) AS years_apart
      FROM ${vectors} f JOIN person_clean l ON l.rec_id = f.rec_id_l JOIN person_clean r ON r.rec_id = f.rec_id_r)
    ${selects.join('\nUNION ALL\n')}`);
  // the share of pairs years apart among the pairs whose names differ (of known ages): the name's row at 'different'
  const share = rows.find((r) => r.comparison === 'name' && Number(r.g) === levelIndex('name', 'different'));
  const u: Record<string, number[]> = {};
  const pairs: Record<string, number> = {};
  for (const c of COMPARISONS) {
    const of = (k: 'names_differ' | 'far' | 'close') => {
      const n = new Array<number>(c.levels.length).fill(0);
      for (const r of rows) if (r.comparison === c.name) n[Number(r.g)] = Number(r[k]);
      return n;
    };
    const counts = c.name === 'name' ? mixByAgeGap(of('far'), of('close'), Number(share?.far ?? 0), Number(share?.known ?? 0)) : of('names_differ');
    const total = counts.reduce((a, b) => a + b, 0);
    const plain = model.comparisons.find((m) => m.name === c.name)!.levels.map((l) => l.u);
    if (total < MIN_CONDITIONAL_PAIRS) {
      u[c.name] = plain;
      pairs[c.name] = 0;
      continue;
    }
    u[c.name] = counts.map((x) => (x + 1) / (total + counts.length));
    pairs[c.name] = Math.round(total);
  }
  return { u, pairs };
}
