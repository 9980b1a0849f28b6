import { afterEach, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { Terminal } from '@xterm/headless';
import { TerminalDisplay, bar } from '../../src/cli/progress.ts';

/** A fake terminal: what the display writes goes through a headless xterm, whose screen the tests read. */
function fakeTty(cols = 100, rows = 20) {
  const term = new Terminal({ cols, rows, convertEol: true, allowProposedApi: true });
  let raw = '';
  const stream = Object.assign(
    new Writable({
      write(chunk, _enc, cb) {
        raw += String(chunk);
        term.write(String(chunk));
        cb();
      },
    }),
    { isTTY: true, columns: cols, rows },
  );
  return {
    stream,
    raw: () => raw,
    /** the screen's non-empty lines, top to bottom, once xterm has parsed everything written */
    screen: () =>
      new Promise<string[]>((resolve) =>
        term.write('', () => {
          const b = term.buffer.active;
          const lines: string[] = [];
          for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)!.translateToString(true));
          resolve(lines.filter((l) => l.trim() !== ''));
        }),
      ),
  };
}

describe('terminal progress display', () => {
  let display: TerminalDisplay | undefined;
  afterEach(() => display?.stop());

  it('draws the running stage with its rows, bar, note and elapsed time in one line', async () => {
    const tty = fakeTty();
    let now = 1000;
    display = new TerminalDisplay(tty.stream, { tickMs: 0, now: () => now });
    display.progress.start('ingest');
    now = 3500;
    display.progress.update('ingest', 1234567, 'dtks', { done: 500_000, total: 1_000_000, unit: 'bytes' });
    const screen = await tty.screen();
    expect(screen).toHaveLength(1);
    expect(screen[0]).toMatch(/ingest\s+1,234,567 rows/);
    expect(screen[0]).toContain(`${bar(0.5)}  50%`);
    expect(screen[0]).toContain('500.0 kB of 1.0 MB');
    expect(screen[0]).toContain('(dtks)');
    expect(screen[0]).toMatch(/\b2\.5s\b/);
  });

  it('prints warnings above the live line, in order, without either overwriting the other', async () => {
    const tty = fakeTty();
    let now = 0;
    display = new TerminalDisplay(tty.stream, { tickMs: 0, now: () => now });
    display.progress.start('ingest');
    display.progress.update('ingest', 100, 'dtks');
    display.print('WARN: first warning');
    now = 1200;
    display.progress.update('ingest', 2000, 'p3ke');
    expect(await tty.screen()).toEqual([
      'WARN: first warning',
      expect.stringMatching(/^\S ingest\s+2,000 rows\s+\(p3ke\)\s+1\.2s\s+total 1\.2s$/),
    ]);
    display.progress.done('ingest', 5125);
    display.progress.start('link');
    now = 2000;
    display.progress.update('link', 3568, 'candidate pairs');
    display.print('WARN: second warning\n');
    now = 4000;
    display.progress.done('link', 3000);
    const screen = await tty.screen();
    expect(screen).toEqual([
      'WARN: first warning',
      expect.stringMatching(/^✔ ingest\s+5,125 rows\s+1\.2s$/),
      'WARN: second warning',
      expect.stringMatching(/^✔ link\s+3,000 rows\s+2\.8s$/),
    ]);
    // nothing is left of the live line once the stage is done: what is printed next starts on a clean line
    display.stop();
    tty.stream.write('summary\n');
    expect((await tty.screen()).at(-1)).toBe('summary');
  });

  it('shows a bar only where the total is known, and draws nothing on a stream that is not a terminal', async () => {
    const tty = fakeTty();
    display = new TerminalDisplay(tty.stream, { tickMs: 0, now: () => 0 });
    display.progress.start('normalise');
    display.progress.update('normalise', 10);
    expect((await tty.screen())[0]).not.toMatch(/[█░]/);
    display.progress.update('normalise', 10, undefined, { done: 10, total: 40 });
    expect((await tty.screen())[0]).toContain(`${bar(0.25)}  25%`);

    const { terminalProgress } = await import('../../src/cli/progress.ts');
    const chunks: string[] = [];
    const pipe = new Writable({ write(c, _e, cb) { chunks.push(String(c)); cb(); } });
    const p = terminalProgress(pipe as unknown as NodeJS.WriteStream);
    p.start('ingest');
    p.update('ingest', 5, 'x');
    p.done('ingest', 5);
    expect(chunks).toEqual([]);
  });

  it('bar: full cells, a half cell, empty cells, always the same width', () => {
    expect(bar(0, 10)).toBe('░'.repeat(10));
    expect(bar(1, 10)).toBe('█'.repeat(10));
    expect(bar(0.55, 10)).toBe(`${'█'.repeat(5)}▌${'░'.repeat(4)}`);
    expect(bar(7, 10)).toHaveLength(10);
  });
});
