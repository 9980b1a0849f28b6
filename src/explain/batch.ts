/**
 * Reading a finished batch for `dtsen explain`: its model, its blocking rule names, record references. The
 * batch itself is opened by the engine's one read-only `openBatch` (re-exported here); nothing here writes.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../engine/errors.ts';
import type { Model } from '../../schemas/model.ts';
import { parseModel, readModelFile } from '../linkage/model.ts';
import { SOURCES, type SourceName } from '../../schemas/canonical.ts';
import type { OpenBatch } from '../engine/batch.ts';

export { openBatch, type OpenBatch } from '../engine/batch.ts';

/**
 * The batch's model: model.json of the output folder, else the copy the run kept in batch_info. A batch
 * linked by the exact engine has none.
 */
export async function batchModel(batch: OpenBatch): Promise<Model> {
  const file = join(batch.dir, 'model.json');
  if (existsSync(file)) return readModelFile(file);
  const json = (batch.figures.link as { model?: unknown } | undefined)?.model;
  if (json === undefined) {
    throw new InputError(`this batch was linked by the ${batch.linkage.engine} engine and has no model to explain`, {
      file: batch.dir,
      expected: 'a batch linked by the probabilistic engine (model.json)',
    });
  }
  return parseModel(json, file);
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
    const row = await batch.db.one<{ rec_id: string }>(`SELECT rec_id FROM person_clean WHERE source = $1 AND source_record_id = $2`, [
      ref.source,
      ref.sourceRecordId,
    ]);
    if (row) {
      out.push({ ...ref, recId: row.rec_id });
      continue;
    }
    const quarantined = (await batch.db.tableExists('quarantine'))
      ? await batch.db.one<{ reason: string }>(`SELECT reason FROM quarantine WHERE source = $1 AND source_record_id = $2 LIMIT 1`, [
          ref.source,
          ref.sourceRecordId,
        ])
      : undefined;
    if (quarantined) throw new InputError(`record ${formatRef(ref)} was quarantined (${quarantined.reason.split(':')[0]}) and is linked to nothing`);
    throw new InputError(`unknown record ${formatRef(ref)}: the batch holds no ${ref.source} record with this id`);
  }
  return out;
}
