/** What the benchmarks share: the sources of a generated population's folder, and running a child command. */
import { spawnSync } from 'node:child_process';
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
