/**
 * The truth file: read once when it is sound; a row without a person id or a record given twice is an input error
 * naming the line at fault (found by reading the file again, numbered).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Db } from '../../src/engine/db.ts';
import { InputError } from '../../src/engine/errors.ts';
import { loadTruth } from '../../src/stages/evaluate/index.ts';
import { tempDir, write } from '../fixtures/inputs.ts';

let db: Db | undefined;
afterEach(async () => {
  await db?.close();
  db = undefined;
});

async function load(lines: string[]) {
  db = await Db.open({ threads: 2 });
  const file = write(tempDir(), 'truth.csv', `${lines.join('\n')}\n`);
  return { file, load: () => loadTruth(db!, file) };
}

const rows = (n: number) => Array.from({ length: n }, (_, i) => `dtks,DTKS-${i + 1},P${Math.floor(i / 2)},F${Math.floor(i / 4)}`);

describe('loadTruth', () => {
  it('reads every row of a sound file, trimmed, with the family id optional', async () => {
    const { load: read } = await load(['source,source_record_id,person_id,family_id', ...rows(5000), 'p3ke , P3KE-1 , P9999 ,']);
    const truth = await read();
    const counts = await db!.one<Record<string, string>>(
      `SELECT count(*) AS n, count(family_id) AS families, count(*) FILTER (WHERE source = 'p3ke' AND source_record_id = 'P3KE-1' AND person_id = 'P9999') AS trimmed FROM ${truth}`,
    );
    expect(counts).toEqual({ n: '5001', families: '5000', trimmed: '1' });
  });

  it('names the line of a row without a person id', async () => {
    const lines = ['source,source_record_id,person_id', ...rows(3000).map((r) => r.split(',').slice(0, 3).join(','))];
    lines[2001] = 'dtks,DTKS-2001,';
    const { file, load: read } = await load(lines);
    const e = await read().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).detail).toMatchObject({ file, row: 2002, column: 'person_id' });
    expect((e as Error).message).toContain('person_id is empty');
  });

  it('names the line of a record given twice and the line it was first given on', async () => {
    const lines = ['source,source_record_id,person_id', ...rows(3000).map((r) => r.split(',').slice(0, 3).join(','))];
    lines.push('dtks,DTKS-17,P99');
    const { file, load: read } = await load(lines);
    const e = await read().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).detail).toMatchObject({ file, row: 3002, column: 'source_record_id' });
    expect((e as Error).message).toContain('the record of line 18 is given again');
  });
});
