/**
 * Report: report.json (every figure the stages produced, plus the report's own aggregates) and report.html,
 * which is drawn from that JSON object alone (renderHtml(json)): tables, and charts compiled with Vega-Lite
 * and rendered to inline SVG. Figures only: no NIK, name or address ever enters the report.
 */
import { thresholdOf } from '../../../schemas/config.ts';
import { join } from 'node:path';
import { defineStage, type Ctx, type PriorFigures } from '../../engine/context.ts';
import { ingestStage } from '../ingest/index.ts';
import { validateStage } from '../validate/index.ts';
import { normaliseStage } from '../normalise/index.ts';
import { linkStage } from '../link/index.ts';
import { clusterStage } from '../cluster/index.ts';
import { surviveStage } from '../survive/index.ts';
import { decisionsStage } from '../../register/decisions.ts';
import { registerStage, type RegisterFigures } from '../../register/index.ts';
import { exportStage } from '../export/index.ts';
import { evaluateStage } from '../evaluate/index.ts';
import { writeFileAtomic } from '../../engine/files.ts';
import type { EvaluationFigures, SkippedEvaluation } from '../evaluate/index.ts';
import { measuredQuality } from '../evaluate/coverage.ts';
import type { MissingOptionalColumn } from '../ingest/index.ts';
import type { FieldQuality, QualityWarning } from '../validate/quality.ts';
import { CHARTS, chartById, hasData, renderChart, type RenderedChart } from './charts.ts';
import { reportFigures, type ReportFigures } from './figures.ts';
import { esc, fmt, page, table, tiles, type Section } from './html.ts';
import { review, runInfo, type Review, type RunInfo } from './review.ts';
import { blocksSection, borderlineSection, completenessSection, familiesSection, modelWarningsSection, runSection, splitsSection } from './sections.ts';
import { registerSection } from '../../register/report.ts';

type Row = Record<string, unknown>;

export interface Summary {
  rows_read: number;
  rows_accepted: number;
  rows_quarantined: number;
  persons: number | null;
  persons_linked: number | null;
  candidate_pairs: number | null;
  precision: number | null;
  recall: number | null;
}

/** The model's expected precision and recall at the threshold in use (pairs, persons), beside the truth's when known. */
function thresholdRows(json: ReportJson): Row[] {
  const rows: Row[] = [];
  const pairs = json.link?.threshold?.expected_at_threshold;
  if (pairs) rows.push({ figures: 'expected, scored pairs at or above the threshold', precision: pairs.precision, recall: pairs.recall });
  const persons = json.cluster?.expected;
  if (persons) rows.push({ figures: 'expected, pairs inside the persons built', precision: persons.precision, recall: persons.recall });
  if (measuredQuality(json.evaluate)) rows.push({ figures: 'truth, pairs inside the persons built', precision: json.evaluate.precision, recall: json.evaluate.recall });
  return rows;
}

/** The parts of report.json the page reads (every stage's figures sit under the stage's name). */
export interface ReportJson {
  batch: string;
  snapshot_id: string;
  snapshot_date?: string;
  linkage: { engine: string; threshold: number };
  timings?: { stage: string; rows: number; seconds: number }[];
  ingest?: { missing_optional_columns?: MissingOptionalColumn[] };
  validate?: { reconciliation: Row[]; quarantine_reasons: Row[]; field_quality?: FieldQuality[]; quality_warnings?: QualityWarning[] };
  normalise?: { nik_status: { source: string; value: string; rows: number }[] };
  link?: {
    engine: string; candidate_pairs?: number; scored_pairs?: number; model_source?: string; blocking?: { rules: Row[] };
    threshold?: { mode: string; precision_floor: number; expected_at_threshold?: { precision: number; recall: number }; expected_curve?: { expected_true_pairs: number; points: Row[] } };
  };
  cluster?: { clusters: number; size_distribution: { size: number; clusters: number }[]; threshold_mode?: string; expected?: { precision: number; recall: number; predicted_pairs: number; expected_true_positive_pairs: number } };
  survive?: { persons: number; source_overlap: Row[]; families_by_size?: { size: string; families: number }[] };
  /** the register's continuity: ids carried, minted, retired; the change log by kind and province (src/register/) */
  register?: RegisterFigures;
  evaluate?: EvaluationFigures | SkippedEvaluation;
  report: ReportFigures & { summary: Summary };
  /** how the batch was run (src/stages/report/review.ts) */
  run?: RunInfo;
  /** borderline pairs and model warnings (src/stages/report/review.ts) */
  review?: Review;
}

/** The stages whose figures the report reads: every stage before it. */
const REPORTED_STAGES = [ingestStage, validateStage, normaliseStage, decisionsStage, linkStage, clusterStage, surviveStage, registerStage, exportStage, evaluateStage] as const;

/** The figures of the batch the report is drawn from, typed by the stages that produced them. */
export type ReportedFigures = PriorFigures<typeof REPORTED_STAGES>;

/** Paths into T, sections and figures joined by dots, up to three deep (arrays are leaves; unions give every member's). */
type Paths<T, Depth extends number = 3> = [Depth] extends [0]
  ? never
  : T extends readonly unknown[]
    ? never
    : T extends object
      ? { [K in keyof T & string]: K | `${K}.${Paths<NonNullable<T[K]>, [never, 0, 1, 2][Depth]>}` }[keyof T & string]
      : never;

/** A path into report.json a chart takes its data from (a section and its figure): checked by the compiler. */
export type FigurePath = Extract<Paths<ReportJson>, `${string}.${string}`>;

function summary(f: ReportedFigures, r: ReportFigures): Summary {
  const rec = f.validate?.reconciliation ?? [];
  const sum = (k: 'rows_read' | 'rows_accepted' | 'rows_quarantined') => rec.reduce((a, x) => a + x[k], 0);
  const evaluated = f.evaluate;
  const ev = measuredQuality(evaluated) ? evaluated : undefined;
  const provinces = r.provinces;
  return {
    rows_read: sum('rows_read'),
    rows_accepted: sum('rows_accepted'),
    rows_quarantined: sum('rows_quarantined'),
    persons: f.survive?.persons ?? null,
    persons_linked: provinces.length ? provinces.reduce((a, p) => a + p.persons_linked, 0) : null,
    candidate_pairs: f.link?.candidate_pairs ?? null,
    precision: ev?.precision ?? null,
    recall: ev?.recall ?? null,
  };
}

/** report.json: the batch, its settings, every stage's figures and the report's own. */
export async function buildReportJson(ctx: Pick<Ctx, 'db' | 'config' | 'sources' | 'truthPath' | 'outDir'>, prior: ReportedFigures): Promise<{ json: ReportJson; figures: ReportFigures & { summary: Summary } }> {
  const own = await reportFigures(ctx.db, prior, thresholdOf(ctx.config.linkage));
  const figures = { ...own, summary: summary(prior, own) };
  const json = {
    batch: ctx.config.batch,
    snapshot_id: ctx.config.snapshot_id,
    snapshot_date: ctx.config.snapshot_date,
    linkage: { ...ctx.config.linkage },
    run: await runInfo(ctx),
    ...prior,
    report: figures,
    review: await review(ctx.db, thresholdOf(ctx.config.linkage), own.model_levels),
  } as ReportJson;
  return { json, figures };
}

/** The chart of `id` as a figure; the paths its data came from are written beside it. */
function figure(c: RenderedChart, title: string): string {
  const paths = chartById(c.id).data;
  return `<figure class="chart" data-chart="${esc(c.id)}" data-paths="${esc(JSON.stringify(paths))}"><figcaption class="explain" id="${esc(c.id)}-title">${esc(title)}</figcaption>${c.svg}</figure>`;
}

/** Grid points of the threshold curve every 5 bits from −10 to 30, and the threshold in use. */
function curveRows(ev: EvaluationFigures): Row[] {
  const c = ev.threshold_curve;
  const grid = c.points.filter((p) => p.match_weight >= -10 && p.match_weight <= 30 && p.match_weight % 5 === 0).map((p) => ({ at: '', ...p }));
  const inUse = { at: 'in use', ...c.at_threshold };
  return [...grid.filter((p) => p.match_weight < inUse.match_weight), inUse, ...grid.filter((p) => p.match_weight >= inUse.match_weight)];
}

const pct = (v: number | null | undefined) => fmt(v, 'pct');
const int = (v: number | null | undefined) => fmt(v, 'int');

/** report.html from report.json alone. */
export async function renderHtml(json: ReportJson, signal?: AbortSignal): Promise<string> {
  const rendered = new Map<string, RenderedChart>();
  for (const def of CHARTS) {
    // a stopped run ends between charts (each is rendered in JS)
    signal?.throwIfAborted();
    if (hasData(def, json)) rendered.set(def.id, await renderChart(def, json));
  }
  const chart = (id: string, title: string, otherwise: string) => {
    const c = rendered.get(id);
    return c ? figure(c, title) : `<p class="none">${esc(otherwise)}</p>`;
  };
  const r = json.report;
  const s = r.summary;
  const ev = measuredQuality(json.evaluate) ? json.evaluate : undefined;
  // A truth file was given but covered too little of the batch: say so instead of "no truth file".
  const notMeasured = json.evaluate && !ev ? (json.evaluate as SkippedEvaluation).quality_not_measured : undefined;
  const sections: Section[] = [];
  const add = (s: Section | undefined) => {
    if (s) sections.push(s);
  };

  sections.push({
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
  });
  add(runSection(json));

  const rec = json.validate?.reconciliation ?? [];
  const reasons = json.validate?.quarantine_reasons ?? [];
  sections.push({
    id: 'input',
    heading: 'Input rows and quarantine',
    body: `<p class="explain">Rows read from each source snapshot, split into rows accepted for linking and rows quarantined (kept in <code>quarantine.parquet</code> with the reason).</p>
      ${chart('input_rows', 'Rows read per source: accepted and quarantined', 'No input figures.')}
      ${table(rec, ['source', { key: 'rows_read', label: 'rows read' }, { key: 'rows_accepted', label: 'accepted' }, { key: 'rows_quarantined', label: 'quarantined' }, 'reconciled'])}
      <p>${rec.length && rec.every((x) => x.reconciled) ? '<span class="ok">Every source reconciles: rows read = rows accepted + rows quarantined.</span>' : '<span class="bad">A source does not reconcile.</span>'}</p>
      <h3>Quarantine reasons</h3>
      ${chart('quarantine_reasons', 'Quarantined rows by reason and source', 'No row was quarantined.')}
      ${reasons.length ? table(reasons, ['source', 'reason', 'rows']) : ''}`,
  });

  const fq = json.validate?.field_quality ?? [];
  const absent = json.ingest?.missing_optional_columns ?? [];
  const qWarnings = json.validate?.quality_warnings ?? [];
  const paths = (p: Record<string, string>) => `data-paths="${esc(JSON.stringify(p))}"`;
  sections.push({
    id: 'field-quality',
    heading: 'Field quality: parse rates per source',
    body: `<p class="explain">Per source and field, the accepted rows whose value parsed, was missing or was rejected, measured when the inputs were validated with the same parsing as normalisation. The parse rate is parsed / (parsed + rejected); a file whose rate falls below the floor (<code>quality_gates.min_parse_rate</code> of the batch config) fails the batch. Rejected values are shown by their shape only: digits as 9, letters as A, a run of five or more as 9{n} or A{n}.</p>
      <div class="figure-table" ${paths({ rows: 'validate.field_quality' })}>${table(
        fq.map((q) => ({ ...q, shapes: q.rejected_shapes.map((x) => `${x.shape} (${x.rows.toLocaleString('en-US')})`).join(', ') })),
        ['source', 'field', 'column', 'rows', 'parsed', 'missing', 'rejected', { key: 'parse_rate', label: 'parse rate', format: 'pct' }, { key: 'min_parse_rate', label: 'floor', format: 'pct' }, 'result', { key: 'shapes', label: 'rejected values by shape' }],
        'parse rates per source and field (validate.field_quality)',
      )}</div>
      ${
        absent.length || qWarnings.length
          ? `<h3>Warnings</h3><div class="figure-table" ${paths({ missing_optional_columns: 'ingest.missing_optional_columns', quality_warnings: 'validate.quality_warnings' })}>${absent.length ? table(absent as unknown as Row[], ['source', 'file', 'column', 'field'], 'optional columns missing from a file: their field is empty for its rows (ingest.missing_optional_columns)') : ''}${qWarnings.length ? table(qWarnings as unknown as Row[], ['source', 'file', 'column', { key: 'parse_rate', label: 'parse rate', format: 'pct' }, { key: 'min_parse_rate', label: 'floor', format: 'pct' }, 'message'], 'fields that passed with a warning (validate.quality_warnings)') : ''}</div>`
          : '<p class="ok">No warning: every mapped column is present and every parse rate is at or above its default floor.</p>'
      }`,
  });
  add(completenessSection(json));

  const nik = json.normalise?.nik_status ?? [];
  const srcs = [...new Set(nik.map((n) => n.source))];
  const statuses = [...new Set(nik.map((n) => n.value))];
  const pivot = statuses.map((v) => ({ status: v, ...Object.fromEntries(srcs.map((src) => [src, nik.find((n) => n.source === src && n.value === v)?.rows ?? 0])) }));
  sections.push({
    id: 'nik',
    heading: 'NIK validity per source',
    body: `<p class="explain">Each accepted record's NIK after cleaning: <b>valid</b> (16 digits, a known province, a possible birth date and serial), <b>missing</b>, or why it is not usable — a placeholder (all zeros, repeated digits), a spreadsheet's scientific notation, the family-card number typed in its place, or a bad province, month, day or serial. Only valid NIKs are used as NIKs in linking.</p>
      ${chart('nik_status', 'Share of each source’s records by NIK status', 'No NIK figures.')}
      ${table(pivot, [{ key: 'status', label: 'NIK status' }, ...srcs.map((src) => ({ key: src, format: 'int' as const }))], 'records by NIK status')}`,
  });

  const overlap = (json.survive?.source_overlap ?? []) as Row[];
  sections.push({
    id: 'overlap',
    heading: 'Coverage and overlap of the sources',
    body: `<p class="explain">Persons of the register by the combination of sources their records come from (from <code>dtsen_person.sources</code>): the bars count persons, the dots below show which sources the combination holds.</p>
      ${chart('source_overlap', 'Persons by the combination of sources they are found in', 'No persons.')}
      ${table(r.source_coverage as unknown as Row[], ['source', { key: 'persons', label: 'persons in the source' }, { key: 'share_of_persons', label: 'share of all persons', format: 'pct' }, { key: 'only_this_source', label: 'found only here' }], 'coverage per source')}
      ${overlap.length ? table(overlap, ['sources', 'persons'], 'persons per combination') : ''}`,
  });

  const blocking = json.link?.blocking?.rules ?? [];
  const t = r.threshold;
  sections.push({
    id: 'weights',
    heading: 'Candidate pairs and match weights',
    body: `<p class="explain">Blocking proposes candidate pairs; each is scored with a match weight, the log<sub>2</sub> odds that the two records are one person (${json.linkage.engine === 'exact' ? 'the exact linker gives every pair it finds the same weight' : 'the sum of the comparison weights below'}). Pairs at or above the threshold — probability ${fmt(t.match_probability, 'num')}, a weight of ${fmt(t.match_weight, 'dec')} bits, the dashed line — are linked. Engine: <b>${esc(json.link?.engine ?? json.linkage.engine)}</b>; ${int(json.link?.candidate_pairs)} candidate pairs.</p>
      ${thresholdRows(json).length ? table(thresholdRows(json), ['figures', { key: 'precision', format: 'pct' }, { key: 'recall', format: 'pct' }], `the threshold (${esc(json.cluster?.threshold_mode ?? json.link?.threshold?.mode ?? 'configured')}${json.link?.threshold?.mode === 'auto' ? `: the largest expected F1 with an expected precision of at least ${fmt(json.link.threshold.precision_floor, 'num')}` : ''}): the model's expected precision and recall, from the match probabilities alone${json.evaluate ? ', and the truth' : ''}`) : ''}
      ${blocking.length ? table(blocking, ['rule', 'description', { key: 'pairs', label: 'pairs' }, { key: 'new_pairs', label: 'new pairs' }, 'blocks', { key: 'capped_blocks', label: 'blocks over the cap' }, { key: 'capped_records', label: 'records in them' }], 'blocking rules') : ''}
      ${chart('match_weight_histogram', 'Candidate pairs by match weight (1-bit bins); the dashed line is the threshold', 'No scored pairs.')}`,
  });
  add(blocksSection(json));
  add(borderlineSection(json));

  sections.push({
    id: 'model',
    heading: 'Comparison levels: m and u',
    body: `<p class="explain">For each comparison level of the Fellegi–Sunter model: <b>m</b>, the probability of the level among pairs of records of the same person (estimated by EM), and <b>u</b>, its probability among pairs of different persons (from random pairs). A level's weight is log<sub>2</sub>(m/u): positive levels are evidence for a match, negative against. ${json.link?.model_source ? `Model: ${esc(json.link.model_source)}.` : ''}</p>
      ${chart('model_levels', 'm and u per comparison level (left, log scale) and the weight of the level (right)', json.linkage.engine === 'exact' ? 'The exact linker has no model: it links records with the same valid NIK, name and birth date.' : 'No model.')}`,
  });
  add(modelWarningsSection(json));

  sections.push({
    id: 'clusters',
    heading: 'Cluster sizes',
    body: `<p class="explain">Records whose pairs are linked are joined into one person (connected components). The chart counts persons by the number of source records they are built from; a person with more records than there are sources is a duplicate inside a source.</p>
      ${chart('cluster_sizes', 'Persons by number of source records', 'No clusters.')}`,
  });
  add(splitsSection(json));
  add(familiesSection(json, chart));

  const conflicts = r.conflicts_by_type;
  sections.push({
    id: 'conflicts',
    heading: 'Conflicts between linked records',
    body: conflicts
      ? `<p class="explain">Where the records of one person disagree on a field (survivorship picks one value and records the disagreement in <code>dtsen_conflict</code>).</p>
      ${chart('conflicts_by_type', 'Conflicts by type', 'No conflicts: the records of every person agree.')}
      ${conflicts.length ? table(conflicts as unknown as Row[], [{ key: 'conflict_type', label: 'conflict type' }, 'conflicts', 'persons']) : ''}`
      : '<p class="none">no conflict table</p>',
  });

  const prov = r.provinces;
  const byProv = ev?.by_province ?? [];
  sections.push({
    id: 'provinces',
    heading: 'Links and quality by province',
    body: `<p class="explain">Per province of the golden record: source records, persons, and persons linked from two or more records.</p>
      ${chart('provinces', 'Source records, persons and linked persons per province', 'No persons.')}
      ${table(prov as unknown as Row[], ['province', { key: 'source_records', label: 'source records' }, 'persons', { key: 'persons_linked', label: 'persons linked (2+ records)' }, { key: 'persons_in_two_or_more_sources', label: 'persons in 2+ sources' }])}
      ${
        ev
          ? `<h3>Precision and recall per province</h3><p class="explain">Pairwise, against the truth file: precision over the pairs inside the golden records of the province, recall over the true pairs of the persons of the province (a person counts in the province of the golden record holding its first record).</p>
      ${chart('province_quality', 'Pairwise precision and recall per province', 'No evaluated records.')}
      ${table(byProv as unknown as Row[], ['province', { key: 'true_pairs', label: 'true pairs' }, { key: 'true_pairs_found', label: 'found' }, { key: 'predicted_pairs', label: 'linked pairs' }, { key: 'predicted_pairs_true', label: 'correct' }, { key: 'precision', format: 'pct' }, { key: 'recall', format: 'pct' }])}`
          : `<p class="none">${notMeasured ? `Quality not measured: ${esc(notMeasured)}.` : 'No truth file was given: quality per province is not measured.'}</p>`
      }`,
  });

  sections.push({
    id: 'quality',
    heading: 'Quality against the ground truth',
    body: ev
      ? `<p class="explain">Pairwise precision and recall of the persons built (every pair of records placed in one person, compared with the pairs of records of one true person), and the same for the baseline that links only records with the same valid NIK.</p>
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
      <p class="explain">Wrong links count the scored pairs at or above the threshold that join records of different persons, before the cluster splits; the precision above counts the pairs inside the persons built, after them: ${int(ev.predicted_pairs - ev.true_positive_pairs)} pair${ev.predicted_pairs - ev.true_positive_pairs === 1 ? '' : 's'} of different persons ${ev.predicted_pairs - ev.true_positive_pairs === 1 ? 'is' : 'are'} left in one person (linked pairs − correct pairs). A wrong link counted here and not there was cut by a split (see Cluster splits).</p>
      <h3>True pairs found by each blocking rule</h3>
      <p class="explain">${fmt(ev.blocking.recall, 'pct')} of the true pairs were proposed as candidate pairs by at least one rule; a true pair no rule proposes can never be linked.</p>
      ${table(ev.blocking.by_rule as unknown as Record<string, unknown>[], ['rule', { key: 'true_pairs_found', label: 'true pairs found' }, { key: 'share', format: 'pct' }])}
      <h3>Match weights of true and false pairs</h3>
      <p class="explain">The histogram of candidate pairs above, split by the truth file: pairs of one person should sit right of the threshold, pairs of different persons left of it.</p>
      ${chart('weights_by_truth', 'Candidate pairs by match weight (1-bit bins) and by what the truth file says', 'No scored pairs.')}
      <h3>Precision and recall against the threshold</h3>
      <p class="explain">Pair level, over the scored candidate pairs: at each threshold on the match weight (every ${fmt(ev.threshold_curve.step_bits, 'num')} bit), a pair is predicted when its weight is at least the threshold; hard negatives (kept apart by the guard) never are. Recall's denominator is every true pair (${int(ev.threshold_curve.true_pairs)}), so its ceiling is what blocking found. The links clustering adds through a third record are not counted here, so the values differ slightly from the cluster-level figures above.</p>
      ${chart('threshold_curve', 'Pair-level precision, recall and F1 by threshold; the dashed line is the threshold in use', 'No scored pairs.')}
      ${table(curveRows(ev), [{ key: 'at', label: 'threshold' }, { key: 'match_weight', label: 'weight (bits)', format: 'num' }, { key: 'match_probability', label: 'probability', format: 'prob' }, { key: 'predicted_pairs', label: 'pairs predicted' }, { key: 'true_positive_pairs', label: 'correct' }, { key: 'precision', format: 'pct' }, { key: 'recall', format: 'pct' }, { key: 'f1', label: 'F1', format: 'pct' }], 'pair-level figures at some thresholds')}`
      : notMeasured
        ? `<p class="none">Quality not measured: ${esc(notMeasured)}.</p>`
        : '<p class="none">No truth file was given (<code>--truth</code> or <code>truth</code> in the config): quality is not measured.</p>',
  });

  sections.push(registerSection(json));

  sections.push({
    id: 'stages',
    heading: 'Stages',
    body: table((json.timings ?? []) as unknown as Row[], ['stage', { key: 'rows', label: 'rows out' }, { key: 'seconds', format: 'dec' }]),
  });

  const subtitle = `Snapshot ${esc(json.snapshot_id)}${json.snapshot_date ? ` of ${esc(json.snapshot_date)}` : ''} · linkage engine ${esc(json.linkage.engine)} · threshold ${fmt(json.linkage.threshold, 'num')}`;
  return page(`DTSEN batch ${json.batch} — match-quality report`, subtitle, sections);
}

export const reportStage = defineStage({
  name: 'report',
  reads: REPORTED_STAGES,
  produces: [],
  async run(ctx, prior) {
    const { json, figures } = await buildReportJson(ctx, prior);
    const text = `${JSON.stringify(json, null, 2)}\n`;
    // The page is drawn from the JSON as written, not from the objects in memory.
    const html = await renderHtml(JSON.parse(text) as ReportJson, ctx.signal);
    await writeFileAtomic(join(ctx.stagingDir, 'report.html'), html);
    await writeFileAtomic(join(ctx.stagingDir, 'report.json'), text);
    return { rows: 2, figures };
  },
});
