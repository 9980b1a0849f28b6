import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { generate } from '../src/generate/index.ts';
import { loadConfig } from '../src/engine/config.ts';
import { silentLogger } from '../src/engine/log.ts';
import { Db, lit } from '../src/engine/db.ts';
import { runBatch, type BatchResult } from '../src/pipeline.ts';
import { tempDir, writeConfig } from './fixtures/inputs.ts';

const CONTRACT_FILES = [
  'dtsen.duckdb', 'dtsen_person.parquet', 'dtsen_link.parquet', 'dtsen_person.arrow', 'quarantine.parquet', 'report.html', 'report.json',
  'dtsen_family.parquet', 'dtsen_conflict.parquet', 'dtsen_person_by_province', 'dtsen_family_by_province',
  'dtsen_id_history.parquet', 'dtsen_change.parquet',
];

async function batch(dir: string, out: string, engine: string): Promise<BatchResult> {
  const cfg = writeConfig(
    dir,
    { dtks: join(dir, 'pop', 'dtks.csv'), regsosek: join(dir, 'pop', 'regsosek.parquet'), p3ke: join(dir, 'pop', 'p3ke.csv') },
    { out, truth: join(dir, 'pop', 'truth.csv'), linkage: { engine } },
  );
  return runBatch(await loadConfig(cfg), { log: silentLogger() });
}

describe('a whole batch on a generated population', () => {
  let dir: string;
  let result: BatchResult;
  let db: Db;

  beforeAll(async () => {
    dir = tempDir('dtsen-batch-');
    await generate({ persons: 2500, seed: 11, out: join(dir, 'pop') });
    result = await batch(dir, join(dir, 'out'), 'exact');
    db = await Db.open();
  });

  it('writes every file of the contract and no temporary leftovers', () => {
    const files = readdirSync(join(dir, 'out'));
    expect(files.sort()).toEqual([...CONTRACT_FILES, 'model.json'].filter((f) => f !== 'model.json' || files.includes(f)).sort());
    expect(files.some((f) => f.startsWith('.tmp-'))).toBe(false);
  });

  it('reconciles every source: rows read = accepted + quarantined', () => {
    const rec = (result.figures.validate as { reconciliation: { rows_read: number; rows_accepted: number; rows_quarantined: number; reconciled: boolean }[] }).reconciliation;
    expect(rec).toHaveLength(3);
    for (const r of rec) {
      expect(r.reconciled).toBe(true);
      expect(r.rows_accepted + r.rows_quarantined).toBe(r.rows_read);
    }
  });

  it('dtsen_link holds every accepted record once, with the source ids unchanged', async () => {
    const link = join(dir, 'out', 'dtsen_link.parquet');
    const accepted = (result.figures.validate as { reconciliation: { rows_accepted: number }[] }).reconciliation.reduce((a, r) => a + r.rows_accepted, 0);
    expect(await db.count(`SELECT count(*) FROM read_parquet(${lit(link)})`)).toBe(accepted);
    expect(await db.count(`SELECT count(*) FROM (SELECT source, source_record_id FROM read_parquet(${lit(link)}) GROUP BY ALL HAVING count(*) > 1)`)).toBe(0);
    const truthIds = `read_csv(${lit(join(dir, 'pop', 'truth.csv'))}, all_varchar = true)`;
    expect(await db.count(`SELECT count(*) FROM read_parquet(${lit(link)}) l ANTI JOIN ${truthIds} t USING (source, source_record_id)`)).toBe(0);
    const cols = (await db.all<{ column_name: string }>(`DESCRIBE SELECT * FROM read_parquet(${lit(link)})`)).map((c) => c.column_name);
    expect(cols).toEqual(['dtsen_id', 'source', 'source_record_id', 'match_probability']);
  });

  it('dtsen_person has the contract columns; the Arrow file holds the same rows with NIKs intact', async () => {
    const person = join(dir, 'out', 'dtsen_person.parquet');
    const cols = (await db.all<{ column_name: string }>(`DESCRIBE SELECT * FROM read_parquet(${lit(person)})`)).map((c) => c.column_name);
    for (const c of ['dtsen_id', 'nik', 'name', 'birth_date', 'sex', 'village_code', 'family_id', 'decile', 'pkh', 'bpnt', 'pbi_jkn', 'n_records', 'sources']) expect(cols).toContain(c);
    const n = await db.count(`SELECT count(*) FROM read_parquet(${lit(person)})`);
    const table = tableFromIPC(readFileSync(join(dir, 'out', 'dtsen_person.arrow')));
    expect(table.numRows).toBe(n);
    const nik = table.getChild('nik')!.toArray().find((v: string | null) => v !== null) as string;
    expect(nik).toMatch(/^[0-9]{16}$/);
    expect(await db.count(`SELECT count(*) FROM read_parquet(${lit(person)}) WHERE nik = ${lit(nik)}`)).toBeGreaterThan(0);
  });

  it('quarantine.parquet keeps the rejected rows with a reason and their raw values', async () => {
    const q = join(dir, 'out', 'quarantine.parquet');
    const rows = await db.all<{ reason: string; raw: string }>(`SELECT reason, raw FROM read_parquet(${lit(q)})`);
    const quarantined = (result.figures.validate as { reconciliation: { rows_quarantined: number }[] }).reconciliation.reduce((a, r) => a + r.rows_quarantined, 0);
    expect(rows).toHaveLength(quarantined);
    for (const r of rows) {
      expect(r.reason).toMatch(/^(malformed_line|no_identity|duplicate_record_id|missing_record_id|impossible_value)/);
      expect(r.raw.length).toBeGreaterThan(0);
    }
  });

  it('the exact linker is precise and finds some of the true pairs', () => {
    const ev = result.figures.evaluate as { precision: number; recall: number; baseline: { f1: number } };
    expect(ev.precision).toBeGreaterThan(0.99);
    expect(ev.recall).toBeGreaterThan(0.4);
    expect(ev.baseline.f1).toBeGreaterThan(0.5);
  });

  it('report.json carries the figures and never a NIK or a name', async () => {
    const text = readFileSync(join(dir, 'out', 'report.json'), 'utf8');
    const json = JSON.parse(text);
    expect(json.validate.reconciliation).toHaveLength(3);
    expect(text).not.toMatch(/(?<![.0-9])[0-9]{16}(?![0-9])/);
    const html = readFileSync(join(dir, 'out', 'report.html'), 'utf8');
    expect(html).toMatch(/<svg/);
    expect(html).not.toMatch(/(?<![.0-9])[0-9]{16}(?![0-9])/);
  });

  it('a re-run of the same batch gives the same persons and links', async () => {
    await batch(dir, join(dir, 'out2'), 'exact');
    const digest = (f: string) => db.one<{ h: string }>(`SELECT bit_xor(hash(COLUMNS(*))) AS h FROM read_parquet(${lit(f)})`);
    for (const f of ['dtsen_person.parquet', 'dtsen_link.parquet']) {
      expect(await digest(join(dir, 'out2', f))).toEqual(await digest(join(dir, 'out', f)));
    }
    expect(existsSync(join(dir, 'out2', 'report.json'))).toBe(true);
  });
});
