/**
 * The register's section of report.html, drawn from report.json alone (`register`, `decisions`): persons and
 * families by kind of change, changes per province, field changes, and the decisions not applied as written.
 */
import { esc, table, type Section } from '../stages/report/html.ts';
import type { RegisterFigures, ReviewFigures } from './index.ts';

type Row = Record<string, unknown>;
const KINDS = ['new', 'returned', 'split', 'merged', 'retired', 'inactive', 'field'] as const;

/** The review app's decisions (`dtsen review`): by queue and kind, and how many overturned the batch reviewed. */
function reviewBlock(review: ReviewFigures | undefined): string {
  if (!review) return '';
  if (!review.decisions) return '<h3>Clerical review</h3><p class="none">No decision of the store was made in the review app.</p>';
  const share = review.overturned_share === null ? 'none of them on a pair' : `${review.overturned.toLocaleString('en-US')} of ${review.pair_decisions.toLocaleString('en-US')} pair decisions (${(review.overturned_share * 100).toFixed(1)}%) overturned the call of the batch reviewed`;
  return `<h3>Clerical review</h3>
      <p class="explain">${review.decisions.toLocaleString('en-US')} decisions of the store were made in the review app (<code>dtsen review</code>); ${share}. Unsure decisions are kept, never applied.</p>
      ${table(review.by_kind_and_queue, ['queue', 'kind', { key: 'n', label: 'decisions' }], 'review decisions by queue and kind')}
      ${table(Object.entries(review.by_status).map(([status, n]) => ({ status, decisions: n })), ['status', 'decisions'], 'what this batch did with them')}`;
}

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
      ${notApplied.length ? table(notApplied, [{ key: 'decision_no', label: 'decision (line)' }, 'kind', 'reference', 'status', 'detail'], 'decisions not applied as written (orphaned or contradicted)') : '<p class="none">Every decision of the store was applied.</p>'}
      ${reviewBlock(reg.review)}`,
  };
}
