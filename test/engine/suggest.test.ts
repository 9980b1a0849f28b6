import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { loadConfig, loadMapping } from '../../src/engine/config.ts';
import { InputError } from '../../src/engine/errors.ts';
import { closest, validKeys } from '../../src/engine/suggest.ts';
import { ingestStage } from '../../src/stages/ingest/index.ts';
import { Mapping } from '../../schemas/mapping.ts';
import { BatchConfig } from '../../schemas/config.ts';
import { makeCtx } from '../fixtures/ctx.ts';
import { DTKS_HEADER, dtksRow, tempDir, write, writeConfig } from '../fixtures/inputs.ts';

async function inputError(p: Promise<unknown>): Promise<InputError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(InputError);
  return e as InputError;
}

describe('the closest name', () => {
  it('finds a longer or shorter form, a typo, another case; nothing when nothing is close', () => {
    expect(closest('NAMA', ['IDDTKS', 'NAMA_LENGKAP', 'NAMA_IBU_KANDUNG_LENGKAP', 'NIK'])).toBe('NAMA_LENGKAP');
    expect(closest('nama', ['source_record_id', 'name', 'nik', 'mother_name'])).toBe('name');
    expect(closest('treshold', ['engine', 'threshold', 'precision_floor'])).toBe('threshold');
    expect(closest('TGL_LAHIR', ['tanggal_lahir', 'TGL LAHIR', 'tgl_update'])).toBe('TGL LAHIR');
    expect(closest('KODE_WILAYAH', ['IDDTKS', 'NIK', 'ALAMAT'])).toBeUndefined();
  });

  it('knows the valid keys of each object of the config and the mapping', () => {
    expect(validKeys(Mapping, ['columns'])).toContain('birth_date');
    expect(validKeys(Mapping, ['values'])).toEqual(['sex', 'relation']);
    expect(validKeys(BatchConfig, ['linkage'])).toContain('precision_floor');
    expect(validKeys(BatchConfig, ['quality_gates', 'min_parse_rate'])).toContain('village_code');
    expect(validKeys(BatchConfig, ['sources', 'dtks'])).toEqual(['path', 'mapping']);
  });
});

describe('mapping and config errors name the file, the valid keys, the closest one and the line to write', () => {
  it('a wrong key of a mapping', async () => {
    const dir = tempDir();
    const file = write(dir, 'dtks.json', JSON.stringify({ source: 'dtks', columns: { source_record_id: 'IDDTKS', nama: 'NAMA_LENGKAP' }, optinal_columns: [] }));
    const e = await inputError(loadMapping(file));
    expect(e.message).toContain(`file ${file}: invalid mapping`);
    expect(e.message).toContain('columns: unknown key "nama" — write "name": "NAMA_LENGKAP" inside "columns"; valid keys: source_record_id, ');
    expect(e.message).toContain('(top level): unknown key "optinal_columns" — write "optional_columns": [] at the top level; valid keys: $schema, source, ');
  });

  it('a wrong key and a wrong choice of a config', async () => {
    const dir = tempDir();
    const file = write(dir, 'batch.json', JSON.stringify({ batch: 'b', snapshot_id: 's', snapshotdate: '2026-01-01', sources: { dtks: { path: 'x', mapping: 'y' } }, linkage: { engine: 'probablistic', treshold: 0.9 } }));
    const e = await inputError(loadConfig(file));
    expect(e.message).toContain(`file ${file}: invalid batch config`);
    expect(e.message).toContain('linkage: unknown key "treshold" — write "threshold": 0.9 inside "linkage"; valid keys: engine, ');
    expect(e.message).toContain('(top level): unknown key "snapshotdate" — write "snapshot_date": "2026-01-01" at the top level');
    expect(e.message).toMatch(/linkage\.engine: Invalid option: .* — write "probabilistic"/);
  });

  it('a column of the mapping missing from a file: the columns found, the closest, the line to write, the mapping\'s path', async () => {
    const dir = tempDir();
    const header = DTKS_HEADER.replace(';NAMA;', ';NAMA_LENGKAP;');
    const data = write(dir, 'dtks.csv', `${header}\n${dtksRow('DTKS-1', '3204125708850002', 'SITI')}\n`);
    const loaded = await loadConfig(writeConfig(dir, { dtks: data }));
    const ctx = await makeCtx(loaded);
    try {
      const e = await inputError(ingestStage.run(ctx, {}));
      const mapping = resolve('pipelines/sources/dtks.json');
      expect(e.message).toContain(`file ${data}, column NAMA: missing column NAMA (field name): closest column found NAMA_LENGKAP — write "name": "NAMA_LENGKAP" under "columns" in the mapping ${mapping}`);
      expect(e.message).toMatch(/found columns IDDTKS;?.*NAMA_LENGKAP/);
      expect(e.message).not.toContain('SITI');
    } finally {
      ctx.db.close();
    }
  });
});
