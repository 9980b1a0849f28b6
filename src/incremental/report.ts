/**
 * The section "How this batch was computed" of report.html, drawn from report.json alone: the path the batch took
 * (`register.recompute`, the rows of batch_recompute) and, for an incremental batch, its records against the
 * previous batch's and the pairs reused and compared (`link.recompute`).
 */
import { esc, fmt, table, type Section } from '../stages/report/html.ts';
import type { RegisterFigures } from '../register/index.ts';
import type { IncrementalLinkFigures } from './link.ts';
import type { NormaliseRecompute } from './normalise.ts';

export function recomputeSection(json: { register?: RegisterFigures; normalise?: { recompute?: NormaliseRecompute }; link?: { recompute?: { path: string; reason: string; link?: IncrementalLinkFigures } } }): Section | undefined {
  const rows = json.register?.recompute ?? [];
  const rec = json.link?.recompute;
  const norm = json.normalise?.recompute;
  if (!rows.length && !rec && !norm) return undefined;
  const path = rec?.path ?? rows[0]?.path;
  const reason = rec?.reason ?? rows[0]?.reason;
  const inc = rec?.link;
  const share = (r: { total: number; recomputed: number }) => (r.total ? r.recomputed / r.total : null);
  return {
    id: 'recompute',
    heading: 'How this batch was computed',
    body: `<p class="explain">Path: <strong>${esc(path)}</strong> (${esc(reason)}). An incremental batch cleans, links, clusters and builds again only what changed since the previous batch and takes the rest from it; <code>--full</code> recomputes everything. The same counts are in <code>dtsen_change</code> (entity <code>batch</code>) and <code>batch_recompute</code>.</p>
      ${table(rows.map((r) => ({ ...r, share: share(r) })), ['what', { key: 'total', label: 'in this batch' }, { key: 'recomputed', label: 'computed' }, { key: 'share', label: 'share computed', format: 'pct' }])}
      ${norm ? `<p>Normalise (<code>rows</code>): ${fmt(norm.cleaned, 'int')} source rows cleaned, ${fmt(norm.copied, 'int')} copied from the previous batch's cleaned rows (path <strong>${esc(norm.path)}</strong>: ${esc(norm.reason)}). A row is copied only when its source row is unchanged and the normalisation code, the mappings and the region reference are the previous batch's; when the snapshot date moved, the rows whose cleaned values depend on it (a birth date between the two dates, an age counted to it, a NIK century inferred with its year) are cleaned again.</p>` : ''}
      ${inc ? `<h3>Records against the previous batch</h3>
      ${table([inc.records], ['total', 'new', 'changed', 'unchanged', { key: 'fields_changed', label: 'golden-record values changed' }, { key: 'gone', label: 'gone' }], 'changed: a value linking reads changed; golden-record values changed: linked as before, golden record rebuilt (a value nothing after linking reads, such as the age counted to the snapshot date, changes neither)')}
      <h3>Pairs</h3>
      ${table([inc.pairs], ['total', { key: 'reused', label: 'reused (gammas kept)' }, { key: 'compared', label: 'compared' }, { key: 'dropped', label: 'dropped' }, { key: 'scored', label: 'scored again' }], 'every pair is scored again from its gammas with this batch\'s term frequencies')}
      ${inc.family ? `<p>Family context: ${fmt(inc.family.member_pairs, 'int')} member pairs of ${fmt(inc.family.family_pairs, 'int')} linked family pairs; ${fmt(inc.family.compared_pairs, 'int')} compared (blocking had not proposed them and the previous batch had not compared them: a record new or changed, a family newly linked), in ${fmt(inc.family.compared_family_pairs, 'int')} family pairs; ${fmt(inc.family.reused_pairs, 'int')} took the previous batch's gammas, the others this batch's scored pairs'. ${inc.family.model_source === 'given'
        ? `The previous batch's family model was kept: ${fmt(inc.family.scored_member_pairs, 'int')} member pairs of the ${fmt(inc.family.scored_family_pairs, 'int')} family pairs a change touched (a family with a record new, changed or gone, a seed pair come or gone) were scored with their competition; the ${fmt(inc.family.reused_member_pairs, 'int')} of the other ${fmt(inc.family.reused_family_pairs, 'int')} were carried with their rows from the previous batch, not enumerated or scored again.`
        : 'Every member pair is scored again: the family model is estimated on all of them.'}</p>` : ''}
      <p>Blocking keys: ${inc.keys_in_place === false ? "every record's computed (the previous batch's database held none to update)" : "the previous batch's, updated with the new and changed records' keys"}. ${fmt(inc.flipped_blocks, 'int')} blocks changed whether they are kept (their size crossed the cap, or they gained or lost a second record or a probe).</p>` : ''}`,
  };
}
