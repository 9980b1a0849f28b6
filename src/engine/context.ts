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
  /** the key of the exported files' pseudonyms (config pseudonymise); read from the environment by the CLI only */
  readonly pseudonymKey?: string;
  /** aborted when the run is stopped (SIGINT, SIGTERM): long work in JS checks it between steps */
  readonly signal?: AbortSignal;
}

export interface StageTiming {
  stage: string;
  rows: number;
  seconds: number;
}

/** A column of a produced table: its name and DuckDB type (as DESCRIBE prints it; none: any type). */
export interface ColumnDeclaration {
  name: string;
  type?: string;
}

/**
 * A table (or view) a stage produces for later stages and readers: the columns they rely on (the table may hold
 * more), and its grain — the columns that name one row (checked unique; none for a table without a key).
 */
export interface TableDeclaration {
  name: string;
  description: string;
  columns: readonly ColumnDeclaration[];
  grain: readonly string[];
}

export interface StageResult<F> {
  /** rows the stage produced (its main output table) */
  rows: number;
  /** the figures of this stage, stored under figures[stage] (none: the stage had nothing to measure) */
  figures?: F;
}

/** Any stage, whatever its figures and the stages it reads (the element type of a stage list). */
// biome-ignore lint: `any` lets a list hold stages of different figures
export type AnyStage = Stage<string, any, readonly any[]>;

/** The figures of the stages `S`, by stage name; a stage that measured nothing has none. */
export type FiguresOf<S extends readonly AnyStage[]> = {
  readonly [T in S[number] as T['name']]?: T extends Stage<string, infer F, readonly AnyStage[]> ? F : never;
};

/** What a stage is given of the batch's figures: those of the stages it reads, and the timings so far. */
export type PriorFigures<R extends readonly AnyStage[]> = FiguresOf<R> & { readonly timings?: readonly StageTiming[] };

/**
 * A stage: its name, the stages whose figures it reads (they run before it), the tables it produces (checked
 * against their declaration after it runs) and its run, whose figures are typed: the batch's figures type is
 * derived from the stage list (pipeline.ts, BatchFigures).
 */
export interface Stage<N extends string, F, R extends readonly AnyStage[] = readonly []> {
  readonly name: N;
  readonly reads: R;
  readonly produces: readonly TableDeclaration[];
  run(ctx: Ctx, prior: PriorFigures<R>): Promise<StageResult<F>>;
}

/** A stage, its figures type taken from its run (and the figures it reads from the stages it names). */
export function defineStage<N extends string, F, const R extends readonly AnyStage[] = readonly []>(stage: {
  name: N;
  reads?: R;
  produces: readonly TableDeclaration[];
  run(ctx: Ctx, prior: PriorFigures<R>): Promise<StageResult<F>>;
}): Stage<N, F, R> {
  return { ...stage, reads: stage.reads ?? ([] as readonly AnyStage[] as R) };
}
