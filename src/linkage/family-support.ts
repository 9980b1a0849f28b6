/**
 * Family support: a family is mostly recorded whole in each source, so two records of one person usually come with
 * other members of their families matching each other too (the family context scores exactly those member pairs).
 * A pair between two families that both have other members, none of which match across them, lacks that support:
 * namesakes born the same day in two regencies look like this, and so does one person who left the family (a
 * marriage, a split family card). How often a true pair lacks support is measured in the batch itself, not assumed:
 *   m(unsupported) = the share unsupported among the confident links (posterior >= CONFIDENT) in scope;
 *   u(unsupported) = the share unsupported among the plain non-links (posterior <= PLAIN_NON_LINK) in scope;
 * and an unsupported pair's weight takes log2(m / u) more bits. A supported pair is left as it is: the support of
 * member pairs is what the family model already counts.
 *
 * In scope: pairs (not hard negatives) of records of two different families, each family with two or more records.
 * Support: another scored pair between the same two families, sharing neither record, at match probability >= 0.5.
 */
import type { Db } from '../engine/db.ts';
import { probabilitySql } from './comparison-sql.ts';
import { persistWorkingTable, rewriteWorkingTable } from './working-tables.ts';

const CONFIDENT = 0.999;
const PLAIN_NON_LINK = 0.001;
const SUPPORT_PROBABILITY = 0.5;
/** fewer confident links in scope than this and the support is not weighed */
const MIN_CONFIDENT = 200;

/** The two levels of the family support, as `dtsen explain` and the review app name them. */
export const FAMILY_SUPPORT_LEVELS = {
  supported: 'another pair of the two families matches',
  unsupported: 'no other pair of the two families matches',
} as const;
export type FamilySupportStatus = keyof typeof FAMILY_SUPPORT_LEVELS;

export interface FamilySupportFigures {
  pairs_in_scope: number;
  unsupported_pairs: number;
  confident_links: number;
  m_unsupported: number;
  u_unsupported: number;
  /** bits added to an unsupported pair's weight (0: not weighed) */
  weight_unsupported: number;
}

/** Weighs the support of every pair of scored_pairs as the link stage scored it (each stage run scores anew). */
export async function applyFamilySupport(db: Db): Promise<FamilySupportFigures | undefined> {
  if (!(await db.columnExists('person_clean', 'family_id'))) return undefined;
  const hard = (await db.columnExists('scored_pairs', 'hard_negative')) ? 'NOT coalesce(s.hard_negative, false)' : 'true';
  // rows the family model scored: supported by the pair that linked their families, by construction; left out of
  // the estimates (the family context would otherwise count as support it made itself)
  const familyRows = (await db.columnExists('scored_pairs', 'family_context')) ? 'coalesce(s.family_context, false)' : 'false';
  await db.run(`
    CREATE OR REPLACE TEMP TABLE fs_family AS
      WITH f AS (SELECT family_id, row_number() OVER (ORDER BY family_id)::INTEGER AS fam FROM person_clean WHERE family_id IS NOT NULL GROUP BY family_id HAVING count(*) >= 2)
      SELECT p.rec_id, f.fam FROM person_clean p JOIN f USING (family_id);
    CREATE OR REPLACE TEMP TABLE fs_scope AS
      SELECT s.rec_id_l, s.rec_id_r, s.match_probability AS p, least(fl.fam, fr.fam) AS fa, greatest(fl.fam, fr.fam) AS fb,
        ${familyRows} AS family_row
      FROM scored_pairs s JOIN fs_family fl ON fl.rec_id = s.rec_id_l JOIN fs_family fr ON fr.rec_id = s.rec_id_r
      WHERE fl.fam <> fr.fam AND ${hard};
    CREATE OR REPLACE TEMP TABLE fs_support AS
      WITH strong AS (SELECT * FROM fs_scope WHERE p >= ${SUPPORT_PROBABILITY}),
      per_pair AS (SELECT fa, fb, count(*) AS n FROM strong GROUP BY ALL),
      per_rec AS (
        SELECT fa, fb, rec, count(*) AS n FROM (
          SELECT fa, fb, rec_id_l AS rec FROM strong UNION ALL SELECT fa, fb, rec_id_r FROM strong) GROUP BY ALL)
      SELECT s.rec_id_l, s.rec_id_r, s.p, s.family_row,
        coalesce(pp.n, 0) - coalesce(a.n, 0) - coalesce(b.n, 0) + (s.p >= ${SUPPORT_PROBABILITY})::INT > 0 AS supported
      FROM fs_scope s
      LEFT JOIN per_pair pp USING (fa, fb)
      LEFT JOIN per_rec a ON a.fa = s.fa AND a.fb = s.fb AND a.rec = s.rec_id_l
      LEFT JOIN per_rec b ON b.fa = s.fa AND b.fb = s.fb AND b.rec = s.rec_id_r;`);
  const r = await db.one<{ n: number; uns: number; conf: number; conf_uns: number; plain: number; plain_uns: number }>(`
    SELECT count(*)::DOUBLE AS n, count(*) FILTER (WHERE NOT supported)::DOUBLE AS uns,
      count(*) FILTER (WHERE p >= ${CONFIDENT})::DOUBLE AS conf, count(*) FILTER (WHERE p >= ${CONFIDENT} AND NOT supported)::DOUBLE AS conf_uns,
      count(*) FILTER (WHERE p <= ${PLAIN_NON_LINK})::DOUBLE AS plain, count(*) FILTER (WHERE p <= ${PLAIN_NON_LINK} AND NOT supported)::DOUBLE AS plain_uns
    FROM fs_support WHERE NOT family_row`);
  const n = Number(r?.n ?? 0);
  const conf = Number(r?.conf ?? 0);
  const m = (Number(r?.conf_uns ?? 0) + 1) / (conf + 2);
  const u = (Number(r?.plain_uns ?? 0) + 1) / (Number(r?.plain ?? 0) + 2);
  const weight = conf >= MIN_CONFIDENT ? Math.min(0, Math.log2(m / u)) : 0;
  // the last rewrite of the pairs: the batch's scored_pairs is written from the working one here (persistWorkingTable)
  const weighed = `
      SELECT s.* REPLACE (s.match_weight + coalesce(w, 0) AS match_weight, ${probabilitySql('s.match_weight + coalesce(w, 0)')} AS match_probability),
        CASE WHEN f.supported THEN 'supported' WHEN NOT f.supported THEN 'unsupported' END AS family_support,
        w AS bf_family_support
      FROM scored_pairs s LEFT JOIN (SELECT rec_id_l, rec_id_r, supported, CASE WHEN NOT supported THEN ${weight}::DOUBLE ELSE 0.0 END AS w FROM fs_support) f
      USING (rec_id_l, rec_id_r)
      ORDER BY s.rec_id_l, s.rec_id_r`;
  if (!(await persistWorkingTable(db, 'scored_pairs', weighed))) await rewriteWorkingTable(db, 'scored_pairs', weighed);
  await db.run(`DROP TABLE fs_family; DROP TABLE fs_scope; DROP TABLE fs_support;`);
  return { pairs_in_scope: n, unsupported_pairs: Number(r?.uns ?? 0), confident_links: conf, m_unsupported: m, u_unsupported: u, weight_unsupported: weight };
}
