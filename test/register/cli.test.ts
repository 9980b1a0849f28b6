import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { readDecisions } from '../../src/register/decisions.ts';
import { tempDir } from '../fixtures/inputs.ts';

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const chunks: string[] = [];
  const stream = new Writable({ write(c, _e, cb) { chunks.push(String(c)); cb(); } });
  const code = await main(['node', 'dtsen', ...args], stream);
  return { code, out: chunks.join('') };
}

describe('dtsen decide', () => {
  it('appends checked decisions to the store; a bad one exits 2 and leaves the store as it was', async () => {
    const store = join(tempDir('dtsen-decide-cli-'), 'decisions.jsonl');
    const common = ['--store', store, '--author', 'petugas', '--reason', 'verifikasi lapangan'];
    expect(await cli(['decide', 'same-person', 'dtks:DTKS-1', 'p3ke:P3KE-2', '--reference', 'USUL-1', '--date', '2026-03-01', ...common])).toMatchObject({ code: 0, out: expect.stringContaining('decision 1 appended') });
    expect((await cli(['decide', 'different-persons', 'dtks:DTKS-1', 'p3ke:P3KE-3', '--reference', 'SANGGAH-2', ...common])).code).toBe(0);
    expect((await cli(['decide', 'field-value', 'DT0123456789ABCDEF', 'decile', '3', '--reference', 'SANGGAH-3', ...common])).code).toBe(0);
    const before = readFileSync(store, 'utf8');
    expect((await cli(['decide', 'field-value', 'dtks:DTKS-1', 'decile', '0', '--reference', 'X', ...common])).code).toBe(2);
    expect((await cli(['decide', 'same-person', 'dtks:DTKS-1', '--reference', 'X', ...common])).code).toBe(2);
    expect((await cli(['decide', 'merge', 'dtks:DTKS-1', 'dtks:DTKS-2', '--reference', 'X', ...common])).code).toBe(2);
    expect((await cli(['decide', 'same-person', 'dtks:DTKS-1', 'dtks:DTKS-2', '--reference', 'X', '--date', '1/2/2026', ...common])).code).toBe(2);
    expect(readFileSync(store, 'utf8')).toBe(before);
    const all = await readDecisions(store);
    expect(all.map((d) => [d.line, d.decision.kind, d.decision.reference])).toEqual([[1, 'same_person', 'USUL-1'], [2, 'different_persons', 'SANGGAH-2'], [3, 'field_value', 'SANGGAH-3']]);
    expect(all[0].decision).toMatchObject({ date: '2026-03-01', author: 'petugas' });
  });

  it('without a store it exits 2', async () => {
    expect((await cli(['decide', 'same-person', 'dtks:A', 'dtks:B', '--reference', 'R', '--author', 'a', '--reason', 'r'])).code).toBe(2);
  });
});

describe('dtsen generate --months', () => {
  it('writes monthly snapshots whose truth keeps person ids, each month the one before plus its events', async () => {
    const dir = tempDir('dtsen-months-');
    expect((await cli(['generate', '--persons', '2000', '--seed', '4', '--months', '3', '--out', dir])).code).toBe(0);
    for (const m of ['month-01', 'month-02', 'month-03']) {
      expect(readdirSync(join(dir, m)).sort()).toEqual(['dtks.csv', 'events.csv', 'manifest.json', 'p3ke.csv', 'regsosek.parquet', 'truth.csv']);
    }
    const truth = (m: string) => new Map(readFileSync(join(dir, m, 'truth.csv'), 'utf8').trim().split('\n').slice(1).map((l) => { const [s, id, p] = l.split(','); return [`${s}:${id}`, p]; }));
    const t1 = truth('month-01');
    const t2 = truth('month-02');
    // a record keeps its person
    let shared = 0;
    for (const [k, p] of t2) if (t1.has(k)) { shared++; expect(t1.get(k)).toBe(p); }
    expect(shared).toBeGreaterThan(t1.size * 0.98);
    // every record that came or went is an event of the month
    const events = readFileSync(join(dir, 'month-02', 'events.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    const added = events.filter((e) => ['new_family', 'new_member', 'record_added'].includes(e[0])).map((e) => `${e[1]}:${e[2]}`);
    const removed = events.filter((e) => ['death', 'dtks_withdrawn', 'record_removed'].includes(e[0])).map((e) => `${e[1]}:${e[2]}`);
    expect(added.sort()).toEqual([...t2.keys()].filter((k) => !t1.has(k)).sort());
    expect(removed.sort()).toEqual([...t1.keys()].filter((k) => !t2.has(k)).sort());
    expect(added.length).toBeGreaterThan(0);
    expect(removed.length).toBeGreaterThan(0);
    const series = JSON.parse(readFileSync(join(dir, 'series.json'), 'utf8'));
    expect(series.months_figures).toHaveLength(3);
    // the same seed gives the same series
    const again = tempDir('dtsen-months-');
    expect((await cli(['generate', '--persons', '2000', '--seed', '4', '--months', '3', '--out', again])).code).toBe(0);
    for (const f of ['dtks.csv', 'p3ke.csv', 'truth.csv', 'events.csv']) expect(readFileSync(join(again, 'month-03', f), 'utf8')).toBe(readFileSync(join(dir, 'month-03', f), 'utf8'));
    expect(existsSync(join(dir, 'month-03', 'regsosek.parquet'))).toBe(true);
  }, 120_000);
});
