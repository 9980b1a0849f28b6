/**
 * The probabilistic linker on the committed 3,000-person sample: the quality floor, the figures that explain it,
 * and the commands that print them. The full targets are measured by `make bench` on a million persons.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { Writable } from 'node:stream';
import { join, resolve } from 'node:path';
import { loadConfig } from '../src/engine/config.ts';
import { silentLogger } from '../src/engine/log.ts';
import { runBatch, type BatchResult } from '../src/pipeline.ts';
import { main } from '../src/cli/main.ts';
import type { EvaluationFigures } from '../src/stages/evaluate/index.ts';
import { FAMILY_RULE } from '../src/linkage/family-context.ts';
import { BLOCKING_RULES } from '../src/linkage/blocking-rules.ts';
import { tempDir, writeConfig } from './fixtures/inputs.ts';
import { Db, lit } from '../src/engine/db.ts';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Model } from '../schemas/model.ts';
import { MIN_CONDITIONAL_PAIRS } from '../src/linkage/conditional-u.ts';

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const chunks: string[] = [];
  const errors: string[] = [];
  const stream = new Writable({ write(c, _e, cb) { chunks.push(String(c)); cb(); } });
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((c) => (errors.push(String(c)), true));
  try {
    const code = await main(['node', 'dtsen', ...args], stream);
    return { code, out: chunks.join(''), err: errors.join('') };
  } finally {
    stderr.mockRestore();
  }
}

describe('probabilistic linkage on the sample population', () => {
  let out: string;
  let cfgPath: string;
  let result: BatchResult;
  let ev: EvaluationFigures;
  const sample = resolve('data-samples/sample');

  beforeAll(async () => {
    const dir = tempDir('dtsen-quality-');
    out = join(dir, 'out');
    const cfg = writeConfig(
      dir,
      { dtks: join(sample, 'dtks.csv'), regsosek: join(sample, 'regsosek.parquet'), p3ke: join(sample, 'p3ke.csv') },
      { out, truth: join(sample, 'truth.csv'), linkage: { engine: 'probabilistic' } },
    );
    cfgPath = cfg;
    result = await runBatch(await loadConfig(cfg), { log: silentLogger() });
    ev = result.figures.evaluate as EvaluationFigures;
  }, 120_000);

  it('meets the quality floor, far above the exact-NIK baseline', () => {
    expect(ev.precision).toBeGreaterThanOrEqual(0.995);
    expect(ev.recall).toBeGreaterThanOrEqual(0.97);
    expect(ev.f1).toBeGreaterThan(ev.baseline.f1 + 0.1);
  });

  it('accounts for every lost true pair, and every rule finds some true pairs', () => {
    const lost = ev.true_pairs - ev.true_positive_pairs;
    expect(Object.values(ev.false_negatives).reduce((a, b) => a + b, 0)).toBe(lost);
    // the rules, then the family context's pairs of linked families (candidates of their own)
    expect(ev.blocking.by_rule.map((r) => r.rule)).toEqual([...BLOCKING_RULES.map((r) => r.name), FAMILY_RULE.name]);
    for (const r of ev.blocking.by_rule) expect(r.true_pairs_found).toBeGreaterThan(0);
    expect(ev.blocking.recall).toBeGreaterThan(0.98);
    expect(ev.blocking.found_by_any_rule).toBeGreaterThanOrEqual(Math.max(...ev.blocking.by_rule.map((r) => r.true_pairs_found)));
  });

  it('dtsen blocking prints pairs per rule, the largest blocks and the share of true pairs', async () => {
    const r = await cli(['blocking', '--out', out]);
    expect(r.code).toBe(0);
    for (const rule of BLOCKING_RULES) expect(r.out).toMatch(new RegExp(`^${rule.name}\\s+[0-9,]+`, 'm'));
    expect(r.out).toMatch(/Largest blocks/);
    expect(r.out).toMatch(/true pairs found by any rule: \d+\.\d+%/);
    expect(r.out).not.toMatch(/(?<![.0-9])[0-9]{16}(?![0-9])/);
  });

  it('dtsen evaluate prints the figures and the false-negative breakdown; 2 for a folder without a batch', async () => {
    const r = await cli(['evaluate', '--truth', join(sample, 'truth.csv'), '--out', out]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/exact-NIK baseline/);
    expect(r.out).toMatch(/never_candidate\s+\d+/);
    expect(r.out).toMatch(/scored_below_threshold\s+\d+/);
    expect((await cli(['blocking', '--out', tempDir()])).code).toBe(2);
  });

  it('a batch given the saved model (--model) skips training and scores every pair the same', async () => {
    const dir = tempDir('dtsen-model-');
    const again = join(dir, 'out');
    // the same config (the family context's seed threshold is the batch's threshold), the saved model
    const r = await cli(['run', '--log-level', 'silent', '--config', cfgPath, '--out', again, '--model', join(out, 'model.json')]);
    expect(r.code).toBe(0);
    const db = await Db.open();
    try {
      await db.run(`ATTACH ${lit(join(out, 'dtsen.duckdb'))} AS a (READ_ONLY); ATTACH ${lit(join(again, 'dtsen.duckdb'))} AS b (READ_ONLY)`);
      const info = await db.one<{ source: string }>(`SELECT json_extract_string(figures, '$.link.model_source') AS source FROM b.batch_info`);
      expect(info!.source).toBe('given');
      expect(await db.count(`SELECT count(*) FROM b.scored_pairs`)).toBe(await db.count(`SELECT count(*) FROM a.scored_pairs`));
      const differ = await db.count(`SELECT count(*) FROM a.scored_pairs x FULL JOIN b.scored_pairs y USING (rec_id_l, rec_id_r)
        WHERE x.match_weight IS DISTINCT FROM y.match_weight`);
      expect(differ).toBe(0);
    } finally {
      db.close();
    }
    expect((await cli(['run', '--log-level', 'silent', '--config', 'pipelines/sample.json', '--out', join(dir, 'bad'), '--model', join(dir, 'none.json')])).code).toBe(2);
    // A model of other comparisons (here one level's SQL changed) is refused before the batch starts.
    const saved = Model.parse(JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')));
    saved.comparisons[1].levels[2].sql_fingerprint = '0123456789abcdef';
    writeFileSync(join(dir, 'other.json'), JSON.stringify(saved));
    const other = await cli(['run', '--log-level', 'silent', '--config', 'pipelines/sample.json', '--out', join(dir, 'other'), '--model', join(dir, 'other.json')]);
    expect(other.code).toBe(2);
    expect(other.err).toContain(`the SQL of level '${saved.comparisons[1].levels[2].label}' of comparison '${saved.comparisons[1].name}' differs`);
    expect(existsSync(join(dir, '.other.batches'))).toBe(false);
  }, 120_000);

  it('the model carries conditional u: a distribution per entry, the shared NIK at its plain u, twins making a shared birth date commoner at home', () => {
    const model = Model.parse(JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')));
    expect(model.conditional_u.length).toBeGreaterThan(3);
    const plain = (c: string, label: string) => model.comparisons.find((x) => x.name === c)!.levels.find((l) => l.label === label)!.u;
    for (const e of model.conditional_u) {
      expect(e.u.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
      expect(e.pairs).toBeGreaterThanOrEqual(MIN_CONDITIONAL_PAIRS);
      // a relative's NIK is measured between persons of one household born on days known to differ; elsewhere a shared NIK keeps its plain u
      if (e.comparison === 'nik' && !e.description.includes('born on days known to differ')) expect(e.u[0]).toBe(plain('nik', 'exact'));
    }
    for (const s of model.training!.conditional_u_skipped) expect(s.pairs).toBeLessThan(MIN_CONDITIONAL_PAIRS);
    const home = model.conditional_u.find((e) => e.comparison === 'birth_date' && e.given.length === 1 && e.given[0].levels.length === 3)!;
    expect(home.u[0]).toBeGreaterThan(2 * plain('birth_date', 'exact'));
  });
});
