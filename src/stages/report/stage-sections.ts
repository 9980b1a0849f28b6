/**
 * Sections of report.html drawn from the stages' own figures: the summary, input rows and quarantine, field
 * quality, NIK validity, source overlap, match weights, the model's levels, cluster sizes, conflicts,
 * provinces, quality against a truth file, and the stages' timings. Each reads report.json alone.
 */
import type { EvaluationFigures, SkippedEvaluation } from '../evaluate/index.ts';
import { measuredQuality } from '../evaluate/coverage.ts';
import { esc, fmt, table, tiles, type Section } from './html.ts';
import type { ReportJson } from './index.ts';
import type { ChartFn } from './sections.ts';

const pct = (v: number | null | undefined) => fmt(v, 'pct');
const int = (v: number | null | undefined) => fmt(v, 'int');
const paths = (p: Record<string, string>) => `data-paths="${esc(JSON.stringify(p))}"`;

/** The truth's figures when quality was measured. */
const evaluated = (json: ReportJson): EvaluationFigures | undefined => (measuredQuality(json.evaluate) ? json.evaluate : undefined);

/** Why quality was not measured though a truth file was given (it covered too little of the batch). */
const notMeasured = (json: ReportJson): string | undefined => (json.evaluate && !evaluated(json) ? (json.evaluate as SkippedEvaluation).quality_not_measured : undefined);

export function summarySection(json: ReportJson): Section {
  const s = json.report.summary;
  return {
    id: 'summary',
    heading: 'Summary',
    body: tiles([
      { label: 'source rows read', value: int(s.rows_read) },
      { label: 'rows quarantined', value: int(s.rows_quarantined), note: 'kept with a reason, not linked' },
      { label: 'persons (golden records)', value: int(s.persons) },
      { label: 'persons linked from 2+ records', value: int(s.persons_linked) },
      { label: 'candidate pairs scored', value: int(s.candidate_pairs) },
      ...(s.precision !== null ? [{ label: 'precision (pairwise)', value: pct(s.precision), note: 'against the truth file' }, { label: 'recall (pairwise)', value: pct(s.recall), note: 'against the truth file' }] : []),
    ]),
  };
}

export function inputSection(json: ReportJson, chart: ChartFn): Section {
  const rec = json.validate?.reconciliation ?? [];
  const reasons = json.validate?.quarantine_reasons ?? [];
  return {
    id: 'input',
    heading: 'Input rows and quarantine',
    body: `<p class="explain">Rows read from each source snapshot, split into rows accepted for linking and rows quarantined (kept in <code>quarantine.parquet</code> with the reason).</p>
      ${chart('input_rows', 'Rows read per source: accepted and quarantined', 'No input figures.')}
      ${table(rec, ['source', { key: 'rows_read', label: 'rows read' }, { key: 'rows_accepted', label: 'accepted' }, { key: 'rows_quarantined', label: 'quarantined' }, 'reconciled'])}
      <p>${rec.length && rec.every((x) => x.reconciled) ? '<span class="ok">Every source reconciles: rows read = rows accepted + rows quarantined.</span>' : '<span class="bad">A source does not reconcile.</span>'}</p>
      <h3>Quarantine reasons</h3>
      ${chart('quarantine_reasons', 'Quarantined rows by reason and source', 'No row was quarantined.')}
      ${reasons.length ? table(reasons, ['source', 'reason', 'rows']) : ''}`,
  };
}

export function fieldQualitySection(json: ReportJson): Section {
  const fq = json.validate?.field_quality ?? [];
  const absent = json.ingest?.missing_optional_columns ?? [];
  const warnings = json.validate?.quality_warnings ?? [];
  const warningTables = `${absent.length ? table(absent, ['source', 'file', 'column', 'field'], 'optional columns missing from a file: their field is empty for its rows (ingest.missing_optional_columns)') : ''}${
    warnings.length ? table(warnings, ['source', 'file', 'column', { key: 'parse_rate', label: 'parse rate', format: 'pct' }, { key: 'min_parse_rate', label: 'floor', format: 'pct' }, 'message'], 'fields that passed with a warning (validate.quality_warnings)') : ''
  }`;
  return {
    id: 'field-quality',
    heading: 'Field quality: parse rates per source',
    body: `<p class="explain">Per source and field, the accepted rows whose value parsed, was missing or was rejected, measured when the inputs were validated with the same parsing as normalisation. The parse rate is parsed / (parsed + rejected); a file whose rate falls below the floor (<code>quality_gates.min_parse_rate</code> of the batch config) fails the batch. Rejected values are shown by their shape only: digits as 9, letters as A, a run of five or more as 9{n} or A{n}.</p>
      <div class="figure-table" ${paths({ rows: 'validate.field_quality' })}>${table(
        fq.map((q) => ({ ...q, shapes: q.rejected_shapes.map((x) => `${x.shape} (${x.rows.toLocaleString('en-US')})`).join(', ') })),
        ['source', 'field', 'column', 'rows', 'parsed', 'missing', 'rejected', { key: 'parse_rate', label: 'parse rate', format: 'pct' }, { key: 'min_parse_rate', label: 'floor', format: 'pct' }, 'result', { key: 'shapes', label: 'rejected values by shape' }],
        'parse rates per source and field (validate.field_quality)',
      )}</div>
      ${
        absent.length || warnings.length
          ? `<h3>Warnings</h3><div class="figure-table" ${paths({ missing_optional_columns: 'ingest.missing_optional_columns', quality_warnings: 'validate.quality_warnings' })}>${warningTables}</div>`
          : '<p class="ok">No warning: every mapped column is present and every parse rate is at or above its default floor.</p>'
      }`,
  };
}

export function nikSection(json: ReportJson, chart: ChartFn): Section {
  const nik = json.normalise?.nik_status ?? [];
  const sources = [...new Set(nik.map((n) => n.source))];
  const statuses = [...new Set(nik.map((n) => n.value))];
  const pivot: Record<string, string | number>[] = statuses.map((v) => ({ status: v, ...Object.fromEntries(sources.map((src) => [src, nik.find((n) => n.source === src && n.value === v)?.rows ?? 0])) }));
  return {
    id: 'nik',
    heading: 'NIK validity per source',
    body: `<p class="explain">Each accepted record's NIK after cleaning: <b>valid</b> (16 digits, a known province, a possible birth date and serial), <b>missing</b>, or why it is not usable — a placeholder (all zeros, repeated digits), a spreadsheet's scientific notation, the family-card number typed in its place, or a bad province, month, day or serial. Only valid NIKs are used as NIKs in linking.</p>
      ${chart('nik_status', 'Share of each source’s records by NIK status', 'No NIK figures.')}
      ${table(pivot, [{ key: 'status', label: 'NIK status' }, ...sources.map((src) => ({ key: src, format: 'int' as const }))], 'records by NIK status')}`,
  };
}

export function overlapSection(json: ReportJson, chart: ChartFn): Section {
  const overlap = json.survive?.source_overlap ?? [];
  return {
    id: 'overlap',
    heading: 'Coverage and overlap of the sources',
    body: `<p class="explain">Persons of the register by the combination of sources their records come from (from <code>dtsen_person.sources</code>): the bars count persons, the dots below show which sources the combination holds.</p>
      ${chart('source_overlap', 'Persons by the combination of sources they are found in', 'No persons.')}
      ${table(json.report.source_coverage, ['source', { key: 'persons', label: 'persons in the source' }, { key: 'share_of_persons', label: 'share of all persons', format: 'pct' }, { key: 'only_this_source', label: 'found only here' }], 'coverage per source')}
      ${overlap.length ? table(overlap, ['sources', 'persons'], 'persons per combination') : ''}`,
  };
}

/** The model's expected precision and recall at the threshold in use (pairs, persons), beside the truth's when known. */
function thresholdRows(json: ReportJson): { figures: string; precision: number; recall: number }[] {
  const rows: { figures: string; precision: number; recall: number }[] = [];
  const pairs = json.link?.threshold?.expected_at_threshold;
  if (pairs) rows.push({ figures: 'expected, scored pairs at or above the threshold', precision: pairs.precision, recall: pairs.recall });
  const persons = json.cluster?.expected;
  if (persons) rows.push({ figures: 'expected, pairs inside the persons built', precision: persons.precision, recall: persons.recall });
  const ev = evaluated(json);
  if (ev) rows.push({ figures: 'truth, pairs inside the persons built', precision: ev.precision, recall: ev.recall });
  return rows;
}

/** What the family context (src/linkage/family-context.ts) did, in a sentence. */
function familyContextParagraph(json: ReportJson): string {
  const f = json.link?.family_context;
  if (!f) return '';
  return `<p class="explain"><b>Family context.</b> ${int(f.linked_family_pairs)} pairs of families were linked by a pair of their members at probability ${fmt(f.seed_threshold, 'num')} or more; their ${int(f.member_pairs)} member pairs (each supported by another linked pair) were scored by a model ${f.model_source === 'given' ? 'the model brought (estimated by the batch that trained it)' : 'estimated on them'}: m as above, u counted among member pairs that are plainly two persons (names with nothing shared; for the name, persons years apart in age), a prior of ${fmt(f.lambda, 'num')}${f.model_source === 'given' ? '' : ` (EM, ${f.iterations} iterations${f.converged ? '' : ', not converged'})`}, a record's candidates in one family sharing one probability. It raised ${int(f.raised_pairs)} candidate pairs and added ${int(f.new_pairs)} pairs blocking had not proposed (rule <code>linked_family</code>).</p>`;
}

export function weightsSection(json: ReportJson, chart: ChartFn): Section {
  const blocking = json.link?.blocking?.rules ?? [];
  const t = json.report.threshold;
  const rows = thresholdRows(json);
  const mode = `${esc(json.cluster?.threshold_mode ?? json.link?.threshold?.mode ?? 'configured')}${json.link?.threshold?.mode === 'auto' ? `: the largest expected F1 of the pairs, raised until the persons' expected precision is at least ${fmt(json.link.threshold.precision_floor, 'num')}` : ''}`;
  return {
    id: 'weights',
    heading: 'Candidate pairs and match weights',
    body: `<p class="explain">Blocking proposes candidate pairs; each is scored with a match weight, the log<sub>2</sub> odds that the two records are one person (${json.linkage.engine === 'exact' ? 'the exact linker gives every pair it finds the same weight' : 'the sum of the comparison weights below'}). Pairs at or above the threshold — probability ${fmt(t.match_probability, 'num')}, a weight of ${fmt(t.match_weight, 'dec')} bits, the dashed line — are linked. Engine: <b>${esc(json.link?.engine ?? json.linkage.engine)}</b>; ${int(json.link?.candidate_pairs)} candidate pairs.</p>
      ${rows.length ? table(rows, ['figures', { key: 'precision', format: 'pct' }, { key: 'recall', format: 'pct' }], `the threshold (${mode}): the model's expected precision and recall, from the match probabilities alone${json.evaluate ? ', and the truth' : ''}`) : ''}
      ${blocking.length ? table(blocking, ['rule', 'description', { key: 'pairs', label: 'pairs' }, { key: 'new_pairs', label: 'new pairs' }, 'blocks', { key: 'capped_blocks', label: 'blocks over the cap' }, { key: 'capped_records', label: 'records in them' }], 'blocking rules') : ''}
      ${familyContextParagraph(json)}
      ${chart('match_weight_histogram', 'Candidate pairs by match weight (1-bit bins); the dashed line is the threshold', 'No scored pairs.')}`,
  };
}

export function modelSection(json: ReportJson, chart: ChartFn): Section {
  return {
    id: 'model',
    heading: 'Comparison levels: m and u',
    body: `<p class="explain">For each comparison level of the Fellegi–Sunter model: <b>m</b>, the probability of the level among pairs of records of the same person (estimated by EM), and <b>u</b>, its probability among pairs of different persons (from random pairs). A level's weight is log<sub>2</sub>(m/u): positive levels are evidence for a match, negative against. ${json.link?.model_source ? `Model: ${esc(json.link.model_source)}.` : ''}</p>
      ${chart('model_levels', 'm and u per comparison level (left, log scale) and the weight of the level (right)', json.linkage.engine === 'exact' ? 'The exact linker has no model: it links records with the same valid NIK, name and birth date.' : 'No model.')}`,
  };
}

export function clustersSection(_json: ReportJson, chart: ChartFn): Section {
  return {
    id: 'clusters',
    heading: 'Cluster sizes',
    body: `<p class="explain">Records whose pairs are linked are joined into one person (connected components). The chart counts persons by the number of source records they are built from; a person with more records than there are sources is a duplicate inside a source.</p>
      ${chart('cluster_sizes', 'Persons by number of source records', 'No clusters.')}`,
  };
}

export function conflictsSection(json: ReportJson, chart: ChartFn): Section {
  const conflicts = json.report.conflicts_by_type;
  return {
    id: 'conflicts',
    heading: 'Conflicts between linked records',
    body: conflicts
      ? `<p class="explain">Where the records of one person disagree on a field (survivorship picks one value and records the disagreement in <code>dtsen_conflict</code>).</p>
      ${chart('conflicts_by_type', 'Conflicts by type', 'No conflicts: the records of every person agree.')}
      ${conflicts.length ? table(conflicts, [{ key: 'conflict_type', label: 'conflict type' }, 'conflicts', 'persons']) : ''}`
      : '<p class="none">no conflict table</p>',
  };
}

export function provincesSection(json: ReportJson, chart: ChartFn): Section {
  const ev = evaluated(json);
  const skipped = notMeasured(json);
  return {
    id: 'provinces',
    heading: 'Links and quality by province',
    body: `<p class="explain">Per province of the golden record: source records, persons, and persons linked from two or more records.</p>
      ${chart('provinces', 'Source records, persons and linked persons per province', 'No persons.')}
      ${table(json.report.provinces, ['province', { key: 'source_records', label: 'source records' }, 'persons', { key: 'persons_linked', label: 'persons linked (2+ records)' }, { key: 'persons_in_two_or_more_sources', label: 'persons in 2+ sources' }])}
      ${
        ev
          ? `<h3>Precision and recall per province</h3><p class="explain">Pairwise, against the truth file: precision over the pairs inside the golden records of the province, recall over the true pairs of the persons of the province (a person counts in the province of the golden record holding its first record).</p>
      ${chart('province_quality', 'Pairwise precision and recall per province', 'No evaluated records.')}
      ${table(ev.by_province, ['province', { key: 'true_pairs', label: 'true pairs' }, { key: 'true_pairs_found', label: 'found' }, { key: 'predicted_pairs', label: 'linked pairs' }, { key: 'predicted_pairs_true', label: 'correct' }, { key: 'precision', format: 'pct' }, { key: 'recall', format: 'pct' }])}`
          : `<p class="none">${skipped ? `Quality not measured: ${esc(skipped)}.` : 'No truth file was given: quality per province is not measured.'}</p>`
      }`,
  };
}

/** Grid points of the threshold curve every 5 bits from −10 to 30, and the threshold in use. */
function curveRows(ev: EvaluationFigures) {
  const c = ev.threshold_curve;
  const grid = c.points.filter((p) => p.match_weight >= -10 && p.match_weight <= 30 && p.match_weight % 5 === 0).map((p) => ({ at: '', ...p }));
  const inUse = { at: 'in use', ...c.at_threshold };
  return [...grid.filter((p) => p.match_weight < inUse.match_weight), inUse, ...grid.filter((p) => p.match_weight >= inUse.match_weight)];
}

/** Precision, recall and F1 of the persons built and of the same-NIK baseline, where the misses come from, and the curves. */
function qualityBody(json: ReportJson, ev: EvaluationFigures, chart: ChartFn): string {
  const wrongLeft = ev.predicted_pairs - ev.true_positive_pairs;
  return `<p class="explain">Pairwise precision and recall of the persons built (every pair of records placed in one person, compared with the pairs of records of one true person), and the same for the baseline that links only records with the same valid NIK.</p>
      ${table(
        [
          { method: `dtsen (${json.link?.engine ?? json.linkage.engine})`, precision: ev.precision, recall: ev.recall, f1: ev.f1, true_pairs: ev.true_pairs, predicted_pairs: ev.predicted_pairs },
          { method: 'same valid NIK (baseline)', precision: ev.baseline.precision, recall: ev.baseline.recall, f1: ev.baseline.f1, true_pairs: ev.baseline.true_pairs, predicted_pairs: ev.baseline.predicted_pairs },
        ],
        ['method', { key: 'precision', format: 'pct' }, { key: 'recall', format: 'pct' }, { key: 'f1', label: 'F1', format: 'pct' }, { key: 'true_pairs', label: 'true pairs' }, { key: 'predicted_pairs', label: 'linked pairs' }],
      )}
      ${table([{ ...ev.false_negatives, ...ev.false_positives, share: ev.share_persons_exactly_one_cluster }], [
        { key: 'never_candidate', label: 'missed: never a candidate' },
        { key: 'scored_below_threshold', label: 'missed: below the threshold' },
        { key: 'held_apart_as_hard_negative', label: 'missed: held apart as a hard negative' },
        { key: 'split_by_clustering', label: 'missed: split by clustering' },
        { key: 'pairs_linked_across_persons', label: 'wrong links (scored, before splits)' },
        { key: 'same_family', label: 'wrong links in one family' },
        { key: 'share', label: 'persons resolved exactly', format: 'pct' },
      ])}
      <p class="explain">Wrong links count the scored pairs at or above the threshold that join records of different persons, before the cluster splits; the precision above counts the pairs inside the persons built, after them: ${int(wrongLeft)} pair${wrongLeft === 1 ? '' : 's'} of different persons ${wrongLeft === 1 ? 'is' : 'are'} left in one person (linked pairs − correct pairs). A wrong link counted here and not there was cut by a split (see Cluster splits).</p>
      <h3>True pairs found by each blocking rule</h3>
      <p class="explain">${fmt(ev.blocking.recall, 'pct')} of the true pairs were proposed as candidate pairs by at least one rule; a true pair no rule proposes can never be linked.</p>
      ${table(ev.blocking.by_rule, ['rule', { key: 'true_pairs_found', label: 'true pairs found' }, { key: 'share', format: 'pct' }])}
      <h3>Match weights of true and false pairs</h3>
      <p class="explain">The histogram of candidate pairs above, split by the truth file: pairs of one person should sit right of the threshold, pairs of different persons left of it.</p>
      ${chart('weights_by_truth', 'Candidate pairs by match weight (1-bit bins) and by what the truth file says', 'No scored pairs.')}
      <h3>Precision and recall against the threshold</h3>
      <p class="explain">Pair level, over the scored candidate pairs: at each threshold on the match weight (every ${fmt(ev.threshold_curve.step_bits, 'num')} bit), a pair is predicted when its weight is at least the threshold; hard negatives (kept apart by the guard) never are. Recall's denominator is every true pair (${int(ev.threshold_curve.true_pairs)}), so its ceiling is what blocking found. The links clustering adds through a third record are not counted here, so the values differ slightly from the cluster-level figures above.</p>
      ${chart('threshold_curve', 'Pair-level precision, recall and F1 by threshold; the dashed line is the threshold in use', 'No scored pairs.')}
      ${table(curveRows(ev), [{ key: 'at', label: 'threshold' }, { key: 'match_weight', label: 'weight (bits)', format: 'num' }, { key: 'match_probability', label: 'probability', format: 'prob' }, { key: 'predicted_pairs', label: 'pairs predicted' }, { key: 'true_positive_pairs', label: 'correct' }, { key: 'precision', format: 'pct' }, { key: 'recall', format: 'pct' }, { key: 'f1', label: 'F1', format: 'pct' }], 'pair-level figures at some thresholds')}`;
}

export function qualitySection(json: ReportJson, chart: ChartFn): Section {
  const ev = evaluated(json);
  const skipped = notMeasured(json);
  return {
    id: 'quality',
    heading: 'Quality against the ground truth',
    body: ev
      ? qualityBody(json, ev, chart)
      : skipped
        ? `<p class="none">Quality not measured: ${esc(skipped)}.</p>`
        : '<p class="none">No truth file was given (<code>--truth</code> or <code>truth</code> in the config): quality is not measured.</p>',
  };
}

export function stagesSection(json: ReportJson): Section {
  return {
    id: 'stages',
    heading: 'Stages',
    body: table(json.timings ?? [], ['stage', { key: 'rows', label: 'rows out' }, { key: 'seconds', format: 'dec' }]),
  };
}
