/**
 * Row-level validation rules. A row is quarantined only when it cannot be a person record at all;
 * a row with one bad field is kept (normalise nulls that field and flags it). First matching rule wins.
 */
export const QUARANTINE_RULES: { reason: string; when: string }[] = [
  { reason: 'missing_record_id', when: `nullif(trim(source_record_id), '') IS NULL` },
  {
    reason: 'no_identity: no NIK and no name',
    when: `length(regexp_replace(coalesce(nik, ''), '[^0-9]', '', 'g')) < 16
           AND length(regexp_replace(coalesce(name, ''), '[^A-Za-z]', '', 'g')) < 2`,
  },
  { reason: 'impossible_value: name holds control characters', when: `regexp_matches(coalesce(name, ''), '[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F]')` },
  { reason: 'impossible_value: name longer than 200 characters', when: `length(coalesce(name, '')) > 200` },
  { reason: 'impossible_value: NIK field longer than 40 characters', when: `length(coalesce(nik, '')) > 40` },
  { reason: 'duplicate_record_id: id already used by an earlier row of this source', when: `_is_dup` },
];

/**
 * SQL: source_record → validation_reason(rid, reason), the rids of the source_record rows that are quarantined.
 * Narrow tables only: the repeated-id check sorts ids, not whole rows.
 */
export function classifySql(): string {
  const cases = QUARANTINE_RULES.map((r) => `WHEN ${r.when} THEN '${r.reason.replaceAll("'", "''")}'`).join('\n        ');
  return `
    CREATE OR REPLACE TEMP TABLE validation_dup AS
      SELECT rid FROM (
        SELECT rid, row_number() OVER (PARTITION BY source, trim(source_record_id) ORDER BY file, row_number) AS n FROM source_record)
      WHERE n > 1;
    CREATE OR REPLACE TEMP TABLE validation_reason AS
      SELECT rid, reason FROM (
        SELECT s.rid, CASE
          ${cases}
        END AS reason
        FROM source_record s LEFT JOIN (SELECT rid, true AS _is_dup FROM validation_dup) d USING (rid)
      ) WHERE reason IS NOT NULL;
    DROP TABLE validation_dup;`;
}
