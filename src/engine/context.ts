/** The immutable context every stage reads, and the stage contract. */
import type { Db } from './db.ts';
import type { Logger } from './log.ts';
import type { BatchConfig } from '../../schemas/config.ts';
import type { Mapping } from '../../schemas/mapping.ts';
import type { SourceName } from '../../schemas/canonical.ts';

export interface ResolvedSource {
  name: SourceName;
  /** absolute path of the file or folder */
  path: string;
  mapping: Mapping;
  mappingPath: string;
}

/** How far a stage has come where its whole is known: `done` of `total`, in rows (default) or bytes read. */
export interface ProgressWork {
  done: number;
  total: number;
  unit?: 'rows' | 'bytes';
}

export interface Progress {
  /** a stage started; `work`: its whole, when known before it runs */
  start(stage: string, work?: ProgressWork): void;
  /** rows handled so far in the current stage; `work`: how far it is, when its whole is known */
  update(stage: string, rows: number, note?: string, work?: ProgressWork): void;
  /** a stage ended */
  done(stage: string, rows: number): void;
}

export const noProgress: Progress = { start() {}, update() {}, done() {} };

export interface Ctx {
  readonly db: Db;
  readonly config: BatchConfig;
  readonly sources: readonly ResolvedSource[];
  /** absolute output folder of the batch */
  readonly outDir: string;
  /** absolute folder where outputs are written before being published */
  readonly stagingDir: string;
  readonly truthPath?: string;
  readonly log: Logger;
  readonly progress: Progress;
  /** figures collected by the stages for report.json */
  readonly figures: Record<string, unknown>;
  /** the key of the exported files' pseudonyms (config pseudonymise); read from the environment by the CLI only */
  readonly pseudonymKey?: string;
  /** aborted when the run is stopped (SIGINT, SIGTERM): long work in JS checks it between steps */
  readonly signal?: AbortSignal;
}

export interface StageResult {
  /** rows the stage produced (its main output table) */
  rows: number;
  /** the figures of this stage, stored under figures[stage] */
  figures?: Record<string, unknown>;
}

export interface Stage {
  name: string;
  run(ctx: Ctx): Promise<StageResult>;
}
