import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { loadConfig } from '../../src/engine/config.ts';
import { silentLogger } from '../../src/engine/log.ts';
import { Db } from '../../src/engine/db.ts';
import { runBatch } from '../../src/pipeline.ts';
import * as vega from 'vega';
import { CHARTS, LAYOUTS, NARROW_MAX_WIDTH, at, chartById, hasData, renderChart, textWidth, type Layout } from '../../src/stages/report/charts.ts';
import { conflictsByType } from '../../src/stages/report/figures.ts';
import type { ReportJson } from '../../src/stages/report/index.ts';
import { renderHtml } from '../../src/stages/report/render.ts';
import type { EvaluationFigures } from '../../src/stages/evaluate/index.ts';
import { tempDir } from '../fixtures/inputs.ts';
import { modelWarnings } from '../../src/stages/report/review.ts';
import { explainCommand } from '../../src/stages/report/sections.ts';
import { packageVersion } from '../../src/engine/package.ts';
import { main } from '../../src/cli/main.ts';
import type { ModelLevel } from '../../src/stages/report/figures.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The charts of a report.html: id, the JSON paths of their data, and the inline SVG of each layout drawn (the wide one as `svg`). */
function figures(html: string): { id: string; paths: Record<string, string>; svg: string; layouts: Partial<Record<Layout, string>> }[] {
  const re = /<figure class="chart" data-chart="([^"]+)" data-paths="([^"]+)">([\s\S]*?)<\/figure>/g;
  return [...html.matchAll(re)].map((m) => {
    const layouts = Object.fromEntries([...m[3].matchAll(/<svg [^>]*class="marks (wide|narrow)"[\s\S]*?<\/svg>/g)].map((s) => [s[1], s[0]])) as Partial<Record<Layout, string>>;
    return { id: m[1], paths: JSON.parse(m[2].replaceAll('&quot;', '"')) as Record<string, string>, svg: layouts.wide!, layouts };
  });
}

/** The width an SVG of a chart is drawn at, at its own size. */
const svgWidth = (svg: string) => Number(/^<svg [^>]*?\bwidth="([\d.]+)"/.exec(svg)?.[1]);

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
    expect(shown.map((f) => f.id)).toContain('family_sizes');
    for (const f of shown) {
      expect(f.paths).toEqual(chartById(f.id).data);
      for (const path of Object.values(f.paths)) {
        const v = at(json, path);
        expect(v, `${f.id}: ${path}`).toBeTruthy();
        expect(Array.isArray(v) ? v.length : Object.keys(v as object).length, `${f.id}: ${path}`).toBeGreaterThan(0);
      }
      for (const layout of LAYOUTS) {
        if (!f.layouts[layout]) continue;
        const again = await renderChart(chartById(f.id), json, layout);
        expect(again.svg, `${f.id} ${layout}`).toBe(f.layouts[layout]);
        expect(again.width, `${f.id} ${layout}`).toBe(svgWidth(again.svg));
        expect(again.warnings, `${f.id} ${layout}`).toEqual([]);
      }
    }
  });

  it('draws a chart wider than a phone leaves room for also in a narrow layout, swapped in by its figure\'s width', () => {
    const shown = figures(html);
    for (const f of shown) {
      const wide = svgWidth(f.svg);
      expect(wide, f.id).toBeGreaterThan(0);
      const rule = `@container (width < ${wide}px){figure[data-chart="${f.id}"] svg.wide{display:none}figure[data-chart="${f.id}"] svg.narrow{display:block}}`;
      if (wide > NARROW_MAX_WIDTH) {
        expect(f.layouts.narrow, `${f.id} has a narrow layout`).toBeDefined();
        expect(svgWidth(f.layouts.narrow!), `${f.id} narrow width`).toBeLessThanOrEqual(NARROW_MAX_WIDTH);
        expect(html.includes(rule), `${f.id}: the page swaps its layouts`).toBe(true);
      } else {
        expect(f.layouts.narrow, `${f.id} is narrow enough as it is`).toBeUndefined();
        expect(html.includes(rule), `${f.id}: no rule`).toBe(false);
      }
    }
    // the sample's wide charts (640 px plots) all need one
    expect(shown.filter((f) => f.layouts.narrow).length).toBeGreaterThanOrEqual(10);
  });

  it('breaks a long label into lines on a phone instead of cutting it', async () => {
    const narrow = await renderChart(chartById('model_levels'), json, 'narrow');
    // "birth_date · a conventional date, within two years", each of its words drawn whole
    const level = json.report.model_levels!.find((l) => l.level.startsWith('a conventional date'))!;
    const lines = [...narrow.svg.matchAll(/<text [^>]*>(<tspan[\s\S]*?)<\/text>/g)].map((m) => [...m[1].matchAll(/<tspan[^>]*>([^<]*)<\/tspan>/g)].map((t) => t[1]));
    const label = lines.find((l) => l.join(' ') === `${level.comparison} · ${level.level}`);
    expect(label, 'the label in lines').toBeDefined();
    expect(label!.length).toBeGreaterThan(1);
    for (const line of label!) expect(textWidth(line, 11)).toBeLessThanOrEqual(140 + 1);
    expect(narrow.svg).not.toContain('…');
  });

  it('sets vega\'s text widths only when asked to, and asking again changes nothing', async () => {
    const metrics = (vega as unknown as { textMetrics: { width: (item: object, text: unknown) => number } }).textMetrics;
    const before = metrics.width;
    const sentinel = () => 1;
    try {
      metrics.width = sentinel;
      vi.resetModules();
      const fresh = (await import('../../src/stages/report/charts.ts')) as typeof import('../../src/stages/report/charts.ts');
      expect(metrics.width, 'importing the module leaves vega alone').toBe(sentinel);
      fresh.useTextWidths();
      const installed = metrics.width;
      expect(installed).not.toBe(sentinel);
      expect(installed({ fontSize: 10 }, 'regsosek')).toBeCloseTo(textWidth('regsosek', 10), 9);
      fresh.useTextWidths();
      expect(metrics.width).toBe(installed);
      // a chart drawn with the fresh module is the one on the page
      expect((await fresh.renderChart(fresh.chartById('input_rows'), json)).svg).toBe(figures(html).find((f) => f.id === 'input_rows')!.svg);
    } finally {
      metrics.width = before;
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

/** The body of a section of the page. */
const section = (page: string, id: string) => {
  const parts = page.split(`<section id="${id}">`);
  expect(parts.length, `section ${id}`).toBe(2);
  return parts[1].split('</section>')[0];
};

describe('the sections a reader needs beyond the stages\' figures', () => {
  it('the run: version, start, duration, every input file with its size and SHA-256, the config', () => {
    const run = json.run!;
    expect(run.version).toBe(packageVersion());
    expect(Date.parse(run.finished_at) - Date.parse(run.started_at)).toBeCloseTo(run.duration_seconds * 1000, -3);
    expect(run.duration_seconds).toBeGreaterThan(0);
    expect(run.inputs.map((f) => f.role)).toEqual(['dtks', 'dtks mapping', 'regsosek', 'regsosek mapping', 'p3ke', 'p3ke mapping', 'truth']);
    for (const f of run.inputs) {
      const bytes = readFileSync(f.path);
      expect(f.bytes, f.path).toBe(bytes.length);
      expect(f.sha256, f.path).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
    expect(run.config.batch).toBe('sample');
    const body = section(html, 'run');
    expect(body).toContain(`>${run.version}<`);
    // the checksum is shown whole, breakable every 8 characters on a narrow screen
    expect(body.replaceAll('<wbr>', '')).toContain(run.inputs[0].sha256);
    expect(body).toContain(`>${run.inputs[0].bytes.toLocaleString('en-US')}<`);
    expect(body).toContain('&quot;snapshot_id&quot;: &quot;sample-2026Q4&quot;');
  });

  it('families, splits, completeness per field and the largest blocks are on the page, from report.json', () => {
    const s = json.survive as unknown as { families: number; largest_family: number };
    const fam = section(html, 'families');
    expect(fam).toContain(`>${s.families.toLocaleString('en-US')}<`);
    expect(fam).toContain(`<div class="value">${s.largest_family}</div>`);
    const c = (json.cluster as unknown as { conflicts: { split: number; records_moved: number; clusters_checked: number } }).conflicts;
    const splits = section(html, 'splits');
    expect(splits).toContain(`<div class="value">${c.clusters_checked.toLocaleString('en-US')}</div><div class="label">clusters checked</div>`);
    expect(splits).toContain(`<div class="value">${c.split}</div><div class="label">clusters split</div>`);
    const fq = json.validate!.field_quality!.find((q) => q.source === 'regsosek' && q.field === 'birth_date')!;
    const comp = section(html, 'completeness');
    expect(comp).toMatch(new RegExp(`<td>birth_date</td>(<td class="num">[^<]*</td>)*<td class="num">${((fq.parsed / fq.rows) * 100).toFixed(2)}%</td>`));
    const largest = (json.link!.blocking as unknown as { largest_blocks: { rule: string; records: number; key_hash: string }[] }).largest_blocks;
    const blocks = section(html, 'blocks');
    expect(blocks.match(/<tr><td>/g)?.length).toBe(largest.length);
    expect(blocks).toContain(`<td>${largest[0].rule}</td><td class="num">${largest[0].records}</td>`);
  });

  it('borderline pairs: the scored pairs nearest the threshold on each side, each with an explain command that runs', async () => {
    const pairs = json.review!.borderline_pairs;
    const t = json.report.threshold;
    const above = pairs.filter((p) => p.side === 'above');
    const below = pairs.filter((p) => p.side === 'below');
    expect(above.length).toBe(10);
    expect(below.length).toBe(10);
    for (const p of above) expect(p.match_probability).toBeGreaterThanOrEqual(t.match_probability);
    for (const p of below) expect(p.match_probability).toBeLessThan(t.match_probability);
    // nothing lies nearer the threshold than the pairs chosen
    const db = await Db.open({ path: join(dir, 'out', 'dtsen.duckdb'), readOnly: true });
    try {
      const maxAbove = Math.max(...above.map((p) => p.match_weight));
      const minBelow = Math.min(...below.map((p) => p.match_weight));
      const n = (where: string) => db.count(`SELECT count(*) FROM scored_pairs WHERE NOT coalesce(hard_negative, false) AND ${where}`);
      expect(await n(`match_probability >= ${t.match_probability} AND match_weight < ${maxAbove}`)).toBeLessThan(10);
      expect(await n(`match_probability < ${t.match_probability} AND match_weight > ${minBelow}`)).toBeLessThan(10);
    } finally {
      db.close();
    }
    const body = section(html, 'borderline');
    expect(body.match(/<tr class="pair"><td>/g)?.length).toBe(pairs.length);
    expect(body.match(/<tr class="command"><td colspan="5" class="code"><code>dtsen explain --out /g)?.length).toBe(pairs.length);
    const command = explainCommand(json.run!.out, below[0].left, below[0].right);
    expect(body.replaceAll('<wbr>', '')).toContain(command);
    // the command, as printed, explains that pair
    let printed = '';
    const out = new Writable({ write(chunk, _e, cb) { printed += String(chunk); cb(); } });
    const args = command.split(' ').slice(1);
    expect(await main(['node', 'dtsen', ...args], out)).toBe(0);
    expect(printed).toContain(`Pair ${below[0].left} ~ ${below[0].right}`);
    expect(printed).toMatch(/threshold .*: under/);
  });

  it('model warnings: a level harsher than "different", one above the closest agreement, m ≈ u; named on the page', () => {
    const level = (comparison: string, level: string, order: number, m: number, u: number): ModelLevel => ({ comparison, level, order, m, u, match_weight: Math.log2(m / u) });
    const levels = [
      level('name', 'exact', 0, 0.9, 0.003),
      level('name', 'initials agree', 1, 1e-9, 0.0005),
      level('name', 'a token shared', 2, 0.01, 0.0101),
      level('name', 'different', 3, 0.0001, 0.97),
      level('date', 'exact', 4, 0.9, 0.01),
      level('date', 'year apart', 5, 0.05, 0.0001),
      level('date', 'different', 6, 0.05, 0.99),
    ];
    const w = modelWarnings(levels);
    expect(w.map((x) => [x.comparison, x.level, x.kind])).toEqual([
      ['name', 'initials agree', 'order'],
      ['name', 'a token shared', 'm_equals_u'],
      ['date', 'year apart', 'order'],
    ]);
    expect(w[0].message).toContain('less than "different"');
    expect(modelWarnings(levels.filter((l) => l.level !== 'initials agree' && l.level !== 'year apart' && l.level !== 'a token shared'))).toEqual([]);
    // the sample's own warnings are listed on the page
    const body = section(html, 'model-warnings');
    expect(json.review!.model_warnings).toEqual(modelWarnings(json.report.model_levels));
    for (const x of json.review!.model_warnings) expect(body).toContain(`<td>${x.level.replaceAll('&', '&amp;')}</td>`);
  });

  it('the wrong links are told apart from the pairs of the persons built (the split ones)', () => {
    const ev = json.evaluate as EvaluationFigures;
    const body = section(html, 'quality');
    expect(body).toContain('wrong links (scored, before splits)');
    const left = ev.predicted_pairs - ev.true_positive_pairs;
    expect(body).toContain(`${left.toLocaleString('en-US')} pair${left === 1 ? '' : 's'} of different persons`);
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

  it.each([360, 768, 1280])('at %i px wide: no sideways scroll, nothing overflows, every chart drawn whole and at a readable size (screenshot kept)', async (width) => {
    const page = await browser.newPage({ viewport: { width, height: 800 } });
    await page.goto(pathToFileURL(join(dir, 'out', 'report.html')).href, { waitUntil: 'load' });
    const layout = await page.evaluate(() => {
      const shown = (e: Element) => e.getBoundingClientRect().width > 0;
      /** true when an ancestor of `e` scrolls sideways (a table's box, the config's <pre>): it may be wider than the page */
      const inScroller = (e: Element) => {
        for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) if (['auto', 'scroll'].includes(getComputedStyle(p).overflowX)) return true;
        return false;
      };
      return {
        scrollWidth: document.documentElement.scrollWidth,
        overflowing: [...document.body.querySelectorAll('*')]
          .filter((e) => shown(e) && !inScroller(e) && !e.closest('svg') && e.getBoundingClientRect().right > window.innerWidth + 0.5)
          .map((e) => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`),
        scrollers: [...document.querySelectorAll('.table-wrap, pre')].filter(shown).map((e) => e.getBoundingClientRect().right),
        charts: [...document.querySelectorAll('figure.chart')].map((f) => {
          const visible = [...f.querySelectorAll('svg')].filter(shown);
          const svg = visible[0];
          const fb = f.getBoundingClientRect();
          const sb = svg.getBoundingClientRect();
          const vb = svg.viewBox.baseVal;
          const scale = sb.width / svg.width.baseVal.value;
          // the smallest text of the chart as drawn: its font size times the scale the SVG is drawn at
          const font = Math.min(...[...svg.querySelectorAll('text')].map((t) => parseFloat(getComputedStyle(t).fontSize))) * scale;
          return {
            id: f.getAttribute('data-chart'),
            visible: visible.length,
            layout: svg.classList.contains('narrow') ? 'narrow' : 'wide',
            figLeft: fb.left,
            figRight: fb.right,
            left: sb.left,
            right: sb.right,
            width: sb.width,
            height: sb.height,
            ratio: vb.width / vb.height,
            scale,
            font,
            scrollWidth: f.scrollWidth,
            clientWidth: f.clientWidth,
          };
        }),
      };
    });
    expect(layout.scrollWidth, 'page width').toBeLessThanOrEqual(width);
    expect(layout.overflowing, 'elements past the right edge').toEqual([]);
    for (const right of layout.scrollers) expect(right, 'a table box inside the window').toBeLessThanOrEqual(width + 0.5);
    expect(layout.charts.length).toBe(CHARTS.length);
    for (const c of layout.charts) {
      expect(c.visible, `${c.id}: one layout shown`).toBe(1);
      expect(c.right, `${c.id} right edge`).toBeLessThanOrEqual(c.figRight + 0.5);
      expect(c.left, `${c.id} left edge`).toBeGreaterThanOrEqual(c.figLeft - 0.5);
      expect(c.right, `${c.id} inside the window`).toBeLessThanOrEqual(width);
      expect(c.scrollWidth, `${c.id} overflow`).toBeLessThanOrEqual(c.clientWidth + 1);
      // scaled whole, not cropped: the drawn box keeps the SVG's own proportions
      expect(c.width / c.height, `${c.id} proportions`).toBeCloseTo(c.ratio, 1);
      // and hardly scaled at all: its text stays readable
      expect(c.scale, `${c.id} (${c.layout}) drawn at ${(c.scale * 100).toFixed(0)}% of its size`).toBeGreaterThanOrEqual(0.9);
      expect(c.font, `${c.id} (${c.layout}) smallest text`).toBeGreaterThanOrEqual(9);
    }
    // a phone shows the narrow layouts, a wide screen the wide ones
    if (width === 360) expect(layout.charts.filter((c) => c.layout === 'narrow').length).toBe(figures(html).filter((f) => f.layouts.narrow).length);
    if (width === 1280) expect(layout.charts.every((c) => c.layout === 'wide')).toBe(true);
    const shots = process.env.DTSEN_REPORT_SCREENSHOTS ?? join(dir, 'screenshots');
    mkdirSync(shots, { recursive: true });
    const file = join(shots, `report-${width}.png`);
    await page.screenshot({ path: file, fullPage: true });
    expect(readFileSync(file).length).toBeGreaterThan(10_000);
    await page.close();
  });
});
