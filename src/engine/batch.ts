/**
 * A finished batch opened for reading — the one way into a batch's database after its run (`dtsen sql`,
 * `explain`, `evaluate`, `blocking`). Nothing here, and nothing a caller runs through it, can change the batch:
 * the database is opened `access_mode = READ_ONLY`, then sealed (no file, network or extension access beyond
 * the database itself and the files a command names, e.g. the truth CSV; settings locked); DuckDB's spill
 * files go to a folder of their own outside the batch folder. Temporary tables still work (they live in memory
 * and that folder). batch_info (the run's config and figures) is parsed here only.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Db } from './db.ts';
import { InputError } from './errors.ts';
import { Linkage } from '../../schemas/config.ts';

export interface OpenBatch {
  /** the output folder as given (resolved, not followed: it may be a symlink to a versioned folder) */
  dir: string;
  /** its database file */
  dbPath: string;
  db: Db;
  /** the batch config as the run recorded it (batch_info.config) */
  config: Record<string, unknown>;
  linkage: Linkage;
  /** the batch's figures (batch_info.figures), as the run recorded them */
  figures: Record<string, unknown>;
  close(): Promise<void>;
}

export interface OpenBatchOptions {
  /** files outside the database a command must read (absolute after resolve), e.g. a truth CSV */
  allowedPaths?: readonly string[];
  threads?: number;
  memoryLimit?: string;
}

const FINISHED = 'the output folder of a finished `dtsen run`';

/**
 * Opens DIR/dtsen.duckdb read-only and sealed. A finished batch has report.json (published last) beside its
 * database; anything else is an input error naming what is missing.
 */
export async function openBatch(dir: string, opts: OpenBatchOptions = {}): Promise<OpenBatch> {
  const out = resolve(dir);
  const dbPath = join(out, 'dtsen.duckdb');
  if (!existsSync(out)) throw new InputError('output folder not found', { file: out, expected: FINISHED });
  if (!existsSync(dbPath)) throw new InputError('no batch database here', { file: dbPath, expected: FINISHED });
  if (!existsSync(join(out, 'report.json'))) {
    throw new InputError('the batch in this folder has not finished (report.json, written last, is missing)', { file: out, expected: 'a finished batch' });
  }
  // DuckDB's default spill folder is DB.tmp beside the database, inside the batch folder: put it elsewhere. It
  // is created only when a query spills, and removed on close.
  const spill = join(tmpdir(), `dtsen-read-${process.pid}-${randomBytes(6).toString('hex')}`);
  let db: Db;
  try {
    db = await Db.open({
      path: dbPath,
      readOnly: true,
      tempDirectory: spill,
      threads: opts.threads,
      memoryLimit: opts.memoryLimit,
      sealed: { allowedPaths: (opts.allowedPaths ?? []).map((p) => resolve(p)) },
    });
  } catch (e) {
    await rm(spill, { recursive: true, force: true });
    throw new InputError(`cannot open the batch database read-only (${(e as Error).message})`, { file: dbPath });
  }
  const close = async () => {
    db.close();
    await rm(spill, { recursive: true, force: true });
  };
  try {
    const info = (await db.tableExists('batch_info'))
      ? await db.one<{ config: string; figures: string }>(`SELECT config::VARCHAR AS config, figures::VARCHAR AS figures FROM batch_info`)
      : undefined;
    if (!info) throw new InputError('the batch database has no batch_info table', { file: dbPath, expected: 'a database written by `dtsen run`' });
    const config = JSON.parse(info.config) as Record<string, unknown>;
    const linkage = Linkage.parse(config.linkage ?? {});
    return { dir: out, dbPath, db, config, linkage, figures: JSON.parse(info.figures) as Record<string, unknown>, close };
  } catch (e) {
    await close();
    throw e;
  }
}
