import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from '../../src/generate/index.ts';
import { loadConfig } from '../../src/engine/config.ts';
import { silentLogger } from '../../src/engine/log.ts';
import { Db, lit } from '../../src/engine/db.ts';
import { runBatch, type BatchResult } from '../../src/pipeline.ts';
import { appendDecision, readDecisions } from '../../src/register/decisions.ts';
import { InputError } from '../../src/engine/errors.ts';
import { tempDir, writeConfig } from '../fixtures/inputs.ts';

const common = { author: 'operator desa', reason: 'groundcheck' };

async function batch(dir: string, out: string, extra: Record<string, unknown>): Promise<BatchResult> {
  const pop = join(dir, 'pop');
  const cfg = writeConfig(dir, { dtks: join(pop, 'dtks.csv'), regsosek: join(pop, 'regsosek.parquet'), p3ke: join(pop, 'p3ke.csv') }, { out, linkage: { engine: 'exact' }, ...extra });
  return runBatch(await loadConfig(cfg), { log: silentLogger() });
}

/** In a finished batch: the person holding a record. */
async function personOf(db: Db, out: string, record: string): Promise<string> {
  const [s, id] = [record.slice(0, record.indexOf(':')), record.slice(record.indexOf(':') + 1)];
  const row = await db.one<{ dtsen_id: string }>(`SELECT dtsen_id FROM read_parquet(${lit(join(out, 'dtsen_link.parquet'))}) WHERE source = ${lit(s)} AND source_record_id = ${lit(id)}`);
  return row!.dtsen_id;
}

describe('human decisions are honoured by every batch', () => {
  let dir: string;
  let db: Db;
  const out1 = () => join(dir, 'b1');
  const rec: Record<string, string> = {};
  let personE = '';

  beforeAll(async () => {
    dir = tempDir('dtsen-decide-');
    await generate({ persons: 1500, seed: 21, out: join(dir, 'pop') });
    await batch(dir, out1(), {});
    db = await Db.open();
    const link = lit(join(out1(), 'dtsen_link.parquet'));
    // a person of three or more records linked by the model: its first two are decided different persons
    const big = await db.one<{ keys: string[] }>(`SELECT list(source || ':' || source_record_id ORDER BY source, source_record_id) AS keys FROM read_parquet(${link}) GROUP BY dtsen_id HAVING count(*) >= 3 ORDER BY dtsen_id LIMIT 1`);
    [rec.A, rec.B] = big!.keys;
    // two persons of one record each that the model kept apart: decided the same person
    const singles = await db.all<{ k: string }>(`SELECT min(source || ':' || source_record_id) AS k FROM read_parquet(${link}) GROUP BY dtsen_id HAVING count(*) = 1 ORDER BY k LIMIT 4`);
    [rec.C, rec.D, rec.F, rec.G] = singles.map((r) => r.k);
    const pair = await db.one<{ keys: string[] }>(`SELECT list(source || ':' || source_record_id ORDER BY source, source_record_id) AS keys FROM read_parquet(${link}) GROUP BY dtsen_id HAVING count(*) = 2 ORDER BY dtsen_id LIMIT 1`);
    rec.E = pair!.keys[0];
    personE = await personOf(db, out1(), pair!.keys[1]);
    const store = join(dir, 'decisions.jsonl');
    const add = (d: Record<string, unknown>) => appendDecision(store, { ...common, ...d });
    await add({ kind: 'different_persons', records: [rec.A, rec.B], reference: 'SANGGAH-001', date: '2026-01-05' });
    await add({ kind: 'same_person', records: [rec.C, rec.D], reference: 'USUL-002', date: '2026-01-06' });
    await add({ kind: 'field_value', target: rec.E, field: 'decile', value: 7, reference: 'SANGGAH-003', date: '2026-01-07' });
    await add({ kind: 'field_value', target: personE, field: 'decile', value: 2, reference: 'SANGGAH-004', date: '2026-01-02' });
    await add({ kind: 'field_value', target: personE, field: 'sex', value: 'P', reference: 'GC-005', date: '2026-01-02' });
    await add({ kind: 'same_person', records: ['dtks:NO-SUCH-RECORD', rec.C], reference: 'USUL-006', date: '2026-01-08' });
    await add({ kind: 'same_person', records: [rec.F, rec.G], reference: 'USUL-007', date: '2026-01-01' });
    await add({ kind: 'different_persons', records: [rec.G, rec.F], reference: 'SANGGAH-008', date: '2026-02-01' });
    await batch(dir, join(dir, 'b2'), { previous: out1(), decisions: store });
    await batch(dir, join(dir, 'b3'), { previous: join(dir, 'b2'), decisions: store });
  }, 240_000);

  for (const b of ['b2', 'b3']) {
    it(`${b}: a different-persons decision parts records the model linked, even through a third record`, async () => {
      const out = join(dir, b);
      expect(await personOf(db, out, rec.A)).not.toBe(await personOf(db, out, rec.B));
    });
    it(`${b}: a same-person decision links records the model kept apart`, async () => {
      const out = join(dir, b);
      expect(await personOf(db, out, rec.C)).toBe(await personOf(db, out, rec.D));
    });
    it(`${b}: a field decision wins over survivorship and says so in the lineage; the later of two contradicting ones`, async () => {
      const out = join(dir, b);
      const id = await personOf(db, out, rec.E);
      expect(id).toBe(personE);
      const p = await db.one<{ decile: number; decile_source: string; sex: string; decision_refs: string[] }>(
        `SELECT decile, decile_source, sex, decision_refs FROM read_parquet(${lit(join(out, 'dtsen_person.parquet'))}) WHERE dtsen_id = ${lit(id)}`);
      expect(p).toMatchObject({ decile: 7, decile_source: 'decision', sex: 'P' });
      expect(p!.decision_refs).toEqual(['decile: SANGGAH-003 (decision 3)', 'sex: GC-005 (decision 5)']);
    });
    it(`${b}: orphaned and contradicting decisions are reported, the later of a contradicting pair applied`, async () => {
      const out = join(dir, b);
      expect(await personOf(db, out, rec.F)).not.toBe(await personOf(db, out, rec.G));
      const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
      const left = report.register.decisions_not_applied as { decision_no: number; status: string; detail: string }[];
      expect(left.map((d) => [d.decision_no, d.status])).toEqual([[4, 'contradicted'], [6, 'orphaned'], [7, 'contradicted']]);
      expect(left[1].detail).toContain('dtks:NO-SUCH-RECORD');
      expect(report.register.decisions).toEqual({ applied: 5, contradicted: 2, orphaned: 1 });
      expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('decisions not applied as written');
    });
  }

  it('the store is append-only and checked: a bad decision is refused naming what is wrong, the store unchanged', async () => {
    const store = join(dir, 'decisions.jsonl');
    const before = readFileSync(store, 'utf8');
    await expect(appendDecision(store, { ...common, kind: 'field_value', target: rec.E, field: 'decile', value: 11, reference: 'X', date: '2026-01-01' })).rejects.toThrow(/decile must be a decile 1..10/);
    await expect(appendDecision(store, { ...common, kind: 'same_person', records: [rec.C, rec.C], reference: 'X', date: '2026-01-01' })).rejects.toThrow(InputError);
    expect(readFileSync(store, 'utf8')).toBe(before);
    expect(await readDecisions(store)).toHaveLength(8);
    const broken = join(dir, 'broken.jsonl');
    writeFileSync(broken, `${before}{"kind":"same_person","records":["dtks:1"],"reference":"R","author":"a","date":"2026-01-01","reason":"r"}\n`);
    await expect(readDecisions(broken)).rejects.toThrow(/row 9.*records/);
  });
});
