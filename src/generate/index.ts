/**
 * dtsen generate: a synthetic Indonesian population written as the three source snapshots (in the layouts
 * of source-formats.md) with the ground truth beside them. Deterministic for a seed; streamed, so a
 * million persons need little memory.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { Db, lit } from '../engine/db.ts';
import { writeFileAtomic } from '../engine/files.ts';
import { Rng } from './rng.ts';
import { dotted, sampleVillages } from './regions.ts';
import { PopulationBuilder, type Family, type Person } from './population.ts';
import { bump, corruptDate, corruptName, corruptNik, rtRw, statedDate, type Counts } from './corrupt.ts';
import { profileByName, type Profile, type SourceProfile } from './profiles.ts';

export const GENERATOR_VERSION = 1;

export interface GenerateOptions {
  persons: number;
  seed: number;
  out: string;
  /** the population's profile (profiles.ts; default: 'default') */
  profile?: Profile;
  onProgress?: (msg: string, done: number, total: number) => void;
}

export interface GenerateResult {
  persons: number;
  families: number;
  records: { dtks: number; regsosek: number; p3ke: number };
  files: string[];
}

const DTKS_HEADER = ['IDDTKS', 'NO_KK', 'NIK', 'NAMA', 'TEMPAT_LAHIR', 'TGL_LAHIR', 'JENIS_KELAMIN', 'HUB_KRT', 'NAMA_IBU_KANDUNG', 'ALAMAT', 'KODE_WILAYAH', 'PROVINSI', 'KABUPATEN_KOTA', 'KECAMATAN', 'DESA_KELURAHAN', 'PKH', 'BPNT', 'PBI_JKN', 'STATUS_DUKCAPIL', 'TGL_UPDATE'];
const P3KE_HEADER = ['id_p3ke', 'id_keluarga_p3ke', 'nik', 'nama_lengkap', 'tanggal_lahir', 'jenis_kelamin', 'alamat', 'rt', 'rw', 'kode_kemendagri', 'desil_kesejahteraan', 'penerima_bansos'];
const HUB_KRT = ['', 'KEPALA RUMAH TANGGA', 'ISTRI/SUAMI', 'ANAK', 'MENANTU', 'CUCU', 'ORANG TUA/MERTUA', 'PEMBANTU RUMAH TANGGA', 'LAINNYA'];
/** Family coverage by decile (index 0 = decile 1): DTKS and P3KE skew poor; Regsosek covers most. */
const DTKS_COVERAGE = [0.9, 0.85, 0.75, 0.65, 0.5, 0.35, 0.2, 0.1, 0.05, 0.02];
const P3KE_COVERAGE = [0.9, 0.85, 0.65, 0.45, 0, 0, 0, 0, 0, 0];
const REGSOSEK_COVERAGE = 0.88;

const pad = (n: number, w: number) => String(n).padStart(w, '0');

/** A text file written in buffered chunks, under a temporary name until finished. */
class LineWriter {
  private buf: string[] = [];
  private readonly stream: WriteStream;
  readonly tmp: string;
  constructor(readonly path: string) {
    this.tmp = join(path, '..', `.tmp-${process.pid}-${path.split('/').pop()}`);
    this.stream = createWriteStream(this.tmp);
  }
  async line(s: string): Promise<void> {
    this.buf.push(s);
    if (this.buf.length >= 20000) await this.flush();
  }
  private async flush(): Promise<void> {
    if (!this.buf.length) return;
    const ok = this.stream.write(`${this.buf.join('\n')}\n`);
    this.buf = [];
    if (!ok) await once(this.stream, 'drain');
  }
  async close(publish = true): Promise<void> {
    await this.flush();
    this.stream.end();
    await once(this.stream, 'finish');
    if (publish) await rename(this.tmp, this.path);
  }
}

const csvSemi = (v: string) => (/[;"\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
const csvQuoted = (v: string) => `"${v.replaceAll('"', '""')}"`;

function titleCase(s: string): string {
  return s.toLowerCase().replace(/(^|[\s.'-])([a-z])/g, (_, a: string, b: string) => a + b.toUpperCase());
}

function fmtDate(d: [number, number, number] | undefined, style: 'dmy-' | 'dmy/' | 'ymd'): string {
  if (!d) return '';
  const [y, m, day] = d;
  if (style === 'ymd') return `${y}-${pad(m, 2)}-${pad(day, 2)}`;
  return `${pad(day, 2)}${style === 'dmy-' ? '-' : '/'}${pad(m, 2)}${style === 'dmy-' ? '-' : '/'}${y}`;
}

function ageAt(dob: string, at = '2022-10-15'): number {
  const [y, m, d] = dob.split('-').map(Number);
  const [ay, am, ad] = at.split('-').map(Number);
  return ay - y - (am < m || (am === m && ad < d) ? 1 : 0);
}

export async function generate(opts: GenerateOptions): Promise<GenerateResult> {
  const rng = new Rng(opts.seed);
  const profile = opts.profile ?? profileByName('default');
  const sp = profile.sources;
  await mkdir(opts.out, { recursive: true });
  const villageCount = profile.villagePersons
    ? Math.max(1, Math.round(opts.persons / profile.villagePersons))
    : Math.min(8000, Math.max(25, Math.round(opts.persons / 150)));
  const villages = sampleVillages(rng, villageCount, profile.provinceWeights);
  const builder = new PopulationBuilder(rng, villages, profile);
  const paths = {
    dtks: join(opts.out, 'dtks.csv'),
    regsosek: join(opts.out, 'regsosek.parquet'),
    p3ke: join(opts.out, 'p3ke.csv'),
    truth: join(opts.out, 'truth.csv'),
  };
  const dtks = new LineWriter(paths.dtks);
  const p3ke = new LineWriter(paths.p3ke);
  const truth = new LineWriter(paths.truth);
  const regsosekTsv = new LineWriter(join(opts.out, 'regsosek.tsv'));
  await dtks.line(DTKS_HEADER.join(';'));
  await p3ke.line(P3KE_HEADER.map(csvQuoted).join(','));
  await truth.line('source,source_record_id,person_id,family_id');
  const counts: Record<'dtks' | 'regsosek' | 'p3ke', Counts> = { dtks: {}, regsosek: {}, p3ke: {} };
  const records = { dtks: 0, regsosek: 0, p3ke: 0 };
  const hard = { twins: 0, juniors: 0 };
  let persons = 0;
  let families = 0;
  let p3keFamilySeq = 0;

  const otherVillage = (f: Family) => rng.pick(villages.filter((v) => v.district === f.village.district).concat(rng.pick(villages)));
  /** The family as one source lists it: at another address when it moved, with another family card after churn. */
  const asListed = (f: Family, s: SourceProfile, c: Counts): Family => {
    let g = f;
    if (rng.chance(s.moved)) {
      bump(c, 'address_moved');
      const village = otherVillage(f);
      g = { ...g, village, rt: rng.int(1, 15), rw: rng.int(1, 12), street: rng.chance(0.5) ? f.street : `JL. ${village.name.toUpperCase()}` };
    }
    if (rng.chance(s.kkChurn)) {
      bump(c, 'kk_changed');
      g = { ...g, kk: builder.kk(g.village.district) };
    }
    return g;
  };
  const nikMissing = (s: SourceProfile, p: Person) => (ageAt(p.dob) < 17 ? s.nikMissingChild : s.nikMissingAdult);
  const stated = (p: Person, c: Counts) => statedDate(rng, p, profile.conventionalVariation, c);

  async function writeDtks(f: Family, p: Person, relative: Person | undefined, villageCode: string, c: Counts): Promise<void> {
    records.dtks++;
    const id = `DTKS-${f.village.district.slice(0, 4)}-${pad(records.dtks, 8)}`;
    const birthYear = Number(p.dob.slice(0, 4));
    const nik = corruptNik(rng, { nik: p.nik, kk: f.kk, relativeNik: relative?.nik, missing: nikMissing(sp.dtks, p), rate: sp.dtks.nikErrors, spreadsheet: sp.dtks.spreadsheet }, c);
    const date = corruptDate(rng, stated(p, c), sp.dtks.dateErrors, sp.dtks.dateMissing, c);
    const style = rng.chance(0.8) ? 'dmy-' : rng.chance(0.5) ? 'dmy/' : 'ymd';
    let name = corruptName(rng, p.name, birthYear, sp.dtks.nameErrors, c).toUpperCase();
    let nikOut = nik;
    let extra = '';
    // A few rows with no usable identity, and a few broken lines, as real exports have.
    if (rng.chance(1 / 1500)) {
      name = '';
      nikOut = '-';
      bump(c, 'row_no_identity');
    } else if (rng.chance(1 / 2500)) {
      extra = ';';
      bump(c, 'row_extra_field');
    }
    const village = dotted(villageCode);
    const poor = f.decile <= 4;
    const flag = (p1: boolean) => (rng.chance(0.2) ? (p1 ? 'YA' : 'TIDAK') : p1 ? '1' : '0');
    const fields = [
      id,
      rng.chance(0.03) ? (rng.chance(0.5) ? '' : f.kk.slice(0, 15)) : f.kk,
      nikOut,
      name,
      p.birthPlace,
      fmtDate(date, style),
      rng.chance(0.85) ? (p.sex === 'L' ? 'LAKI-LAKI' : 'PEREMPUAN') : p.sex,
      HUB_KRT[p.relation],
      p.motherName,
      `${f.street} ${rtRw(rng, f.rt, f.rw)}`,
      rng.chance(0.9) ? village : villageCode,
      f.village.provinceName,
      f.village.regencyName,
      f.village.districtName.toUpperCase(),
      f.village.name.toUpperCase(),
      flag(poor && rng.chance(0.6)),
      flag(poor && rng.chance(0.7)),
      flag(f.decile <= 5 && rng.chance(0.8)),
      nik === p.nik ? (rng.chance(0.8) ? 'PADAN' : '') : rng.chance(0.7) ? 'TIDAK PADAN' : '',
      fmtDate([rng.int(2023, 2026), rng.int(1, 9), rng.int(1, 28)], 'dmy-'),
    ];
    await dtks.line(fields.map(csvSemi).join(';') + extra);
    await truth.line(`dtks,${id},${p.pid},${f.fid}`);
  }

  async function writeRegsosek(f: Family, p: Person, member: number, relative: Person | undefined, c: Counts, dupOf?: string): Promise<void> {
    records.regsosek++;
    const id = dupOf ? `RS-${pad(f.seq + 5_000_000_000, 10)}-${pad(member, 2)}` : `RS-${pad(f.seq, 10)}-${pad(member, 2)}`;
    const age = ageAt(p.dob);
    const nik = corruptNik(rng, { nik: p.nik, kk: f.kk, relativeNik: relative?.nik, missing: nikMissing(sp.regsosek, p), rate: sp.regsosek.nikErrors, spreadsheet: sp.regsosek.spreadsheet }, c);
    const date = corruptDate(rng, stated(p, c), sp.regsosek.dateErrors, sp.regsosek.dateMissing, c);
    const raw = corruptName(rng, p.name, Number(p.dob.slice(0, 4)), sp.regsosek.nameErrors, c);
    const name = rng.chance(0.6) ? titleCase(raw) : raw;
    const dateOk = date && !Number.isNaN(Date.parse(fmtDate(date, 'ymd')));
    const fields = [
      id,
      dupOf ? `RS-${pad(f.seq + 5_000_000_000, 10)}` : `RS-${pad(f.seq, 10)}`,
      nik,
      name,
      dateOk ? fmtDate(date, 'ymd') : '',
      String(age),
      p.sex === 'L' ? '1' : '2',
      String(p.relation),
      f.village.code,
      `${titleCase(f.street)} ${rtRw(rng, f.rt, f.rw)}`,
      String(f.decile),
    ];
    await regsosekTsv.line(fields.join('\t'));
    await truth.line(`regsosek,${id},${p.pid},${f.fid}`);
  }

  async function writeP3ke(f: Family, famId: string, p: Person, relative: Person | undefined, villageCode: string, c: Counts): Promise<void> {
    records.p3ke++;
    const id = `P3KE-${pad(records.p3ke + 1_000_000, 7)}`;
    const nik = corruptNik(rng, { nik: p.nik, kk: f.kk, relativeNik: relative?.nik, missing: nikMissing(sp.p3ke, p), rate: sp.p3ke.nikErrors, spreadsheet: sp.p3ke.spreadsheet }, c);
    let date = corruptDate(rng, stated(p, c), sp.p3ke.dateErrors, sp.p3ke.dateMissing, c);
    if (date && rng.chance(1 / 2000)) {
      date = [date[0], 2, 31];
      bump(c, 'date_impossible');
    }
    const raw = corruptName(rng, p.name, Number(p.dob.slice(0, 4)), sp.p3ke.nameErrors, c);
    const decile = Math.min(4, Math.max(1, f.decile + (rng.chance(0.15) ? rng.pick([-1, 1]) : 0)));
    const progs = [f.decile <= 3 && rng.chance(0.5) ? 'PKH' : '', rng.chance(0.6) ? 'BPNT' : '', rng.chance(0.7) ? rng.pick(['PBI-JKN', 'PBI', 'KIS']) : ''].filter(Boolean);
    const fields = [
      id,
      famId,
      nik,
      rng.chance(0.5) ? raw.toUpperCase() : titleCase(raw),
      fmtDate(date, 'dmy/'),
      p.sex === 'L' ? 'Laki-laki' : 'Perempuan',
      titleCase(f.street),
      rng.chance(0.5) ? String(f.rt) : pad(f.rt, 3),
      rng.chance(0.5) ? String(f.rw) : pad(f.rw, 3),
      rng.chance(0.5) ? dotted(villageCode) : villageCode,
      String(decile),
      progs.join(','),
    ];
    await p3ke.line(fields.map(csvQuoted).join(','));
    await truth.line(`p3ke,${id},${p.pid},${f.fid}`);
  }

  while (persons < opts.persons) {
    const f = builder.family();
    families++;
    persons += f.members.length;
    hard.twins += f.members.filter((m) => m.twin).length;
    hard.juniors += f.members.filter((m) => m.junior).length;
    const head = f.members[0];
    const relativeOf = (p: Person) => (p === head ? f.members[1] : head);
    // Regsosek: most families of every decile.
    if (rng.chance(Math.min(1, REGSOSEK_COVERAGE * sp.regsosek.coverage))) {
      const g = asListed(f, sp.regsosek, counts.regsosek);
      for (const [i, p] of f.members.entries()) {
        if (!rng.chance(sp.regsosek.memberCoverage)) continue;
        await writeRegsosek(g, p, i + 1, relativeOf(p), counts.regsosek);
        if (rng.chance(sp.regsosek.duplicates)) {
          bump(counts.regsosek, 'duplicate_record');
          await writeRegsosek(g, p, i + 1, relativeOf(p), counts.regsosek, 'dup');
        }
      }
    }
    if (rng.chance(Math.min(1, DTKS_COVERAGE[f.decile - 1] * sp.dtks.coverage))) {
      const g = asListed(f, sp.dtks, counts.dtks);
      for (const p of f.members) {
        if (!rng.chance(sp.dtks.memberCoverage)) continue;
        await writeDtks(g, p, relativeOf(p), g.village.code, counts.dtks);
        if (rng.chance(sp.dtks.duplicates)) {
          bump(counts.dtks, 'duplicate_record');
          await writeDtks(g, p, relativeOf(p), g.village.code, counts.dtks);
        }
      }
    }
    if (rng.chance(Math.min(1, P3KE_COVERAGE[f.decile - 1] * sp.p3ke.coverage))) {
      const famId = `KP3KE-${pad(++p3keFamilySeq, 8)}`;
      const g = asListed(f, sp.p3ke, counts.p3ke);
      for (const p of f.members) {
        if (!rng.chance(sp.p3ke.memberCoverage)) continue;
        await writeP3ke(g, famId, p, relativeOf(p), g.village.code, counts.p3ke);
        if (rng.chance(sp.p3ke.duplicates)) {
          bump(counts.p3ke, 'duplicate_record');
          await writeP3ke(g, famId, p, relativeOf(p), g.village.code, counts.p3ke);
        }
      }
    }
    if (families % 20000 === 0) opts.onProgress?.('families', persons, opts.persons);
  }
  await Promise.all([dtks.close(), p3ke.close(), truth.close(), regsosekTsv.close()]);

  // Regsosek is Parquet with typed columns: DuckDB converts the TSV.
  const db = await Db.open();
  const tmpParquet = join(opts.out, `.tmp-${process.pid}-regsosek.parquet`);
  try {
    await db.run(`
      COPY (
        SELECT id_art, id_keluarga, nullif(nik, '') AS nik, nama, try_cast(nullif(tgl_lahir, '') AS DATE) AS tgl_lahir,
               umur::INTEGER AS umur, jenis_kelamin::INTEGER AS jenis_kelamin, hub_kk::INTEGER AS hub_kk,
               kode_desa, alamat, desil::INTEGER AS desil
        FROM read_csv(${lit(regsosekTsv.path)}, delim = '\t', quote = '', escape = '', header = false, auto_detect = false,
          columns = {'id_art': 'VARCHAR', 'id_keluarga': 'VARCHAR', 'nik': 'VARCHAR', 'nama': 'VARCHAR', 'tgl_lahir': 'VARCHAR', 'umur': 'VARCHAR',
                     'jenis_kelamin': 'VARCHAR', 'hub_kk': 'VARCHAR', 'kode_desa': 'VARCHAR', 'alamat': 'VARCHAR', 'desil': 'VARCHAR'})
      ) TO ${lit(tmpParquet)} (FORMAT parquet, COMPRESSION zstd);`);
  } finally {
    db.close();
  }
  await rename(tmpParquet, paths.regsosek);
  await rm(regsosekTsv.path, { force: true });
  const manifest = {
    generator_version: GENERATOR_VERSION,
    seed: opts.seed,
    profile,
    persons,
    families,
    villages: villages.length,
    records,
    hard_negatives: hard,
    corruptions: counts,
    attribution: 'Region codes and names: idn-area-data (data ODbL)',
  };
  await writeFileAtomic(join(opts.out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return { persons, families, records, files: [paths.dtks, paths.regsosek, paths.p3ke, paths.truth, join(opts.out, 'manifest.json')] };
}
