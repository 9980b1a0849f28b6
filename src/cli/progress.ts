/**
 * The terminal display: one live progress area on stderr (the running stage, its rows, a bar where the total is
 * known, the elapsed time), redrawn in place by log-update; each finished stage and every warning or error is
 * printed above it and stays. Nothing is drawn when stderr is not a terminal.
 */
import { createLogUpdate } from 'log-update';
import type { Progress, ProgressWork } from '../engine/context.ts';

/** The stream the display draws on: stderr, or a fake terminal in tests. */
export interface TerminalStream extends NodeJS.WritableStream {
  isTTY?: boolean;
  columns?: number;
  rows?: number;
  hasColors?: () => boolean;
}

export interface DisplayOptions {
  /** milliseconds between redraws of the clock and spinner while a stage runs; 0: only on events (tests) */
  tickMs?: number;
  /** the clock, in milliseconds (tests) */
  now?: () => number;
}

interface Running {
  stage: string;
  started: number;
  /** rows so far; undefined until the stage reports any */
  rows?: number;
  note?: string;
  work?: ProgressWork;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const BAR_WIDTH = 24;
const STAGE_WIDTH = 10;

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtSeconds = (ms: number) => (ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.floor(ms / 60_000)}m${String(Math.floor((ms % 60_000) / 1000)).padStart(2, '0')}s`);

function fmtAmount(n: number, unit: ProgressWork['unit']): string {
  if (unit !== 'bytes') return fmtInt(n);
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** A text bar of `width` cells for a share between 0 and 1. */
export function bar(share: number, width = BAR_WIDTH): string {
  const s = Math.min(1, Math.max(0, share));
  const full = Math.floor(s * width);
  const partial = s * width - full >= 0.5 && full < width ? '▌' : '';
  return `${'█'.repeat(full)}${partial}${'░'.repeat(width - full - partial.length)}`;
}

export class TerminalDisplay {
  readonly progress: Progress;
  private readonly render: ReturnType<typeof createLogUpdate>;
  private readonly now: () => number;
  private readonly tickMs: number;
  private readonly color: boolean;
  private readonly t0: number;
  private running: Running | undefined;
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;

  constructor(
    private readonly stream: TerminalStream,
    opts: DisplayOptions = {},
  ) {
    this.render = createLogUpdate(stream, { showCursor: true });
    this.now = opts.now ?? (() => performance.now());
    this.tickMs = opts.tickMs ?? 100;
    this.color = typeof stream.hasColors === 'function' && stream.hasColors();
    this.t0 = this.now();
    this.progress = {
      start: (stage, work) => {
        this.running = { stage, started: this.now(), work };
        this.startClock();
        this.draw();
      },
      update: (stage, rows, note, work) => {
        if (!this.running || this.running.stage !== stage) this.running = { stage, started: this.now() };
        this.running.rows = rows;
        if (note !== undefined) this.running.note = note;
        if (work) this.running.work = work;
        this.startClock();
        this.draw();
      },
      done: (stage, rows) => {
        const started = this.running?.stage === stage ? this.running.started : this.now();
        const work = this.running?.stage === stage ? this.running.work : undefined;
        this.running = undefined;
        this.stopClock();
        const done = work ? `  ${this.dim(`${fmtAmount(work.total, work.unit)}${work.unit === 'bytes' ? ' read' : ''}`)}` : '';
        this.render.persist(`${this.green('✔')} ${stage.padEnd(STAGE_WIDTH)} ${fmtInt(rows).padStart(12)} rows  ${fmtSeconds(this.now() - started).padStart(6)}${done}`);
      },
    };
  }

  /** Prints lines above the live area (a warning, an error, a log line); the area is drawn again below them. */
  print(text: string): void {
    this.render.persist(text.replace(/\n$/, ''));
    this.draw();
  }

  /** Erases the live area and stops its clock; what was printed above it stays. */
  stop(): void {
    this.running = undefined;
    this.stopClock();
    this.render.clear();
    this.render.done();
  }

  /** The live area's text: the running stage, its rows, its bar where the total is known, the times; what does not fit the width is left out, least useful first. */
  line(): string {
    const r = this.running;
    if (!r) return '';
    const now = this.now();
    const rows = r.rows === undefined ? ''.padStart(17) : `${fmtInt(r.rows).padStart(12)} rows`;
    // [text, priority]: the lower the priority, the sooner it goes when the line is too wide
    const parts: [string, number][] = [[`${this.cyan(SPINNER[this.frame % SPINNER.length])} ${r.stage.padEnd(STAGE_WIDTH)} ${rows}`, 9]];
    if (r.work && r.work.total > 0) {
      const share = r.work.done / r.work.total;
      parts.push([`${bar(share)} ${String(Math.floor(Math.min(1, share) * 100)).padStart(3)}%`, 7]);
      if (r.work.unit === 'bytes') parts.push([this.dim(`${fmtAmount(r.work.done, 'bytes')} of ${fmtAmount(r.work.total, 'bytes')}`), 2]);
    }
    if (r.note) parts.push([this.dim(`(${r.note})`), 3]);
    parts.push([fmtSeconds(now - r.started), 8], [this.dim(`total ${fmtSeconds(now - this.t0)}`), 1]);
    const width = (this.stream.columns ?? 80) - 1;
    const visible = (p: [string, number][]) => p.map(([t]) => t.replace(/\x1b\[[0-9;]*m/g, '')).join('  ').length;
    while (parts.length > 1 && visible(parts) > width) {
      const weakest = parts.reduce((w, p, i) => (p[1] < parts[w][1] ? i : w), 0);
      parts.splice(weakest, 1);
    }
    return parts.map(([t]) => t).join('  ');
  }

  private draw(): void {
    const text = this.line();
    if (text) this.render(text);
    else this.render.clear();
  }

  private startClock(): void {
    if (this.timer || this.tickMs <= 0) return;
    this.timer = setInterval(() => {
      this.frame++;
      this.draw();
    }, this.tickMs);
    this.timer.unref();
  }

  private stopClock(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private paint(code: number, s: string): string {
    return this.color ? `\x1b[${code}m${s}\x1b[39m` : s;
  }
  private green = (s: string) => this.paint(32, s);
  private cyan = (s: string) => this.paint(36, s);
  private dim = (s: string) => (this.color ? `\x1b[2m${s}\x1b[22m` : s);
}

const displays = new WeakMap<TerminalStream, TerminalDisplay>();

/** The display of a terminal stream (one per stream, shared by the progress and the logs); none when it is not a terminal. */
export function terminalDisplay(stream: TerminalStream = process.stderr, opts?: DisplayOptions): TerminalDisplay | undefined {
  if (!stream.isTTY) return undefined;
  let d = displays.get(stream);
  if (!d) displays.set(stream, (d = new TerminalDisplay(stream, opts)));
  return d;
}

/** Erases the live area of the stream's display, if there is one (before a message or the summary is printed). */
export function stopTerminalDisplay(stream: TerminalStream = process.stderr): void {
  const d = displays.get(stream);
  if (!d) return;
  d.stop();
  displays.delete(stream);
}

/** Progress on a terminal (see TerminalDisplay); silent when the stream is not a terminal. */
export function terminalProgress(stream: TerminalStream = process.stderr): Progress {
  return terminalDisplay(stream)?.progress ?? { start() {}, update() {}, done() {} };
}
