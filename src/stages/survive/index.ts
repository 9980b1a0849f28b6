/**
 * Survive: clusters → dtsen_person (one row per person, a value per field by a documented rule) and
 * dtsen_link (one row per accepted source record, with the person it belongs to).
 *
 * dtsen_id = 'DT' + the first 16 hex digits of md5 of the smallest "source:source_record_id" of the
 * cluster's members: the same inputs give the same ids on any run and any thread count (rec_id
 * numbering does not enter it).
 */
import type { Ctx, Stage } from '../../engine/context.ts';
import type { Db } from '../../engine/db.ts';

/** Winner of `value` per cluster, ordered by `order` (first row wins); `from` must have cluster_id. */
function winner(name: string, value: string, order: string, from = 'm', where = `${value} IS NOT NULL`): string {
  return `${name} AS (
    SELECT cluster_id, ${value} AS ${name} FROM (
      SELECT cluster_id, ${value}, row_number() OVER (PARTITION BY cluster_id ORDER BY ${order}) AS rn FROM ${from} WHERE ${where}
    ) WHERE rn = 1)`;
}

export const SURVIVE_SQL = `
CREATE OR REPLACE TABLE dtsen_person AS
WITH m AS (
  SELECT c.cluster_id, c.best_link_probability, p.* FROM clusters c JOIN person_clean p USING (rec_id)
),
ids AS (
  SELECT cluster_id, 'DT' || upper(substr(md5(min(source || ':' || source_record_id)), 1, 16)) AS dtsen_id,
         count(*) AS n_records, list_sort(list_distinct(list(source))) AS sources,
         bool_or(source = 'dtks') AS in_dtks, bool_or(source = 'regsosek') AS in_regsosek, bool_or(source = 'p3ke') AS in_p3ke,
         bool_or(pkh) AS pkh, bool_or(bpnt) AS bpnt, bool_or(pbi_jkn) AS pbi_jkn,
         list_sort(list_distinct(flatten(list(programmes)))) AS programmes
  FROM m GROUP BY cluster_id
),
-- NIK: a valid NIK; one the civil registry matched (PADAN) first, then the one most members carry, then the smallest.
nik_votes AS (SELECT cluster_id, nik, count(*) AS votes, bool_or(coalesce(dukcapil_match, false)) AS padan,
                     any_value(nik_birth_date) AS nik_birth_date, any_value(nik_sex) AS nik_sex
              FROM m WHERE nik IS NOT NULL GROUP BY ALL),
${winner('nik', 'nik', 'padan DESC, votes DESC, nik', 'nik_votes')},
nik_facts AS (SELECT v.cluster_id, v.nik_birth_date, v.nik_sex FROM nik_votes v JOIN nik USING (cluster_id) WHERE v.nik = nik.nik),
-- Name: the most frequent normalised name; ties to the longest, then alphabetical.
name_votes AS (SELECT cluster_id, name_norm, count(*) AS votes FROM m WHERE name_norm IS NOT NULL GROUP BY ALL),
${winner('name', 'name_norm', 'votes DESC, length(name_norm) DESC, name_norm', 'name_votes')},
-- Birth date: one agreeing with the surviving NIK's date first, then the most frequent, then the earliest.
bd_votes AS (SELECT m.cluster_id, m.birth_date, count(*) AS votes, bool_or(m.birth_date = f.nik_birth_date) AS agrees
             FROM m LEFT JOIN nik_facts f USING (cluster_id) WHERE m.birth_date IS NOT NULL GROUP BY ALL),
${winner('birth_date', 'birth_date', 'coalesce(agrees, false) DESC, votes DESC, birth_date', 'bd_votes')},
-- Sex: the surviving NIK's sex when a member states it, else the most frequent, then L before P.
sex_votes AS (SELECT m.cluster_id, m.sex, count(*) AS votes, bool_or(m.sex = f.nik_sex) AS agrees
              FROM m LEFT JOIN nik_facts f USING (cluster_id) WHERE m.sex IS NOT NULL GROUP BY ALL),
${winner('sex', 'sex', 'coalesce(agrees, false) DESC, votes DESC, sex', 'sex_votes')},
-- Village: from the most recently updated record; ties Regsosek, DTKS, P3KE, then the first record.
${winner('village_code', 'village_code', "updated_at DESC NULLS LAST, CASE source WHEN 'regsosek' THEN 1 WHEN 'dtks' THEN 2 ELSE 3 END, source_record_id")},
-- Family: the most frequent family id, then the smallest.
fam_votes AS (SELECT cluster_id, family_id, count(*) AS votes FROM m WHERE family_id IS NOT NULL GROUP BY ALL),
${winner('family_id', 'family_id', 'votes DESC, family_id', 'fam_votes')},
-- Decile: Regsosek's (it ranks every family) when present, else the poorest stated by P3KE or DTKS.
${winner('decile', 'decile', "CASE source WHEN 'regsosek' THEN 1 ELSE 2 END, decile, source_record_id")}
SELECT ids.dtsen_id, nik.nik, name.name, birth_date.birth_date, sex.sex, village_code.village_code,
       substr(village_code.village_code, 1, 2) AS province_code,
       family_id.family_id, decile.decile, ids.pkh, ids.bpnt, ids.pbi_jkn, ids.programmes,
       ids.n_records, ids.sources, ids.in_dtks, ids.in_regsosek, ids.in_p3ke, ids.cluster_id
FROM ids
LEFT JOIN nik USING (cluster_id) LEFT JOIN name USING (cluster_id) LEFT JOIN birth_date USING (cluster_id)
LEFT JOIN sex USING (cluster_id) LEFT JOIN village_code USING (cluster_id) LEFT JOIN family_id USING (cluster_id)
LEFT JOIN decile USING (cluster_id)
ORDER BY ids.dtsen_id;

CREATE OR REPLACE TABLE dtsen_link AS
SELECT d.dtsen_id, p.source, p.source_record_id, c.best_link_probability AS match_probability, p.rec_id
FROM clusters c JOIN person_clean p USING (rec_id) JOIN dtsen_person d USING (cluster_id)
ORDER BY d.dtsen_id, p.source, p.source_record_id;
`;

export async function survive(db: Db): Promise<number> {
  await db.run(SURVIVE_SQL);
  return db.count(`SELECT count(*) FROM dtsen_person`);
}

export const surviveStage: Stage = {
  name: 'survive',
  async run(ctx: Ctx) {
    const rows = await survive(ctx.db);
    const overlap = await ctx.db.all<{ sources: string; persons: string }>(
      `SELECT array_to_string(sources, '+') AS sources, count(*) AS persons FROM dtsen_person GROUP BY ALL ORDER BY persons DESC`,
    );
    return { rows, figures: { persons: rows, source_overlap: overlap.map((o) => ({ sources: o.sources, persons: Number(o.persons) })) } };
  },
};
