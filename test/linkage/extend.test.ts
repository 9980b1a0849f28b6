/**
 * A comparison and a blocking rule are added by touching one file each: here the two declaration modules are
 * extended (as an edit of src/linkage/comparisons.ts and blocking-rules.ts would), and the batch trains, scores,
 * explains and reports the new ones with no other change.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Comparison } from '../../src/linkage/comparisons.ts';
import type { BlockingRule } from '../../src/linkage/blocking-rules.ts';

const REGISTRATION: Comparison = {
  name: 'nik_region',
  description: 'region of NIK registration',
  isNull: 'l.nik_region IS NULL OR r.nik_region IS NULL',
  columns: ['nik_region'],
  trainedBy: ['phonetic_village'],
  levels: [
    { label: 'same regency of registration', when: 'l.nik_region = r.nik_region', m: 0.7 },
    { label: 'same province of registration', when: 'left(l.nik_region, 2) = left(r.nik_region, 2)', m: 0.2 },
    { label: 'different', when: 'TRUE', m: 0.1 },
  ],
};

const NAME_KK: BlockingRule = {
  name: 'name_family_card',
  description: 'same normalised full name on the same family card',
  keys: `CASE WHEN p.kk_valid AND p.name_norm IS NOT NULL THEN [p.no_kk || ':' || p.name_norm] END`,
};

vi.mock('../../src/linkage/comparisons.ts', async (original) => {
  const m = await original<typeof import('../../src/linkage/comparisons.ts')>();
  return { ...m, COMPARISONS: [...m.COMPARISONS, REGISTRATION] };
});
vi.mock('../../src/linkage/blocking-rules.ts', async (original) => {
  const m = await original<typeof import('../../src/linkage/blocking-rules.ts')>();
  return { ...m, BLOCKING_RULES: [...m.BLOCKING_RULES, NAME_KK] };
});

const { loadConfig } = await import('../../src/engine/config.ts');
const { silentLogger } = await import('../../src/engine/log.ts');
const { runBatch } = await import('../../src/pipeline.ts');
const { batchModel, openBatch } = await import('../../src/explain/batch.ts');
const { scorePairsOf } = await import('../../src/explain/pair.ts');
const { tempDir, writeConfig } = await import('../fixtures/inputs.ts');

const SAMPLE = resolve('data-samples/sample');
let out: string;

beforeAll(async () => {
  const dir = tempDir('dtsen-extend-');
  out = join(dir, 'out');
  const cfg = writeConfig(dir, { dtks: join(SAMPLE, 'dtks.csv'), regsosek: join(SAMPLE, 'regsosek.parquet'), p3ke: join(SAMPLE, 'p3ke.csv') }, { out });
  await runBatch(await loadConfig(cfg), { log: silentLogger() });
}, 120_000);

describe('a comparison and a blocking rule added in their declaration files', () => {
  it('are trained: the model holds the comparison with m learnt in its session', () => {
    const model = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
    const c = model.comparisons.find((x: { name: string }) => x.name === 'nik_region');
    expect(c.levels.map((l: { label: string }) => l.label)).toEqual(REGISTRATION.levels.map((l) => l.label));
    expect(c.levels[0].m).not.toBe(REGISTRATION.levels[0].m);
    expect(model.training.sessions.find((s: { rule: string }) => s.rule === 'phonetic_village')).toBeTruthy();
  });

  it('are scored and reported: gamma and weight columns, the rule in the blocking figures, the levels in the report', async () => {
    const batch = await openBatch(out);
    try {
      const cols = (await batch.db.all<{ column_name: string }>(`DESCRIBE scored_pairs`)).map((c) => c.column_name);
      expect(cols).toEqual(expect.arrayContaining(['gamma_nik_region', 'bf_nik_region']));
      expect(await batch.db.count(`SELECT count(*) FROM scored_pairs WHERE gamma_nik_region = 0`)).toBeGreaterThan(0);
      const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
      expect(report.link.blocking.rules.map((r: { rule: string }) => r.rule)).toContain('name_family_card');
      expect(report.report.model_levels.some((l: { comparison: string }) => l.comparison === 'nik_region')).toBe(true);
      expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('same regency of registration');

      // explained: the pair's terms hold the new comparison, agreeing with the stored weight
      const pair = await batch.db.one<{ l: string; r: string; w: number }>(`SELECT rec_id_l::VARCHAR AS l, rec_id_r::VARCHAR AS r, match_weight AS w FROM scored_pairs ORDER BY match_weight DESC, rec_id_l LIMIT 1`);
      const [explained] = await scorePairsOf(batch, await batchModel(batch), [[pair!.l, pair!.r]]);
      expect(explained.comparisons.map((t) => t.comparison)).toContain('nik_region');
      expect(explained.stored?.differing).toEqual([]);
      expect(explained.match_weight).toBeCloseTo(pair!.w, 9);
    } finally {
      await batch.close();
    }
  });
});
