import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { loadConfig } from '../../src/engine/config.ts';
import { silentLogger } from '../../src/engine/log.ts';
import { Db } from '../../src/engine/db.ts';
import { runBatch } from '../../src/pipeline.ts';
import { CHARTS, at, chartById, hasData, renderChart } from '../../src/stages/report/charts.ts';
import { conflictsByType } from '../../src/stages/report/figures.ts';
import { renderHtml, type ReportJson } from '../../src/stages/report/index.ts';
import type { EvaluationFigures } from '../../src/stages/evaluate/index.ts';
import { tempDir } from '../fixtures/inputs.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The charts of a report.html: id, the JSON paths of their data, and the inline SVG. */
function figures(html: string): { id: string; paths: Record<string, string>; svg: string }[] {
  const re = /<figure class="chart" data-chart="([^"]+)" data-paths="([^"]+)">.*?(<svg[\s\S]*?<\/svg>)<\/figure>/g;
  return [...html.matchAll(re)].map((m) => ({ id: m[1], paths: JSON.parse(m[2].replaceAll('&quot;', '"')) as Record<string, string>, svg: m[3] }));
}

// One batch of the committed 3,000-person sample (with its truth) shared by every test of the file.
let dir: string;
let json: ReportJson;
let html: string;

beforeAll(async () => {
  dir = tempDir('dtsen-report-');
  const loaded = await loadConfig(resolve('pipelines/sample.json'), { out: join(dir, 'out') });
  await runBatch(loaded, { log: silentLogger() });
  json = JSON.parse(readFileSync(join(dir, 'out', 'report.json'), 'utf8')) as ReportJson;
  html = readFileSync(join(dir, 'out', 'report.html'), 'utf8');
});

describe('report.html is drawn from report.json alone', () => {
  it('is the same page when rendered again from report.json', async () => {
    expect(await renderHtml(json)).toBe(html);
  });

  it('takes the data of every chart from a path into report.json, and re-drawing from there gives the same SVG', async () => {
    const shown = figures(html);
    expect(shown.map((f) => f.id).sort()).toEqual(CHARTS.filter((c) => hasData(c, json)).map((c) => c.id).sort());
    // The sample has a truth file, a model, scored pairs and a conflict table: every chart is there.
    expect(shown.length).toBe(CHARTS.length);
    for (const f of shown) {
      expect(f.paths).toEqual(chartById(f.id).data);
      for (const path of Object.values(f.paths)) {
        const v = at(json, path);
        expect(v, `${f.id}: ${path}`).toBeTruthy();
        expect(Array.isArray(v) ? v.length : Object.keys(v as object).length, `${f.id}: ${path}`).toBeGreaterThan(0);
      }
      const again = await renderChart(chartById(f.id), json);
      expect(again.svg, f.id).toBe(f.svg);
      expect(again.warnings, f.id).toEqual([]);
    }
  });

  it('draws a different chart when a figure of report.json changes', async () => {
    const changed = structuredClone(json);
    changed.cluster!.size_distribution[0].clusters += 500;
    const before = figures(html).find((f) => f.id === 'cluster_sizes')!.svg;
    expect((await renderChart(chartById('cluster_sizes'), changed)).svg).not.toBe(before);
    expect((await renderChart(chartById('input_rows'), changed)).svg).toBe(figures(html).find((f) => f.id === 'input_rows')!.svg);
  });

  it('writes whole numbers with thousands separators and no personal data', () => {
    const read = json.report.summary.rows_read;
    expect(read).toBeGreaterThan(1000);
    expect(html).toContain(`>${read.toLocaleString('en-US')}<`);
    expect(html).not.toMatch(/(?<![.0-9])[0-9]{16}(?![0-9])/);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/)/);
  });

  it('shows the field quality of validate as a table naming its path, and its warnings when there are some', async () => {
    const fq = json.validate!.field_quality!;
    expect(fq.length).toBe(15);
    const section = html.split('<section id="field-quality">')[1].split('</section>')[0];
    expect(section).toContain('data-paths="{&quot;rows&quot;:&quot;validate.field_quality&quot;}"');
    expect(section.match(/<tr><td>/g)?.length).toBe(fq.length);
    const nik = fq.find((q) => q.source === 'dtks' && q.field === 'nik')!;
    expect(section).toContain(`<td class="num">${nik.rejected.toLocaleString('en-US')}</td><td class="num">${(nik.parse_rate! * 100).toFixed(2)}%</td>`);
    expect(section).toContain('No warning');
    const warned = structuredClone(json);
    warned.ingest = { missing_optional_columns: [{ source: 'dtks', file: 'dtks.csv', field: 'updated_at', column: 'TGL_UPDATE' }] };
    const page = await renderHtml(warned);
    expect(page.split('<section id="field-quality">')[1].split('</section>')[0]).toMatch(/<td>dtks<\/td><td>dtks\.csv<\/td><td>TGL_UPDATE<\/td><td>updated_at<\/td>/);
  });

  it('says "no conflict table" without one, and draws conflicts by type when the figure exists', async () => {
    expect(json.report.conflicts_by_type?.length).toBeGreaterThan(0);
    expect(html).not.toContain('no conflict table');
    const without = structuredClone(json);
    without.report.conflicts_by_type = null;
    const bare = await renderHtml(without);
    expect(bare).toContain('no conflict table');
    expect(figures(bare).map((f) => f.id)).not.toContain('conflicts_by_type');
    const withConflicts = structuredClone(json);
    withConflicts.report.conflicts_by_type = [
      { conflict_type: 'birth_date', conflicts: 1200, persons: 1100 },
      { conflict_type: 'sex', conflicts: 40, persons: 40 },
    ];
    const page = await renderHtml(withConflicts);
    expect(page).not.toContain('no conflict table');
    expect(figures(page).map((f) => f.id)).toContain('conflicts_by_type');
    expect(page).toContain('>1,200<');
  });
});

describe('figures of the report', () => {
  it('counts conflicts from the dtsen_conflict table, else from the survive figure', async () => {
    const db = await Db.open();
    try {
      expect(await conflictsByType(db, undefined)).toBeNull();
      expect(await conflictsByType(db, { conflicts_by_type: { sex: 2, birth_date: 5 } })).toEqual([
        { conflict_type: 'birth_date', conflicts: 5, persons: null },
        { conflict_type: 'sex', conflicts: 2, persons: null },
      ]);
      await db.run(`CREATE TABLE dtsen_conflict AS SELECT * FROM (VALUES ('a', 'sex'), ('a', 'name'), ('b', 'name'), ('b', 'name')) t(dtsen_id, conflict_type)`);
      expect(await conflictsByType(db, { conflicts_by_type: { sex: 2 } })).toEqual([
        { conflict_type: 'name', conflicts: 3, persons: 2 },
        { conflict_type: 'sex', conflicts: 1, persons: 1 },
      ]);
    } finally {
      db.close();
    }
  });

  it('histogram, coverage and provinces add up to the batch totals', () => {
    const r = json.report;
    expect(r.match_weight_histogram.reduce((a, b) => a + b.pairs, 0)).toBe(json.link!.scored_pairs);
    expect(r.threshold.match_weight).toBeCloseTo(Math.log2(0.99 / 0.01), 9);
    expect(r.provinces.reduce((a, p) => a + p.persons, 0)).toBe(json.survive!.persons);
    expect(r.provinces.reduce((a, p) => a + p.source_records, 0)).toBe(r.summary.rows_accepted);
    const overlap = json.survive!.source_overlap as { sources: string; persons: number }[];
    for (const c of r.source_coverage) expect(c.persons).toBe(overlap.filter((o) => o.sources.split('+').includes(c.source)).reduce((a, o) => a + o.persons, 0));
    expect(r.model_levels!.length).toBeGreaterThan(10);
  });

  it('precision and recall per province add up to the pairs of the whole batch', () => {
    const ev = json.evaluate as EvaluationFigures;
    const sum = (k: 'true_pairs' | 'predicted_pairs' | 'true_pairs_found' | 'predicted_pairs_true') => ev.by_province.reduce((a, p) => a + p[k], 0);
    expect(sum('true_pairs')).toBe(ev.true_pairs);
    expect(sum('predicted_pairs')).toBe(ev.predicted_pairs);
    expect(sum('true_pairs_found')).toBe(ev.true_positive_pairs);
    expect(sum('predicted_pairs_true')).toBe(ev.true_positive_pairs);
  });

  it('the match weights of true and false pairs count every scored pair once', () => {
    const ev = json.evaluate as EvaluationFigures;
    const total = ev.weight_histogram.reduce((a, b) => a + b.same_person + b.different_persons, 0);
    expect(total).toBe(json.link!.scored_pairs);
    expect(json.report.match_weight_histogram.reduce((a, b) => a + b.pairs, 0)).toBe(total);
    // true pairs mostly sit above the threshold, false ones below
    const above = ev.weight_histogram.filter((b) => b.bin_start >= json.report.threshold.match_weight);
    expect(above.reduce((a, b) => a + b.same_person, 0)).toBeGreaterThan(above.reduce((a, b) => a + b.different_persons, 0) * 50);
  });

  it('the threshold curve: recall falls and predictions shrink as the threshold rises; the threshold in use sits between grid points', () => {
    const c = (json.evaluate as EvaluationFigures).threshold_curve;
    expect(c.points.length).toBeGreaterThan(20);
    for (let i = 1; i < c.points.length; i++) {
      expect(c.points[i].match_weight - c.points[i - 1].match_weight).toBeCloseTo(c.step_bits, 9);
      expect(c.points[i].predicted_pairs).toBeLessThanOrEqual(c.points[i - 1].predicted_pairs);
      expect(c.points[i].recall).toBeLessThanOrEqual(c.points[i - 1].recall);
    }
    const below = c.points.filter((p) => p.match_weight <= c.at_threshold.match_weight).at(-1)!;
    const above = c.points.find((p) => p.match_weight > c.at_threshold.match_weight)!;
    expect(c.at_threshold.predicted_pairs).toBeLessThanOrEqual(below.predicted_pairs);
    expect(c.at_threshold.predicted_pairs).toBeGreaterThanOrEqual(above.predicted_pairs);
    // Nearly every pair linked at the threshold is a true pair on the sample.
    expect(c.at_threshold.precision).toBeGreaterThan(0.99);
  });
});

describe('report.html in a browser', () => {
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (make test does it)`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('renders every chart offline: SVG with marks and a size, no network request, no console error', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const url = pathToFileURL(join(dir, 'out', 'report.html')).href;
    const attempted: string[] = [];
    const errors: string[] = [];
    await page.route('**/*', (route) => (route.request().url() === url ? route.continue() : route.abort()));
    page.on('request', (req) => {
      if (req.url() !== url) attempted.push(req.url());
    });
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url, { waitUntil: 'load' });
    const charts = await page.$$eval('figure.chart', (figs) =>
      figs.map((f) => {
        const svg = f.querySelector('svg');
        const box = svg?.getBoundingClientRect();
        return { id: f.getAttribute('data-chart'), width: box?.width ?? 0, height: box?.height ?? 0, marks: svg?.querySelectorAll('g.role-mark > *').length ?? 0 };
      }),
    );
    expect(charts.map((c) => c.id).sort()).toEqual(figures(html).map((f) => f.id).sort());
    for (const c of charts) {
      expect(c.width, `${c.id} width`).toBeGreaterThan(100);
      expect(c.height, `${c.id} height`).toBeGreaterThan(50);
      expect(c.marks, `${c.id} marks`).toBeGreaterThan(0);
    }
    expect(await page.locator('section').count()).toBeGreaterThan(8);
    expect(attempted).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
