/**
 * Where the CLI's logs go. The full logs are JSON lines (pino):
 * - to `--log-file FILE` when it is given;
 * - else to stderr when stderr is not a terminal, or when `--log-level` was given explicitly;
 * - else (a terminal, no explicit level) to a file in the OS temp folder, whose path is printed at the end.
 * On a terminal whose stderr does not carry the full logs, warnings and errors are printed, readable, above the
 * progress area; elsewhere they reach stderr as JSON lines with the rest (or alone, next to a log file).
 * Logs never carry a NIK, a name or an address (see src/engine/log.ts).
 */
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { pino, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { stopTerminalDisplay, terminalDisplay, type TerminalStream } from './progress.ts';

export interface LogSettings {
  level: string;
  /** --log-level was given on the command line (not its default) */
  explicitLevel: boolean;
  /** --log-file */
  file?: string;
}

/** Where the logs of one command go (see the module comment). */
export interface LogPlan {
  level: string;
  /** the file of the full logs, if they go to one */
  file?: string;
  /** the file was chosen here (not given): its path is printed at the end */
  defaultFile: boolean;
  /** the full logs go to stderr */
  fullToStderr: boolean;
  /** warnings and errors go to stderr besides a log file: readable above the progress on a terminal, else JSON */
  warningsToStderr: 'display' | 'json' | false;
}

export function planLogs(s: LogSettings, stderrIsTty: boolean, tempDir = tmpdir(), now = new Date()): LogPlan {
  if (s.level === 'silent') return { level: 'silent', defaultFile: false, fullToStderr: false, warningsToStderr: false };
  if (s.file) return { level: s.level, file: resolve(s.file), defaultFile: false, fullToStderr: false, warningsToStderr: stderrIsTty ? 'display' : 'json' };
  if (!stderrIsTty || s.explicitLevel) return { level: s.level, defaultFile: false, fullToStderr: true, warningsToStderr: false };
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return { level: s.level, file: join(tempDir, `dtsen-${stamp}-${process.pid}.log`), defaultFile: true, fullToStderr: false, warningsToStderr: 'display' };
}

/** The logs of one CLI invocation: `configure` reads the options of the command about to run, `create` makes its logger, `finish` ends the display and names the log file. */
export class CliLogs {
  private settings: LogSettings = { level: 'info', explicitLevel: false };
  private plan: LogPlan | undefined;

  constructor(private readonly stderr: TerminalStream = process.stderr) {}

  /** Reads --log-level and --log-file of the command about to run (a commander preAction hook). */
  configure(cmd: Command): void {
    const o = cmd.opts<{ logLevel?: string; logFile?: string }>();
    this.settings = { level: o.logLevel ?? 'info', explicitLevel: cmd.getOptionValueSource('logLevel') === 'cli', file: o.logFile };
  }

  create(level = this.settings.level): Logger {
    const plan = (this.plan = planLogs({ ...this.settings, level }, this.stderr.isTTY === true));
    if (plan.level === 'silent') return pino({ level: 'silent' });
    const display = terminalDisplay(this.stderr);
    const streams: pino.StreamEntry[] = [];
    if (plan.file) streams.push({ level: plan.level as pino.Level, stream: pino.destination({ dest: plan.file, sync: true, mkdir: true }) });
    if (plan.fullToStderr) {
      // On a terminal the JSON lines are printed above the progress area, so that neither overwrites the other.
      streams.push({ level: plan.level as pino.Level, stream: display ? { write: (line: string) => display.print(line) } : pino.destination(2) });
    }
    if (plan.warningsToStderr === 'display' && display) {
      const pretty = prettyFactory({ colorize: typeof this.stderr.hasColors === 'function' && this.stderr.hasColors(), translateTime: 'HH:MM:ss', ignore: 'pid,hostname', singleLine: true });
      streams.push({ level: 'warn', stream: { write: (line: string) => display.print(pretty(line)) } });
    } else if (plan.warningsToStderr) {
      streams.push({ level: 'warn', stream: pino.destination(2) });
    }
    return pino({ level: plan.level }, pino.multistream(streams));
  }

  /** Erases the progress area (before an error message or the end). */
  stopDisplay(): void {
    stopTerminalDisplay(this.stderr);
  }

  /** Ends the display and, when the logs went to a file chosen here, says where. */
  finish(): void {
    this.stopDisplay();
    if (this.plan?.defaultFile && this.plan.file) this.stderr.write(`dtsen: full log in ${this.plan.file}\n`);
    this.plan = undefined;
  }
}
