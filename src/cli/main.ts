/** The dtsen command line: argument parsing, progress and exit codes only — the work is in the stages. */
import { Command, CommanderError, Option } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createLogger, type Logger } from '../engine/log.ts';
import { InputError } from '../engine/errors.ts';
import { loadConfig, type ConfigOverrides } from '../engine/config.ts';
import { runBatch, VALIDATE_STAGES, type BatchResult } from '../pipeline.ts';
import { terminalProgress } from './progress.ts';
import { printTable } from './table.ts';
import { addExplainCommands } from './explain.ts';
import { positiveInt } from './args.ts';
import { Db } from '../engine/db.ts';
import { generate } from '../generate/index.ts';
import { PROFILE_NAMES, profileByName } from '../generate/profiles.ts';
import { evaluate, type EvaluationFigures } from '../stages/evaluate/index.ts';
import type { BlockingFigures } from '../stages/block/index.ts';
import { printBlocking, printEvaluation } from './quality.ts';
import { Linkage } from '../../schemas/config.ts';

const EXIT_OK = 0;
const EXIT_INTERNAL = 1;
const EXIT_INPUT = 2;

interface RunFlags {
  config: string;
  dtks?: string;
  regsosek?: string;
  p3ke?: string;
  out?: string;
  threads?: number;
  memoryLimit?: string;
  truth?: string;
  model?: string;
  pseudonymise?: boolean;
  logLevel: string;
}

function overrides(f: RunFlags): ConfigOverrides {
  return {
    sourcePaths: { dtks: f.dtks, regsosek: f.regsosek, p3ke: f.p3ke },
    out: f.out,
    threads: f.threads,
    memoryLimit: f.memoryLimit,
    truth: f.truth,
    model: f.model,
    pseudonymise: f.pseudonymise,
  };
}

function batchOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'batch config (JSON)', 'pipelines/sample.json')
    .option('--dtks <path>', 'DTKS snapshot: a file or a folder (overrides the config)')
    .option('--regsosek <path>', 'Regsosek snapshot: a file or a folder (overrides the config)')
    .option('--p3ke <path>', 'P3KE snapshot: a file or a folder (overrides the config)')
    .option('--threads <n>', 'DuckDB threads', positiveInt)
    .option('--memory-limit <size>', 'DuckDB memory limit, e.g. 4GB (spills to disk beyond it)')
    .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error', 'silent']).default('info'));
}

function printReconciliation(out: NodeJS.WritableStream, figures: Record<string, unknown>): void {
  const rec = (figures.validate as { reconciliation?: Record<string, unknown>[] } | undefined)?.reconciliation ?? [];
  out.write('\nReconciliation (rows read = accepted + quarantined)\n');
  printTable(out, rec, ['source', 'rows_read', 'rows_accepted', 'rows_quarantined', 'reconciled']);
}

/** The database of a finished batch (its output folder). */
async function openBatch(out: string): Promise<Db> {
  const dbPath = join(resolve(out), 'dtsen.duckdb');
  if (!existsSync(dbPath)) throw new InputError('no finished batch here', { file: dbPath, expected: 'the output folder of a `dtsen run`' });
  return Db.open({ path: dbPath });
}

function printBatch(out: NodeJS.WritableStream, r: BatchResult): void {
  printReconciliation(out, r.figures);
  out.write('\nStages\n');
  printTable(out, r.timings as unknown as Record<string, unknown>[], ['stage', 'rows', 'seconds']);
  const ev = r.figures.evaluate as EvaluationFigures | undefined;
  if (ev) printEvaluation(out, ev);
  if (r.files.length) out.write(`\nWrote ${r.files.length} files to ${r.outDir}:\n${r.files.map((f) => `  ${f}`).join('\n')}\n`);
}

export function buildProgram(io: { out: NodeJS.WritableStream; log: (level: string) => Logger }): Command {
  const program = new Command('dtsen')
    .description('Builds the DTSEN single socio-economic register from DTKS, Regsosek and P3KE snapshots')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => process.stderr.write(s) });

  batchOptions(program.command('run'))
    .description('run a whole batch: ingest, validate, normalise, link, cluster, survive, export, report')
    .option('-o, --out <dir>', 'output folder (overrides the config)')
    .option('--truth <file>', 'ground truth CSV (source,source_record_id,person_id) to evaluate against')
    .option('--model <file>', "a trained model.json (a batch's own output) to score with instead of training")
    .option('--pseudonymise', 'replace NIK and family-card numbers in the exported files by a keyed hash (key: env DTSEN_PSEUDONYM_KEY)')
    .action(async (f: RunFlags) => {
      const loaded = await loadConfig(f.config, overrides(f));
      // The key is read here only, and only when asked for; it is passed down, never logged or written.
      const pseudonymKey = loaded.config.pseudonymise ? process.env.DTSEN_PSEUDONYM_KEY : undefined;
      const result = await runBatch(loaded, { log: io.log(f.logLevel), progress: terminalProgress(), pseudonymKey });
      printBatch(io.out, result);
    });

  batchOptions(program.command('validate'))
    .description('read, check and count the inputs and mappings; link nothing, write nothing')
    .action(async (f: RunFlags) => {
      const loaded = await loadConfig(f.config, overrides(f));
      const result = await runBatch(loaded, { log: io.log(f.logLevel), progress: terminalProgress(), stages: VALIDATE_STAGES, dryRun: true });
      printReconciliation(io.out, result.figures);
      const reasons = (result.figures.validate as { quarantine_reasons?: Record<string, unknown>[] }).quarantine_reasons ?? [];
      if (reasons.length) {
        io.out.write('\nQuarantine reasons\n');
        printTable(io.out, reasons, ['source', 'reason', 'rows']);
      }
    });

  program
    .command('generate')
    .description('write a synthetic population: the three snapshots and their ground truth')
    .requiredOption('--persons <n>', 'number of persons', positiveInt)
    .option('--seed <n>', 'random seed', positiveInt, 1)
    .requiredOption('-o, --out <dir>', 'output folder')
    .option('--profile <name>', `population profile: ${PROFILE_NAMES.join(', ')}, or random:SEED`, 'default')
    .action(async (f: { persons: number; seed: number; out: string; profile: string }) => {
      let profile;
      try {
        profile = profileByName(f.profile);
      } catch (e) {
        throw new InputError((e as Error).message);
      }
      const progress = terminalProgress();
      progress.start('generate');
      const r = await generate({ persons: f.persons, seed: f.seed, out: resolve(f.out), profile, onProgress: (msg, done) => progress.update('generate', done, msg) });
      progress.done('generate', r.persons);
      io.out.write(`${r.persons} persons in ${r.families} families: dtks ${r.records.dtks}, regsosek ${r.records.regsosek}, p3ke ${r.records.p3ke} records\n`);
      io.out.write(`${r.files.map((x) => `  ${x}`).join('\n')}\n`);
    });

  program
    .command('evaluate')
    .description("measure a finished batch's links against a ground-truth file")
    .requiredOption('--truth <file>', 'ground truth CSV (source,source_record_id,person_id)')
    .requiredOption('-o, --out <dir>', 'the batch output folder (holds dtsen.duckdb)')
    .option('--json', 'print JSON')
    .action(async (f: { truth: string; out: string; json?: boolean }) => {
      if (!existsSync(f.truth)) throw new InputError('truth file not found', { file: resolve(f.truth) });
      const db = await openBatch(f.out);
      try {
        const stored = await db.one<{ config: string }>(`SELECT config::VARCHAR AS config FROM batch_info`).catch(() => undefined);
        const linkage = Linkage.parse(stored ? (JSON.parse(stored.config) as { linkage?: unknown }).linkage ?? {} : {});
        const figures = await evaluate(db, resolve(f.truth), linkage);
        if (f.json) io.out.write(`${JSON.stringify(figures, null, 2)}\n`);
        else printEvaluation(io.out, figures);
      } finally {
        db.close();
      }
    });

  program
    .command('blocking')
    .description("a finished batch's blocking report: pairs per rule, largest blocks, and with a truth file the share of true pairs each rule finds")
    .requiredOption('-o, --out <dir>', 'the batch output folder (holds dtsen.duckdb)')
    .option('--truth <file>', 'ground truth CSV (source,source_record_id,person_id); default: the figures of the batch, if it had one')
    .option('--json', 'print JSON')
    .action(async (f: { truth?: string; out: string; json?: boolean }) => {
      const db = await openBatch(f.out);
      try {
        const info = await db.one<{ config: string; figures: string }>(`SELECT config::VARCHAR AS config, figures::VARCHAR AS figures FROM batch_info`);
        const figures = JSON.parse(info!.figures) as { link?: { blocking?: BlockingFigures }; evaluate?: EvaluationFigures };
        const blocking = figures.link?.blocking;
        if (!blocking) throw new InputError('this batch has no blocking figures (it was linked by the exact engine)', { file: join(resolve(f.out), 'dtsen.duckdb') });
        let truth = figures.evaluate?.blocking;
        if (f.truth) {
          if (!existsSync(f.truth)) throw new InputError('truth file not found', { file: resolve(f.truth) });
          truth = (await evaluate(db, resolve(f.truth), Linkage.parse((JSON.parse(info!.config) as { linkage?: unknown }).linkage ?? {}))).blocking;
        }
        if (f.json) io.out.write(`${JSON.stringify({ ...blocking, true_pairs: truth ?? null }, null, 2)}\n`);
        else printBlocking(io.out, blocking, truth);
      } finally {
        db.close();
      }
    });
  addExplainCommands(program, io.out);
  return program;
}

/** Runs the CLI; returns the exit code (0 ok, 1 internal error, 2 bad input or config). */
export async function main(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  let logger: Logger | undefined;
  const program = buildProgram({ out, log: (level) => (logger = createLogger({ level })) });
  try {
    await program.parseAsync(argv);
    return EXIT_OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0) return EXIT_OK;
      return EXIT_INPUT;
    }
    if (e instanceof InputError) {
      process.stderr.write(`dtsen: ${e.message}\n`);
      return EXIT_INPUT;
    }
    process.stderr.write(`dtsen: internal error: ${(e as Error).stack ?? e}\n`);
    logger?.error({ err: { message: (e as Error).message } }, 'internal error');
    return EXIT_INTERNAL;
  }
}
