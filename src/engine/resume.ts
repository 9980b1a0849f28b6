/**
 * Resuming a batch. The staging database records what the batch is made of (a fingerprint of the config and of
 * the input files: paths, sizes, modification times) and, after each stage whose tables are durable, the stage's
 * completion (`batch_stage`, followed by a CHECKPOINT). `dtsen run --resume` checks the fingerprint, restores the
 * figures of the finished stages and runs the rest.
 */
import { createHash } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from './db.ts';
import { lit } from './db.ts';
import type { LoadedConfig } from './config.ts';
import { InputError } from './errors.ts';
import { listSnapshotFiles } from '../stages/ingest/files.ts';

interface FileStamp {
  path: string;
  size: number;
  mtime_ms: number;
}

export interface Fingerprint {
  hash: string;
  /** what was hashed: the config without the settings that do not change the result, and the files */
  detail: { config: unknown; mappings: Record<string, unknown>; files: FileStamp[] };
}

async function stampOf(path: string): Promise<FileStamp> {
  const st = await stat(path).catch(() => undefined);
  return { path, size: st?.size ?? -1, mtime_ms: st?.mtimeMs ?? -1 };
}

/** The fingerprint of a batch: its config (threads, memory and output folder aside) and its input files. */
export async function fingerprint(loaded: LoadedConfig): Promise<Fingerprint> {
  const { threads: _t, memory_limit: _m, out: _o, ...config } = loaded.config;
  const files: FileStamp[] = [];
  const mappings: Record<string, unknown> = {};
  for (const s of loaded.sources) {
    mappings[s.name] = s.mapping;
    const listed = await listSnapshotFiles(s.path, s.mapping.format);
    for (const f of listed.files) files.push(await stampOf(f));
  }
  if (loaded.truthPath) files.push(await stampOf(loaded.truthPath));
  if (config.linkage.model) files.push(await stampOf(config.linkage.model));
  if (config.decisions) files.push(await stampOf(config.decisions));
  if (config.previous) files.push(await stampOf(join(config.previous, 'dtsen.duckdb')));
  const detail = { config: { ...config, sources: loaded.sources.map((s) => ({ name: s.name, path: s.path })), truth: loaded.truthPath ?? null }, mappings, files };
  return { hash: createHash('sha256').update(JSON.stringify(detail)).digest('hex'), detail };
}

/** The first difference between two fingerprints, in words (paths and sizes only, never values of the data). */
function difference(was: Fingerprint['detail'], now: Fingerprint['detail']): string {
  const before = new Map(was.files.map((f) => [f.path, f]));
  const after = new Map(now.files.map((f) => [f.path, f]));
  for (const [p, f] of after) {
    const b = before.get(p);
    if (!b) return `input file ${p} was not part of it`;
    if (b.size !== f.size) return `input file ${p} changed size (${b.size} → ${f.size} bytes)`;
    if (b.mtime_ms !== f.mtime_ms) return `input file ${p} was modified (${new Date(b.mtime_ms).toISOString()} → ${new Date(f.mtime_ms).toISOString()})`;
  }
  for (const p of before.keys()) if (!after.has(p)) return `input file ${p} is no longer part of it`;
  if (JSON.stringify(was.mappings) !== JSON.stringify(now.mappings)) return 'a source mapping changed';
  const a = was.config as Record<string, unknown>;
  const b = now.config as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  return keys.length ? `the config changed (${keys.join(', ')})` : 'the config or the inputs changed';
}

const STAGE_TABLE = `CREATE TABLE IF NOT EXISTS batch_stage (
  stage VARCHAR PRIMARY KEY, position INTEGER, rows BIGINT, seconds DOUBLE, figures JSON, files JSON, finished_at TIMESTAMPTZ)`;

/** Records what the new batch is made of, before its first stage. */
export async function writeFingerprint(db: Db, fp: Fingerprint): Promise<void> {
  await db.run(`
    CREATE OR REPLACE TABLE batch_fingerprint AS SELECT ${lit(fp.hash)} AS hash, ${lit(JSON.stringify(fp.detail))}::JSON AS detail, now() AS created_at;
    ${STAGE_TABLE};
    CHECKPOINT;`);
}

/**
 * Checks that an unfinished batch is made of the same config and inputs as the run resuming it (InputError,
 * exit 2, otherwise). Returns false when the staging database never got as far as recording them.
 */
export async function checkFingerprint(db: Db, fp: Fingerprint, stagingDir: string): Promise<boolean> {
  if (!(await db.tableExists('batch_fingerprint')) || !(await db.tableExists('batch_stage'))) return false;
  const row = await db.one<{ hash: string; detail: string }>(`SELECT hash, detail::VARCHAR AS detail FROM batch_fingerprint`);
  if (!row) return false;
  if (row.hash !== fp.hash) {
    const why = difference(JSON.parse(row.detail) as Fingerprint['detail'], fp.detail);
    throw new InputError(
      `cannot resume: ${why} since the unfinished batch began. Run without --resume to start a new batch ` +
        '(the unfinished one is then discarded), or restore the inputs and config it was started with',
      { file: stagingDir },
    );
  }
  return true;
}

export interface FinishedStage {
  stage: string;
  rows: number;
  seconds: number;
  figures: Record<string, unknown> | null;
  files: string[];
}

/** The stages the staging database records as finished, in their order. */
export async function finishedStages(db: Db): Promise<FinishedStage[]> {
  const rows = await db.all<{ stage: string; rows: string; seconds: number; figures: string | null; files: string }>(
    `SELECT stage, rows::VARCHAR AS rows, seconds, figures::VARCHAR AS figures, files::VARCHAR AS files FROM batch_stage ORDER BY position`,
  );
  return rows.map((r) => ({
    stage: r.stage,
    rows: Number(r.rows),
    seconds: Number(r.seconds),
    figures: r.figures === null ? null : (JSON.parse(r.figures) as Record<string, unknown>),
    files: JSON.parse(r.files) as string[],
  }));
}

/** The files a version folder holds, apart from the database and DuckDB's spill folder. */
export async function outputEntries(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => !DB_ENTRIES.has(f)).sort();
}

const DB_ENTRIES = new Set(['dtsen.duckdb', 'dtsen.duckdb.wal', 'spill']);

/** Records a finished stage; its tables are durable once the CHECKPOINT returns. */
export async function recordStage(
  db: Db,
  stagingDir: string,
  position: number,
  s: { stage: string; rows: number; seconds: number; figures?: unknown },
): Promise<void> {
  const files = await outputEntries(stagingDir);
  const figures = s.figures === undefined ? 'NULL' : `${lit(JSON.stringify(s.figures))}::JSON`;
  await db.run(`
    ${STAGE_TABLE};
    INSERT OR REPLACE INTO batch_stage VALUES (${lit(s.stage)}, ${position}, ${s.rows}, ${s.seconds}, ${figures}, ${lit(JSON.stringify(files))}::JSON, now());
    CHECKPOINT;`);
}

/**
 * Before resuming: removes what an interrupted stage left in the version folder (files that no finished stage
 * wrote: a half-written export, temporary files) and DuckDB's spill folder.
 */
export async function removeUnfinishedOutputs(dir: string, finished: readonly FinishedStage[]): Promise<void> {
  const keep = new Set(finished.at(-1)?.files ?? []);
  for (const f of await readdir(dir)) {
    if (f === 'dtsen.duckdb' || f === 'dtsen.duckdb.wal' || keep.has(f)) continue;
    await rm(join(dir, f), { recursive: true, force: true });
  }
  if (existsSync(join(dir, 'spill'))) await rm(join(dir, 'spill'), { recursive: true, force: true });
}
