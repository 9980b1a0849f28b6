import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.ts';
import { matchColumns } from '../../src/init/match.ts';
import { guessDateFormat } from '../../src/init/dates.ts';
import { KNOWN_COLUMNS } from '../../src/init/columns.ts';
import { initBatch } from '../../src/init/index.ts';
import { DTKS_HEADER, dtksRow, tempDir, write } from '../fixtures/inputs.ts';

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const chunks: string[] = [];
  const errs: string[] = [];
  const write0 = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((c: string) => (errs.push(String(c)), true)) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'dtsen', ...args], new Writable({ write(c, _e, cb) { chunks.push(String(c)); cb(); } }));
    return { code, out: chunks.join(''), err: errs.join('') };
  } finally {
    process.stderr.write = write0;
  }
}

const field = (cols: string[]) => Object.fromEntries(matchColumns(cols).map((m) => [m.field, m.column]));

describe('matching columns to fields', () => {
  it('knows every column of the shipped mappings', () => {
    for (const s of ['dtks', 'regsosek', 'p3ke']) {
      const m = JSON.parse(readFileSync(`pipelines/sources/${s}.json`, 'utf8')) as { columns: Record<string, string> };
      expect(field(Object.values(m.columns)), s).toEqual(m.columns);
    }
  });

  it('ignores case, spaces and punctuation, and takes the closest known name for the rest', () => {
    const m = matchColumns(['Nama Lengkap', 'tanggal-lahir', 'ID', 'ALAMAT_RUMAH', 'JK', 'WARNA']);
    expect(Object.fromEntries(m.map((x) => [x.field, [x.column, x.how]]))).toEqual({
      source_record_id: ['ID', 'name'],
      name: ['Nama Lengkap', 'name'],
      birth_date: ['tanggal-lahir', 'name'],
      sex: ['JK', 'name'],
      address: ['ALAMAT_RUMAH', 'closest'],
    });
  });

  it('gives a column to one field only, a known name before a close one, and guesses nothing from short names', () => {
    // NAMA is the name; NAMA_IBU the mother's, not a second guess at the name
    expect(field(['NAMA', 'NAMA_IBU'])).toEqual({ name: 'NAMA', mother_name: 'NAMA_IBU' });
    expect(field(['RX', 'KT'])).toEqual({});
    expect(Object.values(KNOWN_COLUMNS).every((names) => names.length > 0)).toBe(true);
  });
});

describe('guessing a date format', () => {
  it('none where the built-in formats read the values', () => {
    expect(guessDateFormat(['20/05/1975', '28-04-1983', '1990-01-31', '', '-'])).toBeUndefined();
  });
  it('the format that reads them otherwise', () => {
    expect(guessDateFormat(['1975.05.20', '1983.04.28', ''])).toBe('%Y.%m.%d');
    expect(guessDateFormat(['20 May 1975', '1 Jan 1983'])).toBe('%d %b %Y');
    expect(guessDateFormat(['20 September 1975', '1 July 1983'])).toBe('%d %B %Y');
  });
  it('none when no format reads them (impossible days, month-first, words)', () => {
    expect(guessDateFormat(['1975.13.45', '1983.02.30'])).toBeUndefined();
    expect(guessDateFormat(['05/20/1975x', 'unknown'])).toBeUndefined();
  });
});

const P3KE_HEADER = '"id_p3ke","id_keluarga_p3ke","nik","nama_lengkap","tanggal_lahir","jenis_kelamin","alamat","rt","rw","kode_kemendagri","desil_kesejahteraan","penerima_bansos"';
const p3keRow = (id: string, date: string) => `"${id}","K1","3204125708850002","SITI AMINAH","${date}","Perempuan","Jl. Mawar","003","005","3204122001","1","PKH,BPNT"`;

function inputs(dir: string) {
  const dtks = write(dir, 'in/dtks.csv', `${DTKS_HEADER.replace('NAMA;', 'NAMA_LENGKAP;')}\n${dtksRow('DTKS-1', '3204125708850002', 'SITI')}\n`);
  // a TSV file with a .tsv extension, and its dates in a format that needs date_formats
  const regsosek = write(dir, 'in/regsosek.tsv', `ID_ART\tNIK\tNAMA\tTGL_LAHIR\tJENIS_KELAMIN\tKODE_DESA\nRS-1\t3204125708850002\tSiti\t1985.08.17\t2\t3204122001\n`);
  write(dir, 'in/p3ke/a.csv', `${P3KE_HEADER}\n${p3keRow('P1', '17/08/1985')}\n`);
  const p3ke = join(dir, 'in/p3ke');
  // a folder of files: the second lacks penerima_bansos
  write(dir, 'in/p3ke/b.csv', `${P3KE_HEADER.replace(',"penerima_bansos"', '')}\n${p3keRow('P2', '17/08/1985').replace(/,"PKH,BPNT"$/, '')}\n`);
  return { dtks, regsosek, p3ke };
}

describe('dtsen init', () => {
  it('writes a config and three mappings that validate reads, and no value of the data', async () => {
    const dir = tempDir();
    const p = inputs(dir);
    const r = await cli(['init', '--dtks', p.dtks, '--regsosek', p.regsosek, '--p3ke', p.p3ke, '--config-dir', join(dir, 'cfg'), '--out', join(dir, 'out', 'q4')]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).not.toMatch(/3204125708850002|SITI|Siti/);
    const config = JSON.parse(readFileSync(join(dir, 'cfg/batch.json'), 'utf8'));
    expect(config).toMatchObject({ batch: 'q4', snapshot_id: 'q4', out: '../out/q4', sources: { dtks: { path: '../in/dtks.csv', mapping: 'sources/dtks.json' } } });
    const reg = JSON.parse(readFileSync(join(dir, 'cfg/sources/regsosek.json'), 'utf8'));
    expect(reg).toMatchObject({ source: 'regsosek', format: 'csv', csv: { delimiter: '\t' }, date_formats: ['%Y.%m.%d'] });
    expect(reg.columns).toEqual({ source_record_id: 'ID_ART', nik: 'NIK', name: 'NAMA', birth_date: 'TGL_LAHIR', sex: 'JENIS_KELAMIN', village_code: 'KODE_DESA' });
    const p3ke = JSON.parse(readFileSync(join(dir, 'cfg/sources/p3ke.json'), 'utf8'));
    expect(p3ke.optional_columns).toEqual(['programme_list']);
    expect(p3ke.date_formats).toEqual([]);
    expect(JSON.parse(readFileSync(join(dir, 'cfg/sources/dtks.json'), 'utf8')).columns.name).toBe('NAMA_LENGKAP');
    const v = await cli(['validate', '--log-level', 'silent', '--config', join(dir, 'cfg/batch.json')]);
    expect(v.code).toBe(0);
    expect(v.out).toMatch(/regsosek\s+birth_date\s+TGL_LAHIR\s+1\s+1\s+0\s+0\s+100\.00%/);
  });

  it('never overwrites existing files unless --force', async () => {
    const dir = tempDir();
    const p = inputs(dir);
    const args = ['init', '--dtks', p.dtks, '--regsosek', p.regsosek, '--p3ke', p.p3ke, '--config-dir', join(dir, 'cfg')];
    const edited = write(dir, 'cfg/sources/dtks.json', '{"edited": true}\n');
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/already exists: .*dtks\.json.*--force/);
    expect(readFileSync(edited, 'utf8')).toBe('{"edited": true}\n');
    expect((await cli([...args, '--force'])).code).toBe(0);
    expect(JSON.parse(readFileSync(edited, 'utf8')).source).toBe('dtks');
  });

  it('names a required field it found no column for, the columns left and the line to write (exit 2)', async () => {
    const dir = tempDir();
    const p = inputs(dir);
    const dtks = write(dir, 'in/odd.csv', 'IDDTKS;NIK;NM;TGL_LAHIR;JENIS_KELAMIN;WARNA\nD1;3204125708850002;SITI;17-08-1985;P;x\n');
    const r = await cli(['init', '--dtks', dtks, '--regsosek', p.regsosek, '--p3ke', p.p3ke, '--config-dir', join(dir, 'cfg')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/dtks: no column found for name \(full name\); columns found: NM, WARNA — write "name": "<column>" under "columns" in .*cfg\/sources\/dtks\.json/);
    expect(r.err).not.toMatch(/SITI|3204125708850002/);
  });

  it('a file it cannot read is named, and nothing is written', async () => {
    const dir = tempDir();
    const p = inputs(dir);
    await expect(initBatch({ paths: { ...p, dtks: join(dir, 'nope.csv') }, configDir: join(dir, 'cfg') })).rejects.toThrow(/nope\.csv.*snapshot not found|snapshot not found.*nope\.csv/);
    expect(() => readFileSync(join(dir, 'cfg/batch.json'))).toThrow();
  });
});
