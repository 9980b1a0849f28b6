/** What the benchmarks share: the sources of a generated population's folder, and running a child command. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { profileByName } from '../src/generate/profiles.ts';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..');
const MAPPINGS = join(ROOT, 'pipelines', 'sources');

/** The `sources` of a batch config over a folder written by `dtsen generate`, read with the shipped mappings. */
export function populationSources(dir: string): Record<'dtks' | 'regsosek' | 'p3ke', { path: string; mapping: string }> {
  return {
    dtks: { path: join(dir, 'dtks.csv'), mapping: join(MAPPINGS, 'dtks.json') },
    regsosek: { path: join(dir, 'regsosek.parquet'), mapping: join(MAPPINGS, 'regsosek.json') },
    p3ke: { path: join(dir, 'p3ke.csv'), mapping: join(MAPPINGS, 'p3ke.json') },
  };
}

/**
 * Runs a command from the checkout; throws when it fails. `capture`: its stdout is returned, else it is shown
 * (`quiet`: dropped).
 */
export function runCommand(cmd: string, args: string[], opts: { capture?: boolean; quiet?: boolean } = {}): string {
  const stdout = opts.capture ? 'pipe' : opts.quiet ? 'ignore' : 'inherit';
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: ['ignore', stdout, 'inherit'], encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
  return r.stdout ?? '';
}

/** Whether `dir` holds a population generated from `profile` as the profile is now. */
export function populationCurrent(dir: string, profile: string): boolean {
  const manifest = join(dir, 'manifest.json');
  const cached = existsSync(manifest) ? JSON.parse(readFileSync(manifest, 'utf8')).profile : undefined;
  return JSON.stringify(cached) === JSON.stringify(profileByName(profile));
}

/**
 * Generates into `dir` a population of `persons` (seed `seed`, profile `profile`) unless it is current there
 * (populationCurrent: a changed profile is generated again). `quiet`: the generator's output dropped.
 */
export function ensurePopulation(dir: string, persons: number, seed: string, profile: string, quiet = true): void {
  if (populationCurrent(dir, profile)) return;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  runCommand('node', [join(ROOT, 'bin', 'dtsen.js'), 'generate', '--persons', String(persons), '--seed', seed, '--profile', profile, '--out', dir], { quiet });
}
