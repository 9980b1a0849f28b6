/**
 * Naming a lack of memory or disk as such: DuckDB's and Node's errors become a ResourceError (exit 3 or 4) that says
 * in which stage it happened, what was short (the memory limit in force; the folder that is full and its free
 * space) and what to do about it.
 */
import { statfs } from 'node:fs/promises';
import { dirname, relative, isAbsolute } from 'node:path';
import type { Db } from './db.ts';
import { ResourceError, failedPath, firstLine, resourceKind } from './errors.ts';

export interface ResourceContext {
  /** the stage that was running, when known */
  stage?: string;
  /** the database the stage ran on (asked for the memory limit in force) */
  db?: Db;
  /** the memory limit of the config, when the database cannot tell */
  memoryLimit?: string;
  /** the folders the batch writes to: the output folder first, then DuckDB's spill folder */
  folders?: readonly string[];
}

function inside(folder: string, path: string): boolean {
  const r = relative(folder, path);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
}

function bytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${n.toFixed(1)} ${units[i]}`;
}

/** Free space of the file system holding `folder` (the nearest folder that exists). */
export async function freeSpace(folder: string): Promise<string> {
  for (let dir = folder; ; dir = dirname(dir)) {
    try {
      const s = await statfs(dir);
      return bytes(Number(s.bavail) * Number(s.bsize));
    } catch {
      if (dirname(dir) === dir) return 'unknown';
    }
  }
}

async function memoryLimit(ctx: ResourceContext): Promise<string> {
  try {
    const row = await ctx.db?.one<{ limit: string }>(`SELECT current_setting('memory_limit') AS "limit"`);
    if (row?.limit) return row.limit;
  } catch {
    // a database that ran out of memory may not answer: the config tells
  }
  return ctx.memoryLimit ?? "DuckDB's default (80% of the RAM)";
}

/** The error as a ResourceError when it is a lack of memory or disk; undefined otherwise. */
export async function asResourceError(e: unknown, ctx: ResourceContext): Promise<ResourceError | undefined> {
  const kind = resourceKind(e);
  if (!kind) return undefined;
  const where = ctx.stage ? `during stage ${ctx.stage}` : 'while preparing or publishing the batch';
  if (kind === 'memory') {
    const limit = await memoryLimit(ctx);
    return new ResourceError(
      'memory',
      `out of memory ${where} (memory limit ${limit}; ${firstLine(e)}). ` +
        'Raise --memory-limit (or memory_limit in the config), run with fewer --threads, ' +
        'or give DuckDB a spill folder on a disk with room with --temp-directory.',
    );
  }
  const path = failedPath(e);
  const folders = ctx.folders ?? [];
  const folder = (path && folders.find((f) => inside(f, path))) ?? (path ? dirname(path) : folders[0]);
  const full = folder ? `${folder} is full (${await freeSpace(folder)} free)` : 'a disk is full';
  return new ResourceError(
    'disk',
    `disk full ${where}: ${full}; ${firstLine(e)}. ` + 'Free space there, or write the batch elsewhere with --out and DuckDB\'s spill files with --temp-directory.',
  );
}
