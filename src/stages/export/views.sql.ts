/** Views for analysts in dtsen.duckdb, over the golden tables and the region reference. */

export const ANALYST_VIEWS: readonly { name: string; description: string; sql: string }[] = [
  {
    name: 'person_programmes',
    description: 'each person with region names, decile and programmes (with the sources that state each)',
    sql: `SELECT p.dtsen_id, p.name, p.birth_date, p.sex, p.family_id, p.decile, p.decile_source,
       p.province_code, pr.name AS province, p.regency_code, rg.name AS regency, p.village_code,
       p.pkh, p.pkh_sources, p.bpnt, p.bpnt_sources, p.pbi_jkn, p.pbi_jkn_sources, p.programmes, p.sources
FROM dtsen_person p LEFT JOIN ref_province pr ON pr.code = p.province_code LEFT JOIN ref_regency rg ON rg.code = p.regency_code`,
  },
  {
    name: 'family_members',
    description: 'each family with one row per member: head, decile, village, the member and its relation',
    sql: `SELECT f.family_id, f.n_members, f.decile AS family_decile, f.village_code AS family_village_code, f.head_dtsen_id, h.name AS head_name,
       m.dtsen_id, m.name, m.relation, m.birth_date, m.sex, m.dtsen_id = f.head_dtsen_id AS is_head, m.programmes
FROM dtsen_family f JOIN dtsen_person m ON m.family_id = f.family_id LEFT JOIN dtsen_person h ON h.dtsen_id = f.head_dtsen_id`,
  },
  {
    name: 'coverage_by_region',
    description: 'persons and families per province and regency by the combination of sources present',
    sql: `SELECT p.province_code, pr.name AS province, p.regency_code, rg.name AS regency, array_to_string(p.sources, '+') AS sources_present,
       count(*) AS persons, count(DISTINCT p.family_id) AS families,
       count(*) FILTER (WHERE p.pkh) AS pkh, count(*) FILTER (WHERE p.bpnt) AS bpnt, count(*) FILTER (WHERE p.pbi_jkn) AS pbi_jkn
FROM dtsen_person p LEFT JOIN ref_province pr ON pr.code = p.province_code LEFT JOIN ref_regency rg ON rg.code = p.regency_code
GROUP BY ALL ORDER BY ALL`,
  },
];
