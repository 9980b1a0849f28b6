/**
 * The register's section of report.html, drawn from report.json alone (`register`, `decisions`): persons and
 * families by kind of change, changes per province, field changes, and the decisions not applied as written.
 */
import { esc, table, type Section } from '../stages/report/html.ts';
import type { RegisterFigures } from './index.ts';

type Row = Record<string, unknown>;
const KINDS = ['new', 'returned', 'split', 'merged', 'retired', 'inactive', 'field'] as const;

export function registerSection(json: { register?: RegisterFigures }): Section {
  const reg = json.register;
  if (!reg) return { id: 'register', heading: 'Changes since the previous batch', body: '<p class="none">This batch did not keep the register.</p>' };
  const kinds = ['continued', 'returned', 'new', 'split', 'merged', 'retired', 'inactive'];
  const byKind: Row[] = kinds.map((k) => ({ kind: k, persons: reg.persons[k] ?? 0, families: reg.families[k] ?? 0 }));
  const provinces = new Map<string, Row>();
  for (const r of reg.changes_by_province) {
    const row = provinces.get(r.province_code) ?? { province: r.province_code, ...Object.fromEntries(KINDS.map((k) => [k, 0])) };
    row[r.kind] = r.n;
    provinces.set(r.province_code, row);
  }
  const fields = Object.entries(reg.field_changes).map(([field, n]) => ({ field, persons: n }));
  const notApplied = reg.decisions_not_applied ?? [];
  const first = reg.previous === null;
  return {
    id: 'register',
    heading: 'Changes since the previous batch',
    body: `<p class="explain">Register batch ${reg.batch_seq}${first ? ', the first of its register: every person is new' : `, continuing the previous batch (${esc(reg.previous)})`}. Ids follow records: a person keeps its <code>dtsen_id</code> while its records are linked together; the change log is <code>dtsen_change.parquet</code>, every id ever issued is in <code>dtsen_id_history.parquet</code> (<code>dtsen resolve</code>).</p>
      ${table(byKind, ['kind', 'persons', 'families'], 'persons and families by what happened to their id')}
      <h3>Changes by province</h3>
      ${provinces.size ? table([...provinces.values()], ['province', ...KINDS], 'person changes per province (this batch\'s province, else the previous one\'s)') : '<p class="none">No person changed.</p>'}
      <h3>Field changes of golden records</h3>
      ${fields.length ? table(fields, ['field', 'persons']) : '<p class="none">No field of a golden record changed.</p>'}
      <h3>Decisions</h3>
      ${table(Object.entries(reg.decisions).map(([status, n]) => ({ status, decisions: n })), ['status', 'decisions'])}
      ${notApplied.length ? table(notApplied as unknown as Row[], [{ key: 'decision_no', label: 'decision (line)' }, 'kind', 'reference', 'status', 'detail'], 'decisions not applied as written (orphaned or contradicted)') : '<p class="none">Every decision of the store was applied.</p>'}`,
  };
}
