/**
 * The reference of the batch config and the source mapping, generated from their zod schemas: the JSON Schemas
 * shipped under schemas/ (editors check and complete pipelines/*.json with them, through `$schema`) and the README
 * tables of every key with its type, default and meaning. `make docs` writes both; a test checks that every key of
 * the schemas has a meaning here and that the files and the README hold what the schemas say.
 */
import { z } from 'zod';
import { BatchConfig, DEFAULT_MIN_PARSE_RATE, GATED_FIELDS } from '../schemas/config.ts';
import { CANONICAL_FIELDS } from '../schemas/canonical.ts';
import { Mapping } from '../schemas/mapping.ts';
import { DATE_FORMATS } from './stages/normalise/fields.sql.ts';

/** The meaning of every key, by its dotted path (`*` for any source name). */
export const CONFIG_KEYS: Record<string, string> = {
  $schema: 'the JSON Schema an editor checks the file against (`../schemas/config.schema.json`); ignored by dtsen',
  batch: 'the batch name: letters, digits, `_ . -`; names the run in logs and the report',
  snapshot_id: 'the id of the snapshots read, stored on every row (lineage)',
  snapshot_date: 'the date of the snapshots, `YYYY-MM-DD`: birth dates after it are impossible; NIK centuries are inferred up to it',
  out: 'the output folder (relative to the config); `--out` overrides it',
  sources: 'the snapshots of the batch: `dtks`, `regsosek`, `p3ke` (at least one)',
  'sources.*': 'one snapshot',
  'sources.*.path': 'a file or a folder of files of one format (`.csv`, `.csv.gz`, `.parquet`, `.jsonl`), relative to the config',
  'sources.*.mapping': 'the mapping file of the layout (relative to the config), e.g. `sources/dtks.json`',
  threads: 'DuckDB threads (default: the cores of the machine); `--threads` overrides it',
  memory_limit: "DuckDB's memory limit, like `\"4GB\"` (default: DuckDB's, 80% of the memory); it spills to disk beyond it",
  temp_directory: "DuckDB's spill folder (relative to the config); default: inside the batch's staging folder",
  linkage: 'how records are linked (README "How records are linked")',
  'linkage.engine': '`probabilistic` (Fellegi–Sunter, trained without labels) or `exact` (valid NIK + name + birth date, a baseline)',
  'linkage.max_block_size': 'a blocking key shared by more records than this is dropped and reported',
  'linkage.model': 'a trained `model.json` to score with instead of training (relative to the config); `--model` overrides it',
  'linkage.u_sample_pairs': 'random record pairs drawn to estimate u',
  'linkage.dedupe': 'sources whose records are also compared with each other (duplicates inside a source)',
  'linkage.link': 'source pairs whose records are compared',
  'linkage.threshold': 'pairs at or above this match probability are linked; `"auto"`: the largest expected F1 of the pairs, raised until the expected precision of the persons built is at least `precision_floor`',
  'linkage.precision_floor': 'the expected precision of the persons built (pairs of records in one person) the `"auto"` threshold keeps to',
  'linkage.family_context': 'once two families are linked by one pair of their members, compare all their members pairwise and score those pairs by a model estimated on them (a member without NIK or birth date, or who moved with the family, is found by name among a few relatives instead of the whole register)',
  'linkage.split_conflicts': 'split clusters holding records that are plainly different persons (else only flag them)',
  'linkage.split_reasons': 'the conflict reasons that split a cluster (`nik`, `family`, `hard_negative`); the others only flag',
  'linkage.split_tiers': 'match weights (bits, ascending) a conflicted cluster is re-clustered at, one after another',
  'linkage.max_conflict_cluster_size': 'clusters with more records are not searched pair by pair for conflicts (only hard negatives) and are flagged',
  truth: 'a ground-truth CSV (`source,source_record_id,person_id`) used only to measure precision and recall; `--truth` overrides it',
  max_quarantine_share: 'the share of a source\'s rows that may be quarantined (0..1); above it validate fails the batch',
  survivorship: 'which source wins where records disagree',
  'survivorship.decile_source': 'the source whose welfare decile a person and a family keep; the others only fill in',
  quality_gates: 'the data-quality gates of validate (README "Data-quality gates")',
  'quality_gates.min_parse_rate': 'per field, the share of its non-missing values that must parse (0..1); below it the batch fails',
  ...Object.fromEntries(GATED_FIELDS.map((f) => [`quality_gates.min_parse_rate.${f}`, `floor of the parse rate of \`${f}\` (default ${DEFAULT_MIN_PARSE_RATE[f]})`])),
  'quality_gates.min_values': 'a file\'s field with fewer non-missing values is measured and warned about, not failed',
  pseudonymise: 'replace NIK and family-card numbers in the exported files by a keyed hash (key: `DTSEN_PSEUDONYM_KEY`)',
  previous: "the previous batch's output folder: the register's state this batch continues (ids, history, decisions); absolute or relative to the config (`--previous`)",
  recompute: 'with a previous batch: `incremental` cleans, links, clusters and builds golden records again only for what changed since it; `full` recomputes everything (`--full`); see "Incremental batches"',
  retrain: "an incremental batch trains the model again on all its pairs instead of scoring with the previous batch's model (`--retrain`)",
  decisions: 'the decisions store (JSON lines, `schemas/decision.ts`), applied by every batch; absolute or relative to the config (`--decisions`)',
};

export const MAPPING_KEYS: Record<string, string> = {
  $schema: 'the JSON Schema an editor checks the file against (`../../schemas/mapping.schema.json`); ignored by dtsen',
  source: 'the source this layout belongs to: `dtks`, `regsosek` or `p3ke`',
  description: 'free text about the layout',
  format: '`auto` (from the file name: `.csv`, `.csv.gz`, `.parquet`, `.jsonl`) or the format of every file',
  csv: 'how CSV files are read',
  'csv.delimiter': 'the column separator, one character: `";"`, `","` or a tab `"\\t"`',
  'csv.quote': 'the quote character',
  'csv.header': 'the first row names the columns (only `true` is supported)',
  'csv.encoding': '`auto` (UTF-8, else Windows-1252/Latin-1), `utf-8` or `latin-1`',
  columns: 'canonical field → the column of the file (matched without regard to case and surrounding spaces); `source_record_id` is required; a field not mapped is empty. The fields are listed below',
  ...Object.fromEntries(Object.entries(CANONICAL_FIELDS).map(([f, d]) => [`columns.${f}`, d])),
  optional_columns: 'mapped fields whose column may be missing from a file (its field is then empty, with a warning); every other mapped column is required',
  values: 'extra value codes of this source, tried before the built-in ones',
  'values.sex': 'code → `L` or `P`, e.g. `{ "1": "L", "2": "P" }`',
  'values.relation': 'code → relation to the head, 1 head, 2 spouse, 3 child, 4 child-in-law, 5 grandchild, 6 parent/in-law, 7 help, 8 other, e.g. `{ "KK": 1 }`',
  age_reference_date: 'the date the source\'s ages refer to (its enumeration date), `YYYY-MM-DD`',
  date_formats: 'extra formats of `birth_date` and `updated_at`, tried in order after the built-in ones (syntax below)',
};

type Json = Record<string, unknown>;
export type SchemaKind = 'config' | 'mapping';

const SCHEMAS: Record<SchemaKind, { schema: z.ZodType; keys: Record<string, string>; title: string }> = {
  config: { schema: BatchConfig, keys: CONFIG_KEYS, title: 'dtsen batch config (pipelines/*.json)' },
  mapping: { schema: Mapping, keys: MAPPING_KEYS, title: 'dtsen source mapping (pipelines/sources/*.json)' },
};

/** Every key path of a JSON Schema object, each with its schema (`*` for any key of a record of objects). */
function walk(node: Json, prefix: string, out: [string, Json][]): void {
  const props = node.properties as Record<string, Json> | undefined;
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      const path = prefix ? `${prefix}.${k}` : k;
      out.push([path, v]);
      walk(v, path, out);
    }
  }
  const names = (node.propertyNames as Json | undefined)?.enum as string[] | undefined;
  const extra = node.additionalProperties;
  if (names && extra && typeof extra === 'object') {
    for (const k of names) out.push([`${prefix}.${k}`, extra as Json]);
  }
}

/** The key paths of a schema with their JSON Schema node. */
export function schemaKeys(kind: SchemaKind): [string, Json][] {
  const out: [string, Json][] = [];
  walk(z.toJSONSchema(SCHEMAS[kind].schema, { io: 'input' }) as Json, '', out);
  // The sources are three objects of one shape: listed once as sources.*.
  return out.filter(([p]) => !/^sources\.(regsosek|p3ke)(\.|$)/.test(p)).map(([p, n]) => [p.replace(/^sources\.dtks/, 'sources.*'), n]);
}

/** The JSON Schema of a config or a mapping, with the meaning of every key as its description. */
export function jsonSchema(kind: SchemaKind): Json {
  const { schema, keys, title } = SCHEMAS[kind];
  const root = z.toJSONSchema(schema, { io: 'input' }) as Json;
  const describe = (node: Json, prefix: string) => {
    for (const [k, v] of Object.entries((node.properties as Record<string, Json> | undefined) ?? {})) {
      const path = prefix ? `${prefix}.${k}` : k;
      const meaning = keys[path.replace(/^sources\.(dtks|regsosek|p3ke)/, 'sources.*')];
      if (meaning) v.description = meaning;
      describe(v, path);
    }
  };
  describe(root, '');
  return { $schema: root.$schema, $id: `https://dtsen.invalid/schemas/${kind}.schema.json`, title, ...root };
}

/** The text of a schema file as `make docs` writes it. */
export function jsonSchemaText(kind: SchemaKind): string {
  return `${JSON.stringify(jsonSchema(kind), null, 2)}\n`;
}

function typeOf(n: Json): string {
  if (Array.isArray(n.anyOf)) return (n.anyOf as Json[]).map(typeOf).join(' or ');
  if (n.const !== undefined) return JSON.stringify(n.const);
  if (Array.isArray(n.enum)) return n.enum.length > 8 ? 'canonical-field' : (n.enum as unknown[]).map((v) => JSON.stringify(v)).join(' \\| ');
  const t = n.type as string | undefined;
  if (t === 'array') {
    if (Array.isArray(n.prefixItems)) return `[${(n.prefixItems as Json[]).map(typeOf).join(', ')}]`;
    const item = typeOf((n.items as Json) ?? {});
    return item.includes(' ') && !item.startsWith('[') ? `(${item})[]` : `${item}[]`;
  }
  if (t === 'object' && n.additionalProperties && typeof n.additionalProperties === 'object' && !n.properties) return `{ key: ${typeOf(n.additionalProperties as Json)} }`;
  const range = [
    n.minimum !== undefined && `≥ ${n.minimum as number}`,
    n.exclusiveMinimum !== undefined && `> ${n.exclusiveMinimum as number}`,
    n.maximum !== undefined && (n.maximum as number) < 1e15 && `≤ ${n.maximum as number}`,
    n.exclusiveMaximum !== undefined && `< ${n.exclusiveMaximum as number}`,
  ].filter(Boolean);
  return `${t ?? 'any'}${range.length ? ` (${range.join(', ')})` : ''}`;
}

function defaultOf(n: Json): string {
  if (n.default === undefined) return '';
  const text = JSON.stringify(n.default);
  return text.length > 60 ? "(each key's own)" : `\`${text}\``;
}

/** The README table of every key of a config or a mapping. */
export function keysMarkdown(kind: SchemaKind, required: readonly string[] = []): string {
  const rows = schemaKeys(kind).map(([path, node]) => {
    const meaning = SCHEMAS[kind].keys[path] ?? '';
    const req = required.includes(path) ? ' **(required)**' : '';
    return `| \`${path}\`${req} | ${typeOf(node).replaceAll('|', '\\|').replaceAll('\\\\|', '\\|')} | ${defaultOf(node)} | ${meaning} |`;
  });
  return ['| key | type | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

const FORMAT_CODES: [string, string][] = [
  ['%d', 'day of the month, 1 or 2 digits'],
  ['%m', 'month, 1 or 2 digits'],
  ['%Y', 'year, 4 digits'],
  ['%y', 'year, 2 digits (00–68 → 20xx, 69–99 → 19xx)'],
  ['%b', 'month name, abbreviated (`Jan`; English names)'],
  ['%B', 'month name in full (`January`)'],
  ['%H', 'hour 00–23'],
  ['%M', 'minute'],
  ['%S', 'second'],
  ['%f', 'microseconds (up to 6 digits)'],
  ['%%', 'a literal `%`'],
];

/** The date-format syntax of `date_formats`, with the built-in formats. */
export function dateFormatsMarkdown(): string {
  return [
    "`date_formats` holds DuckDB `strptime` formats (C's `strptime` codes), each tried in order after the built-in ones; the first that reads the whole value wins. Any other character must appear as written.",
    '',
    '| code | reads |',
    '| --- | --- |',
    ...FORMAT_CODES.map(([c, d]) => `| \`${c}\` | ${d} |`),
    '',
    `Built in, tried first: ${DATE_FORMATS.map((f) => `\`${f}\``).join(', ')}.`,
    'Examples: `"%d %b %Y"` reads `20 May 1975`; `"%Y.%m.%d"` reads `1975.05.20`; `"%d/%m/%y"` reads `20/05/75`.',
  ].join('\n');
}

export const CONFIG_REQUIRED = ['batch', 'snapshot_id', 'sources', 'sources.*.path', 'sources.*.mapping'];
export const MAPPING_REQUIRED = ['source', 'columns', 'columns.source_record_id', 'csv.delimiter'];
