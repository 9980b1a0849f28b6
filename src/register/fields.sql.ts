/**
 * Field decisions: a field_value decision names a person by one of its records or by a dtsen_id (a retired id
 * is followed to the person that holds its records now, main successor first) and sets a field of that
 * person's golden record, whatever survivorship chose; the record says so (decision_refs, and the field's
 * `_source`/`_basis` column where it has one reads 'decision'). Two decisions on one person and field with
 * different values contradict: the later (date, then line) is applied, the other reported. A decision whose
 * record is not in the batch, or whose person is inactive, is orphaned.
 */
import { DECIDABLE_FIELDS, type DecidableField } from '../../schemas/decision.ts';
import { lit } from '../engine/db.ts';

/** reg_field_target: every field decision with the person (final dtsen_id) it applies to, or why none. */
export const FIELD_TARGETS_SQL = `
CREATE OR REPLACE TEMP TABLE reg_field_target AS
WITH RECURSIVE d AS (SELECT * FROM decision WHERE kind = 'field_value'),
walk(decision_no, id, depth) AS (
  SELECT decision_no, target, 0 FROM d WHERE target LIKE 'DT%'
  UNION ALL
  SELECT w.decision_no, h.successors[1], w.depth + 1 FROM walk w JOIN dtsen_id_history h ON h.id = w.id AND h.kind = 'person'
  WHERE h.status IN ('merged', 'split') AND len(h.successors) > 0 AND w.depth < 64),
by_id AS (SELECT decision_no, arg_max(id, depth) AS id FROM walk GROUP BY decision_no),
by_record AS (
  SELECT d.decision_no, m.id
  FROM d JOIN person_clean p ON p.source = split_part(d.target, ':', 1) AND p.source_record_id = substr(d.target, strpos(d.target, ':') + 1)
  JOIN clusters c USING (rec_id) JOIN reg_map_person m ON m.unit = c.cluster_id
  WHERE d.target NOT LIKE 'DT%')
SELECT d.decision_no, d.reference, d.decided_on, d.field, d.value,
       CASE WHEN h.status = 'active' THEN coalesce(r.id, b.id) END AS dtsen_id,
       CASE WHEN d.target NOT LIKE 'DT%' AND r.id IS NULL THEN 'record ' || d.target || ' is not in this batch'
            WHEN d.target LIKE 'DT%' AND h.id IS NULL THEN 'no person ' || d.target || ' was ever issued'
            WHEN h.status <> 'active' THEN 'person ' || h.id || ' is inactive since batch ' || h.status_batch END AS orphan
FROM d LEFT JOIN by_record r USING (decision_no) LEFT JOIN by_id b USING (decision_no)
LEFT JOIN dtsen_id_history h ON h.id = coalesce(r.id, b.id) AND h.kind = 'person';

CREATE OR REPLACE TEMP TABLE reg_field_win AS
SELECT dtsen_id, field, arg_max(decision_no, (decided_on, decision_no)) AS decision_no, arg_max(value, (decided_on, decision_no)) AS value,
       arg_max(reference, (decided_on, decision_no)) AS reference
FROM reg_field_target WHERE dtsen_id IS NOT NULL GROUP BY ALL;

DELETE FROM decision_status WHERE kind = 'field_value';
INSERT INTO decision_status
SELECT t.decision_no, 'field_value', t.reference,
       CASE WHEN t.orphan IS NOT NULL THEN 'orphaned' WHEN t.value <> w.value THEN 'contradicted' ELSE 'applied' END,
       CASE WHEN t.orphan IS NOT NULL THEN t.orphan
            WHEN t.value <> w.value THEN 'contradicts the later decision ' || w.decision_no || ' on the same person and field, which is applied'
            WHEN t.decision_no <> w.decision_no THEN 'applied (a later decision states the same value)' END
FROM reg_field_target t LEFT JOIN reg_field_win w ON w.dtsen_id = t.dtsen_id AND w.field = t.field
ORDER BY t.decision_no;
`;

/** What else a field's decision sets: the lineage column of the field. */
const EXTRA: Partial<Record<DecidableField, string>> = {
  nik: `nik_sources = ['decision'], nik_dukcapil = false`,
  birth_date: `birth_date_basis = 'decision'`,
  village_code: `district_code = substr(w.value, 1, 6), regency_code = substr(w.value, 1, 4), province_code = substr(w.value, 1, 2), address_source = 'decision'`,
  decile: `decile_source = 'decision'`,
  pkh: `pkh_sources = ['decision']`,
  bpnt: `bpnt_sources = ['decision']`,
  pbi_jkn: `pbi_jkn_sources = ['decision']`,
};

/**
 * The winning field decisions written into dtsen_person, with their lineage, before its ids are made final: `win`
 * holds reg_field_win's rows on survive's ids (the register then rewrites dtsen_person once, with the final ids and in
 * its order, which DuckDB's update of a list column — decision_refs, the lineage lists — does not keep).
 */
export function applyFieldsSql(win: string): string {
  const updates = (Object.keys(DECIDABLE_FIELDS) as DecidableField[]).map((f) => `
UPDATE dtsen_person p SET ${f} = CAST(w.value AS ${DECIDABLE_FIELDS[f].type})${EXTRA[f] ? `, ${EXTRA[f]}` : ''}
FROM ${win} w WHERE w.dtsen_id = p.dtsen_id AND w.field = ${lit(f)};`);
  return `${updates.join('')}
UPDATE dtsen_person p SET decision_refs = r.refs
FROM (SELECT dtsen_id, list(field || ': ' || reference || ' (decision ' || decision_no || ')' ORDER BY field) AS refs FROM ${win} GROUP BY dtsen_id) r
WHERE r.dtsen_id = p.dtsen_id;`;
}
