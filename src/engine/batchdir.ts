/**
 * The layout of a batch folder. `<out>` is a symbolic link to one version folder:
 *
 *   <parent>/<name>                      → .<name>.batches/<id>   (the published batch; readers use <out>/…)
 *   <parent>/.<name>.batches/<id>/        one folder per batch: dtsen.duckdb, the exports, report.json
 *   <parent>/.<name>.lock                 the lock of a run writing the folder (src/engine/lock.ts)
 *
 * A batch is written into its own new version folder, which is also its staging folder; publishing makes a new
 * link under a temporary name and renames it over `<out>`, one atomic rename: a reader, or a run killed at any
 * instant, sees either the previous complete batch or the new one. Version ids begin with a sequence number
 * (`000042-20261201T015100Z`), so their order is the order the runs began in whatever the clock does.
 */
import { lstat, mkdir, readdir, readlink, realpath, rename, rm, rmdir, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Logger } from './log.ts';
import { fsyncPath, removeStaleTemps } from './files.ts';
import { pidAlive } from './lock.ts';

export interface BatchLayout {
  /** the published path readers use: a link to the current version */
  outDir: string;
  parent: string;
  name: string;
  /** the folder of the version folders */
  versionsDir: string;
}

export interface Version {
  id: string;
  seq: number;
  dir: string;
  /** holds a database and report.json: a whole batch */
  complete: boolean;
}

const VERSION_ID = /^(\d{6,})-[0-9A-Za-z-]+$/;

export function layoutOf(outDir: string): BatchLayout {
  const parent = dirname(outDir);
  const name = basename(outDir);
  return { outDir, parent, name, versionsDir: join(parent, `.${name}.batches`) };
}

function linkTarget(l: BatchLayout, id: string): string {
  return `${basename(l.versionsDir)}/${id}`;
}

/**
 * The batch folder to use for `outDir`: itself, unless it is a link made by someone else (a folder placed on
 * another disk), whose target is then the batch folder (its versions live beside the target).
 */
export async function resolveOutDir(outDir: string): Promise<string> {
  const st = await lstat(outDir).catch(() => undefined);
  if (!st?.isSymbolicLink()) return outDir;
  const target = await readlink(outDir);
  const l = layoutOf(outDir);
  if (dirname(target) === basename(l.versionsDir) || resolve(l.parent, dirname(target)) === l.versionsDir) return outDir;
  return resolveOutDir(await realpath(outDir).catch(() => resolve(l.parent, target)));
}

/** The id of the published version, if `<out>` is a link to one. */
export async function currentVersion(l: BatchLayout): Promise<string | undefined> {
  const st = await lstat(l.outDir).catch(() => undefined);
  if (!st?.isSymbolicLink()) return undefined;
  return basename(await readlink(l.outDir));
}

export async function listVersions(l: BatchLayout): Promise<Version[]> {
  if (!existsSync(l.versionsDir)) return [];
  const out: Version[] = [];
  for (const id of await readdir(l.versionsDir)) {
    const m = VERSION_ID.exec(id);
    if (!m) continue;
    const dir = join(l.versionsDir, id);
    out.push({ id, seq: Number(m[1]), dir, complete: existsSync(join(dir, 'report.json')) && existsSync(join(dir, 'dtsen.duckdb')) });
  }
  return out.sort((a, b) => a.seq - b.seq);
}

function stamp(d = new Date()): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

async function nextId(l: BatchLayout, suffix = ''): Promise<string> {
  const seq = Math.max(0, ...(await listVersions(l)).map((v) => v.seq)) + 1;
  return `${String(seq).padStart(6, '0')}-${stamp()}${suffix}`;
}

/** A new, empty version folder: the staging folder of a new batch. */
export async function newVersion(l: BatchLayout): Promise<Version> {
  await mkdir(l.versionsDir, { recursive: true });
  const id = await nextId(l);
  const dir = join(l.versionsDir, id);
  await mkdir(dir);
  return { id, seq: Number(VERSION_ID.exec(id)![1]), dir, complete: false };
}

/** Points `<out>` at version `id` in one atomic rename (a new link under a temporary name, renamed over `<out>`). */
export async function publishVersion(l: BatchLayout, id: string): Promise<void> {
  const tmp = join(l.parent, `.${l.name}.tmp-${process.pid}-link`);
  await rm(tmp, { force: true });
  await symlink(linkTarget(l, id), tmp);
  await rename(tmp, l.outDir);
  await fsyncPath(l.parent).catch(() => {});
}

/**
 * Brings a batch folder to this layout: a real `<out>` folder (written before the layout existed) becomes the
 * first version; an empty one is removed. A migration interrupted between its two steps is finished.
 */
export async function migrate(l: BatchLayout, log: Logger): Promise<void> {
  const st = await lstat(l.outDir).catch(() => undefined);
  if (st?.isDirectory()) {
    await removeStaleTemps(l.outDir);
    if ((await readdir(l.outDir)).length === 0) {
      await rmdir(l.outDir);
      return;
    }
    await mkdir(l.versionsDir, { recursive: true });
    const id = await nextId(l, '-migrated');
    log.info({ out: l.outDir, version: id }, 'batch folder moved to the versioned layout');
    await rename(l.outDir, join(l.versionsDir, id));
    await publishVersion(l, id);
  } else if (!st) {
    const migrated = (await listVersions(l)).filter((v) => v.id.endsWith('-migrated')).pop();
    if (migrated) await publishVersion(l, migrated.id);
  }
}

/** The version published before `currentId` (the batch the current one replaced), if it is still there. */
export function previousOf(versions: readonly Version[], currentId: string | undefined): Version | undefined {
  const cur = versions.find((v) => v.id === currentId);
  if (!cur) return undefined;
  return versions.filter((v) => v.seq < cur.seq && v.complete).pop();
}

/** Removes every version folder not in `keep`, and links left by publishers that are gone. */
export async function removeVersions(l: BatchLayout, keep: ReadonlySet<string>, log: Logger): Promise<void> {
  for (const v of await listVersions(l)) {
    if (keep.has(v.id)) continue;
    log.info({ version: v.id, complete: v.complete }, 'removing an old batch version');
    await rm(v.dir, { recursive: true, force: true });
  }
  if (!existsSync(l.parent)) return;
  const prefix = `.${l.name}.tmp-`;
  for (const f of await readdir(l.parent)) {
    const m = /^(\d+)-link$/.exec(f.slice(prefix.length));
    if (f.startsWith(prefix) && m && !pidAlive(Number(m[1]))) await rm(join(l.parent, f), { force: true });
  }
}
