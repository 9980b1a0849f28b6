/**
 * `dtsen init`: a starting batch config and one mapping per source, from the files' headers alone. It matches the
 * columns to the canonical fields by name (src/init/match.ts), guesses an extra date format where the built-in
 * ones do not read the first values (src/init/dates.ts), writes the files atomically (never over existing ones
 * unless `force`), then loads them as `run` would, with the same zod schemas.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { CANONICAL_FIELDS, SOURCES, type CanonicalField, type SourceName } from '../../schemas/canonical.ts';
import { BatchConfig } from '../../schemas/config.ts';
import { Mapping } from '../../schemas/mapping.ts';
import { loadConfig } from '../engine/config.ts';
import { InputError } from '../engine/errors.ts';
import { writeFileAtomic } from '../engine/files.ts';
import { explainZodError } from '../engine/suggest.ts';
import { packageRoot } from '../engine/package.ts';
import { REQUIRED_FIELDS } from './columns.ts';
import { guessDateFormat } from './dates.ts';
import { readSnapshotHeader, type SnapshotHeader } from './header.ts';
import { matchColumns, type FieldMatch } from './match.ts';

export interface InitOptions {
  paths: Record<SourceName, string>;
  /** the batch's output folder, written into the config (default ./out) */
  out?: string;
  /** where the config and the mappings are written (default: the current folder) */
  configDir?: string;
  batch?: string;
  /** overwrite existing files */
  force?: boolean;
}

export interface InitSource {
  source: SourceName;
  path: string;
  mappingPath: string;
  header: Pick<SnapshotHeader, 'format' | 'delimiter' | 'columns' | 'partial' | 'files'>;
  matches: FieldMatch[];
  /** columns no field took */
  unmatched: string[];
  dateFormats: string[];
  /** required fields without a column */
  missing: CanonicalField[];
}

export interface InitResult {
  configPath: string;
  files: string[];
  sources: InitSource[];
  /** what needs an edit before validate: required fields without a column, schema errors (empty when none) */
  problems: string[];
}

/** A path as written in a JSON file of `fromDir`: relative with forward slashes where it can be. */
function relPath(fromDir: string, to: string): string {
  const r = relative(fromDir, to);
  if (r === '') return '.';
  // Sharing no folder but the root (or another drive): the absolute path reads better than ../../../…
  const up = r.split(sep).filter((p) => p === '..').length;
  if (isAbsolute(r) || up >= fromDir.split(sep).filter(Boolean).length) return to;
  return r.split(sep).join('/');
}

function mappingOf(source: SourceName, header: SnapshotHeader, matches: FieldMatch[], dateFormats: string[], schemaPath: string): Record<string, unknown> {
  const partial = new Set(header.partial.map((c) => c.toUpperCase()));
  const files = header.files.length === 1 ? basename(header.files[0]) : `${header.files.length} files`;
  return {
    $schema: schemaPath,
    source,
    description: `written by dtsen init from the header of ${files}: check every column below`,
    format: header.format,
    ...(header.delimiter !== undefined ? { csv: { delimiter: header.delimiter, quote: '"', header: true, encoding: 'auto' } } : {}),
    columns: Object.fromEntries(matches.map((m) => [m.field, m.column])),
    optional_columns: matches.filter((m) => partial.has(m.column.toUpperCase())).map((m) => m.field),
    date_formats: dateFormats,
  };
}

/** The lines telling what a source's mapping lacks: each required field, the columns found and the line to write. */
function missingLines(s: InitSource): string[] {
  return s.missing.map(
    (f) =>
      `${s.source}: no column found for ${f} (${CANONICAL_FIELDS[f]}); columns found: ${s.unmatched.length ? s.unmatched.join(', ') : '(none left)'} — write "${f}": "<column>" under "columns" in ${s.mappingPath}`,
  );
}

export async function initBatch(o: InitOptions): Promise<InitResult> {
  const configDir = resolve(o.configDir ?? '.');
  const configPath = join(configDir, 'batch.json');
  const outDir = resolve(o.out ?? 'out');
  const mappingPaths = Object.fromEntries(SOURCES.map((s) => [s, join(configDir, 'sources', `${s}.json`)])) as Record<SourceName, string>;
  const targets = [configPath, ...SOURCES.map((s) => mappingPaths[s])];
  const existing = targets.filter((f) => existsSync(f));
  if (existing.length && !o.force) {
    throw new InputError(`${existing.length === 1 ? 'a file' : 'files'} init would write already exist${existing.length === 1 ? 's' : ''}: ${existing.join(', ')}`, {
      expected: 'another --config-dir, or --force to overwrite them',
    });
  }

  // Read every header first: nothing is written when a file cannot be read.
  const sources: InitSource[] = [];
  const texts = new Map<string, string>();
  const mappingSchema = join(packageRoot(), 'schemas', 'mapping.schema.json');
  for (const source of SOURCES) {
    const path = resolve(o.paths[source]);
    const header = await readSnapshotHeader(path);
    const matches = matchColumns(header.columns);
    const taken = new Set(matches.map((m) => m.column));
    const dateFormats: string[] = [];
    for (const field of ['birth_date', 'updated_at'] as const) {
      const column = matches.find((m) => m.field === field)?.column;
      const guess = column === undefined ? undefined : guessDateFormat(header.samples.get(column) ?? []);
      if (guess && !dateFormats.includes(guess)) dateFormats.push(guess);
    }
    const s: InitSource = {
      source,
      path,
      mappingPath: mappingPaths[source],
      header,
      matches,
      unmatched: header.columns.filter((c) => !taken.has(c)),
      dateFormats,
      missing: REQUIRED_FIELDS.filter((f) => !matches.some((m) => m.field === f)),
    };
    sources.push(s);
    const mapping = mappingOf(source, header, matches, dateFormats, relPath(dirname(s.mappingPath), mappingSchema));
    texts.set(s.mappingPath, `${JSON.stringify(mapping, null, 2)}\n`);
  }
  const batch = o.batch ?? (basename(outDir).replace(/[^A-Za-z0-9_.-]/g, '_') || 'batch');
  const config = {
    $schema: relPath(configDir, join(packageRoot(), 'schemas', 'config.schema.json')),
    batch,
    snapshot_id: batch,
    out: relPath(configDir, outDir),
    sources: Object.fromEntries(sources.map((s) => [s.source, { path: relPath(configDir, s.path), mapping: relPath(configDir, s.mappingPath) }])),
  };
  texts.set(configPath, `${JSON.stringify(config, null, 2)}\n`);

  // The same schemas as run: problems of the files as written, before they are on disk.
  const problems: string[] = sources.flatMap(missingLines);
  const parsedConfig = BatchConfig.safeParse(config);
  if (!parsedConfig.success) problems.push(`${configPath}: ${explainZodError(parsedConfig.error, BatchConfig, config)}`);
  for (const s of sources) {
    const raw = JSON.parse(texts.get(s.mappingPath)!) as unknown;
    const parsed = Mapping.safeParse(raw);
    if (!parsed.success) problems.push(`${s.mappingPath}: ${explainZodError(parsed.error, Mapping, raw)}`);
  }

  for (const [file, text] of texts) await writeFileAtomic(file, text);
  const files = [...texts.keys()];
  // Loaded as run and validate load them: paths resolved, each mapping checked against its source.
  if (problems.length === 0) await loadConfig(configPath);
  return { configPath, files, sources, problems };
}
