import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateMonths, type MonthFigures } from '../../src/generate/months.ts';
import { loadConfig } from '../../src/engine/config.ts';
import { silentLogger } from '../../src/engine/log.ts';
import { Db, lit } from '../../src/engine/db.ts';
import { runBatch } from '../../src/pipeline.ts';
import { openBatch } from '../../src/engine/batch.ts';
import { resolveIds } from '../../src/register/resolve.ts';
import type { RegisterFigures } from '../../src/register/index.ts';
import { tempDir, writeConfig } from '../fixtures/inputs.ts';

// Month after month into one output folder, each batch continuing the one published there (--previous = --out).
describe('a register kept month after month in one folder', () => {
  let dir: string;
  let months: MonthFigures[];
  const links: Record<string, string>[] = [];
  const figures: RegisterFigures[] = [];

  beforeAll(async () => {
    dir = tempDir('dtsen-series-');
    months = await generateMonths({ persons: 3000, seed: 9, months: 3, out: join(dir, 'pop') });
    const out = join(dir, 'register');
    const db = await Db.open();
    for (const m of months) {
      const cfg = writeConfig(dir, { dtks: join(m.folder, 'dtks.csv'), regsosek: join(m.folder, 'regsosek.parquet'), p3ke: join(m.folder, 'p3ke.csv') },
        { out, snapshot_id: `month-${m.month}`, linkage: { engine: 'exact' }, ...(m.month > 1 ? { previous: out } : {}) });
      const r = await runBatch(await loadConfig(cfg), { log: silentLogger() });
      figures.push(r.figures.register as RegisterFigures);
      const rows = await db.all<{ k: string; id: string }>(`SELECT source || ':' || source_record_id AS k, dtsen_id AS id FROM read_parquet(${lit(join(out, 'dtsen_link.parquet'))})`);
      links.push(Object.fromEntries(rows.map((r) => [r.k, r.id])));
    }
    await db.close();
  }, 300_000);

  it('numbers its batches and names the previous one', () => {
    expect(figures.map((f) => f.batch_seq)).toEqual([1, 2, 3]);
    expect(figures[0].previous).toBeNull();
    expect(figures[1].previous).toMatch(/\.register\.batches/);
  });

  it('keeps the id of a record that stays, for nearly every record', () => {
    for (const m of [1, 2]) {
      let both = 0;
      let same = 0;
      for (const [k, id] of Object.entries(links[m])) {
        if (!(k in links[m - 1])) continue;
        both++;
        if (links[m - 1][k] === id) same++;
      }
      expect(same / both).toBeGreaterThan(0.995);
    }
  });

  it('counts new and inactive persons close to the truth', () => {
    for (const m of [1, 2]) {
      const truth = months[m];
      expect(Math.abs(figures[m].persons.new - truth.new_persons)).toBeLessThanOrEqual(Math.max(3, truth.new_persons * 0.1));
      expect(Math.abs(figures[m].persons.inactive - truth.gone_persons)).toBeLessThanOrEqual(Math.max(3, truth.gone_persons * 0.1));
    }
  });

  it('resolves every id ever issued', async () => {
    const batch = await openBatch(join(dir, 'register'));
    try {
      const ids = (await batch.db.all<{ id: string }>(`SELECT id FROM dtsen_id_history`)).map((r) => r.id);
      expect(ids.length).toBeGreaterThan(Object.keys(links[0]).length / 2);
      const rows = await resolveIds(batch.db, ids);
      expect(rows.filter((r) => !r.known || r.now.length + r.inactive.length === 0)).toEqual([]);
      expect(await batch.db.count(`SELECT max(batch_seq) FROM dtsen_register_batch`)).toBe(3);
    } finally {
      await batch.close();
    }
    expect(readFileSync(join(dir, 'register', 'report.html'), 'utf8')).toContain('Changes since the previous batch');
  });
});
