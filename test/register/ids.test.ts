import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Db } from '../../src/engine/db.ts';
import { tempDir } from '../fixtures/inputs.ts';
import { resolveIds } from '../../src/register/resolve.ts';
import { continueRegister } from '../../src/register/index.ts';
import { history, idOf, worldBatch, type WorldPerson } from './world.ts';

// Batch 1: seven persons. Batch 2: P1 splits (2 records stay together, 1 leaves), P2 (1 record) merges into P3
// (2 records), P6 and P7 (one record each, both issued by batch 1) merge, P5 leaves every snapshot, P4 changes
// name, and a person with a new record appears. Batch 3: P5's record comes back.
const B1: WorldPerson[] = [
  { records: ['dtks:1', 'dtks:2', 'regsosek:1'], family: 'A' },
  { records: ['dtks:3'], family: 'A' },
  { records: ['dtks:4', 'p3ke:1'], family: 'B' },
  { records: ['regsosek:2', 'regsosek:3'], name: 'SITI' },
  { records: ['p3ke:9'] },
  { records: ['dtks:60'] },
  { records: ['dtks:70'] },
];
const B2: WorldPerson[] = [
  { records: ['dtks:1', 'dtks:2'], family: 'A' },
  { records: ['regsosek:1'] },
  { records: ['dtks:3', 'dtks:4', 'p3ke:1'], family: 'B' },
  { records: ['regsosek:2', 'regsosek:3'], name: 'SITI AMINAH' },
  { records: ['dtks:60', 'dtks:70'] },
  { records: ['dtks:10'] },
];
const B3: WorldPerson[] = [...B2, { records: ['p3ke:9'] }];

describe('continuing a register: ids follow records', () => {
  let dir: string;
  let b1: Db;
  let b2: Db;
  let b3: Db;
  let again: Db;
  const ids1: Record<string, string> = {};
  let fig2: Awaited<ReturnType<typeof worldBatch>>['figures'];

  beforeAll(async () => {
    dir = tempDir('dtsen-register-');
    b1 = (await worldBatch(join(dir, 'b1'), B1)).db;
    for (const r of ['dtks:1', 'dtks:3', 'dtks:4', 'regsosek:2', 'p3ke:9', 'dtks:60', 'dtks:70']) ids1[r] = await idOf(b1, r);
    const r2 = await worldBatch(join(dir, 'b2'), B2, { previous: join(dir, 'b1') });
    b2 = r2.db;
    fig2 = r2.figures;
    b3 = (await worldBatch(join(dir, 'b3'), B3, { previous: join(dir, 'b2') })).db;
    again = (await worldBatch(join(dir, 'b2-again'), B2, { previous: join(dir, 'b1') })).db;
  });
  afterAll(async () => {
    for (const db of [b1, b2, b3, again]) await db?.close();
  });

  it('the first batch keeps the ids survive derived and counts everyone new', async () => {
    expect(await b1.count(`SELECT count(*) FROM dtsen_change WHERE entity = 'person' AND kind = 'new'`)).toBe(7);
    expect(await b1.count(`SELECT count(*) FROM dtsen_id_history WHERE kind = 'person' AND status = 'active' AND first_batch = 1`)).toBe(7);
  });

  it('split: the part holding most records keeps the id; the other gets a new id naming where it split from', async () => {
    expect(await idOf(b2, 'dtks:1')).toBe(ids1['dtks:1']);
    const part = await idOf(b2, 'regsosek:1');
    expect(part).not.toBe(ids1['dtks:1']);
    expect(Object.values(ids1)).not.toContain(part);
    expect((await history(b2, part)).split_from).toBe(ids1['dtks:1']);
    expect((await history(b2, ids1['dtks:1'])).successors).toContain(part);
    expect(await b2.count(`SELECT count(*) FROM dtsen_change WHERE kind = 'split' AND id = '${part}' AND related_id = '${ids1['dtks:1']}'`)).toBe(1);
  });

  it('merge: the id with most carried-over records survives, the other is retired as merged into it', async () => {
    expect(await idOf(b2, 'dtks:3')).toBe(ids1['dtks:4']);
    const h = await history(b2, ids1['dtks:3']);
    expect(h.status).toBe('merged');
    expect(h.successors).toEqual([ids1['dtks:4']]);
    expect(h.status_batch).toBe(2);
    expect(await b2.count(`SELECT count(*) FROM dtsen_change WHERE kind = 'merged' AND id = '${ids1['dtks:3']}' AND related_id = '${ids1['dtks:4']}'`)).toBe(1);
  });

  it('merge of equals: the older id, then the smaller, survives', async () => {
    const [a, b] = [ids1['dtks:60'], ids1['dtks:70']].sort();
    expect(await idOf(b2, 'dtks:60')).toBe(a);
    expect((await history(b2, b)).status).toBe('merged');
  });

  it('a person none of whose records is in the snapshots becomes inactive, not deleted; it returns with its id', async () => {
    const h = await history(b2, ids1['p3ke:9']);
    expect(h).toMatchObject({ status: 'inactive', status_batch: 2, last_batch: 1 });
    expect(await b2.count(`SELECT count(*) FROM dtsen_change WHERE kind = 'inactive' AND id = '${ids1['p3ke:9']}'`)).toBe(1);
    expect(await idOf(b3, 'p3ke:9')).toBe(ids1['p3ke:9']);
    expect((await history(b3, ids1['p3ke:9'])).status).toBe('active');
    expect(await b3.count(`SELECT count(*) FROM dtsen_change WHERE kind = 'returned' AND id = '${ids1['p3ke:9']}'`)).toBe(1);
  });

  it('a person with no earlier record gets a newly minted id; field changes are logged with before and after', async () => {
    const id = await idOf(b2, 'dtks:10');
    expect(id).toMatch(/^DT[0-9A-F]{16}$/);
    expect((await history(b2, id)).first_batch).toBe(2);
    expect(fig2.persons).toMatchObject({ new: 1, split: 1, merged: 2, inactive: 1, continued: 4 });
    const change = await b2.one<{ before: string; after: string }>(`SELECT before, after FROM dtsen_change WHERE kind = 'field' AND field = 'name' AND id = '${ids1['regsosek:2']}'`);
    expect(change).toEqual({ before: 'SITI', after: 'SITI AMINAH' });
  });

  it('ids are never reused and minting is deterministic for the same inputs and history', async () => {
    for (const db of [b2, b3]) expect(await db.count(`SELECT count(*) - count(DISTINCT id) FROM dtsen_id_history`)).toBe(0);
    const rows = (db: Db) => db.all(`SELECT * FROM dtsen_id_history ORDER BY kind, id`);
    expect(await rows(again)).toEqual(await rows(b2));
    expect(await again.all(`SELECT * FROM dtsen_link ORDER BY source, source_record_id`)).toEqual(await b2.all(`SELECT * FROM dtsen_link ORDER BY source, source_record_id`));
    // every id ever issued has a history row; the three batches issued each id once
    expect(await b3.count(`SELECT count(*) FROM dtsen_id_history WHERE kind = 'person'`)).toBe(9);
  });

  it('families keep their family_id by the same rules', async () => {
    const fam1 = await b1.one<{ family_id: string }>(`SELECT family_id FROM dtsen_person WHERE dtsen_id = '${ids1['dtks:1']}'`);
    const fam2 = await b2.one<{ family_id: string }>(`SELECT family_id FROM dtsen_person WHERE dtsen_id = '${ids1['dtks:1']}'`);
    expect(fam2!.family_id).toBe(fam1!.family_id);
    const members = await b2.one<{ members: string[] }>(`SELECT members FROM dtsen_family WHERE family_id = '${fam1!.family_id}'`);
    expect(members!.members).toEqual([ids1['dtks:1']]);
    // family B (P3) took P2, whose family A kept its id through P1: B keeps its own id
    const famB1 = await b1.one<{ family_id: string }>(`SELECT family_id FROM dtsen_person WHERE dtsen_id = '${ids1['dtks:4']}'`);
    const famB2 = await b2.one<{ family_id: string }>(`SELECT family_id FROM dtsen_person WHERE dtsen_id = '${ids1['dtks:4']}'`);
    expect(famB2!.family_id).toBe(famB1!.family_id);
    expect(await b2.count(`SELECT count(*) FROM dtsen_id_history WHERE kind = 'family' AND id = '${fam1!.family_id}' AND status = 'active'`)).toBe(1);
  });

  it('every id ever issued resolves to where its records live now', async () => {
    const all = (await b3.all<{ id: string }>(`SELECT id FROM dtsen_id_history WHERE kind = 'person'`)).map((r) => r.id);
    const rows = await resolveIds(b3, [...all, 'DT0000000000000000']);
    expect(rows.at(-1)!.known).toBe(false);
    for (const r of rows.slice(0, -1)) {
      expect(r.known).toBe(true);
      expect(r.now.length + r.inactive.length).toBeGreaterThan(0);
    }
    const merged = rows.find((r) => r.id === ids1['dtks:3'])!;
    expect(merged).toMatchObject({ status: 'merged', now: [ids1['dtks:4']] });
    expect(rows.find((r) => r.id === ids1['dtks:1'])!.now).toEqual([ids1['dtks:1']]);
  });

  it('run again over its own output (a resumed stage), the register stage gives the same tables', async () => {
    const snap = async () => Promise.all(['dtsen_link ORDER BY source, source_record_id', 'dtsen_person ORDER BY dtsen_id', 'dtsen_family ORDER BY family_id', 'dtsen_id_history ORDER BY kind, id', 'dtsen_change ORDER BY ALL', 'dtsen_record_history ORDER BY ALL']
      .map((t) => again.all(`SELECT * EXCLUDE ${t.startsWith('dtsen_person') ? '(cluster_id)' : '(__none)'} FROM ${t}`.replace(' EXCLUDE (__none)', ''))));
    const before = await snap();
    await continueRegister(again, { previous: join(dir, 'b1'), batch: 'b', snapshotId: 'b', snapshotDate: '2026-01-01' });
    expect(await snap()).toEqual(before);
  });
});

describe('minting', () => {
  it('never issues an id issued before: the salt moves on', async () => {
    const { Db } = await import('../../src/engine/db.ts');
    const { carryForward } = await import('../../src/register/ids.sql.ts');
    const { EMPTY_PREVIOUS_SQL } = await import('../../src/register/previous.ts');
    const db = await Db.open();
    const { createHash } = await import('node:crypto');
    const minted = (key: string, seq: number, salt: number) => `DT${createHash('md5').update(`${key}#${seq}#${salt}`).digest('hex').slice(0, 16).toUpperCase()}`;
    await db.run(`${EMPTY_PREVIOUS_SQL}
      CREATE TABLE reg_units_person AS SELECT * FROM (VALUES (1, 'DTAAAA'), (2, 'DTBBBB')) t(unit, unit_key);
      CREATE TABLE reg_items_person AS SELECT * FROM (VALUES (1, 'dtks', '1'), (2, 'dtks', '2')) t(unit, source, source_record_id);
      CREATE TABLE reg_prev_items_person (source VARCHAR, source_record_id VARCHAR, prev_id VARCHAR);
      INSERT INTO reg_prev_history VALUES ('${minted('DTAAAA', 5, 0)}', 'person', 'merged', ['DTX'], NULL, 1, 3, 4);`);
    await carryForward(db, 'person', 5);
    const rows = await db.all<{ unit: number; id: string; basis: string }>(`SELECT unit, id, basis FROM reg_map_person ORDER BY unit`);
    expect(rows).toEqual([
      { unit: 1, id: minted('DTAAAA', 5, 1), basis: 'new' },
      { unit: 2, id: minted('DTBBBB', 5, 0), basis: 'new' },
    ]);
    await db.close();
  });
});
