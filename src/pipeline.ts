/**
 * A batch: stages run in order over one DuckDB database, in the batch's own version folder beside the output
 * folder (src/engine/batchdir.ts), under the folder's lock; each finished stage is checkpointed so that a batch
 * can be resumed; the output folder is switched to the finished batch in one rename.
 */
import { mkdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Db, lit } from './engine/db.ts';
import type { AnyStage, Ctx, FiguresOf, Progress, StageTiming } from './engine/context.ts';
import { checkContract } from './engine/contract.ts';
import { StoppedError } from './engine/errors.ts';
import { asResourceError } from './engine/resources.ts';
import { startProfile, summariseProfile } from './engine/profile.ts';
import { noProgress } from './engine/context.ts';
import type { LoadedConfig } from './engine/config.ts';
import type { Logger } from './engine/log.ts';
import { fsyncPath } from './engine/files.ts';
import { acquireLock, type LockHolder } from './engine/lock.ts';
import { currentVersion, layoutOf, listVersions, migrate, newVersion, previousOf, publishVersion, removeVersions, resolveOutDir, type Version } from './engine/batchdir.ts';
import { checkFingerprint, fingerprint, finishedStages, outputEntries, recordStage, removeUnfinishedOutputs, writeFingerprint, type FinishedStage } from './engine/resume.ts';
import { ingestStage } from './stages/ingest/index.ts';
import { validateStage } from './stages/validate/index.ts';
import { normaliseStage } from './stages/normalise/index.ts';
import { linkStage, restoreChosenThreshold } from './stages/link/index.ts';
import { clusterStage } from './stages/cluster/index.ts';
import { surviveStage } from './stages/survive/index.ts';
import { readModelFile } from './linkage/model.ts';
import { checkPseudonymKey, exportStage } from './stages/export/index.ts';
import { evaluateStage } from './stages/evaluate/index.ts';
import { reportStage } from './stages/report/index.ts';
import { decisionsStage } from './register/decisions.ts';
import { registerStage } from './register/index.ts';
import { copyPreviousDatabase, IN_PLACE_TABLES, keepInPlaceTables } from './incremental/staging.ts';

export const BATCH_STAGES = [
  ingestStage,
  validateStage,
  normaliseStage,
  decisionsStage,
  linkStage,
  clusterStage,
  surviveStage,
  registerStage,
  exportStage,
  evaluateStage,
  reportStage,
] as const;

/** Only reads and checks the inputs (dtsen validate). */
export const VALIDATE_STAGES = [ingestStage, validateStage] as const;

export type { StageTiming };

/** The figures of a batch (report.json, batch_info.figures): the timings, then each stage's, typed by the stage list. */
export type BatchFigures = { timings: StageTiming[] } & FiguresOf<typeof BATCH_STAGES>;

export interface BatchResult {
  outDir: string;
  files: string[];
  timings: StageTiming[];
  figures: BatchFigures;
}

export interface RunOptions {
  log: Logger;
  progress?: Progress;
  stages?: readonly AnyStage[];
  /** write nothing: an in-memory database and no output folder (dtsen validate) */
  dryRun?: boolean;
  /** the key of the exported files' pseudonyms, needed when the config asks to pseudonymise */
  pseudonymKey?: string;
  /** wait for another run writing the same output folder to finish, instead of refusing (LockedError) */
  wait?: boolean;
  /** told once when the run starts waiting for the folder's lock */
  onWait?: (holder: LockHolder) => void;
  /** continue the unfinished batch of the output folder from its first unfinished stage */
  resume?: boolean;
  /** messages for the user beside the error of a failed batch (default: the log) */
  notice?: (message: string) => void;
  /** aborting it stops the batch: the running query is interrupted and a StoppedError is thrown (the CLI's SIGINT/SIGTERM) */
  signal?: AbortSignal;
  /** keep DuckDB's profile of every statement in this folder, named by stage and step (engine/profile.ts) */
  profile?: string;
}

/** The signal's name, from the reason the CLI aborted with ('SIGINT' or 'SIGTERM'; SIGTERM for anything else). */
function signalName(signal: AbortSignal): 'SIGINT' | 'SIGTERM' {
  return signal.reason === 'SIGINT' ? 'SIGINT' : 'SIGTERM';
}

/** What a batch does around its stages: skip the ones a resumed batch finished, checkpoint each one done. */
interface StageHooks {
  /** stages finished before (a resumed batch), with their timings; they are not run again */
  finished?: readonly StageTiming[];
  /** called once a stage's tables are written, before the next stage starts */
  done?(stage: AnyStage, timing: StageTiming, figures: unknown): Promise<void>;
}

/**
 * The stages in order, each given the figures of the stages it reads; the tables a stage declares are checked
 * once it has run (engine/contract.ts). A stage's failure is named: a signal → StoppedError, a lack of memory or
 * disk → ResourceError with the stage (see engine/resources.ts); anything else as it was thrown. `figures` holds
 * the figures of the stages finished before (a resumed batch) and receives each stage's.
 */
async function runStages(ctx: Ctx, stages: readonly AnyStage[], figures: Record<string, unknown>, hooks: StageHooks = {}, signal?: AbortSignal): Promise<StageTiming[]> {
  const timings: StageTiming[] = [...(hooks.finished ?? [])];
  const ran = new Set(timings.map((t) => t.stage));
  figures.timings = timings;
  for (const stage of stages) {
    if (ran.has(stage.name)) continue;
    const unmet = stage.reads.filter((r: AnyStage) => !ran.has(r.name)).map((r: AnyStage) => r.name);
    if (unmet.length) throw new Error(`stage ${stage.name} reads the figures of ${unmet.join(', ')}, which did not run before it`);
    if (signal?.aborted) throw new StoppedError(signalName(signal), stage.name);
    const t0 = performance.now();
    ctx.db.profileStage(stage.name);
    ctx.log.info({ stage: stage.name }, 'stage started');
    ctx.progress.start(stage.name);
    // A failure of the stage, or of its checkpoint, is named after the stage: a signal → StoppedError, a lack of
    // memory or disk → ResourceError; anything else as it was thrown.
    const named = async (e: unknown): Promise<unknown> => {
      if (signal?.aborted) return new StoppedError(signalName(signal), stage.name);
      const folders = [ctx.stagingDir, ctx.outDir, ctx.config.temp_directory].filter((f): f is string => Boolean(f));
      return (await asResourceError(e, { stage: stage.name, db: ctx.db, memoryLimit: ctx.config.memory_limit, folders })) ?? e;
    };
    let result: { rows: number; figures?: unknown };
    try {
      // guard: a signal interrupts the stage's queries, and no query runs any more when the stage has ended
      result = await ctx.db.guard(signal, async () => {
        const r = await stage.run(ctx, figures);
        await checkContract(ctx.db, stage.name, stage.produces);
        return r;
      });
    } catch (e) {
      throw await named(e);
    }
    // a stage that ended although the signal came (work in JS) does not let the batch go on
    if (signal?.aborted) throw new StoppedError(signalName(signal), stage.name);
    ctx.progress.done(stage.name, result.rows);
    const seconds = (performance.now() - t0) / 1000;
    const timing = { stage: stage.name, rows: result.rows, seconds: Number(seconds.toFixed(3)) };
    timings.push(timing);
    ran.add(stage.name);
    if (result.figures) figures[stage.name] = result.figures;
    try {
      await hooks.done?.(stage, timing, result.figures);
    } catch (e) {
      throw await named(e);
    }
    ctx.log.info({ stage: stage.name, rows: result.rows, seconds: Number(seconds.toFixed(2)) }, 'stage done');
  }
  return timings;
}

export async function runBatch(loaded: LoadedConfig, opts: RunOptions): Promise<BatchResult> {
  const { config } = loaded;
  const stages = opts.stages ?? BATCH_STAGES;
  const progress = opts.progress ?? noProgress;
  if (opts.dryRun) {
    const db = await Db.open({ threads: config.threads, memoryLimit: config.memory_limit, tempDirectory: config.temp_directory });
    try {
      const ctx: Ctx = { db, config, sources: loaded.sources, outDir: loaded.outDir, stagingDir: '', truthPath: loaded.truthPath, log: opts.log, progress, signal: opts.signal };
      const figures: Record<string, unknown> = {};
      if (opts.profile) await startProfile(db, opts.profile);
      const timings = await runStages(ctx, stages, figures, {}, opts.signal);
      if (opts.profile) await summariseProfile(opts.profile);
      return { outDir: loaded.outDir, files: [], timings, figures: figures as BatchFigures };
    } finally {
      await db.close();
    }
  }

  if (stages.includes(exportStage)) checkPseudonymKey(config.pseudonymise, opts.pseudonymKey);
  // A model that does not fit the code's comparisons is refused before anything is written (model.ts).
  if (stages.includes(linkStage) && config.linkage.engine === 'probabilistic' && config.linkage.model) await readModelFile(config.linkage.model);
  await mkdir(dirname(loaded.outDir), { recursive: true });
  const outDir = await resolveOutDir(loaded.outDir);
  const layout = layoutOf(outDir);
  const lock = await acquireLock(outDir, { log: opts.log, wait: opts.wait, onWait: opts.onWait });
  let db: Db | undefined;
  let version: Version | undefined;
  // what a failure leaves: a batch that began its stages and was not published is kept for --resume
  let kept = false;
  try {
    await migrate(layout, opts.log);
    const fp = await fingerprint(loaded);
    const current = await currentVersion(layout);
    const versions = await listVersions(layout);
    const previous = previousOf(versions, current);
    const published = versions.find((v) => v.id === current);
    // Staging folders of runs that are gone: newer than the published batch (the lock says no live run holds one).
    const dead = versions.filter((v) => v.id !== current && v.id !== previous?.id && (!published || v.seq > published.seq));
    let finished: FinishedStage[] = [];
    if (opts.resume) {
      version = dead.at(-1);
      if (version && existsSync(join(version.dir, 'dtsen.duckdb'))) {
        await rm(join(version.dir, 'spill'), { recursive: true, force: true });
        db = await openStaging(version.dir, config);
        if (await checkFingerprint(db, fp, version.dir)) {
          finished = await finishedStages(db);
          await removeUnfinishedOutputs(version.dir, finished);
          opts.log.info({ version: version.id, finished: finished.map((f) => f.stage) }, 'resuming an unfinished batch');
        } else {
          await db.close();
          db = undefined;
        }
      }
      if (!db) {
        opts.log.info({ out: outDir }, 'nothing to resume here: a new batch starts');
        version = undefined;
      }
    }
    await removeVersions(layout, new Set([current, previous?.id, version?.id].filter((v): v is string => Boolean(v))), opts.log);
    if (!version || !db) {
      version = await newVersion(layout);
      // an incremental batch starts from a copy of the previous batch's database (src/incremental/staging.ts)
      const copied = await copyPreviousDatabase(config, join(version.dir, 'dtsen.duckdb'), (reason) => opts.log.warn({ previous: config.previous }, reason));
      db = await openStaging(version.dir, config);
      if (copied) {
        await keepInPlaceTables(db, copied);
        opts.log.info({ previous: copied, tables: IN_PLACE_TABLES }, "the batch's database starts from a copy of the previous batch's");
      }
      await writeFingerprint(db, fp);
    }
    const stagingDir = version.dir;
    if (opts.profile) await startProfile(db, opts.profile);
    const ctx: Ctx = { db, config, sources: loaded.sources, outDir, stagingDir, truthPath: loaded.truthPath, log: opts.log, progress, pseudonymKey: opts.pseudonymKey, signal: opts.signal };
    const figures: Record<string, unknown> = {};
    for (const f of finished) if (f.figures) figures[f.stage] = f.figures;
    restoreChosenThreshold(config.linkage, figures);
    const staging = db;
    kept = true;
    const timings = await runStages(ctx, stages, figures, {
      finished: finished.map((f) => ({ stage: f.stage, rows: f.rows, seconds: f.seconds })),
      done: (stage, timing, figures) => recordStage(staging, stagingDir, stages.indexOf(stage), { ...timing, figures }),
    }, opts.signal);
    await db.run(`CREATE OR REPLACE TABLE batch_info AS SELECT ${lit(JSON.stringify(config))}::JSON AS config, ${lit(JSON.stringify(figures))}::JSON AS figures`);
    await db.run('CHECKPOINT');
    await db.close();
    db = undefined;
    if (opts.profile) await summariseProfile(opts.profile);
    await rm(join(stagingDir, 'spill'), { recursive: true, force: true });
    // Everything on disk before the one rename that publishes it; the batch it replaces is kept as the previous one.
    await fsyncPath(stagingDir, true);
    opts.log.info({ version: version.id }, 'publishing');
    await publishVersion(layout, version.id);
    kept = false;
    await removeVersions(layout, new Set([version.id, current].filter((v): v is string => Boolean(v))), opts.log);
    const names = await outputEntries(stagingDir);
    return { outDir, files: ['dtsen.duckdb', ...names].sort().map((n) => join(outDir, n)), timings, figures: figures as BatchFigures };
  } catch (e) {
    await db?.close();
    if (version) {
      await rm(join(version.dir, 'spill'), { recursive: true, force: true }).catch(() => {});
      if (kept && existsSync(version.dir)) (opts.notice ?? ((m: string) => opts.log.warn(m)))(`the unfinished batch is kept in ${version.dir}: \`dtsen run --resume\` with the same config and inputs continues it from its last finished stage`);
    }
    throw e;
  } finally {
    lock.release();
  }
}

async function openStaging(dir: string, config: LoadedConfig['config']): Promise<Db> {
  return Db.open({ path: join(dir, 'dtsen.duckdb'), threads: config.threads, memoryLimit: config.memory_limit, tempDirectory: config.temp_directory ?? join(dir, 'spill') });
}
