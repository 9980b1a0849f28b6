/**
 * A finished batch opened for reading: its database (read-only), its linkage settings and its model.
 * Used by `dtsen explain` and `dtsen sql`; nothing here writes to the batch.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Db, lit } from '../engine/db.ts';
import { InputError } from '../engine/errors.ts';
import { formatZodError } from '../engine/config.ts';
import { Linkage } from '../../schemas/config.ts';
import { Model } from '../../schemas/model.ts';
import { SOURCES, type SourceName } from '../../schemas/canonical.ts';

export interface OpenBatch {
  dir: string;
  db: Db;
  linkage: Linkage;
  /** the batch's figures (batch_info.figures), as the run recorded them */
  figures: Record<string, unknown>;
  close(): void;
}

/**
 * Opens DIR/dtsen.duckdb read-only. A finished batch has report.json (published last) beside its database;
 * anything else is an input error naming what is missing.
 */
export async function openBatch(dir: string): Promise<OpenBatch> {
  const out = resolve(dir);
  const dbPath = join(out, 'dtsen.duckdb');
  if (!existsSync(out)) throw new InputError('output folder not found', { file: out, expected: 'the output folder of a finished `dtsen run`' });
  if (!existsSync(dbPath)) throw new InputError('no batch database here', { file: dbPath, expected: 'the output folder of a finished `dtsen run`' });
  if (!existsSync(join(out, 'report.json'))) {
    throw new InputError('the batch in this folder has not finished (report.json, written last, is missing)', { file: out, expected: 'a finished batch' });
  }
  let db: Db;
  try {
    db = await Db.open({ path: dbPath, readOnly: true });
  } catch (e) {
    throw new InputError(`cannot open the batch database read-only (${(e as Error).message})`, { file: dbPath });
  }
  try {
    const info = (await db.tableExists('batch_info'))
      ? await db.one<{ config: string; figures: string }>(`SELECT config::VARCHAR AS config, figures::VARCHAR AS figures FROM batch_info`)
      : undefined;
    if (!info) throw new InputError('the batch database has no batch_info table', { file: dbPath, expected: 'a database written by `dtsen run`' });
    const config = JSON.parse(info.config) as { linkage?: unknown };
    const linkage = Linkage.parse(config.linkage ?? {});
    return { dir: out, db, linkage, figures: JSON.parse(info.figures) as Record<string, unknown>, close: () => db.close() };
  } catch (e) {
    db.close();
    throw e;
  }
}

/**
 * The batch's model: model.json of the output folder, else the copy the run kept in batch_info. A batch
 * linked by the exact engine has none.
 */
export async function batchModel(batch: OpenBatch): Promise<Model> {
  const file = join(batch.dir, 'model.json');
  let json: unknown;
  if (existsSync(file)) {
    try {
      json = JSON.parse(await readFile(file, 'utf8'));
    } catch (e) {
      throw new InputError(`model file cannot be read as JSON (${(e as Error).message})`, { file });
    }
  } else {
    json = (batch.figures.link as { model?: unknown } | undefined)?.model;
  }
  if (json === undefined) {
    throw new InputError(`this batch was linked by the ${batch.linkage.engine} engine and has no model to explain`, {
      file: batch.dir,
      expected: 'a batch linked by the probabilistic engine (model.json)',
    });
  }
  const parsed = Model.safeParse(json);
  if (!parsed.success) throw new InputError(`invalid model:\n  ${formatZodError(parsed.error)}`, { file });
  return parsed.data;
}

/** The blocking rule names of the batch, by their bit in candidate_pairs.rules (as the run recorded them). */
export function blockingRuleNames(batch: OpenBatch): string[] {
  const rules = (batch.figures.link as { blocking?: { rules?: { rule: string }[] } } | undefined)?.blocking?.rules ?? [];
  return rules.map((r) => r.rule);
}

export interface RecordRef {
  source: SourceName;
  sourceRecordId: string;
}

export interface ResolvedRecord extends RecordRef {
  recId: string;
}

export function formatRef(r: RecordRef): string {
  return `${r.source}:${r.sourceRecordId}`;
}

/** Parses SOURCE:ID (the source's own record id, which may itself hold colons). */
export function parseRecordRef(text: string): RecordRef {
  const i = text.indexOf(':');
  const source = i < 0 ? '' : text.slice(0, i).toLowerCase();
  const id = i < 0 ? '' : text.slice(i + 1);
  if (!(SOURCES as readonly string[]).includes(source) || id === '') {
    throw new InputError(`not a record reference: ${JSON.stringify(text)}`, { expected: `SOURCE:ID with SOURCE one of ${SOURCES.join(', ')}` });
  }
  return { source: source as SourceName, sourceRecordId: id };
}

/** rec_id of each reference; an id the batch does not hold is an input error that says where it went. */
export async function resolveRecords(batch: OpenBatch, refs: RecordRef[]): Promise<ResolvedRecord[]> {
  const out: ResolvedRecord[] = [];
  for (const ref of refs) {
    const row = await batch.db.one<{ rec_id: string }>(
      `SELECT rec_id FROM person_clean WHERE source = ${lit(ref.source)} AND source_record_id = ${lit(ref.sourceRecordId)}`,
    );
    if (row) {
      out.push({ ...ref, recId: row.rec_id });
      continue;
    }
    const quarantined = (await batch.db.tableExists('quarantine'))
      ? await batch.db.one<{ reason: string }>(
          `SELECT reason FROM quarantine WHERE source = ${lit(ref.source)} AND source_record_id = ${lit(ref.sourceRecordId)} LIMIT 1`,
        )
      : undefined;
    if (quarantined) throw new InputError(`record ${formatRef(ref)} was quarantined (${quarantined.reason.split(':')[0]}) and is linked to nothing`);
    throw new InputError(`unknown record ${formatRef(ref)}: the batch holds no ${ref.source} record with this id`);
  }
  return out;
}
