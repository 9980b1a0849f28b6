/**
 * The change log of a batch (dtsen_change): persons and families new, returned, inactive, merged, retired
 * (split over several) and split off, from the id maps and the history; and the field changes of the golden
 * records of persons that kept their id, against the previous batch's (reg_prev_person).
 */
import { PROGRAMMES_TEXT } from './previous.ts';

/** The golden-record fields whose changes are logged: [field, value as text]. */
export const CHANGE_FIELDS: readonly [string, string][] = [
  ['nik', 'nik'],
  ['name', 'name'],
  ['birth_date', `strftime(birth_date, '%Y-%m-%d')`],
  ['sex', 'sex'],
  ['village_code', 'village_code'],
  ['family_id', 'family_id'],
  ['decile', 'decile::VARCHAR'],
  ['programmes', 'programmes'],
];

export function changeSql(seq: number): string {
  const events = (k: 'person' | 'family', table: string, idCol: string, prevTable: string, prevId: string) => `
  SELECT ${seq} AS batch_seq, '${k}' AS entity, m.basis AS kind, m.id, m.from_id AS related_id, NULL AS field, NULL AS before, NULL AS after, t.province_code
  FROM reg_map_${k} m LEFT JOIN ${table} t ON t.${idCol} = m.id WHERE m.basis <> 'continued'
  UNION ALL
  SELECT ${seq}, '${k}', CASE h.status WHEN 'merged' THEN 'merged' WHEN 'split' THEN 'retired' ELSE 'inactive' END, h.id,
         CASE WHEN h.status <> 'inactive' THEN h.successors[1] END, NULL, NULL, NULL, q.province_code
  FROM reg_history_${k} h LEFT JOIN ${prevTable} q ON q.${prevId} = h.id
  WHERE h.status_batch = ${seq} AND h.status IN ('merged', 'split', 'inactive')`;
  const now = `(SELECT *, ${PROGRAMMES_TEXT} AS programmes_text FROM dtsen_person)`;
  const pairs = CHANGE_FIELDS.map(([f, e]) => {
    const after = f === 'programmes' ? 'p.programmes_text' : e.replace(/\b(nik|name|birth_date|sex|village_code|family_id|decile)\b/, (x) => `p.${x}`);
    const before = f === 'programmes' ? 'q.programmes' : e.replace(/\b(nik|name|birth_date|sex|village_code|family_id|decile)\b/, (x) => `q.${x}`);
    return { f, before, after };
  });
  const fields = pairs.map(({ f, before, after }) => `{'field': '${f}', 'before': ${before}, 'after': ${after}}`);
  // only the persons with a field changed are unnested (one row per field): most keep every field
  const changed = pairs.map(({ before, after }) => `(${before}) IS DISTINCT FROM (${after})`).join(' OR ');
  return `
CREATE OR REPLACE TABLE dtsen_change AS
WITH fc AS (
  SELECT p.dtsen_id, p.province_code, unnest([${fields.join(', ')}]) AS c
  FROM ${now} p JOIN reg_prev_person q USING (dtsen_id)
  WHERE ${changed})
SELECT * FROM (
  ${events('person', 'dtsen_person', 'dtsen_id', 'reg_prev_person', 'dtsen_id')}
  UNION ALL
  ${events('family', 'dtsen_family', 'family_id', 'reg_prev_family', 'family_id')}
  UNION ALL
  SELECT ${seq}, 'person', 'field', dtsen_id, NULL, c.field, c.before, c.after, province_code FROM fc WHERE c.before IS DISTINCT FROM c.after
);`;
}
