/**
 * Conflicts: a person whose records disagree on an identifying field goes to dtsen_conflict for field
 * verification, with every value and the records that carry it. The golden record still keeps one value
 * (`surviving_value`) by the survivorship rules.
 */

export const CONFLICT_TYPES = {
  nik: 'two or more different valid NIKs',
  birth_date: 'stated birth dates more than a year apart',
  sex: 'different stated sexes',
} as const;
export type ConflictType = keyof typeof CONFLICT_TYPES;

/**
 * dtsen_conflict of the persons whose members are in `members` (surv_member, or in an incremental batch the members of
 * the persons built again). The persons with more than one value are found per cluster_id, an integer, rather than
 * per dtsen_id (one to one with it), which hashes and compares cheaper. `ordered`: written in the table's order (see
 * personSql).
 */
export const conflictSql = (members = 'surv_member', ordered = true) => `
CREATE OR REPLACE TABLE dtsen_conflict AS
-- only persons whose records hold more than one value of a field (most hold one) go on to the lists: one pass
-- over the members finds them
WITH multi AS (
  SELECT cluster_id, min(nik) <> max(nik) AS nik, min(birth_date) <> max(birth_date) AS birth_date, min(sex) <> max(sex) AS sex
  FROM ${members} GROUP BY cluster_id
  HAVING min(nik) <> max(nik) OR min(birth_date) <> max(birth_date) OR min(sex) <> max(sex)
),
m AS (SELECT s.*, multi.nik AS multi_nik, multi.birth_date AS multi_birth_date, multi.sex AS multi_sex FROM ${members} s JOIN multi USING (cluster_id)),
vals AS (
  SELECT dtsen_id, 'nik' AS conflict_type, nik AS value, record_key FROM m WHERE multi_nik AND nik IS NOT NULL
  UNION ALL SELECT dtsen_id, 'birth_date', strftime(birth_date, '%Y-%m-%d'), record_key FROM m WHERE multi_birth_date AND birth_date IS NOT NULL
  UNION ALL SELECT dtsen_id, 'sex', sex, record_key FROM m WHERE multi_sex AND sex IS NOT NULL
),
per_value AS (
  SELECT dtsen_id, conflict_type, value, list_sort(list(record_key)) AS source_record_ids
  FROM vals GROUP BY ALL
),
per_field AS (
  SELECT dtsen_id, conflict_type, count(*) AS n_values,
         list_sort(list(struct_pack(value := value, source_record_ids := source_record_ids))) AS "values",
         min(value) AS lo, max(value) AS hi
  FROM per_value GROUP BY ALL
)
SELECT f.dtsen_id, f.conflict_type, f.n_values, f."values",
       CASE f.conflict_type WHEN 'nik' THEN p.nik WHEN 'birth_date' THEN strftime(p.birth_date, '%Y-%m-%d') WHEN 'sex' THEN p.sex END AS surviving_value
FROM per_field f JOIN dtsen_person p USING (dtsen_id)
WHERE f.conflict_type <> 'birth_date' OR f.hi::DATE > f.lo::DATE + INTERVAL 1 YEAR${ordered ? '\nORDER BY f.dtsen_id, f.conflict_type' : ''};
`;
