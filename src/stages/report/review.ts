/**
 * What the report adds for the reader beyond the stages' figures: how the batch was run (version, start,
 * duration, every input file with its size and checksum, the config), the borderline pairs to look at (closest
 * to the threshold on either side, each with its `dtsen explain` command) and the warnings about the model (a
 * level whose weight breaks the order of its comparison; a level whose m and u are about equal). Counts,
 * checksums and source record ids only: no NIK, name or address.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { BatchConfig } from '../../../schemas/config.ts';
import type { Ctx } from '../../engine/context.ts';
import type { Db } from '../../engine/db.ts';
import { packageVersion } from '../../engine/package.ts';
import { listSnapshotFiles } from '../ingest/files.ts';
import type { ModelLevel } from './figures.ts';

export interface InputFile {
  /** dtks, regsosek, p3ke; `<source> mapping`; truth; model */
  role: string;
  path: string;
  bytes: number;
  sha256: string;
}

export interface RunInfo {
  version: string;
  /** when the batch started (its first run, when it was resumed): ISO 8601 */
  started_at: string;
  finished_at: string;
  duration_seconds: number;
  /** the batch's output folder (what `dtsen explain --out` takes) */
  out: string;
  inputs: InputFile[];
  config: BatchConfig;
}

export interface BorderlinePair {
  /** at or above the threshold (linked) or below it */
  side: 'above' | 'below';
  left: string;
  right: string;
  match_weight: number;
  match_probability: number;
  /** the two records ended in one person */
  same_person: boolean;
}

export interface ModelWarning {
  comparison: string;
  level: string;
  kind: 'order' | 'm_equals_u';
  match_weight: number;
  message: string;
}

export interface Review {
  /** the pairs closest to the threshold, below and above it (hard negatives aside) */
  borderline_pairs: BorderlinePair[];
  model_warnings: ModelWarning[];
}

/** Pairs taken on each side of the threshold. */
export const BORDERLINE_PER_SIDE = 10;
/** |log2(m/u)| under this: m and u about equal (within 7%), the level carries no evidence. */
export const M_EQUALS_U_BITS = 0.1;

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function inputFile(role: string, path: string): Promise<InputFile> {
  return { role, path, bytes: (await stat(path)).size, sha256: await sha256File(path) };
}

/** The run: version, start and duration, the input files with sizes and checksums, the config. */
export async function runInfo(ctx: Pick<Ctx, 'db' | 'config' | 'sources' | 'truthPath' | 'outDir'>, now = new Date()): Promise<RunInfo> {
  const inputs: InputFile[] = [];
  for (const s of ctx.sources) {
    for (const f of (await listSnapshotFiles(s.path, s.mapping.format)).files) inputs.push(await inputFile(s.name, f));
    inputs.push(await inputFile(`${s.name} mapping`, s.mappingPath));
  }
  if (ctx.truthPath) inputs.push(await inputFile('truth', ctx.truthPath));
  if (ctx.config.linkage.model) inputs.push(await inputFile('model', ctx.config.linkage.model));
  let started = now;
  if (await ctx.db.tableExists('batch_fingerprint')) {
    const row = await ctx.db.one<{ t: string }>(`SELECT strftime(created_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') AS t FROM batch_fingerprint`);
    if (row?.t) started = new Date(row.t);
  }
  return {
    version: packageVersion(),
    started_at: started.toISOString(),
    finished_at: now.toISOString(),
    duration_seconds: Number(((now.getTime() - started.getTime()) / 1000).toFixed(1)),
    out: ctx.outDir,
    inputs,
    config: ctx.config,
  };
}

/** The scored pairs closest to the threshold on each side, with their records as SOURCE:ID. */
export async function borderlinePairs(db: Db, threshold: number, perSide = BORDERLINE_PER_SIDE): Promise<BorderlinePair[]> {
  if (!(await db.tableExists('scored_pairs')) || !(await db.tableExists('person_clean'))) return [];
  const clusters = await db.tableExists('clusters');
  // the exact engine's scored pairs have no hard-negative flag
  const flagged = (await db.count(`SELECT count(*) FROM duckdb_columns() WHERE table_name = 'scored_pairs' AND column_name = 'hard_negative'`)) > 0;
  const rows = await db.all<{ side: 'above' | 'below'; left: string; right: string; match_weight: number; match_probability: number; same_person: boolean }>(`
    WITH s AS (
      SELECT rec_id_l, rec_id_r, match_weight, match_probability, match_probability >= ${threshold} AS above
      FROM scored_pairs WHERE ${flagged ? 'NOT coalesce(hard_negative, false) AND ' : ''}match_weight IS NOT NULL AND isfinite(match_weight)),
    picked AS (
      (SELECT * FROM s WHERE above ORDER BY match_weight ASC, rec_id_l, rec_id_r LIMIT ${perSide})
      UNION ALL
      (SELECT * FROM s WHERE NOT above ORDER BY match_weight DESC, rec_id_l, rec_id_r LIMIT ${perSide}))
    SELECT CASE WHEN p.above THEN 'above' ELSE 'below' END AS side,
           l.source || ':' || l.source_record_id AS "left", r.source || ':' || r.source_record_id AS "right",
           p.match_weight, p.match_probability,
           ${clusters ? 'coalesce(cl.cluster_id = cr.cluster_id, false)' : 'false'} AS same_person
    FROM picked p JOIN person_clean l ON l.rec_id = p.rec_id_l JOIN person_clean r ON r.rec_id = p.rec_id_r
    ${clusters ? 'LEFT JOIN clusters cl ON cl.rec_id = p.rec_id_l LEFT JOIN clusters cr ON cr.rec_id = p.rec_id_r' : ''}
    ORDER BY p.match_weight DESC, p.rec_id_l, p.rec_id_r`);
  return rows.map((r) => ({ ...r, same_person: Boolean(r.same_person) }));
}

const bits = (w: number) => `${w >= 0 ? '+' : '−'}${Math.abs(w).toFixed(1)} bits`;

/**
 * The model's smells. A comparison's levels run from the closest agreement to the catch-all last one
 * ("different"): a level weighing less than the last, or more than the first, breaks that order (an "initials agree"
 * harsher than "different" punishes a pair for agreeing). A level whose m and u are about equal weighs nothing.
 */
export function modelWarnings(levels: readonly ModelLevel[] | null): ModelWarning[] {
  if (!levels) return [];
  const out: ModelWarning[] = [];
  const byComparison = new Map<string, ModelLevel[]>();
  for (const l of levels) byComparison.set(l.comparison, [...(byComparison.get(l.comparison) ?? []), l]);
  for (const [comparison, ls] of byComparison) {
    const sorted = [...ls].sort((a, b) => a.order - b.order);
    const first = sorted[0];
    const last = sorted.at(-1)!;
    for (const l of sorted) {
      if (sorted.length > 2 && l !== last && l !== first && l.match_weight < last.match_weight) {
        out.push({ comparison, level: l.level, kind: 'order', match_weight: l.match_weight, message: `weighs ${bits(l.match_weight)}, less than "${last.level}" (${bits(last.match_weight)}): agreeing this far counts as stronger evidence against one person than disagreeing` });
      } else if (sorted.length > 2 && l !== first && l.match_weight > first.match_weight) {
        out.push({ comparison, level: l.level, kind: 'order', match_weight: l.match_weight, message: `weighs ${bits(l.match_weight)}, more than "${first.level}" (${bits(first.match_weight)}): a weaker agreement counts for more than the closest one` });
      }
      if (Math.abs(l.match_weight) < M_EQUALS_U_BITS) {
        out.push({ comparison, level: l.level, kind: 'm_equals_u', match_weight: l.match_weight, message: `m ≈ u (m ${l.m.toExponential(2)}, u ${l.u.toExponential(2)}): the level carries no evidence either way` });
      }
    }
  }
  return out;
}

export async function review(db: Db, threshold: number, levels: readonly ModelLevel[] | null): Promise<Review> {
  return { borderline_pairs: await borderlinePairs(db, threshold), model_warnings: modelWarnings(levels) };
}
