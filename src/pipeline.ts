/**
 * A batch: stages run in order over one DuckDB database, in a staging folder inside the output folder;
 * the finished files are renamed into place at the end, so a crashed run leaves nothing that looks complete.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Db, lit } from './engine/db.ts';
import type { Ctx, Progress, Stage, StageResult } from './engine/context.ts';
import { StoppedError } from './engine/errors.ts';
import { asResourceError } from './engine/resources.ts';
import { noProgress } from './engine/context.ts';
import type { LoadedConfig } from './engine/config.ts';
import type { Logger } from './engine/log.ts';
import { publish, removeStaleTemps } from './engine/files.ts';
import { ingestStage } from './stages/ingest/index.ts';
import { validateStage } from './stages/validate/index.ts';
import { normaliseStage } from './stages/normalise/index.ts';
import { linkStage } from './stages/link/index.ts';
import { clusterStage } from './stages/cluster/index.ts';
import { surviveStage } from './stages/survive/index.ts';
import { checkPseudonymKey, exportStage } from './stages/export/index.ts';
import { evaluateStage } from './stages/evaluate/index.ts';
import { reportStage } from './stages/report/index.ts';

export const BATCH_STAGES: readonly Stage[] = [
  ingestStage,
  validateStage,
  normaliseStage,
  linkStage,
  clusterStage,
  surviveStage,
  exportStage,
  evaluateStage,
  reportStage,
];

/** Only reads and checks the inputs (dtsen validate). */
export const VALIDATE_STAGES: readonly Stage[] = [ingestStage, validateStage];

export interface StageTiming {
  stage: string;
  rows: number;
  seconds: number;
}

export interface BatchResult {
  outDir: string;
  files: string[];
  timings: StageTiming[];
  figures: Record<string, unknown>;
}

export interface RunOptions {
  log: Logger;
  progress?: Progress;
  stages?: readonly Stage[];
  /** write nothing: an in-memory database and no output folder (dtsen validate) */
  dryRun?: boolean;
  /** the key of the exported files' pseudonyms, needed when the config asks to pseudonymise */
  pseudonymKey?: string;
  /** aborting it stops the batch: the running query is interrupted and a StoppedError is thrown (the CLI's SIGINT/SIGTERM) */
  signal?: AbortSignal;
}

/** The signal's name, from the reason the CLI aborted with ('SIGINT' or 'SIGTERM'; SIGTERM for anything else). */
function signalName(signal: AbortSignal): 'SIGINT' | 'SIGTERM' {
  return signal.reason === 'SIGINT' ? 'SIGINT' : 'SIGTERM';
}

/**
 * The stages in order. A stage's failure is named: a signal → StoppedError, a lack of memory or disk →
 * ResourceError with the stage (see engine/resources.ts); anything else as it was thrown.
 */
async function runStages(ctx: Ctx, stages: readonly Stage[], signal?: AbortSignal): Promise<StageTiming[]> {
  const timings: StageTiming[] = [];
  ctx.figures.timings = timings;
  for (const stage of stages) {
    if (signal?.aborted) throw new StoppedError(signalName(signal), stage.name);
    const t0 = performance.now();
    ctx.log.info({ stage: stage.name }, 'stage started');
    ctx.progress.start(stage.name);
    let result: StageResult;
    try {
      // guard: a signal interrupts the stage's queries, and no query runs any more when the stage has ended
      result = await ctx.db.guard(signal, () => stage.run(ctx));
    } catch (e) {
      if (signal?.aborted) throw new StoppedError(signalName(signal), stage.name);
      const folders = [ctx.outDir, ctx.config.temp_directory].filter((f): f is string => Boolean(f));
      throw (await asResourceError(e, { stage: stage.name, db: ctx.db, memoryLimit: ctx.config.memory_limit, folders })) ?? e;
    }
    // a stage that ended although the signal came (work in JS) does not let the batch go on
    if (signal?.aborted) throw new StoppedError(signalName(signal), stage.name);
    ctx.progress.done(stage.name, result.rows);
    const seconds = (performance.now() - t0) / 1000;
    timings.push({ stage: stage.name, rows: result.rows, seconds: Number(seconds.toFixed(3)) });
    if (result.figures) ctx.figures[stage.name] = result.figures;
    ctx.log.info({ stage: stage.name, rows: result.rows, seconds: Number(seconds.toFixed(2)) }, 'stage done');
  }
  return timings;
}

export async function runBatch(loaded: LoadedConfig, opts: RunOptions): Promise<BatchResult> {
  const { config, outDir } = loaded;
  const stages = opts.stages ?? BATCH_STAGES;
  const progress = opts.progress ?? noProgress;
  if (opts.dryRun) {
    const db = await Db.open({ threads: config.threads, memoryLimit: config.memory_limit, tempDirectory: config.temp_directory });
    try {
      const ctx: Ctx = { db, config, sources: loaded.sources, outDir, stagingDir: '', truthPath: loaded.truthPath, log: opts.log, progress, figures: {}, signal: opts.signal };
      const timings = await runStages(ctx, stages, opts.signal);
      return { outDir, files: [], timings, figures: ctx.figures };
    } finally {
      await db.close();
    }
  }

  if (stages.includes(exportStage)) checkPseudonymKey(config.pseudonymise, opts.pseudonymKey);
  await mkdir(outDir, { recursive: true });
  await removeStaleTemps(outDir);
  const stagingDir = join(outDir, `.tmp-${process.pid}-staging`);
  await mkdir(stagingDir, { recursive: true });
  const db = await Db.open({
    path: join(stagingDir, 'dtsen.duckdb'),
    threads: config.threads,
    memoryLimit: config.memory_limit,
    tempDirectory: config.temp_directory ?? join(stagingDir, 'spill'),
  });
  let open = true;
  try {
    const ctx: Ctx = { db, config, sources: loaded.sources, outDir, stagingDir, truthPath: loaded.truthPath, log: opts.log, progress, figures: {}, pseudonymKey: opts.pseudonymKey, signal: opts.signal };
    const timings = await runStages(ctx, stages, opts.signal);
    await db.run(`CREATE OR REPLACE TABLE batch_info AS SELECT ${lit(JSON.stringify(config))}::JSON AS config, ${lit(JSON.stringify(ctx.figures))}::JSON AS figures`);
    await db.run('CHECKPOINT');
    await db.close();
    open = false;
    await rm(join(stagingDir, 'spill'), { recursive: true, force: true });
    // report.json goes last: its presence marks a complete batch, so the old one goes first.
    await rm(join(outDir, 'report.json'), { force: true });
    const names = (await readdir(stagingDir)).filter((f) => !f.startsWith('.')).sort((a, b) => Number(a === 'report.json') - Number(b === 'report.json'));
    for (const name of names) await publish(join(stagingDir, name), join(outDir, name));
    await rm(stagingDir, { recursive: true, force: true });
    return { outDir, files: names.map((n) => join(outDir, n)), timings, figures: ctx.figures };
  } catch (e) {
    if (open) await db.close();
    await rm(stagingDir, { recursive: true, force: true });
    throw e;
  }
}
