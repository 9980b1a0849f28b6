/**
 * No crash, no hang: the CLI is spawned as a user runs it (`node bin/dtsen.js …`), every spawn with a bounded
 * time after which it is killed, so a hang fails the test instead of hanging the suite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import PQueue from 'p-queue';
import { tempDir } from '../fixtures/inputs.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const SAMPLE = join(ROOT, 'data-samples/sample');
const CONFIG = join(ROOT, 'pipelines/sample.json');
const BIN = join(ROOT, 'bin/dtsen.js');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
  ms: number;
  timedOut: boolean;
}

interface SpawnOptions {
  timeoutMs: number;
  /** called for every line the run writes to stderr (its JSON log and its message) */
  onLine?: (line: string, child: ChildProcess) => void;
}

/** Runs the CLI; kills it (SIGKILL) when it has not ended within timeoutMs. */
function dtsen(args: string[], opts: SpawnOptions): Promise<Run> {
  return new Promise((done) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    let partial = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      stderr += text;
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) opts.onLine?.(line, child);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stderr, stdout, ms: performance.now() - t0, timedOut });
    });
  });
}

/** The JSON log lines of a run (pino, one object a line), and the lines that are not JSON (the CLI's message). */
function logLines(stderr: string): { json: Record<string, unknown>[]; text: string[] } {
  const json: Record<string, unknown>[] = [];
  const text: string[] = [];
  for (const line of stderr.split('\n').filter(Boolean)) {
    try {
      json.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      text.push(line);
    }
  }
  return { json, text };
}

const isStageStart = (line: string, stage: string) => line.includes('"msg":"stage started"') && line.includes(`"stage":"${stage}"`);

/** The tests that spawn runs share the machine: two runs at a time. */
const pool = new PQueue({ concurrency: 2 });
const inPool = <T>(work: () => Promise<T>) => pool.add(work) as Promise<T>;

let dir: string;
let noNama: string;
let randomBytes: string;

beforeAll(() => {
  dir = tempDir('dtsen-lifecycle-');
  // The sample's DTKS file without its NAMA column (the file has no quoted fields: a plain split is exact).
  const lines = readFileSync(join(SAMPLE, 'dtks.csv'), 'utf8').split('\n');
  const at = lines[0].split(';').indexOf('NAMA');
  expect(at).toBeGreaterThan(0);
  noNama = join(dir, 'dtks-no-nama.csv');
  writeFileSync(noNama, lines.map((l) => (l === '' ? l : l.split(';').filter((_, i) => i !== at).join(';'))).join('\n'));
  // 64 KiB of (seeded) random bytes as the DTKS file
  const bytes = Buffer.alloc(64 << 10);
  let x = 0x2545f491;
  for (let i = 0; i < bytes.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  randomBytes = join(dir, 'dtks-random.csv');
  writeFileSync(randomBytes, bytes);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** 20 runs on one bad DTKS file, two at a time: each must end with exit 2, never a crash or a hang. */
async function twentyRuns(file: string, name: string): Promise<Run[]> {
  return Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      inPool(() => dtsen(['run', '--config', CONFIG, '--dtks', file, '--out', join(dir, `${name}-${i}`), '--log-level', 'info'], { timeoutMs: 60_000 })),
    ),
  );
}

describe('a bad source file stops the batch cleanly (exit 2, every time)', () => {
  it('a DTKS file without its NAMA column: 20 runs → exit 2, and no other source is read after the error', async () => {
    const runs = await twentyRuns(noNama, 'no-nama');
    for (const r of runs) {
      expect(r.timedOut).toBe(false);
      expect({ code: r.code, signal: r.signal }).toEqual({ code: 2, signal: null });
      expect(r.stderr).toMatch(/dtsen: file .*dtks-no-nama\.csv, column NAMA: missing column NAMA/);
      // The message is the last line: nothing is logged after it (no source read after the error)…
      const lines = r.stderr.trim().split('\n');
      expect(lines.at(-1)).toMatch(/^dtsen: /);
      // … and no other source was read once DTKS had failed: the batch stops in ingest.
      const { json } = logLines(r.stderr);
      expect(json.some((l) => l.msg === 'stage done')).toBe(false);
      expect(json.some((l) => l.msg === 'source read' && l.source === 'dtks')).toBe(false);
    }
  });

  it('a DTKS file of random bytes: 20 runs → exit 2', async () => {
    const runs = await twentyRuns(randomBytes, 'random');
    for (const r of runs) {
      expect(r.timedOut).toBe(false);
      expect({ code: r.code, signal: r.signal }).toEqual({ code: 2, signal: null });
      expect(r.stderr).toMatch(/dtsen: file .*dtks-random\.csv/);
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^dtsen: /);
    }
  });
});

describe('signals stop a run within bounded time, with one line, and nothing published', () => {
  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`${signal} during stage link → exit ${code}`, async () => {
      const out = join(dir, `signal-${signal}`);
      let sentAt = 0;
      const r = await inPool(() =>
        dtsen(['run', '--config', CONFIG, '--out', out, '--log-level', 'info'], {
          timeoutMs: 90_000,
          onLine: (line, child) => {
            if (sentAt === 0 && isStageStart(line, 'link')) {
              sentAt = performance.now();
              setTimeout(() => child.kill(signal), 200);
            }
          },
        }),
      );
      expect(sentAt).toBeGreaterThan(0);
      expect(r.timedOut).toBe(false);
      expect({ code: r.code, signal: r.signal }).toEqual({ code, signal: null });
      const text = logLines(r.stderr).text;
      expect(text[0]).toBe(`dtsen: stopped by ${signal} during stage link; nothing was published`);
      // … and where the unfinished batch is kept for --resume, nothing else
      expect(text.slice(1)).toEqual([expect.stringMatching(/^dtsen: the unfinished batch is kept in .*dtsen run --resume/)]);
      // the link stage takes seconds: stopping it must not wait for it to end
      expect(logLines(r.stderr).json.some((l) => l.msg === 'stage done' && l.stage === 'link')).toBe(false);
      expect(existsSync(join(out, 'report.json'))).toBe(false);
      expect(existsSync(join(out, 'dtsen_person.parquet'))).toBe(false);
    });
  }

  it('a second signal while stopping ends the process at once, by that signal', async () => {
    const r = await inPool(() =>
      dtsen(['run', '--config', CONFIG, '--out', join(dir, 'signal-twice'), '--log-level', 'info'], {
        timeoutMs: 90_000,
        onLine: (line, child) => {
          if (isStageStart(line, 'link')) {
            setTimeout(() => {
              child.kill('SIGINT');
              setTimeout(() => child.kill('SIGINT'), 5);
            }, 200);
          }
        },
      }),
    );
    expect(r.timedOut).toBe(false);
    // Either the second signal came while cleaning up (killed by it), or the first stop had already ended (130).
    if (r.signal) {
      expect(r.signal).toBe('SIGINT');
      expect(r.stderr).toMatch(/dtsen: SIGINT again: exiting at once/);
    } else expect(r.code).toBe(130);
  });
});

describe('a lack of memory is named as such', () => {
  it('a tiny --memory-limit → exit 3 naming memory and the stage, never blaming the input file', async () => {
    const r = await inPool(() =>
      dtsen(['run', '--config', CONFIG, '--out', join(dir, 'oom'), '--memory-limit', '5MB', '--log-level', 'warn'], { timeoutMs: 60_000 }),
    );
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(3);
    const message = logLines(r.stderr).text.join('\n');
    expect(message).toMatch(/^dtsen: out of memory during stage \w+ \(memory limit [\d.]+ \w+;/);
    expect(message).toMatch(/--memory-limit/);
    expect(message).toMatch(/--threads/);
    expect(message).toMatch(/--temp-directory/);
    expect(message).not.toMatch(/dtks\.csv|regsosek\.parquet|p3ke\.csv|not a readable|cannot be read/);
    expect(message).not.toMatch(/SET threads|internal error/);
  });
});

describe('--out must be a folder that can be written', () => {
  it('--out naming a regular file → exit 2 naming it', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a folder');
    const r = await inPool(() => dtsen(['run', '--config', CONFIG, '--out', file, '--log-level', 'silent'], { timeoutMs: 60_000 }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`dtsen: file ${file}: the output folder is not a folder but a file`);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(readFileSync(file, 'utf8')).toBe('not a folder');
  });

  it('--out under a regular file (cannot be created) → exit 2 naming it', async () => {
    const file = join(dir, 'another-file');
    writeFileSync(file, 'x');
    const r = await inPool(() => dtsen(['run', '--config', CONFIG, '--out', join(file, 'out'), '--log-level', 'silent'], { timeoutMs: 60_000 }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`dtsen: file ${join(file, 'out')}: the output folder cannot be created`);
  });
});

/** Mounting a tmpfs needs root (and a kernel that lets this container mount): probed once. */
function canMount(): { ok: boolean; why?: string } {
  const probe = tempDir('dtsen-mount-probe-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { encoding: 'utf8' });
  if (r.status === 0) {
    spawnSync('umount', [probe]);
    rmSync(probe, { recursive: true, force: true });
    return { ok: true };
  }
  rmSync(probe, { recursive: true, force: true });
  return { ok: false, why: (r.stderr || r.error?.message || 'mount failed').trim() };
}

/** Fills the file system of `folder` until a write fails with ENOSPC. */
function fill(folder: string): void {
  const fd = openSync(join(folder, 'filler'), 'w');
  try {
    for (const size of [1 << 20, 64 << 10, 4 << 10, 512, 1]) {
      const chunk = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw e;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

const STAGES = ['ingest', 'validate', 'normalise', 'decisions', 'link', 'cluster', 'survive', 'register', 'export', 'evaluate', 'report'];
const mount = canMount();

describe.skipIf(!mount.ok)(`disk full during each stage → exit 4 naming the stage${mount.ok ? '' : ` (skipped: cannot mount a tmpfs: ${mount.why})`}`, () => {
  for (const stage of STAGES) {
    it.concurrent(`disk full during stage ${stage}`, async () => {
      const mnt = join(dir, `tmpfs-${stage}`);
      mkdirSync(mnt, { recursive: true });
      const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', mnt], { encoding: 'utf8' });
      expect(m.status, m.stderr).toBe(0);
      try {
        const out = join(mnt, 'out');
        let filled = false;
        const r = await inPool(() =>
          dtsen(['run', '--config', CONFIG, '--out', out, '--log-level', 'info'], {
            timeoutMs: 90_000,
            onLine: (line, child) => {
              if (filled || !isStageStart(line, stage)) return;
              // Hold the run while the disk fills, so it does not go on meanwhile.
              child.kill('SIGSTOP');
              try {
                fill(mnt);
              } finally {
                child.kill('SIGCONT');
              }
              filled = true;
            },
          }),
        );
        expect(filled).toBe(true);
        expect(r.timedOut).toBe(false);
        expect({ code: r.code, signal: r.signal }).toEqual({ code: 4, signal: null });
        const { json, text } = logLines(r.stderr);
        const message = text.join('\n');
        const named = /^dtsen: disk full during stage (\w+): /.exec(message)?.[1];
        // The stage named is the one that was running (started, not done) …
        const started = json.filter((l) => l.msg === 'stage started').map((l) => l.stage);
        const finished = json.filter((l) => l.msg === 'stage done').map((l) => l.stage);
        expect(named, message).toBe(started.find((s) => !finished.includes(s)));
        // … the filled one, or — when the stage's writes were already done as the disk was filled, the log line being read
        // while the run goes on — the next one.
        expect(STAGES.slice(STAGES.indexOf(stage), STAGES.indexOf(stage) + 2)).toContain(named);
        // the full folder named is the batch's own (its staging folder beside the output folder, on the filled disk)
        expect(message).toMatch(new RegExp(`: ${mnt.replaceAll('/', '\\/')}\\/\\S* is full \\(`));
        expect(message).toMatch(/is full \([\d.]+ (bytes|KiB) free\)/);
        expect(message).toMatch(/--out/);
        expect(existsSync(join(out, 'report.json'))).toBe(false);
      } finally {
        spawnSync('umount', ['-l', mnt]);
      }
      // the test's clock runs while it waits for the pool (two runs at a time): the runs queued before it may each take
      // their own 90 s limit on a loaded machine
    }, Math.ceil(STAGES.length / 2 + 1) * 90_000);
  }
});

describe('the exit codes are documented', () => {
  it('in dtsen --help', () => {
    const r = spawnSync(process.execPath, [BIN, '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(0);
    for (const code of ['0', '1', '2', '3', '4', '5', '130', '143']) expect(r.stdout).toMatch(new RegExp(`^  ${code}\\s+\\S`, 'm'));
  });

  it('in README.md', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const code of ['0', '1', '2', '3', '4', '5', '130', '143']) expect(readme).toMatch(new RegExp(`^\\| \`${code}\` \\|`, 'm'));
    expect(readdirSync(ROOT)).toContain('README.md');
  });
});
