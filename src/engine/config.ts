/** Loads and validates the batch config and the source mappings (once), resolving every path. */
import { packageRoot } from './package.ts';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { BatchConfig } from '../../schemas/config.ts';
import { Mapping } from '../../schemas/mapping.ts';
import { SOURCES, type SourceName } from '../../schemas/canonical.ts';
import { InputError } from './errors.ts';
import { explainZodError } from './suggest.ts';
import type { ResolvedSource } from './context.ts';

export interface ConfigOverrides {
  /** --batch: the batch's name (default without a config: the output folder's name) */
  batch?: string;
  sourcePaths?: Partial<Record<SourceName, string>>;
  out?: string;
  threads?: number;
  memoryLimit?: string;
  /** --temp-directory: DuckDB's spill folder */
  tempDirectory?: string;
  truth?: string;
  /** --model: a trained model.json to use instead of training */
  model?: string;
  /** --pseudonymise: only switches pseudonymisation on */
  pseudonymise?: boolean;
  /** --previous: the previous batch's output folder, continued by this batch */
  previous?: string;
  /** --decisions: the decisions store */
  decisions?: string;
  /** --full: recompute everything although a previous batch is given */
  full?: boolean;
  /** --retrain: an incremental batch trains the model again */
  retrain?: boolean;
}

export interface LoadedConfig {
  config: BatchConfig;
  /** the config file; undefined for a batch given by its input flags alone */
  configPath?: string;
  sources: ResolvedSource[];
  outDir: string;
  truthPath?: string;
}

/** "linkage.threshold: Too big: expected number to be <1" — one line per problem, with the path in the file. */
export function formatZodError(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`).join('\n  ');
}

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new InputError(`${what} not found or not readable`, { file });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`${what} is not valid JSON (${(e as Error).message})`, { file });
  }
}

export async function loadMapping(file: string): Promise<Mapping> {
  const raw = await readJson(file, 'mapping file');
  const parsed = Mapping.safeParse(raw);
  if (!parsed.success) throw new InputError(`invalid mapping:\n  ${explainZodError(parsed.error, Mapping, raw)}\n  (reference: README "Mapping keys")`, { file });
  return parsed.data;
}

/** The folder of the shipped batch configs and of the default mappings (sources/*.json). */
export const PIPELINES_DIR = join(packageRoot(), 'pipelines');

export const CONFIG_USAGE =
  'a batch needs --config FILE, or the three snapshots --dtks PATH --regsosek PATH --p3ke PATH (then the batch is named after --out, or --batch NAME, uses the mappings of pipelines/sources/ and has no truth file unless --truth FILE)';

/**
 * The config of a batch given by its input flags alone: the default mappings, named after the output folder
 * (or --batch), no truth file unless --truth. Written as the JSON a config file would hold, and checked alike.
 */
function configFromFlags(o: ConfigOverrides): unknown {
  const missing = SOURCES.filter((s) => !o.sourcePaths?.[s]);
  if (missing.length) {
    const given = SOURCES.length - missing.length;
    throw new InputError(`${given ? `--${missing.join(', --')} missing: ` : ''}${CONFIG_USAGE}`);
  }
  const out = resolve(o.out ?? 'out');
  const batch = o.batch ?? (basename(out).replace(/[^A-Za-z0-9_.-]/g, '_') || 'batch');
  return {
    batch,
    snapshot_id: batch,
    out,
    sources: Object.fromEntries(SOURCES.map((s) => [s, { path: resolve(o.sourcePaths![s]!), mapping: `sources/${s}.json` }])),
  };
}

export async function loadConfig(configPath: string | undefined, o: ConfigOverrides = {}): Promise<LoadedConfig> {
  // Without a config file, paths in the config (the mappings) are relative to the shipped pipelines folder.
  const absConfig = configPath === undefined ? undefined : resolve(configPath);
  const raw = absConfig ? await readJson(absConfig, 'batch config') : configFromFlags(o);
  if (o.batch !== undefined && raw && typeof raw === 'object') (raw as { batch?: unknown }).batch = o.batch;
  const parsed = BatchConfig.safeParse(raw);
  if (!parsed.success) throw new InputError(`invalid batch config:\n  ${explainZodError(parsed.error, BatchConfig, raw)}\n  (reference: README "Config keys")`, { file: absConfig });
  const config = parsed.data;
  const base = absConfig ? dirname(absConfig) : PIPELINES_DIR;
  if (o.threads !== undefined) config.threads = o.threads;
  if (o.memoryLimit !== undefined) config.memory_limit = o.memoryLimit;
  if (o.pseudonymise) config.pseudonymise = true;
  if (o.full) config.recompute = 'full';
  if (o.retrain) config.retrain = true;
  // A spill folder given on the command line is relative to the working directory; one in the config to the config.
  if (o.tempDirectory !== undefined) config.temp_directory = resolve(o.tempDirectory);
  else if (config.temp_directory) config.temp_directory = resolve(base, config.temp_directory);
  // A model given on the command line is relative to the working directory; one in the config to the config.
  if (o.model !== undefined) config.linkage.model = resolve(o.model);
  else if (config.linkage.model) config.linkage.model = resolve(base, config.linkage.model);
  // The register's previous batch and decisions store: from the command line relative to the working directory.
  if (o.previous !== undefined) config.previous = resolve(o.previous);
  else if (config.previous) config.previous = resolve(base, config.previous);
  if (o.decisions !== undefined) config.decisions = resolve(o.decisions);
  else if (config.decisions) config.decisions = resolve(base, config.decisions);

  const sources: ResolvedSource[] = [];
  for (const name of SOURCES) {
    const entry = config.sources[name];
    const override = o.sourcePaths?.[name];
    if (!entry && !override) continue;
    // A path given on the command line is relative to the working directory; one in the config to the config.
    const path = override ? resolve(override) : resolve(base, entry!.path);
    const mappingPath = entry ? resolve(base, entry.mapping) : resolve(base, 'sources', `${name}.json`);
    const mapping = await loadMapping(mappingPath);
    if (mapping.source !== name) {
      throw new InputError(`mapping is for source '${mapping.source}' but is used for '${name}'`, { file: mappingPath });
    }
    try {
      await stat(path);
    } catch {
      throw new InputError(`${name} snapshot not found`, { file: path, expected: 'a file or a folder of files' });
    }
    sources.push({ name, path, mapping, mappingPath });
  }
  const outDir = o.out ? resolve(o.out) : resolve(base, config.out);
  const truth = o.truth ?? (config.truth ? resolve(base, config.truth) : undefined);
  return { config, configPath: absConfig, sources, outDir, truthPath: truth ? resolve(truth) : undefined };
}
