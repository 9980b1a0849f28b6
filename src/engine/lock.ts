/**
 * The lock of a batch folder: one run at a time writes a batch folder. The lock is a file beside the folder
 * (`<parent>/.<name>.lock`, so that swapping the folder cannot remove it), created atomically (open 'wx')
 * and holding its holder: pid, host, start time, command and a random token. A lock whose holder process is
 * dead (on this host) is stale and is taken over with a warning; a live holder makes the next run refuse
 * (LockedError, exit 5) or wait (`dtsen run --wait`).
 */
import { closeSync, existsSync, openSync, readFileSync, unlinkSync, writeSync, fsyncSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { readFile, rename, unlink } from 'node:fs/promises';
import { LockedError } from './errors.ts';
import type { Logger } from './log.ts';

export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the holder took the lock */
  started: string;
  command: string;
  /** the process's start time in clock ticks since boot (Linux), so that a reused pid is not taken for the holder */
  pid_start?: string;
  token: string;
}

export interface BatchLock {
  readonly path: string;
  readonly holder: LockHolder;
  /** Removes the lock if it is still ours; safe to call twice. */
  release(): void;
}

/** `<parent>/.<name>.lock` of the batch folder `outDir`. */
export function lockPath(outDir: string): string {
  return join(dirname(outDir), `.${basename(outDir)}.lock`);
}

/** The start time of a process (field 22 of /proc/<pid>/stat), when this system tells it. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether a process of this host is alive (and, when its start time is known, is still the same process). */
export function pidAlive(pid: number, start?: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (start !== undefined) {
    const now = processStart(pid);
    if (now !== undefined && now !== start) return false;
  }
  return true;
}

/** A holder on another host cannot be checked: it counts as alive. */
export function holderAlive(h: LockHolder): boolean {
  return h.host !== hostname() || pidAlive(h.pid, h.pid_start);
}

export function describeHolder(h: LockHolder): string {
  return `pid ${h.pid} on host ${h.host}, started ${h.started}, command: ${h.command}`;
}

function readHolder(path: string): LockHolder | undefined {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
    return typeof h.pid === 'number' && typeof h.host === 'string' ? h : undefined;
  } catch {
    return undefined;
  }
}

function tryCreate(path: string, holder: LockHolder): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    writeSync(fd, `${JSON.stringify(holder)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Removes a stale lock: renamed away first (atomic, so of two runs taking over only one succeeds), then checked to
 * be the stale one that was read; a lock taken meanwhile by a live run is put back.
 */
async function removeStale(path: string, stale: LockHolder): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  const moved = JSON.parse(await readFile(aside, 'utf8').catch(() => '{}')) as Partial<LockHolder>;
  if (moved.token === stale.token) await unlink(aside).catch(() => {});
  else await rename(aside, path).catch(() => {});
}

export interface LockOptions {
  log: Logger;
  /** wait for a live holder to finish instead of refusing */
  wait?: boolean;
  /** how often a waiting run looks again (ms) */
  pollMs?: number;
  /** told once when the run starts waiting */
  onWait?: (holder: LockHolder) => void;
}

/** Takes the lock of the batch folder `outDir` (whose parent must exist). */
export async function acquireLock(outDir: string, opts: LockOptions): Promise<BatchLock> {
  const path = lockPath(outDir);
  const holder: LockHolder = {
    pid: process.pid,
    host: hostname(),
    started: new Date().toISOString(),
    command: ['dtsen', ...process.argv.slice(2)].join(' '),
    pid_start: processStart(process.pid),
    token: randomBytes(12).toString('hex'),
  };
  let waiting = false;
  for (;;) {
    if (tryCreate(path, holder)) break;
    const other = readHolder(path);
    if (!other) {
      // Being written this instant, or a torn file of a run killed while creating it: look again shortly, and
      // take over a lock that stays unreadable.
      await new Promise((r) => setTimeout(r, 100));
      const again = readHolder(path);
      if (!again && existsSync(path)) {
        opts.log.warn({ lock: path }, 'unreadable batch folder lock: taken over');
        await removeStale(path, { token: undefined } as unknown as LockHolder);
      }
      continue;
    }
    if (!holderAlive(other)) {
      opts.log.warn({ lock: path, stale_pid: other.pid, stale_started: other.started }, 'stale batch folder lock (its run is gone): taken over');
      await removeStale(path, other);
      continue;
    }
    if (!opts.wait) {
      throw new LockedError(
        `batch folder ${outDir} is being written by another run (${describeHolder(other)}); lock file ${path}. ` +
          'Run again when it has finished, or with --wait to wait for it.',
      );
    }
    if (!waiting) {
      waiting = true;
      opts.log.info({ lock: path, holder_pid: other.pid, holder_host: other.host, holder_started: other.started }, 'waiting for the batch folder lock');
      opts.onWait?.(other);
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
  }

  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.removeListener('exit', release);
    // Only our own lock is removed (never one a later run took over).
    if (readHolder(path)?.token === holder.token) {
      try {
        unlinkSync(path);
      } catch {
        /* already gone */
      }
    }
  };
  // Every exit path releases it: the caller's finally, and process.exit() (a signal handler) as well.
  process.on('exit', release);
  return { path, holder, release };
}
