/**
 * Report: report.json (every figure the stages produced, plus the report's own aggregates) and report.html,
 * which is drawn from that JSON object alone (renderHtml(json) of render.ts): tables, and charts compiled with Vega-Lite
 * and rendered to inline SVG. Figures only: no NIK, name or address ever enters the report.
 */
import type { FamilyContextFigures } from '../../linkage/family-context.ts';
import { thresholdOf } from '../../../schemas/config.ts';
import { join } from 'node:path';
import { defineStage, type Ctx, type PriorFigures } from '../../engine/context.ts';
import { ingestStage } from '../ingest/index.ts';
import { validateStage } from '../validate/index.ts';
import { normaliseStage } from '../normalise/index.ts';
import type { NormaliseRecompute } from '../../incremental/normalise.ts';
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
import { reportFigures, type ReportFigures } from './figures.ts';
import { renderHtml } from './render.ts';
import { review, runInfo, type Review, type RunInfo } from './review.ts';

type Row = Record<string, unknown>;

import type { RecomputeFigures } from '../link/index.ts';

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

/** The parts of report.json the page reads (every stage's figures sit under the stage's name). */
export interface ReportJson {
  batch: string;
  snapshot_id: string;
  snapshot_date?: string;
  linkage: { engine: string; threshold: number };
  timings?: { stage: string; rows: number; seconds: number }[];
  ingest?: { missing_optional_columns?: MissingOptionalColumn[] };
  validate?: { reconciliation: Row[]; quarantine_reasons: Row[]; field_quality?: FieldQuality[]; quality_warnings?: QualityWarning[] };
  normalise?: { nik_status: { source: string; value: string; rows: number }[]; /** rows cleaned and copied (src/incremental/normalise.ts) */ recompute?: NormaliseRecompute };
  link?: {
    engine: string; candidate_pairs?: number; scored_pairs?: number; model_source?: string; blocking?: { rules: Row[] };
    family_context?: FamilyContextFigures;
    /** the path the batch took, and for an incremental batch its records and pairs against the previous batch (src/incremental/) */
    recompute?: RecomputeFigures;
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
