/**
 * report.html from report.json alone: every chart drawn in its layouts, then the sections in reading order.
 * A chart too wide for the page is shown in its narrow layout instead of being scaled down, chosen by a
 * container query on the chart's own box (no script).
 */
import { CHARTS, chartById, hasData, renderChartLayouts, type RenderedChart } from './charts.ts';
import { esc, fmt, page, type Section } from './html.ts';
import type { ReportJson } from './index.ts';
import { blocksSection, borderlineSection, completenessSection, familiesSection, modelWarningsSection, runSection, splitsSection, type ChartFn } from './sections.ts';
import {
  clustersSection,
  conflictsSection,
  fieldQualitySection,
  inputSection,
  modelSection,
  nikSection,
  overlapSection,
  provincesSection,
  qualitySection,
  stagesSection,
  summarySection,
  weightsSection,
} from './stage-sections.ts';
import { registerSection } from '../../register/report.ts';
import { recomputeSection } from '../../incremental/report.ts';

/** A chart as a figure: its layouts, and the paths in report.json its data came from. */
function figure(layouts: RenderedChart[], title: string): string {
  const id = layouts[0].id;
  return `<figure class="chart" data-chart="${esc(id)}" data-paths="${esc(JSON.stringify(chartById(id).data))}"><figcaption class="explain" id="${esc(id)}-title">${esc(title)}</figcaption>${layouts.map((c) => c.svg).join('')}</figure>`;
}

/**
 * The rule that swaps a chart's wide layout for its narrow one when its figure is narrower than the wide SVG,
 * so that no chart is ever scaled down to fit (a browser without container queries scales the wide one).
 */
function layoutRule(layouts: RenderedChart[]): string {
  const wide = layouts.find((c) => c.layout === 'wide');
  if (!wide || !layouts.some((c) => c.layout === 'narrow')) return '';
  const fig = `figure[data-chart="${wide.id}"]`;
  return `@container (width < ${wide.width}px){${fig} svg.wide{display:none}${fig} svg.narrow{display:block}}`;
}

/** Every chart with data, drawn in its layouts; a stopped run ends between charts (each is drawn in JS). */
async function renderCharts(json: ReportJson, signal?: AbortSignal): Promise<Map<string, RenderedChart[]>> {
  const rendered = new Map<string, RenderedChart[]>();
  for (const def of CHARTS) {
    signal?.throwIfAborted();
    if (hasData(def, json)) rendered.set(def.id, await renderChartLayouts(def, json));
  }
  return rendered;
}

/** The sections of the page in reading order; one without its figures in report.json is left out. */
function sections(json: ReportJson, chart: ChartFn): Section[] {
  const all: (Section | undefined)[] = [
    summarySection(json),
    runSection(json),
    recomputeSection(json),
    inputSection(json, chart),
    fieldQualitySection(json),
    completenessSection(json),
    nikSection(json, chart),
    overlapSection(json, chart),
    weightsSection(json, chart),
    blocksSection(json),
    borderlineSection(json),
    modelSection(json, chart),
    modelWarningsSection(json),
    clustersSection(json, chart),
    splitsSection(json),
    familiesSection(json, chart),
    conflictsSection(json, chart),
    provincesSection(json, chart),
    qualitySection(json, chart),
    registerSection(json),
    stagesSection(json),
  ];
  return all.filter((s): s is Section => s !== undefined);
}

/** report.html from report.json alone. */
export async function renderHtml(json: ReportJson, signal?: AbortSignal): Promise<string> {
  const rendered = await renderCharts(json, signal);
  const chart: ChartFn = (id, title, otherwise) => {
    const layouts = rendered.get(id);
    return layouts ? figure(layouts, title) : `<p class="none">${esc(otherwise)}</p>`;
  };
  const css = [...rendered.values()].map(layoutRule).filter(Boolean).join('\n');
  const subtitle = `Snapshot ${esc(json.snapshot_id)}${json.snapshot_date ? ` of ${esc(json.snapshot_date)}` : ''} · linkage engine ${esc(json.linkage.engine)} · threshold ${fmt(json.linkage.threshold, 'num')}`;
  return page(`DTSEN batch ${json.batch} — match-quality report`, subtitle, sections(json, chart), css ? `${css}\n` : '');
}
