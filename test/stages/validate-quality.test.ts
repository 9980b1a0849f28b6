import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/engine/config.ts';
import { InputError } from '../../src/engine/errors.ts';
import { ingestStage } from '../../src/stages/ingest/index.ts';
import { validateStage } from '../../src/stages/validate/index.ts';
import type { FieldQuality } from '../../src/stages/validate/quality.ts';
import { makeCtx } from '../fixtures/ctx.ts';
import { DTKS_HEADER, dtksRow, tempDir, write, writeConfig } from '../fixtures/inputs.ts';

async function validate(rows: string[], extra: Record<string, unknown> = {}) {
  const dir = tempDir();
  const file = write(dir, 'dtks.csv', `${[DTKS_HEADER, ...rows].join('\n')}\n`);
  const ctx = await makeCtx(await loadConfig(writeConfig(dir, { dtks: file }, extra)));
  const ingest = (await ingestStage.run(ctx, {})).figures;
  try {
    const val = await validateStage.run(ctx, { ingest });
    return { file, figures: val.figures! };
  } finally {
    ctx.db.close();
  }
}

/** n rows of valid women (in a village of the reference) born 17-08-1985, NIKs 3204125708850001…, with `nik` and `date` to vary them. */
function rows(n: number, vary: (i: number) => Partial<{ nik: string; date: string; sex: string }> = () => ({})): string[] {
  return Array.from({ length: n }, (_, i) => {
    const v = vary(i);
    // a village of the region reference (the fixture's own code is not one)
    return dtksRow(`DTKS-${i + 1}`, v.nik ?? `320412570885${String(i + 1).padStart(4, '0')}`, 'SITI AMINAH', { date: v.date, sex: v.sex }).replace('32.04.12.2001', '53.08.16.2002');
  });
}

describe('validate: field quality', () => {
  it('counts parsed, missing and rejected per field with the parsing of normalise', async () => {
    const { figures } = await validate(rows(40, (i) => ({ date: i < 3 ? '' : i < 5 ? '31-02-1985' : i < 6 ? '17-08-2090' : undefined, nik: i === 7 ? '3.20412E+15' : i === 8 ? '-' : undefined, sex: i === 9 ? 'X' : undefined })));
    const by = (f: string) => figures.field_quality.find((q) => q.source === 'dtks' && q.field === f)!;
    // '31-02-1985' does not parse (impossible), '17-08-2090' is after the snapshot date: both rejected
    expect(by('birth_date')).toMatchObject({ column: 'TGL_LAHIR', rows: 40, parsed: 34, missing: 3, rejected: 3, result: 'pass', rejected_shapes: [{ shape: '99-99-9999', rows: 3 }] });
    expect(by('birth_date').parse_rate).toBeCloseTo(34 / 37, 6);
    expect(by('nik')).toMatchObject({ column: 'NIK', parsed: 38, missing: 1, rejected: 1, rejected_shapes: [{ shape: '9.9{5}A+99', rows: 1 }] });
    expect(by('sex')).toMatchObject({ parsed: 39, rejected: 1, rejected_shapes: [{ shape: 'A', rows: 1 }] });
    expect(by('village_code')).toMatchObject({ parsed: 40, rejected: 0, parse_rate: 1 });
    expect(figures.quality_warnings).toEqual([]);
  });

  it('fails on a NIK column of spreadsheet numbers, naming the column and the 16 digits expected, with shapes only', async () => {
    const err = await validate(rows(40, (i) => ({ nik: `3.2041${i % 10}E+15` }))).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/column NIK: only 0% of the 40 NIKs given parse/);
    expect(msg).toContain('expected a NIK of 16 digits');
    expect(msg).toContain('found values shaped 9.9{5}A+99 (40 rows)');
    expect(msg).not.toMatch(/3\.2041/);
  });

  it('warns instead of failing when a file gives too few values to judge (quality_gates.min_values)', async () => {
    const { figures } = await validate(rows(6, (i) => ({ date: i < 3 ? '1985.08.17' : undefined })));
    expect(figures.field_quality.find((q) => q.field === 'birth_date')).toMatchObject({ parsed: 3, rejected: 3, result: 'warn' });
    expect(figures.quality_warnings).toHaveLength(1);
    expect(figures.quality_warnings[0].message).toMatch(/TGL_LAHIR: 50% of the 6 birth dates given parse, below the floor 90%, but too few values to gate/);
    // the same file fails once the config asks for fewer values
    await expect(validate(rows(6, (i) => ({ date: i < 3 ? '1985.08.17' : undefined })), { quality_gates: { min_values: 5 } })).rejects.toThrow(/column TGL_LAHIR/);
  });

  it('accepts the format once the mapping names it', async () => {
    const dir = tempDir();
    const mapping = JSON.parse((await import('node:fs')).readFileSync('pipelines/sources/dtks.json', 'utf8')) as Record<string, unknown>;
    const mappingFile = write(dir, 'dtks-dots.json', JSON.stringify({ ...mapping, date_formats: ['%Y.%m.%d'] }));
    const file = write(dir, 'dtks.csv', `${[DTKS_HEADER, ...rows(30, () => ({ date: '1985.08.17' }))].join('\n')}\n`);
    const cfg = write(dir, 'batch.json', JSON.stringify({ batch: 't', snapshot_id: 't', out: 'out', sources: { dtks: { path: file, mapping: mappingFile } } }));
    const ctx = await makeCtx(await loadConfig(cfg));
    const ingest = (await ingestStage.run(ctx, {})).figures;
    const val = await validateStage.run(ctx, { ingest });
    ctx.db.close();
    expect((val.figures as { field_quality: FieldQuality[] }).field_quality.find((q) => q.field === 'birth_date')).toMatchObject({ parsed: 30, rejected: 0, result: 'pass' });
  });
});
