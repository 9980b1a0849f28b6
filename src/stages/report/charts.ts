/**
 * The charts of report.html: Vega-Lite specifications whose data are named datasets, each read from one path
 * into report.json, compiled with vega-lite and drawn to SVG by vega's headless View at build time (no
 * browser, no canvas, no script in the page).
 */
import { compile, type TopLevelSpec } from 'vega-lite';
import * as vega from 'vega';
import { View, parse, logger, resetSVGDefIds, Warn } from 'vega';
import type { FigurePath } from './index.ts';

type Row = Record<string, unknown>;
type Spec = Record<string, unknown>;

/**
 * How a chart is laid out: `wide` for a screen (up to the page's 960 px), `narrow` for a phone (at most
 * NARROW_MAX_WIDTH px wide, with fewer ticks, wrapped labels and shorter titles), so that text is never scaled
 * down to fit.
 */
export type Layout = 'wide' | 'narrow';
export const LAYOUTS: readonly Layout[] = ['wide', 'narrow'];

/** The widest a narrow chart is drawn (px): a 360 px phone leaves about 320 px to a chart. */
export const NARROW_MAX_WIDTH = 320;

export interface ChartDef {
  id: string;
  /** dataset name → path into report.json; the dataset's values are the array there (an object becomes [object]) */
  data: Record<string, FigurePath>;
  /** the specification without data, in a layout; it names its datasets ({ data: { name } }) */
  spec(values: Record<string, Row[]>, layout: Layout): Spec;
}

export interface RenderedChart {
  id: string;
  layout: Layout;
  svg: string;
  /** the width of the SVG (px) as drawn at its own size */
  width: number;
  /** the datasets the chart was drawn from */
  datasets: Record<string, Row[]>;
  /** vega-lite and vega warnings (a correct chart has none) */
  warnings: string[];
}

/** A value in report.json by a dotted path ("evaluate.threshold_curve.points"). */
export function at(json: unknown, path: string): unknown {
  let v: unknown = json;
  for (const k of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

function toValues(v: unknown): Row[] {
  if (Array.isArray(v)) return v as Row[];
  if (v !== null && typeof v === 'object') return [v as Row];
  return [];
}

/** True when every dataset of the chart has rows in report.json. */
export function hasData(def: ChartDef, json: unknown): boolean {
  return Object.values(def.data).every((p) => toValues(at(json, p)).length > 0);
}

const INK = '#1d2733';
const BLUE = '#3b6ea5';
const ORANGE = '#d9822b';
const RED = '#b42318';
const GREEN = '#2e7d4f';
const GREY = '#9aa5b1';
const LIGHT = '#e3e8ef';

/**
 * Text widths for layout and label truncation. Without a canvas vega guesses 0.8 em per character, far wider
 * than real text, which truncates labels early. These are Helvetica/Arial advance widths (per 1000 em) of
 * printable ASCII, raised by a tenth so the wider DejaVu Sans of many Linux systems fits too.
 */
const ADVANCE = [
  278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
  1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
  333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

export function textWidth(text: string, fontSize: number, bold = false): number {
  let units = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)! - 32;
    units += c >= 0 && c < ADVANCE.length ? ADVANCE[c] : 600;
  }
  return (units / 1000) * fontSize * 1.1 * (bold ? 1.08 : 1);
}

type TextItem = { fontSize?: number; fontWeight?: string | number };
const measure = (item: TextItem, text: unknown) => textWidth(String(text ?? '').trim(), item.fontSize ?? 11, item.fontWeight === 'bold' || Number(item.fontWeight) >= 600);

/**
 * Makes vega measure text with the widths above. vega keeps its text metrics in one object shared by every
 * view of the process, so this replaces a global of the vega module: renderChart calls it before drawing, and
 * calling it again changes nothing.
 */
export function useTextWidths(): void {
  // vega's typings leave textMetrics out
  const metrics = (vega as unknown as { textMetrics: { width: (item: TextItem, text: unknown) => number } }).textMetrics;
  if (metrics.width !== measure) metrics.width = measure;
}

/** The lines of `text` broken at spaces so that each is at most `maxWidth` px wide (a word longer stays whole). */
export function wrapLines(text: string, maxWidth: number, fontSize = 11): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const longer = line ? `${line} ${word}` : word;
    if (line && textWidth(longer, fontSize) > maxWidth) {
      lines.push(line);
      line = word;
    } else line = longer;
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * Axis properties that draw each label wider than `maxWidth` on several lines (a label is an array of lines in
 * vega), so that a narrow chart keeps its whole labels instead of truncating them.
 */
function wrappedLabels(labels: readonly unknown[], maxWidth: number, fontSize = 11): Spec {
  const long = [...new Set(labels.map(String))].filter((l) => textWidth(l, fontSize) > maxWidth);
  const lines = Object.fromEntries(long.map((l) => [l, wrapLines(l, maxWidth, fontSize)]));
  return long.length ? { labelExpr: `(${JSON.stringify(lines)})[datum.label] || datum.label`, labelLimit: maxWidth + 10 } : { labelLimit: maxWidth + 10 };
}

const CONFIG = {
  background: 'white',
  padding: 8,
  font: 'Helvetica, Arial, "Liberation Sans", "DejaVu Sans", sans-serif',
  view: { stroke: null },
  axis: { labelColor: INK, titleColor: INK, labelFontSize: 11, titleFontSize: 12, titleFontWeight: 600, gridColor: '#eef1f5', domainColor: GREY, tickColor: GREY, labelLimit: 320 },
  legend: { labelColor: INK, titleColor: INK, labelFontSize: 11, titleFontSize: 12, titleFontWeight: 600, orient: 'bottom', direction: 'horizontal', columns: 5, labelLimit: 320 },
  text: { fontSize: 10, color: INK },
};

const INT = ',d';
const WIDTH = 600;

/** The two colours of a two-valued measure (accepted/quarantined, m/u, precision/recall). */
function pair(a: string, b: string, ca = BLUE, cb = ORANGE) {
  return { domain: [a, b], range: [ca, cb] };
}

/** The width of the plot of a category chart with `n` bands of `wide` px: narrower bands on a phone, never below `min`. */
function bandStep(layout: Layout, n: number, wide: number, room = NARROW_MAX_WIDTH - 80, min = 22): number {
  return layout === 'wide' ? wide : Math.max(min, Math.min(wide, Math.floor(room / Math.max(1, n))));
}

const NIK_STATUS_COLOURS: Record<string, string> = {
  valid: GREEN,
  missing: GREY,
  placeholder: '#6b4c9a',
  scientific: '#c2185b',
  is_kk: '#8c6d31',
  bad_length: '#e6550d',
  bad_province: '#fd8d3c',
  bad_month: '#fdae6b',
  bad_day: '#d6616b',
  bad_serial: '#843c39',
};

/**
 * Bars of `value` per `category`, each with its value written at its end. `value` is a field definition
 * (a field or an aggregate of one); `colour` an encoding, or none for one colour.
 */
function labelledBars(o: { category: Spec; value: Spec & { field: string }; horizontal: boolean; colour?: Spec }): Spec {
  const [cat, val] = o.horizontal ? ['y', 'x'] : ['x', 'y'];
  const { title: _t, axis: _a, ...number } = o.value;
  return {
    encoding: { [cat]: o.category, [val]: o.value },
    layer: [
      { mark: { type: 'bar', ...(o.horizontal ? { height: { band: 0.75 } } : {}), ...(o.colour ? {} : { color: BLUE }) }, ...(o.colour ? { encoding: { color: o.colour } } : {}) },
      { mark: { type: 'text', ...(o.horizontal ? { align: 'left', dx: 4 } : { dy: -6 }) }, encoding: { text: { ...number, format: INT } } },
    ],
  };
}

/** A layer marking the threshold in use (dataset `threshold`: report.threshold) on a match-weight x axis, labelled at height `labelY`. */
function thresholdRule(labelY: number): Spec {
  return {
    data: { name: 'threshold' },
    layer: [
      { mark: { type: 'rule', color: RED, strokeWidth: 2, strokeDash: [5, 3] }, encoding: { x: { field: 'match_weight', type: 'quantitative' } } },
      {
        mark: { type: 'text', color: RED, align: 'left', dx: 5, y: labelY, fontSize: 11, fontWeight: 600 },
        encoding: { x: { field: 'match_weight', type: 'quantitative' }, text: { value: 'threshold' } },
      },
    ],
  };
}

/** Candidate pairs per match-weight bin (dataset `bins`: bin_start, bin_end, pairs after `transform`), stacked by `colour`, with the threshold. */
function weightBins(layout: Layout, title: string, transform: Spec[], colour: Spec): Spec {
  const narrow = layout === 'narrow';
  return {
    width: narrow ? 250 : WIDTH,
    height: narrow ? 200 : 240,
    layer: [
      {
        data: { name: 'bins' },
        transform,
        mark: { type: 'rect', stroke: 'white', strokeWidth: 0.5 },
        encoding: {
          x: { field: 'bin_start', type: 'quantitative', title, axis: { tickMinStep: 1, tickCount: narrow ? 5 : 10 } },
          x2: { field: 'bin_end' },
          y: { field: 'pairs', type: 'quantitative', stack: 'zero', title: 'candidate pairs', axis: narrow ? { format: '~s', tickCount: 5 } : { format: INT } },
          color: colour,
        },
      },
      thresholdRule(8),
    ],
  };
}

/** The width (px) at which a narrow chart breaks a long category label into lines. */
const LABEL_WRAP = 140;

/** A legend of a narrow chart: entries in `columns` columns under the plot, titled above them. */
const narrowLegend = (columns: number): Spec => ({ columns, columnPadding: 6, titleOrient: 'top' });

export const CHARTS: ChartDef[] = [
  {
    id: 'input_rows',
    data: { rows: 'validate.reconciliation' },
    spec: (v, layout) => ({
      width: layout === 'narrow' ? 170 : WIDTH,
      height: { step: 30 },
      data: { name: 'rows' },
      layer: [
        {
          transform: [{ fold: ['rows_accepted', 'rows_quarantined'], as: ['status', 'n'] }, { calculate: "replace(datum.status, 'rows_', '')", as: 'status' }],
          mark: { type: 'bar', height: { band: 0.7 } },
          encoding: {
            y: { field: 'source', type: 'nominal', title: null, sort: v.rows.map((r) => r.source) },
            x: { field: 'n', type: 'quantitative', title: 'rows read', axis: { format: INT, tickCount: layout === 'narrow' ? 3 : 8 } },
            color: { field: 'status', type: 'nominal', title: null, scale: pair('accepted', 'quarantined', BLUE, RED) },
            order: { field: 'status', sort: 'ascending' },
          },
        },
        {
          mark: { type: 'text', align: 'left', dx: 4 },
          encoding: {
            y: { field: 'source', type: 'nominal', sort: v.rows.map((r) => r.source) },
            x: { field: 'rows_read', type: 'quantitative' },
            text: { field: 'rows_read', type: 'quantitative', format: INT },
          },
        },
      ],
    }),
  },
  {
    id: 'quarantine_reasons',
    data: { reasons: 'validate.quarantine_reasons' },
    spec: (v, layout) => ({
      width: layout === 'narrow' ? 110 : WIDTH - 200,
      height: { step: layout === 'narrow' ? 34 : 24 },
      data: { name: 'reasons' },
      ...labelledBars({
        category: { field: 'reason', type: 'nominal', title: null, sort: '-x', ...(layout === 'narrow' ? { axis: wrappedLabels(v.reasons.map((r) => r.reason), 140) } : {}) },
        value: { aggregate: 'sum', field: 'rows', type: 'quantitative', title: 'rows quarantined', axis: { format: INT, tickMinStep: 1, ...(layout === 'narrow' ? { tickCount: 3 } : {}) } },
        horizontal: true,
        colour: { field: 'source', type: 'nominal', title: 'source', ...(layout === 'narrow' ? { legend: narrowLegend(3) } : {}) },
      }),
    }),
  },
  {
    id: 'nik_status',
    data: { nik: 'normalise.nik_status' },
    spec: (v, layout) => {
      const present = [...new Set(v.nik.map((r) => String(r.value)))];
      const domain = [...Object.keys(NIK_STATUS_COLOURS).filter((s) => present.includes(s)), ...present.filter((s) => !(s in NIK_STATUS_COLOURS)).sort()];
      const narrow = layout === 'narrow';
      return {
        width: narrow ? 210 : WIDTH,
        height: { step: 30 },
        data: { name: 'nik' },
        transform: [{ calculate: `indexof(${JSON.stringify(domain)}, datum.value)`, as: 'status_order' }],
        mark: { type: 'bar', height: { band: 0.7 } },
        encoding: {
          y: { field: 'source', type: 'nominal', title: null },
          x: { field: 'rows', type: 'quantitative', stack: 'normalize', title: 'share of the source’s records', axis: { format: '%', ...(narrow ? { values: [0, 0.25, 0.5, 0.75, 1] } : {}) } },
          color: { field: 'value', type: 'nominal', title: 'NIK status', scale: { domain, range: domain.map((s) => NIK_STATUS_COLOURS[s] ?? '#555') }, ...(narrow ? { legend: narrowLegend(3) } : {}) },
          order: { field: 'status_order', type: 'quantitative' },
        },
      };
    },
  },
  {
    id: 'source_overlap',
    data: { overlap: 'survive.source_overlap' },
    spec: (v, layout) => {
      const order = v.overlap.map((r) => r.sources);
      const x = { field: 'sources', type: 'nominal', sort: order, title: null, axis: null };
      const step = bandStep(layout, order.length, 64);
      return {
        data: { name: 'overlap' },
        spacing: 4,
        vconcat: [
          {
            width: { step },
            height: layout === 'narrow' ? 180 : 220,
            ...labelledBars({ category: x, value: { field: 'persons', type: 'quantitative', title: 'persons', axis: { format: INT } }, horizontal: false }),
          },
          {
            width: { step },
            height: { step: 22 },
            transform: [
              { calculate: "split(datum.sources, '+')", as: 'members' },
              { calculate: "indexof(datum.members, 'dtks') >= 0", as: 'dtks' },
              { calculate: "indexof(datum.members, 'regsosek') >= 0", as: 'regsosek' },
              { calculate: "indexof(datum.members, 'p3ke') >= 0", as: 'p3ke' },
              { fold: ['dtks', 'regsosek', 'p3ke'], as: ['source', 'member'] },
            ],
            mark: { type: 'circle', size: step < 40 ? 100 : 140, opacity: 1 },
            encoding: {
              x,
              y: { field: 'source', type: 'nominal', sort: ['dtks', 'regsosek', 'p3ke'], title: null, axis: { domain: false, ticks: false, labelFontWeight: 600 } },
              color: { field: 'member', type: 'nominal', scale: { domain: [true, false], range: [INK, LIGHT] }, legend: null },
            },
          },
        ],
      };
    },
  },
  {
    id: 'match_weight_histogram',
    data: { bins: 'report.match_weight_histogram', threshold: 'report.threshold' },
    spec: (_v, layout) => weightBins(layout, layout === 'narrow' ? 'match weight (bits): log2 of the odds' : 'match weight (bits) = log2 of the odds that the pair is one person', [], { value: BLUE }),
  },
  {
    id: 'weights_by_truth',
    data: { bins: 'evaluate.weight_histogram', threshold: 'report.threshold' },
    spec: (_v, layout) =>
      weightBins(
        layout,
        'match weight (bits)',
        [
          { fold: ['same_person', 'different_persons'], as: ['truth', 'pairs'] },
          { calculate: "datum.truth == 'same_person' ? 'one person' : 'different persons'", as: 'truth' },
        ],
        { field: 'truth', type: 'nominal', title: 'the truth file says', scale: pair('one person', 'different persons', GREEN, RED), ...(layout === 'narrow' ? { legend: narrowLegend(2) } : {}) },
      ),
  },
  {
    id: 'model_levels',
    data: { levels: 'report.model_levels' },
    spec: (v, layout) => {
      const narrow = layout === 'narrow';
      const labels = v.levels.map((l) => `${String(l.comparison)} · ${String(l.level)}`);
      // on a phone a long label takes two lines or more, so each level needs a taller row
      const lines = narrow ? Math.max(...labels.map((l) => wrapLines(l, LABEL_WRAP).length)) : 1;
      const y = { field: 'label', type: 'nominal', sort: { field: 'order', op: 'min' }, title: null, ...(narrow ? { axis: wrappedLabels(labels, LABEL_WRAP) } : {}) };
      const label = { calculate: "datum.comparison + ' · ' + datum.level", as: 'label' };
      const rows = { step: Math.max(16, 13 * lines + 4) };
      return {
        data: { name: 'levels' },
        spacing: narrow ? 12 : 16,
        // the legend above the dots is wider than they are: the panels are placed by their plots alone
        bounds: 'flush',
        resolve: { scale: { y: 'shared', color: 'independent' } },
        hconcat: [
          {
            width: narrow ? 80 : 210,
            height: rows,
            transform: [label, { fold: ['m', 'u'], as: ['probability', 'value'] }],
            mark: { type: 'point', filled: true, size: narrow ? 40 : 50, opacity: 0.9 },
            encoding: {
              y,
              x: {
                field: 'value',
                type: 'quantitative',
                scale: { type: 'log', domain: [1e-10, 1] },
                title: narrow ? 'm and u (log)' : 'm and u (log scale)',
                axis: { format: '.0e', values: narrow ? [1e-8, 1e-4, 1] : [1e-9, 1e-6, 1e-3, 1], labelExpr: "datum.value == 1 ? '1' : datum.label" },
              },
              color: {
                field: 'probability',
                type: 'nominal',
                title: null,
                scale: pair('m', 'u'),
                legend: narrow
                  ? { orient: 'top', columns: 1, labelExpr: "datum.label == 'm' ? 'm: same person' : 'u: different persons'" }
                  : { orient: 'top', columns: 1, labelExpr: "datum.label == 'm' ? 'm: P(level | same person)' : 'u: P(level | different persons)'" },
              },
            },
          },
          {
            width: narrow ? 46 : 120,
            height: rows,
            transform: [label, { calculate: 'datum.match_weight >= 0', as: 'for' }],
            mark: { type: 'bar', height: 11 },
            encoding: {
              y: { ...y, axis: null },
              x: { field: 'match_weight', type: 'quantitative', title: narrow ? 'bits' : 'weight log2(m/u), bits', ...(narrow ? { axis: { tickCount: 2 } } : {}) },
              color: { field: 'for', type: 'nominal', scale: { domain: [true, false], range: [GREEN, RED] }, legend: null },
            },
          },
        ],
      };
    },
  },
  {
    id: 'cluster_sizes',
    data: { sizes: 'cluster.size_distribution' },
    spec: (v, layout) => ({
      width: { step: bandStep(layout, v.sizes.length, 48) },
      height: layout === 'narrow' ? 180 : 220,
      data: { name: 'sizes' },
      ...labelledBars({
        category: { field: 'size', type: 'ordinal', title: 'source records in the person', axis: { labelAngle: 0 } },
        value: { field: 'clusters', type: 'quantitative', title: 'persons', axis: { format: INT } },
        horizontal: false,
      }),
    }),
  },
  {
    id: 'family_sizes',
    data: { sizes: 'survive.families_by_size' },
    spec: (v, layout) => ({
      width: { step: bandStep(layout, v.sizes.length, 48) },
      height: layout === 'narrow' ? 180 : 200,
      data: { name: 'sizes' },
      ...labelledBars({
        category: { field: 'size', type: 'ordinal', title: 'members', sort: v.sizes.map((r) => r.size), axis: { labelAngle: 0 } },
        value: { field: 'families', type: 'quantitative', title: 'families', axis: { format: INT } },
        horizontal: false,
      }),
    }),
  },
  {
    id: 'conflicts_by_type',
    data: { conflicts: 'report.conflicts_by_type' },
    spec: (v, layout) => ({
      width: layout === 'narrow' ? 130 : WIDTH - 200,
      height: { step: 24 },
      data: { name: 'conflicts' },
      ...labelledBars({
        category: {
          field: 'conflict_type',
          type: 'nominal',
          title: null,
          sort: { field: 'conflicts', op: 'sum', order: 'descending' },
          ...(layout === 'narrow' ? { axis: wrappedLabels(v.conflicts.map((r) => r.conflict_type), 110) } : {}),
        },
        value: { field: 'conflicts', type: 'quantitative', title: 'conflicts', axis: { format: INT, tickMinStep: 1, ...(layout === 'narrow' ? { tickCount: 3 } : {}) } },
        horizontal: true,
        colour: { value: ORANGE },
      }),
    }),
  },
  {
    id: 'provinces',
    data: { provinces: 'report.provinces' },
    spec: (v, layout) => {
      const narrow = layout === 'narrow';
      const measures = ['source records', 'persons', 'persons linked from 2+ records'];
      return {
        width: narrow ? 160 : WIDTH - 180,
        height: { step: 9 },
        data: { name: 'provinces' },
        transform: [
          { fold: ['source_records', 'persons', 'persons_linked'], as: ['measure', 'n'] },
          { calculate: "datum.measure == 'source_records' ? 'source records' : datum.measure == 'persons' ? 'persons' : 'persons linked from 2+ records'", as: 'measure' },
        ],
        mark: 'bar',
        encoding: {
          y: { field: 'province', type: 'nominal', title: null, sort: v.provinces.map((r) => r.province), axis: { labelPadding: 4, ...(narrow ? wrappedLabels(v.provinces.map((r) => r.province), 110) : {}) } },
          yOffset: { field: 'measure', type: 'nominal', sort: measures },
          x: { field: 'n', type: 'quantitative', title: null, axis: { format: INT, orient: 'top', ...(narrow ? { tickCount: 3 } : {}) } },
          color: { field: 'measure', type: 'nominal', title: null, scale: { domain: measures, range: [GREY, BLUE, GREEN] }, ...(narrow ? { legend: narrowLegend(1) } : {}) },
        },
      };
    },
  },
  {
    id: 'province_quality',
    data: { quality: 'evaluate.by_province' },
    spec: (v, layout) => {
      const narrow = layout === 'narrow';
      return {
        width: narrow ? 160 : WIDTH - 180,
        // a province's label may take two lines on a phone
        height: { step: narrow ? 14 : 10 },
        data: { name: 'quality' },
        transform: [{ fold: ['precision', 'recall'], as: ['metric', 'value'] }],
        mark: { type: 'point', filled: true, size: narrow ? 50 : 70 },
        encoding: {
          y: { field: 'province', type: 'nominal', title: null, sort: { field: 'province_code', op: 'min' }, ...(narrow ? { axis: wrappedLabels(v.quality.map((r) => r.province), 110) } : {}) },
          yOffset: { field: 'metric', type: 'nominal', scale: { domain: ['precision', 'recall'], paddingOuter: 0.5 } },
          x: { field: 'value', type: 'quantitative', scale: { zero: false, nice: true }, title: narrow ? 'pairwise precision, recall' : 'pairwise precision and recall', axis: narrow ? { format: '.0%', tickCount: 3 } : { format: '.1%' } },
          color: { field: 'metric', type: 'nominal', title: null, scale: pair('precision', 'recall') },
          shape: { field: 'metric', type: 'nominal', title: null, scale: { domain: ['precision', 'recall'], range: ['circle', 'diamond'] } },
        },
      };
    },
  },
  {
    id: 'threshold_curve',
    data: { points: 'evaluate.threshold_curve.points', threshold: 'report.threshold' },
    spec: (_v, layout) => {
      const narrow = layout === 'narrow';
      return {
        width: narrow ? 240 : WIDTH,
        height: narrow ? 220 : 260,
        layer: [
          {
            data: { name: 'points' },
            transform: [{ fold: ['precision', 'recall', 'f1'], as: ['metric', 'value'] }],
            mark: { type: 'line', strokeWidth: 2, interpolate: 'step-after' },
            encoding: {
              x: { field: 'match_weight', type: 'quantitative', title: narrow ? 'threshold (bits of match weight)' : 'threshold on the match weight (bits)', axis: { tickCount: narrow ? 5 : 10 } },
              y: { field: 'value', type: 'quantitative', title: 'pair-level value', axis: { format: '%' } },
              color: { field: 'metric', type: 'nominal', title: null, scale: { domain: ['precision', 'recall', 'f1'], range: [BLUE, ORANGE, GREY] } },
              strokeDash: { field: 'metric', type: 'nominal', title: null, scale: { domain: ['precision', 'recall', 'f1'], range: [[1, 0], [1, 0], [4, 3]] } },
            },
          },
          thresholdRule(narrow ? 210 : 250),
        ],
      };
    },
  },
];

export function chartById(id: string): ChartDef {
  const def = CHARTS.find((c) => c.id === id);
  if (!def) throw new Error(`no chart ${id}`);
  return def;
}

/** The datasets of a chart, read from report.json by their paths. */
export function chartDatasets(def: ChartDef, json: unknown): Record<string, Row[]> {
  return Object.fromEntries(Object.entries(def.data).map(([name, path]) => [name, toValues(at(json, path))]));
}

/** Draws one chart of report.json to SVG in a layout; ids inside the SVG carry the chart id and layout, so charts can share a page. */
export async function renderChart(def: ChartDef, json: unknown, layout: Layout = 'wide'): Promise<RenderedChart> {
  useTextWidths();
  const datasets = chartDatasets(def, json);
  const warnings: string[] = [];
  const collect = logger(Warn, undefined, (_method: string, level: string, input: readonly unknown[]) => {
    warnings.push(`${level} ${input.map(String).join(' ')}`);
  });
  const spec = { config: CONFIG, ...def.spec(datasets, layout), datasets } as unknown as TopLevelSpec;
  const vg = compile(spec, { logger: collect }).spec;
  resetSVGDefIds();
  const view = new View(parse(vg), { renderer: 'none', logger: collect });
  try {
    const prefix = `${def.id}-${layout}`;
    const svg = (await view.toSVG())
      .replace(/ id="((?:clip|gradient_)\d+)"/g, ` id="${prefix}-$1"`)
      .replace(/url\(#((?:clip|gradient_)\d+)\)/g, `url(#${prefix}-$1)`)
      .replace('<svg ', `<svg role="img" aria-labelledby="${def.id}-title" `)
      .replace(' class="marks"', ` class="marks ${layout}"`);
    const width = Number(/^<svg [^>]*?\bwidth="([\d.]+)"/.exec(svg)?.[1]);
    if (!(width > 0)) throw new Error(`chart ${def.id}: the SVG has no width`);
    return { id: def.id, layout, svg, width, datasets, warnings };
  } finally {
    view.finalize();
  }
}

/**
 * The layouts of a chart worth drawing: the wide one, and the narrow one when the wide one is wider than a
 * phone leaves room for.
 */
export async function renderChartLayouts(def: ChartDef, json: unknown): Promise<RenderedChart[]> {
  const wide = await renderChart(def, json, 'wide');
  return wide.width > NARROW_MAX_WIDTH ? [wide, await renderChart(def, json, 'narrow')] : [wide];
}
