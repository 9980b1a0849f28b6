import { lit } from '../../engine/db.ts';
import { step, type Query } from '../../engine/sql-pipeline.ts';

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
 * SELECT: `input` (source_record, or a copy of its rows) → (rid, reason), the rids of the rows that are quarantined.
 * Narrow steps only: the repeated-id check groups ids (the first row of an id is found by an aggregate, not a sort
 * of every row), and joins back only the ids given more than once.
 */
export function classifyQuery(input = 'source_record'): Query {
  const cases = QUARANTINE_RULES.map((r) => `WHEN ${r.when} THEN ${lit(r.reason)}`).join('\n        ');
  return {
    steps: [
      step('repeated_id', `
        SELECT s.rid FROM ${input} s
        JOIN (SELECT source, trim(source_record_id) AS id, arg_min(rid, (file, row_number)) AS first_rid FROM ${input}
              GROUP BY ALL HAVING count(*) > 1) d
          ON d.source = s.source AND d.id IS NOT DISTINCT FROM trim(s.source_record_id)
        WHERE s.rid <> d.first_rid`),
      step('classified', `
        SELECT s.rid, CASE
          ${cases}
        END AS reason
        FROM ${input} s LEFT JOIN (SELECT rid, true AS _is_dup FROM repeated_id) d USING (rid)`),
    ],
    select: 'SELECT rid, reason FROM classified WHERE reason IS NOT NULL',
  };
}
