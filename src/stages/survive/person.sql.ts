/**
 * Golden records: clusters + person_clean → dtsen_person (one row per person) and dtsen_link (one row per
 * accepted source record). Every field has one rule, documented in SURVIVORSHIP_RULES (README table).
 *
 * dtsen_id = 'DT' + the first 16 hex digits of md5 of the smallest "source:source_record_id" of the
 * cluster's members: the same inputs give the same ids on any run and any thread count (rec_id and
 * cluster_id numbering do not enter it). Every tie below is broken on values, never on row order.
 */
import { lit } from '../../engine/db.ts';
import { SOURCES, type SourceName } from '../../../schemas/canonical.ts';

export interface SurviveOptions {
  /** the source whose decile wins (config survivorship.decile_source) */
  decileSource: SourceName;
  /** per source, the date its records describe when they carry no update date of their own (YYYY-MM-DD) */
  sourceDates: Partial<Record<SourceName, string>>;
}

/** field → the rule that picks its value; the README's survivorship table is this list. */
export const SURVIVORSHIP_RULES: readonly { field: string; rule: string }[] = [
  { field: 'dtsen_id', rule: "`DT` + 16 hex digits of md5 of the smallest `source:source_record_id` of the person's records" },
  { field: 'nik', rule: 'a structurally valid NIK: one the civil registry matched (`STATUS_DUKCAPIL` PADAN) first, one without a verdict next, one only marked TIDAK PADAN last; then the one carried by most sources, then by most records, then one whose decoded date agrees with a stated birth date, then the smallest' },
  { field: 'nik_dukcapil', rule: 'true when a record carrying the surviving NIK says PADAN' },
  { field: 'name', rule: 'the most frequent normalised name; ties to the longest, then alphabetical' },
  { field: 'birth_date', rule: "a stated date agreeing with the surviving NIK's decoded date first, then the one stated by most sources and records, then the earliest; with no stated date, the NIK's decoded date (`birth_date_basis`: `nik_agrees`, `stated`, `nik`)" },
  { field: 'sex', rule: "the stated sex agreeing with the surviving NIK's sex digit first, then the most frequent, then L before P; with none stated, the NIK's" },
  { field: 'village_code, rt, rw, address', rule: "all from one record, the most recent one with a village code: a record's date is its own update date (DTKS `TGL_UPDATE`), else its source's reference date (the mapping's `age_reference_date`: Regsosek's enumeration, 2022-10-15), else none (P3KE carries no date; its records come after dated ones); ties DTKS, Regsosek, P3KE, then record id (`address_source`, `address_date`)" },
  { field: 'relation', rule: 'relation to the head (1 head … 8 other) of the most recent record stating one; ties as for the address' },
  { field: 'no_kk', rule: 'the valid family-card number of most records, from the most recent record on a tie, then the smallest' },
  { field: 'decile', rule: '`survivorship.decile_source` (default Regsosek) when that source states one (its most recent record, then the poorest); else the poorest decile any other source states (`decile_source`)' },
  { field: 'pkh, bpnt, pbi_jkn', rule: 'the union of what DTKS and P3KE state: true when any record says so; `pkh_sources` … list the sources that do' },
  { field: 'programmes', rule: 'the union of every programme any record names' },
  { field: 'family_id', rule: 'the person\'s family in `dtsen_family` (see Families)' },
  { field: 'source_record_ids', rule: 'lineage: every `source:source_record_id` of the person, sorted (also one row each in `dtsen_link`)' },
];

const SOURCE_RANK = `CASE source ${SOURCES.map((s, i) => `WHEN ${lit(s)} THEN ${i}`).join(' ')} END`;

function sourceDateSql(dates: Partial<Record<SourceName, string>>): string {
  const whens = Object.entries(dates).map(([s, d]) => `WHEN ${lit(s)} THEN DATE ${lit(d!)}`);
  return whens.length ? `CASE source ${whens.join(' ')} END` : 'NULL::DATE';
}

/** Winner of `value` per cluster, ordered by `order` (first row wins); `from` must have cluster_id. */
function winner(name: string, cols: string, order: string, from: string, where = 'true'): string {
  return `${name} AS (
    SELECT * EXCLUDE (rn) FROM (
      SELECT cluster_id, ${cols}, row_number() OVER (PARTITION BY cluster_id ORDER BY ${order}) AS rn FROM ${from} WHERE ${where}
    ) WHERE rn = 1)`;
}

/** Members of every cluster with the columns survivorship reads; kept as surv_member for conflicts and families. */
export function memberSql(o: SurviveOptions): string {
  return `
CREATE OR REPLACE TEMP TABLE surv_member AS
WITH m AS (
  SELECT c.cluster_id, c.best_link_probability, p.rec_id, p.source, p.source_record_id, p.source || ':' || p.source_record_id AS record_key,
         p.nik, p.nik_birth_date, p.nik_sex, p.dukcapil_match, p.no_kk, p.family_id, p.name_norm, p.birth_date, p.sex, p.relation,
         p.village_code, p.district_code, p.regency_code, p.province_code, p.rt, p.rw, p.address_norm, p.decile,
         p.pkh, p.bpnt, p.pbi_jkn, p.programmes, p.updated_at,
         coalesce(p.updated_at, ${sourceDateSql(o.sourceDates)}) AS record_date
  FROM clusters c JOIN person_clean p USING (rec_id)
),
ids AS (SELECT cluster_id, 'DT' || upper(substr(md5(min(record_key)), 1, 16)) AS dtsen_id FROM m GROUP BY cluster_id)
SELECT ids.dtsen_id, m.* FROM m JOIN ids USING (cluster_id);
`;
}

export function personSql(o: SurviveOptions): string {
  const decileSource = lit(o.decileSource);
  return `
CREATE OR REPLACE TABLE dtsen_person AS
WITH m AS (SELECT * FROM surv_member),
agg AS (
  SELECT cluster_id, min(dtsen_id) AS dtsen_id, count(*) AS n_records, list_sort(list_distinct(list(source))) AS sources,
         bool_or(source = 'dtks') AS in_dtks, bool_or(source = 'regsosek') AS in_regsosek, bool_or(source = 'p3ke') AS in_p3ke,
         coalesce(bool_or(pkh), false) AS pkh, coalesce(bool_or(bpnt), false) AS bpnt, coalesce(bool_or(pbi_jkn), false) AS pbi_jkn,
         coalesce(list_sort(list_distinct(list(source) FILTER (WHERE pkh))), []) AS pkh_sources,
         coalesce(list_sort(list_distinct(list(source) FILTER (WHERE bpnt))), []) AS bpnt_sources,
         coalesce(list_sort(list_distinct(list(source) FILTER (WHERE pbi_jkn))), []) AS pbi_jkn_sources,
         list_sort(list_distinct(flatten(list(programmes)))) AS programmes,
         list_sort(list(record_key)) AS source_record_ids
  FROM m GROUP BY cluster_id
),
nik_votes AS (
  SELECT cluster_id, nik, count(DISTINCT source) AS n_sources, count(*) AS n_records,
         CASE WHEN bool_or(dukcapil_match) THEN 2 WHEN bool_or(NOT dukcapil_match) THEN 0 ELSE 1 END AS dukcapil,
         coalesce(bool_or(birth_date = nik_birth_date), false) AS date_agrees,
         list_sort(list_distinct(list(source))) AS nik_sources,
         min(nik_birth_date) AS nik_birth_date, min(nik_sex) AS nik_sex
  FROM m WHERE nik IS NOT NULL GROUP BY ALL
),
${winner('nik_w', 'nik, dukcapil = 2 AS nik_dukcapil, nik_sources, nik_birth_date, nik_sex', 'dukcapil DESC, n_sources DESC, n_records DESC, date_agrees DESC, nik', 'nik_votes')},
name_votes AS (SELECT cluster_id, name_norm, count(*) AS votes FROM m WHERE name_norm IS NOT NULL GROUP BY ALL),
${winner('name_w', 'name_norm AS name', 'votes DESC, length(name_norm) DESC, name_norm', 'name_votes')},
bd_votes AS (
  SELECT m.cluster_id, m.birth_date, count(DISTINCT m.source) AS n_sources, count(*) AS votes,
         coalesce(bool_or(m.birth_date = f.nik_birth_date), false) AS agrees
  FROM m LEFT JOIN nik_w f USING (cluster_id) WHERE m.birth_date IS NOT NULL GROUP BY ALL
),
${winner('bd_w', "birth_date AS stated_birth_date, agrees", 'agrees DESC, n_sources DESC, votes DESC, birth_date', 'bd_votes')},
sex_votes AS (
  SELECT m.cluster_id, m.sex, count(*) AS votes, coalesce(bool_or(m.sex = f.nik_sex), false) AS agrees
  FROM m LEFT JOIN nik_w f USING (cluster_id) WHERE m.sex IS NOT NULL GROUP BY ALL
),
${winner('sex_w', 'sex AS stated_sex', 'agrees DESC, votes DESC, sex', 'sex_votes')},
${winner('addr_w', 'village_code, district_code, regency_code, province_code, rt, rw, address_norm AS address, source AS address_source, record_date AS address_date',
  `village_code IS NULL, record_date DESC NULLS LAST, ${SOURCE_RANK}, record_key`, 'm', 'village_code IS NOT NULL OR province_code IS NOT NULL OR address_norm IS NOT NULL')},
kk_votes AS (SELECT cluster_id, no_kk, count(*) AS votes, max(record_date) AS latest FROM m WHERE no_kk IS NOT NULL GROUP BY ALL),
${winner('rel_w', 'relation', `record_date DESC NULLS LAST, ${SOURCE_RANK}, record_key`, 'm', 'relation IS NOT NULL')},
${winner('kk_w', 'no_kk', 'votes DESC, latest DESC NULLS LAST, no_kk', 'kk_votes')},
${winner('dec_w', 'decile, source AS decile_source', `source <> ${decileSource}, CASE WHEN source = ${decileSource} THEN record_date END DESC NULLS LAST, decile, ${SOURCE_RANK}, record_key`, 'm', 'decile IS NOT NULL')}
SELECT agg.dtsen_id, nik_w.nik, coalesce(nik_w.nik_dukcapil, false) AS nik_dukcapil, nik_w.nik_sources,
       name_w.name,
       coalesce(bd_w.stated_birth_date, nik_w.nik_birth_date) AS birth_date,
       CASE WHEN bd_w.agrees THEN 'nik_agrees' WHEN bd_w.stated_birth_date IS NOT NULL THEN 'stated' WHEN nik_w.nik_birth_date IS NOT NULL THEN 'nik' END AS birth_date_basis,
       coalesce(sex_w.stated_sex, nik_w.nik_sex) AS sex,
       addr_w.village_code, addr_w.district_code, addr_w.regency_code, addr_w.province_code, addr_w.rt, addr_w.rw, addr_w.address,
       addr_w.address_source, addr_w.address_date,
       rel_w.relation, kk_w.no_kk, NULL::VARCHAR AS family_id,
       dec_w.decile, dec_w.decile_source,
       agg.pkh, agg.pkh_sources, agg.bpnt, agg.bpnt_sources, agg.pbi_jkn, agg.pbi_jkn_sources, agg.programmes,
       agg.n_records, agg.sources, agg.in_dtks, agg.in_regsosek, agg.in_p3ke, agg.source_record_ids,
       agg.cluster_id
FROM agg
LEFT JOIN nik_w USING (cluster_id) LEFT JOIN name_w USING (cluster_id) LEFT JOIN bd_w USING (cluster_id)
LEFT JOIN sex_w USING (cluster_id) LEFT JOIN addr_w USING (cluster_id) LEFT JOIN kk_w USING (cluster_id)
LEFT JOIN dec_w USING (cluster_id) LEFT JOIN rel_w USING (cluster_id)
ORDER BY agg.dtsen_id;

CREATE OR REPLACE TABLE dtsen_link AS
SELECT dtsen_id, source, source_record_id, best_link_probability AS match_probability, rec_id
FROM surv_member
ORDER BY dtsen_id, source, source_record_id;
`;
}
