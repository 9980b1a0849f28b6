/**
 * Data-quality gates, missing optional columns and batch naming, through the command line: a copy of the sample
 * whose DTKS birth dates are rewritten as YYYY.MM.DD must fail validate and run; a lowered floor lets it pass with
 * a warning; a batch given by its input flags has no truth file and is named after its output folder.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../src/cli/main.ts';
import { compactShape } from '../src/stages/validate/quality.ts';
import { loadConfig } from '../src/engine/config.ts';
import { tempDir } from './fixtures/inputs.ts';

const SAMPLE = resolve('data-samples/sample');

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const chunks: string[] = [];
  const errs: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
    errs.push(String(c));
    return true;
  });
  try {
    const out = new Writable({ write(c, _e, cb) { chunks.push(String(c)); cb(); } });
    const code = await main(['node', 'dtsen', ...args, '--log-level', 'silent'], out);
    return { code, out: chunks.join(''), err: errs.join('') };
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

/** A config over the snapshots of `dir` with the shipped mappings. */
function config(dir: string, name: string, extra: Record<string, unknown> = {}): string {
  const mapping = (s: string) => resolve('pipelines/sources', `${s}.json`);
  const cfg = {
    batch: 'gates',
    snapshot_id: 'gates',
    snapshot_date: '2026-10-01',
    out: join(dir, 'out'),
    threads: 2,
    sources: {
      dtks: { path: join(dir, 'dtks.csv'), mapping: mapping('dtks') },
      regsosek: { path: join(dir, 'regsosek.parquet'), mapping: mapping('regsosek') },
      p3ke: { path: join(dir, 'p3ke.csv'), mapping: mapping('p3ke') },
    },
    ...extra,
  };
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(cfg, null, 2));
  return file;
}

/** The sample's DTKS with every DD-MM-YYYY and DD/MM/YYYY birth date rewritten as YYYY.MM.DD (the ISO ones kept). */
function rewriteDates(dtks: string): { text: string; rewritten: string[] } {
  const [header, ...rows] = dtks.split('\n');
  const col = header.split(';').indexOf('TGL_LAHIR');
  const rewritten: string[] = [];
  const out = rows.map((line) => {
    if (!line) return line;
    const f = line.split(';');
    const m = /^(\d{2})[-/](\d{2})[-/](\d{4})$/.exec(f[col]);
    if (m) {
      f[col] = `${m[3]}.${m[2]}.${m[1]}`;
      rewritten.push(f[col]);
    }
    return f.join(';');
  });
  return { text: [header, ...out].join('\n'), rewritten };
}

describe('data-quality gates', () => {
  let wrong: string;
  let rewritten: string[];

  beforeAll(() => {
    wrong = tempDir('dtsen-gates-');
    for (const f of ['regsosek.parquet', 'p3ke.csv']) copyFileSync(join(SAMPLE, f), join(wrong, f));
    const r = rewriteDates(readFileSync(join(SAMPLE, 'dtks.csv'), 'utf8'));
    writeFileSync(join(wrong, 'dtks.csv'), r.text);
    rewritten = r.rewritten;
  });

  it('the rewrite leaves most dates in the wrong format and a few ISO ones', () => {
    expect(rewritten.length).toBeGreaterThan(1000);
    expect(rewritten.every((d) => /^\d{4}\.\d{2}\.\d{2}$/.test(d))).toBe(true);
  });

  it('a wrong date format fails validate with exit 2, naming the file, the column and the expected formats, with shapes and not values', async () => {
    const r = await cli(['validate', '--config', config(wrong, 'batch.json')]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(join(wrong, 'dtks.csv'));
    expect(r.err).toContain('column TGL_LAHIR');
    expect(r.err).toMatch(/expected a date in one of the formats DD-MM-YYYY, DD\/MM\/YYYY, YYYY-MM-DD/);
    expect(r.err).toContain('date_formats in dtks.json');
    expect(r.err).toContain('quality_gates.min_parse_rate.birth_date');
    // 1,278 dates rewritten; one of their rows is quarantined (no NIK and no name), so 1,277 accepted values are rejected
    expect(rewritten).toHaveLength(1278);
    expect(r.err).toMatch(/only 9\.9% of the 1,417 birth dates given parse \(1,277 rejected\), below the floor 90%/);
    expect(r.err).toContain('found values shaped 9999.99.99 (1,277 rows)');
    // Shapes only: no birth date of the file, no digit other than the 9 of a shape or a count.
    for (const d of new Set(rewritten.slice(0, 200))) expect(r.err).not.toContain(d);
    expect(r.err.split('found values shaped')[1]).not.toMatch(/[0-8]{4}\.[0-9]{2}/);
  });

  it('fails run with exit 2 before anything is linked or published', async () => {
    const out = join(wrong, 'run-out');
    const r = await cli(['run', '--config', config(wrong, 'batch.json'), '--out', out]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('column TGL_LAHIR');
    expect(r.err).toMatch(/expected a date in one of the formats/);
    expect(existsSync(join(out, 'report.json'))).toBe(false);
    expect(existsSync(join(out, 'dtsen.duckdb'))).toBe(false);
  });

  it('a floor lowered in the config lets it pass, with a warning', async () => {
    const cfg = config(wrong, 'lowered.json', { quality_gates: { min_parse_rate: { birth_date: 0.05 } } });
    const r = await cli(['validate', '--config', cfg]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/dtks\s+birth_date\s+TGL_LAHIR\s+1,460\s+\S+\s+\S+\s+\S+\s+[0-9.]+%\s+5\.00%\s+warn/);
    expect(r.out).toMatch(/Warnings\n.*dtks dtks\.csv column TGL_LAHIR: [0-9.]+% of the [0-9,]+ birth dates given parse, below the default floor 90%; passed because quality_gates\.min_parse_rate\.birth_date is 5%/);
    expect(r.out).toContain('9999.99.99');
  });

  it('the sample passes every gate, and the counts add up to the accepted rows', async () => {
    const r = await cli(['validate', '--config', 'pipelines/sample.json']);
    expect(r.code, r.err).toBe(0);
    const table = r.out.split('Field quality')[1].split('\n\n')[0];
    const rows = table.split('\n').filter((l) => /^(dtks|regsosek|p3ke)\s/.test(l));
    expect(rows).toHaveLength(15); // dtks 6 fields, regsosek 5 (no family card), p3ke 4 (no family card, no relation)
    for (const row of rows) expect(row).toMatch(/\spass$/);
    expect(r.out).not.toContain('Warnings');
    for (const row of rows) {
      const [rowsN, parsed, missing, rejected] = row.split(/\s+/).slice(3, 7).map((x) => Number(x.replaceAll(',', '')));
      expect(parsed + missing + rejected).toBe(rowsN);
    }
    expect(r.out).toMatch(/dtks\s+nik\s+NIK\s+1,460\s+1,171\s+247\s+42\s+96\.54%/);
  });

  it('a mapped optional column missing from a file is a warning, not silent', async () => {
    const dir = tempDir('dtsen-gates-optional-');
    for (const f of ['regsosek.parquet', 'p3ke.csv']) copyFileSync(join(SAMPLE, f), join(dir, f));
    const lines = readFileSync(join(SAMPLE, 'dtks.csv'), 'utf8').split('\n');
    const col = lines[0].split(';').indexOf('TGL_UPDATE');
    writeFileSync(join(dir, 'dtks.csv'), lines.map((l) => (l ? l.split(';').filter((_, i) => i !== col).join(';') : l)).join('\n'));
    const r = await cli(['validate', '--config', config(dir, 'batch.json')]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`Warnings\n  ! dtks ${join(dir, 'dtks.csv')}: optional column TGL_UPDATE (field updated_at) is missing`);
  });

  it('shapes: digits → 9, letters → A, long runs with their length', () => {
    expect(compactShape('9999.99.99')).toBe('9999.99.99');
    expect(compactShape('9999999999999999')).toBe('9{16}');
    expect(compactShape('9.99999A+99')).toBe('9.9{5}A+99');
    expect(compactShape('AAAAAA AAA')).toBe('A{6} AAA');
  });
});

describe('naming a batch', () => {
  it('without --config and without the input flags: exit 2 with the usage', async () => {
    const r = await cli(['run']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/needs --config FILE, or the three snapshots --dtks PATH --regsosek PATH --p3ke PATH/);
    const v = await cli(['validate', '--dtks', join(SAMPLE, 'dtks.csv')]);
    expect(v.code).toBe(2);
    expect(v.err).toMatch(/--regsosek, --p3ke missing/);
  });

  it('run with the three input flags and no --config: named after the output folder, no truth file', async () => {
    const out = join(tempDir('dtsen-gates-flags-'), 'kab-ende_2026q4');
    const r = await cli(['run', '--dtks', join(SAMPLE, 'dtks.csv'), '--regsosek', join(SAMPLE, 'regsosek.parquet'), '--p3ke', join(SAMPLE, 'p3ke.csv'), '--out', out, '--threads', '2']);
    expect(r.code, r.err).toBe(0);
    const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { batch: string; snapshot_id: string; evaluate?: unknown; report: { summary: { precision: number | null } } };
    expect(json.batch).toBe(basename(out));
    expect(json.snapshot_id).toBe(basename(out));
    expect(json.evaluate).toBeUndefined();
    expect(json.report.summary.precision).toBeNull();
    expect(r.out).not.toContain('Quality against the truth file');
    expect(r.out).toContain('Field quality');
  });

  it('--batch names it instead, and an invalid name is a config error', async () => {
    const flags = ['--dtks', join(SAMPLE, 'dtks.csv'), '--regsosek', join(SAMPLE, 'regsosek.parquet'), '--p3ke', join(SAMPLE, 'p3ke.csv')];
    const bad = await cli(['validate', ...flags, '--batch', 'no spaces']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/batch: batch must be letters, digits/);
    const ok = await cli(['validate', ...flags, '--batch', 'ende-2026q4']);
    expect(ok.code, ok.err).toBe(0);
    const loaded = await loadConfig(undefined, { batch: 'ende-2026q4', out: 'elsewhere', sourcePaths: { dtks: join(SAMPLE, 'dtks.csv'), regsosek: join(SAMPLE, 'regsosek.parquet'), p3ke: join(SAMPLE, 'p3ke.csv') } });
    expect(loaded.config.batch).toBe('ende-2026q4');
    expect(loaded.truthPath).toBeUndefined();
    expect(loaded.outDir).toBe(resolve('elsewhere'));
    expect(loaded.sources.map((s) => s.mappingPath)).toEqual(['dtks', 'regsosek', 'p3ke'].map((s) => resolve('pipelines/sources', `${s}.json`)));
  });
});
