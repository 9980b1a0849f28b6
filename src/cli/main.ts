/** The dtsen command line: argument parsing, progress and exit codes only — the work is in the stages. */
import { Command, CommanderError, Option } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from '../engine/log.ts';
import { EXIT, InputError, LockedError, ResourceError, StoppedError } from '../engine/errors.ts';
import { asResourceError } from '../engine/resources.ts';
import { checkOutDir } from '../engine/outdir.ts';
import type { ConfigOverrides } from '../engine/config.ts';
import type { SourceName } from '../../schemas/canonical.ts';
import type { BatchFigures, BatchResult } from '../pipeline.ts';
import { terminalProgress } from './progress.ts';
import { printTable } from '../engine/text-table.ts';
import { addExplainCommands } from './explain.ts';
import { addInitCommand } from './init.ts';
import { addReviewCommand } from './review.ts';
import { positiveInt } from './args.ts';
import type { EvaluationFigures, SkippedEvaluation } from '../stages/evaluate/index.ts';
import { PROFILE_NAMES, profileByName } from '../generate/profiles.ts';
import type { BlockingFigures } from '../linkage/blocking.ts';
import { printBlocking, printEvaluation, printFieldQuality } from './quality.ts';
import { packageVersion } from '../engine/package.ts';
import { CliLogs } from './logging.ts';
import { quietOnClosedPipe } from './epipe.ts';
import { MIN_TRUTH_COVERAGE, measuredQuality } from '../stages/evaluate/coverage.ts';
// The modules that load DuckDB, zod, vega, apache-arrow, parquet-wasm or the generator are imported inside the
// commands that need them, so that --help, --version and a query start fast.
type Lazy<F extends (...a: never[]) => unknown> = (...a: Parameters<F>) => Promise<Awaited<ReturnType<F>>>;
const loadConfig: Lazy<typeof import('../engine/config.ts').loadConfig> = async (...a) => (await import('../engine/config.ts')).loadConfig(...a);
const runBatch: Lazy<typeof import('../pipeline.ts').runBatch> = async (...a) => (await import('../pipeline.ts')).runBatch(...a);
const generate: Lazy<typeof import('../generate/index.ts').generate> = async (...a) => (await import('../generate/index.ts')).generate(...a);
const evaluate: Lazy<typeof import('../stages/evaluate/index.ts').evaluate> = async (...a) => (await import('../stages/evaluate/index.ts')).evaluate(...a);
const openBatch: Lazy<typeof import('../engine/batch.ts').openBatch> = async (...a) => (await import('../engine/batch.ts')).openBatch(...a);

/** Printed after `dtsen --help` and `dtsen run --help`; the same table is in README.md. */
export const EXIT_CODES_HELP = `
Exit codes:
  0    success
  1    internal error
  2    bad input or config (the message names the file, row, column and what was expected)
  3    out of memory (raise --memory-limit, use fewer --threads, or --temp-directory on a disk with room)
  4    disk full (free space, or --out / --temp-directory on another disk)
  5    the output folder is being written by another run
  130  stopped by SIGINT (Ctrl-C); nothing was published
  143  stopped by SIGTERM; nothing was published
`;

/**
 * Runs `work` with SIGINT and SIGTERM handlers: the first signal aborts the signal passed in (the batch stops and
 * cleans up, then a StoppedError ends the run); a second one while it cleans up ends the process at once, by that
 * signal (exit status 130/143).
 */
async function withSignals<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const onSignal = (sig: NodeJS.Signals) => {
    if (!controller.signal.aborted) {
      controller.abort(sig);
      return;
    }
    for (const s of signals) process.removeListener(s, onSignal);
    process.stderr.write(`dtsen: ${sig} again: exiting at once\n`);
    process.kill(process.pid, sig);
  };
  for (const s of signals) process.on(s, onSignal);
  try {
    return await work(controller.signal);
  } catch (e) {
    // Stopped outside a stage (reading the config, cleaning up): still a stop, not another error.
    if (controller.signal.aborted && !(e instanceof StoppedError)) throw new StoppedError(controller.signal.reason === 'SIGINT' ? 'SIGINT' : 'SIGTERM');
    throw e;
  } finally {
    for (const s of signals) process.removeListener(s, onSignal);
  }
}

/** The flags of run and validate: the config overrides as commander names them, the snapshots one flag each. */
interface RunFlags extends Omit<ConfigOverrides, 'sourcePaths'>, Partial<Record<SourceName, string>> {
  config?: string;
  wait?: boolean;
  resume?: boolean;
  logLevel: string;
}

function overrides(f: RunFlags): ConfigOverrides {
  return {
    batch: f.batch,
    sourcePaths: { dtks: f.dtks, regsosek: f.regsosek, p3ke: f.p3ke },
    out: f.out,
    threads: f.threads,
    memoryLimit: f.memoryLimit,
    tempDirectory: f.tempDirectory,
    truth: f.truth,
    model: f.model,
    pseudonymise: f.pseudonymise,
    previous: f.previous,
    decisions: f.decisions,
    full: f.full,
    retrain: f.retrain,
  };
}

function batchOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'batch config (JSON); without it, the three snapshot flags are needed')
    .option('--batch <name>', 'the batch name (default: the config\'s, or without a config the output folder\'s name)')
    .option('--dtks <path>', 'DTKS snapshot: a file or a folder (overrides the config)')
    .option('--regsosek <path>', 'Regsosek snapshot: a file or a folder (overrides the config)')
    .option('--p3ke <path>', 'P3KE snapshot: a file or a folder (overrides the config)')
    .option('--threads <n>', 'DuckDB threads', positiveInt)
    .option('--memory-limit <size>', 'DuckDB memory limit, e.g. 4GB (spills to disk beyond it)')
    .option('--temp-directory <dir>', "DuckDB's spill folder (default: inside the batch's staging folder)")
    .addOption(new Option('--log-level <level>', 'log level; given, the JSON logs go to stderr (on a terminal too)').choices(['debug', 'info', 'warn', 'error', 'silent']).default('info'))
    .option('--log-file <file>', 'write the JSON logs to this file (default on a terminal: a file in the temp folder, named at the end)');
}

function printReconciliation(out: NodeJS.WritableStream, figures: Pick<Partial<BatchFigures>, 'validate'>): void {
  const rec = figures.validate?.reconciliation ?? [];
  out.write('\nReconciliation (rows read = accepted + quarantined)\n');
  printTable(out, rec, ['source', 'rows_read', 'rows_accepted', 'rows_quarantined', 'reconciled']);
}

function printBatch(out: NodeJS.WritableStream, r: BatchResult): void {
  printReconciliation(out, r.figures);
  printFieldQuality(out, r.figures);
  out.write('\nStages\n');
  printTable(out, r.timings, ['stage', 'rows', 'seconds']);
  const ev = r.figures.evaluate;
  if (ev) printEvaluation(out, ev);
  if (r.files.length) out.write(`\nWrote ${r.files.length} files to ${r.outDir}:\n${r.files.map((f) => `  ${f}`).join('\n')}\n`);
}

export function buildProgram(io: { out: NodeJS.WritableStream; log: (level: string) => Logger }): Command {
  const program = new Command('dtsen')
    .description('Builds the DTSEN single socio-economic register from DTKS, Regsosek and P3KE snapshots')
    .version(packageVersion(), '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => process.stderr.write(s) })
    .addHelpText('after', EXIT_CODES_HELP);

  batchOptions(program.command('run'))
    .description('run a whole batch: ingest, validate, normalise, link, cluster, survive, export, report')
    .option('-o, --out <dir>', 'output folder (overrides the config)')
    .option('--truth <file>', 'ground truth CSV (source,source_record_id,person_id) to evaluate against')
    .option('--model <file>', "a trained model.json (a batch's own output) to score with instead of training")
    .option('--pseudonymise', 'replace NIK and family-card numbers in the exported files by a keyed hash (key: env DTSEN_PSEUDONYM_KEY)')
    .option('--wait', 'when another run is writing the output folder, wait for it to finish instead of refusing')
    .option('--resume', "continue the output folder's unfinished batch (after a crash, a kill or a full disk) from its first unfinished stage")
    .option('--previous <dir>', "the previous batch's output folder: continue its register (ids, history, change log); may be the --out folder itself")
    .option('--decisions <file>', 'the decisions store (JSON lines) every batch applies (overrides the config)')
    .option('--full', 'with --previous: recompute every link, cluster and golden record instead of only what changed since the previous batch')
    .option('--retrain', 'with --previous: train the model again instead of scoring with the previous batch\'s model')
    .option('--profile <dir>', "keep DuckDB's profile of every statement in this folder (one JSON file per statement, named by stage and step; summary.tsv lists them slowest first)")
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (f: RunFlags & { profile?: string }) => {
      const loaded = await loadConfig(f.config, overrides(f));
      await checkOutDir(loaded.outDir);
      // The key is read here only, and only when asked for; it is passed down, never logged or written.
      const pseudonymKey = loaded.config.pseudonymise ? process.env.DTSEN_PSEUDONYM_KEY : undefined;
      const log = io.log(f.logLevel);
      const result = await withSignals((signal) =>
        runBatch(loaded, {
          log,
          progress: terminalProgress(),
          pseudonymKey,
          wait: f.wait,
          resume: f.resume,
          notice: (m) => notices.push(m),
          signal,
          profile: f.profile === undefined ? undefined : resolve(f.profile),
        }),
      );
      printBatch(io.out, result);
      if (f.profile !== undefined) io.out.write(`\nStatement profiles in ${resolve(f.profile)} (summary.tsv: slowest first)\n`);
    });

  batchOptions(program.command('validate'))
    .description('read, check and count the inputs and mappings; link nothing, write nothing')
    .action(async (f: RunFlags) => {
      const loaded = await loadConfig(f.config, overrides(f));
      const log = io.log(f.logLevel);
      const { VALIDATE_STAGES } = await import('../pipeline.ts');
      const result = await withSignals((signal) => runBatch(loaded, { log, progress: terminalProgress(), stages: VALIDATE_STAGES, dryRun: true, signal }));
      printReconciliation(io.out, result.figures);
      printFieldQuality(io.out, result.figures);
      const reasons = result.figures.validate?.quarantine_reasons ?? [];
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
    .option('--months <n>', 'write N successive monthly snapshots of the population (month-01 … month-NN, a truth with stable person ids, events.csv per month)', positiveInt)
    .action(async (f: { persons: number; seed: number; out: string; profile: string; months?: number }) => {
      let profile;
      try {
        profile = profileByName(f.profile);
      } catch (e) {
        throw new InputError((e as Error).message);
      }
      const progress = terminalProgress();
      progress.start('generate');
      if (f.months !== undefined) {
        const { generateMonths } = await import('../generate/months.ts');
        const months = await generateMonths({ persons: f.persons, seed: f.seed, out: resolve(f.out), profile, months: f.months, onProgress: (msg, done, total) => progress.update('generate', done, msg, { done, total }) });
        progress.done('generate', months.length);
        printTable(io.out, months.map((m) => ({ month: m.month, persons: m.persons, new: m.new_persons, gone: m.gone_persons, dtks: m.records.dtks, regsosek: m.records.regsosek, p3ke: m.records.p3ke, folder: m.folder })), ['month', 'persons', 'new', 'gone', 'dtks', 'regsosek', 'p3ke', 'folder']);
        return;
      }
      const r = await generate({ persons: f.persons, seed: f.seed, out: resolve(f.out), profile, onProgress: (msg, done, total) => progress.update('generate', done, msg, { done, total }) });
      progress.done('generate', r.persons);
      io.out.write(`${r.persons} persons in ${r.families} families: dtks ${r.records.dtks}, regsosek ${r.records.regsosek}, p3ke ${r.records.p3ke} records\n`);
      io.out.write(`${r.files.map((x) => `  ${x}`).join('\n')}\n`);
    });

  program
    .command('evaluate')
    .description("measure a finished batch's links against a ground-truth file (the batch is only read)")
    .requiredOption('--truth <file>', `ground truth CSV (source,source_record_id,person_id[,family_id]) covering at least ${MIN_TRUTH_COVERAGE * 100}% of the accepted records`)
    .requiredOption('-o, --out <dir>', 'the batch output folder (holds dtsen.duckdb)')
    .option('--json', 'print JSON')
    .action(async (f: { truth: string; out: string; json?: boolean }) => {
      const truth = resolve(f.truth);
      if (!existsSync(truth)) throw new InputError('truth file not found', { file: truth });
      const batch = await openBatch(f.out, { allowedPaths: [truth] });
      try {
        const figures = await evaluate(batch.db, truth, batch.linkage);
        if (f.json) io.out.write(`${JSON.stringify(figures, null, 2)}\n`);
        else printEvaluation(io.out, figures);
      } finally {
        await batch.close();
      }
    });

  program
    .command('blocking')
    .description("a finished batch's blocking report: pairs per rule, largest blocks, and with a truth file the share of true pairs each rule finds")
    .requiredOption('-o, --out <dir>', 'the batch output folder (holds dtsen.duckdb)')
    .option('--truth <file>', 'ground truth CSV (source,source_record_id,person_id[,family_id]); default: the figures of the batch, if it had one')
    .option('--json', 'print JSON')
    .action(async (f: { truth?: string; out: string; json?: boolean }) => {
      const truthFile = f.truth === undefined ? undefined : resolve(f.truth);
      if (truthFile && !existsSync(truthFile)) throw new InputError('truth file not found', { file: truthFile });
      const batch = await openBatch(f.out, { allowedPaths: truthFile ? [truthFile] : [] });
      try {
        const figures = batch.figures as { link?: { blocking?: BlockingFigures }; evaluate?: EvaluationFigures | SkippedEvaluation };
        const blocking = figures.link?.blocking;
        if (!blocking) throw new InputError('this batch has no blocking figures (it was linked by the exact engine)', { file: batch.dbPath });
        let truth = measuredQuality(figures.evaluate) ? figures.evaluate.blocking : undefined;
        if (truthFile) truth = (await evaluate(batch.db, truthFile, batch.linkage)).blocking;
        if (f.json) io.out.write(`${JSON.stringify({ ...blocking, true_pairs: truth ?? null }, null, 2)}\n`);
        else printBlocking(io.out, blocking, truth);
      } finally {
        await batch.close();
      }
    });
  program
    .command('decide')
    .description('append one decision to the decisions store, checked: same-person A B | different-persons A B | field-value PERSON FIELD VALUE (records as SOURCE:ID, a person as one of its records or a dtsen_id)')
    .argument('<kind>', 'same-person, different-persons or field-value')
    .argument('<args...>', 'two records; or a person, a field and a value')
    .option('--store <file>', 'the decisions store (JSON lines; created when missing)')
    .option('-c, --config <file>', 'the batch config naming the store (`decisions`), instead of --store')
    .requiredOption('--reference <ref>', 'the usul/sanggah number, groundcheck form or ticket')
    .requiredOption('--author <name>', 'who decided')
    .requiredOption('--reason <text>', 'why')
    .option('--date <YYYY-MM-DD>', 'the date of the decision (default: today)')
    .action(async (kind: string, args: string[], f: { store?: string; config?: string; reference: string; author: string; reason: string; date?: string }) => {
      let store = f.store ? resolve(f.store) : undefined;
      if (!store && f.config) store = (await loadConfig(f.config)).config.decisions;
      if (!store) throw new InputError('no decisions store: give --store FILE, or --config FILE whose config names one (`decisions`)');
      const common = { reference: f.reference, author: f.author, date: f.date ?? new Date().toISOString().slice(0, 10), reason: f.reason };
      const kinds: Record<string, string> = { 'same-person': 'same_person', 'different-persons': 'different_persons', 'field-value': 'field_value' };
      const k = kinds[kind];
      if (!k) throw new InputError(`unknown kind of decision '${kind}'`, { expected: Object.keys(kinds).join(', ') });
      const want = k === 'field_value' ? 3 : 2;
      if (args.length !== want) throw new InputError(`${kind} takes ${want === 2 ? 'two records (SOURCE:ID SOURCE:ID)' : 'a person, a field and a value'}, got ${args.length} arguments`);
      const decision = k === 'field_value' ? { kind: k, target: args[0], field: args[1], value: args[2], ...common } : { kind: k, records: args, ...common };
      const { appendDecision } = await import('../register/decisions.ts');
      const line = await appendDecision(store, decision);
      io.out.write(`decision ${line} appended to ${store}\n`);
    });

  program
    .command('resolve')
    .description('where ids issued by any batch of the register live now: active, inactive, or merged/split into the ids given')
    .requiredOption('-o, --out <dir>', 'the batch output folder (holds dtsen.duckdb)')
    .argument('<id...>', 'dtsen_id (DT…) or family_id (FM…) values')
    .option('--json', 'print JSON')
    .action(async (ids: string[], f: { out: string; json?: boolean }) => {
      const batch = await openBatch(f.out, { allowedPaths: [] });
      try {
        if (!(await batch.db.tableExists('dtsen_id_history'))) throw new InputError('this batch keeps no id history (it was written before the register)', { file: batch.dbPath });
        const { resolveIds } = await import('../register/resolve.ts');
        const rows = await resolveIds(batch.db, ids);
        if (f.json) io.out.write(`${JSON.stringify(rows, null, 2)}\n`);
        else {
          printTable(io.out, rows.map((r) => ({
            id: r.id,
            status: r.known ? r.status : 'never issued',
            issued: r.first_batch ?? '',
            since: r.status_batch ?? '',
            now: r.now.join(' ') || (r.inactive.length ? `inactive: ${r.inactive.join(' ')}` : ''),
          })), ['id', 'status', 'issued', 'since', 'now']);
        }
        const unknown = rows.filter((r) => !r.known).length;
        if (unknown) throw new InputError(`${unknown} of the ids given were never issued by this register`, { file: batch.dbPath });
      } finally {
        await batch.close();
      }
    });
  addExplainCommands(program, io.out);
  addInitCommand(program, io.out);
  addReviewCommand(program, io.out, io.log);
  return program;
}

/** What a failed batch has to say beside its error (where its unfinished staging folder is kept): printed after the error. */
const notices: string[] = [];

/** Runs the CLI; returns the exit code (see EXIT in engine/errors.ts and EXIT_CODES_HELP). */
export async function main(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  let logger: Logger | undefined;
  const logs = new CliLogs();
  // every command's output: a reader that stops early (`dtsen sql … | head -1`) ends it quietly
  quietOnClosedPipe(out);
  const program = buildProgram({ out, log: (level) => (logger = logs.create(level)) });
  program.hook('preAction', (_program, command) => logs.configure(command));
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (e) {
    logs.stopDisplay();
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0) return EXIT.ok;
      return EXIT.input;
    }
    if (e instanceof LockedError) {
      process.stderr.write(`dtsen: ${e.message}\n`);
      return EXIT.locked;
    }
    if (e instanceof InputError) {
      process.stderr.write(`dtsen: ${e.message}\n`);
      return EXIT.input;
    }
    if (e instanceof StoppedError) {
      process.stderr.write(`dtsen: ${e.message}\n`);
      return e.exitCode;
    }
    // A lack of memory or disk outside a stage (stages name their own) is still named as such.
    const resource = e instanceof ResourceError ? e : await asResourceError(e, {});
    if (resource) {
      process.stderr.write(`dtsen: ${resource.message}\n`);
      logger?.error({ kind: resource.kind }, resource.kind === 'memory' ? 'out of memory' : 'disk full');
      return resource.exitCode;
    }
    process.stderr.write(`dtsen: internal error: ${(e as Error).stack ?? e}\n`);
    logger?.error({ err: { message: (e as Error).message } }, 'internal error');
    return EXIT.internal;
  } finally {
    for (const m of notices.splice(0)) process.stderr.write(`dtsen: ${m}\n`);
    logs.finish();
  }
}
