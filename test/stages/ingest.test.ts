import { describe, expect, it } from 'vitest';
import { Db } from '../../src/engine/db.ts';
import { loadConfig } from '../../src/engine/config.ts';
import { InputError } from '../../src/engine/errors.ts';
import { ingestStage } from '../../src/stages/ingest/index.ts';
import { validateStage } from '../../src/stages/validate/index.ts';
import { makeCtx } from '../fixtures/ctx.ts';
import { DTKS_HEADER, dtksRow, tempDir, write, writeConfig } from '../fixtures/inputs.ts';

async function ingestAndValidate(sources: Record<string, string>, extra: Record<string, unknown> = {}) {
  const dir = tempDir();
  const loaded = await loadConfig(writeConfig(dir, sources, extra));
  const ctx = await makeCtx(loaded);
  const ing = await ingestStage.run(ctx, {});
  const val = await validateStage.run(ctx, { ingest: ing.figures });
  return { ctx, db: ctx.db as Db, val };
}

async function expectInputError(sources: Record<string, string>, pattern: RegExp): Promise<InputError> {
  const err = await ingestAndValidate(sources).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  expect((err as Error).message).toMatch(pattern);
  return err as InputError;
}

describe('ingest + validate', () => {
  it('keeps every row: malformed lines, rows without identity and repeated ids are quarantined with reasons and row numbers', async () => {
    const dir = tempDir();
    const lines = [
      DTKS_HEADER,
      dtksRow('DTKS-1', '3204125708850002', 'HJ. SITI NURHALIZAH, S.PD'),
      dtksRow('DTKS-2', '3.20412E+15', 'SUPARMAN'),
      `${dtksRow('DTKS-3', '3204121203800001', 'SLAMET')};EXTRA`,
      dtksRow('DTKS-4', '-', ''),
      dtksRow('DTKS-1', '3204125708850002', 'SITI NURHALIZAH'),
      dtksRow('DTKS-6', '', 'DJOKO SOETRISNO'),
    ];
    const file = write(dir, 'dtks.csv', `${lines.join('\n')}\n`);
    const { db, val } = await ingestAndValidate({ dtks: file });
    const rec = (val.figures as { reconciliation: { source: string; rows_read: number; rows_accepted: number; rows_quarantined: number; reconciled: boolean }[] }).reconciliation;
    expect(rec).toEqual([{ source: 'dtks', rows_read: 6, rows_accepted: 3, rows_quarantined: 3, reconciled: true }]);
    const q = await db.all<{ row_number: string; reason: string; source_record_id: string | null; raw: string }>(
      'SELECT row_number, reason, source_record_id, raw FROM quarantine ORDER BY row_number',
    );
    expect(q.map((r) => Number(r.row_number))).toEqual([3, 4, 5]);
    expect(q[0].reason).toMatch(/^malformed_line: TOO MANY COLUMNS/);
    expect(q[0].raw).toContain('EXTRA');
    expect(q[1].reason).toMatch(/^no_identity/);
    expect(q[1].source_record_id).toBe('DTKS-4');
    expect(JSON.parse(q[1].raw).IDDTKS).toBe('DTKS-4');
    expect(q[2].reason).toMatch(/^duplicate_record_id/);
    const acc = await db.all<{ source_record_id: string; row_number: string; nik: string }>(
      'SELECT source_record_id, row_number, nik FROM accepted_record ORDER BY row_number',
    );
    expect(acc.map((r) => [r.source_record_id, Number(r.row_number)])).toEqual([
      ['DTKS-1', 1],
      ['DTKS-2', 2],
      ['DTKS-6', 6],
    ]);
    // A NIK damaged by a spreadsheet stays as text, exactly as read; normalise flags it.
    expect(acc[1].nik).toBe('3.20412E+15');
  });

  it('keeps 16-digit values exact and reads a Windows-1252/Latin-1 file', async () => {
    const dir = tempDir();
    const body = `${DTKS_HEADER}\n${dtksRow('DTKS-1', '3204125708859999', 'ANDRÉ SIREGAR')}\n`;
    const file = write(dir, 'dtks.csv', Buffer.from(body, 'latin1'));
    const { db } = await ingestAndValidate({ dtks: file });
    const r = await db.one<{ nik: string; name: string; no_kk: string }>('SELECT nik, name, no_kk FROM accepted_record');
    expect(r).toEqual({ nik: '3204125708859999', name: 'ANDRÉ SIREGAR', no_kk: '3204121507100003' });
  });

  it('reads a folder of files, with lineage per file', async () => {
    const dir = tempDir();
    write(dir, 'dtks/part-1.csv', `${DTKS_HEADER}\n${dtksRow('DTKS-1', '3204125708850002', 'SITI')}\n`);
    write(dir, 'dtks/part-2.csv', `${DTKS_HEADER}\n${dtksRow('DTKS-2', '3204125708850003', 'SRI')}\n${dtksRow('DTKS-3', '', 'SRI WAHYUNI')}\n`);
    const { db } = await ingestAndValidate({ dtks: `${dir}/dtks` });
    const rows = await db.all<{ f: string; row_number: string }>(`SELECT regexp_extract(file, 'part-[0-9]') AS f, row_number FROM accepted_record ORDER BY ALL`);
    expect(rows.map((r) => `${r.f}:${r.row_number}`)).toEqual(['part-1:1', 'part-2:1', 'part-2:2']);
  });

  it('reads Regsosek Parquet with typed columns as text and row numbers', async () => {
    const dir = tempDir();
    const db = await Db.open();
    const file = `${dir}/regsosek.parquet`;
    await db.run(`COPY (SELECT * FROM (VALUES
      ('RS-1-01', 'RS-1', '3204125708850002', 'Siti Aminah', DATE '1985-08-17', 40, 2, 1, '3204122001', 'Kp. Sukamaju RT 03 RW 05', 2),
      ('RS-1-02', 'RS-1', NULL, 'Budi', NULL, 7, 1, 3, '3204122001', 'Kp. Sukamaju RT 03 RW 05', 2))
      t(id_art, id_keluarga, nik, nama, tgl_lahir, umur, jenis_kelamin, hub_kk, kode_desa, alamat, desil)) TO '${file}' (FORMAT parquet)`);
    db.close();
    const r = await ingestAndValidate({ regsosek: file });
    const rows = await r.db.all('SELECT source_record_id, row_number, birth_date, sex, age, decile FROM accepted_record ORDER BY row_number');
    expect(rows).toEqual([
      { source_record_id: 'RS-1-01', row_number: '1', birth_date: '1985-08-17', sex: '2', age: '40', decile: '2' },
      { source_record_id: 'RS-1-02', row_number: '2', birth_date: null, sex: '1', age: '7', decile: '2' },
    ]);
  });

  it('quarantines a JSON line that does not parse', async () => {
    const dir = tempDir();
    const good = (id: string) =>
      JSON.stringify({ id_p3ke: id, id_keluarga_p3ke: 'K1', nik: '3204125708850002', nama_lengkap: 'Siti', tanggal_lahir: '17/08/1985', jenis_kelamin: 'Perempuan', alamat: 'Kp. A', rt: '3', rw: '5', kode_kemendagri: '3204122001', desil_kesejahteraan: '1', penerima_bansos: 'PKH,BPNT' });
    const file = write(dir, 'p3ke.jsonl', `${good('P-1')}\n{"id_p3ke": "P-2", broken\n${good('P-3')}\n`);
    const { db, val } = await ingestAndValidate({ p3ke: file });
    const rec = (val.figures as { reconciliation: { rows_read: number; rows_accepted: number; rows_quarantined: number }[] }).reconciliation[0];
    expect([rec.rows_read, rec.rows_accepted, rec.rows_quarantined]).toEqual([3, 2, 1]);
    expect(await db.one('SELECT row_number, reason FROM quarantine')).toEqual({ row_number: '2', reason: 'malformed_line: not a JSON object' });
  });
});

describe('bad input gets a specific error', () => {
  it('missing file names the file', async () => {
    await expectInputError({ dtks: '/nonexistent/dtks.csv' }, /\/nonexistent\/dtks\.csv.*not found/);
  });
  it('empty file', async () => {
    const dir = tempDir();
    await expectInputError({ dtks: write(dir, 'dtks.csv', '') }, /dtks\.csv.*file is empty/);
  });
  it('wrong delimiter', async () => {
    const dir = tempDir();
    const body = `${DTKS_HEADER.replaceAll(';', ',')}\n${dtksRow('DTKS-1', '3204125708850002', 'SITI').replaceAll(';', ',')}\n`;
    await expectInputError({ dtks: write(dir, 'dtks.csv', body) }, /row 0.*looks ','-separated.*expected columns separated by ';'/);
  });
  it('missing column names the column and the mapping', async () => {
    const dir = tempDir();
    const header = DTKS_HEADER.replace(';NIK;', ';NOMOR_INDUK;');
    const err = await expectInputError({ dtks: write(dir, 'dtks.csv', `${header}\n${dtksRow('DTKS-1', '1', 'SITI')}\n`) }, /column NIK.*missing column NIK \(field nik\).*dtks\.json/);
    expect(err.detail.column).toBe('NIK');
  });
  it('binary garbage', async () => {
    const dir = tempDir();
    const junk = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256));
    await expectInputError({ dtks: write(dir, 'dtks.csv', junk) }, /binary content/);
  });
  it('garbage in a Parquet file', async () => {
    const dir = tempDir();
    await expectInputError({ regsosek: write(dir, 'regsosek.parquet', 'not parquet at all') }, /regsosek\.parquet.*not a readable Parquet file/);
  });
});
