/**
 * Data-quality gates: per source, file and field, the accepted rows whose value parsed, was missing or was
 * rejected, measured with the parse expressions normalise uses (its SQL macros, its date formats, its value codes).
 * A field whose parse rate (parsed / non-missing) falls below the config's floor fails the batch with the file,
 * the column, the shapes of the rejected values (digits → 9, letters → A: never the values) and what was expected.
 */
import { basename } from 'node:path';
import type { Ctx } from '../../engine/context.ts';
import { lit } from '../../engine/db.ts';
import { InputError } from '../../engine/errors.ts';
import { materialise, step, type Query } from '../../engine/sql-pipeline.ts';
import { loadReference } from '../../engine/reference.ts';
import { DEFAULT_MIN_PARSE_RATE, GATED_FIELDS, type GatedField } from '../../../schemas/config.ts';
import type { Mapping } from '../../../schemas/mapping.ts';
import { createNormaliseMacros, dateFormatsSql, valueCodes } from '../normalise/index.ts';
import { DATE_FORMATS } from '../normalise/fields.sql.ts';

export type GateResult = 'pass' | 'warn' | 'fail' | 'no values';

export interface ValueShape {
  shape: string;
  rows: number;
}

/** One source and field (all files of the source together). */
export interface FieldQuality {
  source: string;
  field: GatedField;
  /** the source's column the field is read from (the mapping's name) */
  column: string;
  rows: number;
  parsed: number;
  missing: number;
  rejected: number;
  /** parsed / (parsed + rejected); null when no value is given */
  parse_rate: number | null;
  min_parse_rate: number;
  /** the worst result of the source's files */
  result: GateResult;
  /** the most frequent shapes of the rejected values (digits → 9, letters → A) */
  rejected_shapes: ValueShape[];
}

/** A file and field that passed only with a warning. */
export interface QualityWarning {
  source: string;
  file: string;
  field: GatedField;
  column: string;
  parse_rate: number | null;
  min_parse_rate: number;
  message: string;
}

/** Shapes shown per field, and the length a shape is cut to. */
const SHAPES_SHOWN = 3;
const SHAPE_LENGTH = 40;

/** Runs of five or more of one shape character are written with their length: 9999999999999999 → 9{16}. */
export function compactShape(shape: string): string {
  return shape.replace(/9{5,}|A{5,}/g, (run) => `${run[0]}{${run.length}}`);
}

const MACROS = `
-- The shape of a value: digits → 9, letters → A, everything else kept; cut to ${SHAPE_LENGTH} characters.
CREATE OR REPLACE MACRO value_shape(x) AS CASE
  WHEN length(trim(x)) > ${SHAPE_LENGTH} THEN left(regexp_replace(regexp_replace(trim(x), '[0-9]', '9', 'g'), '\\pL', 'A', 'g'), ${SHAPE_LENGTH}) || '…'
  ELSE regexp_replace(regexp_replace(trim(x), '[0-9]', '9', 'g'), '\\pL', 'A', 'g') END;
`;

/** strptime → what a person reads: %d-%m-%Y → DD-MM-YYYY. */
export function readableDateFormat(f: string): string {
  const parts: Record<string, string> = { d: 'DD', m: 'MM', Y: 'YYYY', y: 'YY', H: 'hh', M: 'mm', S: 'ss', f: 'ffffff', b: 'Mon', B: 'Month' };
  return f.replace(/%([a-zA-Z])/g, (all, c: string) => parts[c] ?? all);
}

/** What a field's values were expected to look like, for the error message. */
function expectedOf(field: GatedField, mapping: Mapping, mappingFile: string): string {
  switch (field) {
    case 'birth_date': {
      const own = mapping.date_formats.length ? `; the mapping's date_formats ${mapping.date_formats.map((f) => JSON.stringify(f)).join(', ')}` : '';
      const builtIn = [...new Set(DATE_FORMATS.map((f) => readableDateFormat(f).split(/[ T]/)[0]))].join(', ');
      return `a date in one of the formats ${builtIn}${own} (or a strptime format added to date_formats in ${mappingFile}), not after the snapshot date nor before 1900`;
    }
    case 'nik':
      return 'a NIK of 16 digits PPKKCCDDMMYYSSSS (a known province, day 01-31 or 41-71, month 01-12, serial from 0001; dots, spaces and dashes are ignored)';
    case 'no_kk':
      return 'a family-card number of 16 digits starting with a known province code';
    case 'village_code':
      return 'a Kemendagri village code of 10 digits, dotted or not (PP.KK.CC.DDDD), known in the region reference';
    case 'relation': {
      const own = Object.keys(mapping.values.relation ?? {});
      return `a relation code 1-9 or a word (KEPALA, ISTRI/SUAMI, ANAK, MENANTU, CUCU, ORANG TUA/MERTUA, PEMBANTU, LAINNYA)${own.length ? ` or the mapping's codes ${own.join(', ')}` : ''}`;
    }
    case 'sex': {
      const own = Object.keys(mapping.values.sex ?? {});
      return `a sex code (L/P, LAKI-LAKI/PEREMPUAN, PRIA/WANITA, 1/2, M/F)${own.length ? ` or the mapping's codes ${own.join(', ')}` : ''}`;
    }
  }
}

const FIELD_WORDS: Record<GatedField, string> = {
  birth_date: 'birth dates',
  nik: 'NIKs',
  no_kk: 'family-card numbers',
  village_code: 'village codes',
  relation: 'relations',
  sex: 'sex codes',
};

/**
 * The field statuses over accepted_record: `rows`, the rows counted by source, file and status of every field (one
 * grouped pass: dates, village codes and coded fields are judged once per distinct value, as they repeat a lot; NIK
 * and family card per row), and `counts(rows)`, the counts unpivoted to (source, file, field, status, shape, n) —
 * status 'parsed' | 'missing' | 'rejected', shape only for rejected values.
 */
export function fieldQualityQueries(mappings: Mapping[], snapshotDate: string, accepted = 'accepted_record'): { rows: Query; counts: (rows: string) => string } {
  const stateOf = (parsedWhen: string, missingWhen: string) => `CASE WHEN ${missingWhen} THEN 'missing' WHEN ${parsedWhen} THEN 'parsed' ELSE 'rejected' END`;
  const fields: [GatedField, string, string][] = [
    ['birth_date', 'birth_date_state', 'birth_date'],
    ['nik', 'nik_state', 'nik'],
    ['no_kk', 'no_kk_state', 'no_kk'],
    ['village_code', 'village_code_state', 'village_code'],
    ['relation', 'relation_state', 'relation'],
    ['sex', 'sex_state', 'sex'],
  ];
  const steps = [
    step('birth_date_states', `
    SELECT raw, ${stateOf(`status = 'ok'`, `status = 'missing'`)} AS state
    FROM (SELECT raw, date_status(raw, date_parse(raw, ${dateFormatsSql(mappings)}), DATE ${lit(snapshotDate)}) AS status
          FROM (SELECT DISTINCT birth_date AS raw FROM ${accepted} WHERE birth_date IS NOT NULL))`),
    step('village_code_states', `
    SELECT raw, ${stateOf(`village_status_of(vc, v.code IS NOT NULL) = 'ok'`, `vc = ''`)} AS state
    FROM (SELECT raw, village_digits(raw) AS vc FROM (SELECT DISTINCT village_code AS raw FROM ${accepted} WHERE village_code IS NOT NULL))
    LEFT JOIN ref_village v ON v.code = vc`),
    step('code_states', `
    SELECT source AS code_source, sex AS raw_sex, relation AS raw_relation,
      ${stateOf(`coalesce(${valueCodes(mappings, 'sex', 'sex')}, sex_of(sex)) IS NOT NULL`, 'is_blank(sex)')} AS sex_state,
      ${stateOf(`coalesce(${valueCodes(mappings, 'relation', 'relation')}, relation_of(relation)) IS NOT NULL`, 'is_blank(relation)')} AS relation_state
    FROM (SELECT DISTINCT source, sex, relation FROM ${accepted})`),
  ];
  const rows = `
    SELECT source, file, ${fields.map(([, c, raw]) => `${c}, CASE WHEN ${c} = 'rejected' THEN value_shape(${raw}) END AS ${c}_shape`).join(', ')}, count(*) AS n
    FROM (
      SELECT r.source, r.file, r.nik, r.no_kk, r.birth_date, r.village_code, r.relation, r.sex,
        coalesce(birth.state, 'missing') AS birth_date_state,
        ${stateOf(`nik_status_of(r.nik, r.nik_d, nik_province.code IS NOT NULL, r.kk_d) = 'valid'`, 'is_blank(r.nik)')} AS nik_state,
        ${stateOf('kk_is_valid(r.no_kk, r.kk_d, kk_province.code IS NOT NULL)', 'is_blank(r.no_kk)')} AS no_kk_state,
        coalesce(village.state, 'missing') AS village_code_state,
        codes.relation_state, codes.sex_state
      FROM (SELECT source, file, nik, no_kk, birth_date, village_code, relation, sex, id_digits(nik) AS nik_d, id_digits(no_kk) AS kk_d FROM ${accepted}) r
      LEFT JOIN birth_date_states birth ON birth.raw = r.birth_date
      LEFT JOIN village_code_states village ON village.raw = r.village_code
      JOIN code_states codes ON codes.code_source = r.source AND codes.raw_sex IS NOT DISTINCT FROM r.sex AND codes.raw_relation IS NOT DISTINCT FROM r.relation
      LEFT JOIN ref_province nik_province ON nik_province.code = substr(r.nik_d, 1, 2)
      LEFT JOIN ref_province kk_province ON kk_province.code = substr(r.kk_d, 1, 2))
    GROUP BY ALL`;
  return {
    rows: { steps, select: rows },
    counts: (table) => fields.map(([f, c]) => `SELECT source, file, '${f}' AS field, ${c} AS status, ${c}_shape AS shape, sum(n) AS n FROM ${table} GROUP BY ALL`).join('\n    UNION ALL '),
  };
}

interface Tally {
  parsed: number;
  missing: number;
  rejected: number;
  shapes: Map<string, number>;
}

const rateOf = (t: Tally) => (t.parsed + t.rejected > 0 ? t.parsed / (t.parsed + t.rejected) : null);
const pct = (x: number) => `${(100 * x).toLocaleString('en-US', { maximumFractionDigits: 1 })}%`;
const int = (x: number) => x.toLocaleString('en-US');

function topShapes(t: Tally): ValueShape[] {
  return [...t.shapes.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, SHAPES_SHOWN)
    .map(([shape, rows]) => ({ shape, rows }));
}

function shapesText(shapes: ValueShape[], rejected: number): string {
  const shown = shapes.reduce((a, s) => a + s.rows, 0);
  return `${shapes.map((s) => `${s.shape} (${int(s.rows)} row${s.rows === 1 ? '' : 's'})`).join(', ')}${shown < rejected ? `, other shapes (${int(rejected - shown)} rows)` : ''} — digits shown as 9, letters as A, 9{16} for 16 digits`;
}

/**
 * Measures every gated field of every source, stores the figures, logs and returns the warnings, and throws an
 * InputError (exit 2) naming the first failing file and column when a field's parse rate is below its floor.
 */
export async function checkFieldQuality(ctx: Ctx, accepted = 'accepted_record'): Promise<{ field_quality: FieldQuality[]; quality_warnings: QualityWarning[] }> {
  const { db } = ctx;
  const gates = ctx.config.quality_gates;
  await loadReference(db);
  await createNormaliseMacros(db);
  await db.run(MACROS);
  const queries = fieldQualityQueries(ctx.sources.map((s) => s.mapping), ctx.config.snapshot_date, accepted);
  let rows: { source: string; file: string; field: GatedField; status: 'parsed' | 'missing' | 'rejected'; shape: string | null; n: string }[];
  {
    await using statusRows = await materialise(db, 'field_status_rows', queries.rows);
    rows = await db.all(`SELECT source, file, field, status, shape, n FROM (${queries.counts(String(statusRows))}) ORDER BY source, file, field, status, shape`);
  }

  const tally = () => ({ parsed: 0, missing: 0, rejected: 0, shapes: new Map<string, number>() });
  const bySource = new Map<string, Tally>();
  const byFile = new Map<string, Tally>();
  for (const r of rows) {
    for (const [map, key] of [[bySource, `${r.source}\0${r.field}`], [byFile, `${r.source}\0${r.file}\0${r.field}`]] as const) {
      const t = map.get(key) ?? tally();
      map.set(key, t);
      const n = Number(r.n);
      t[r.status] += n;
      if (r.shape !== null) {
        const shape = compactShape(r.shape);
        t.shapes.set(shape, (t.shapes.get(shape) ?? 0) + n);
      }
    }
  }

  const fieldQuality: FieldQuality[] = [];
  const warnings: QualityWarning[] = [];
  const failures: { source: string; file: string; field: GatedField; column: string; t: Tally; rate: number; floor: number; mapping: Mapping; mappingPath: string }[] = [];
  const files = [...new Set(rows.map((r) => `${r.source}\0${r.file}`))].map((k) => k.split('\0') as [string, string]);
  for (const src of ctx.sources) {
    for (const field of GATED_FIELDS) {
      const column = src.mapping.columns[field];
      if (column === undefined) continue; // not in this layout
      const floor = gates.min_parse_rate[field];
      const results: GateResult[] = [];
      for (const [, file] of files.filter(([s]) => s === src.name)) {
        const t = byFile.get(`${src.name}\0${file}\0${field}`) ?? tally();
        const rate = rateOf(t);
        const given = t.parsed + t.rejected;
        if (rate === null) {
          results.push('no values');
          continue;
        }
        const where = `${src.name} ${basename(file)} column ${column}`;
        const shapes = t.rejected ? `; rejected values look like ${shapesText(topShapes(t), t.rejected)}` : '';
        let message: string | undefined;
        if (rate < floor && given < gates.min_values) {
          message = `${where}: ${pct(rate)} of the ${int(given)} ${FIELD_WORDS[field]} given parse, below the floor ${pct(floor)}, but too few values to gate (quality_gates.min_values ${gates.min_values})${shapes}`;
        } else if (rate < floor) {
          failures.push({ source: src.name, file, field, column, t, rate, floor, mapping: src.mapping, mappingPath: src.mappingPath });
          results.push('fail');
          continue;
        } else if (rate < DEFAULT_MIN_PARSE_RATE[field]) {
          message = `${where}: ${pct(rate)} of the ${int(given)} ${FIELD_WORDS[field]} given parse, below the default floor ${pct(DEFAULT_MIN_PARSE_RATE[field])}; passed because quality_gates.min_parse_rate.${field} is ${pct(floor)}${shapes}`;
        }
        if (message) {
          warnings.push({ source: src.name, file, field, column, parse_rate: rate, min_parse_rate: floor, message });
          ctx.log.warn({ stage: 'validate', source: src.name, file, column, field, parse_rate: Number(rate.toFixed(4)), min_parse_rate: floor }, 'low parse rate');
          results.push('warn');
        } else results.push('pass');
      }
      const t = bySource.get(`${src.name}\0${field}`) ?? tally();
      const order: GateResult[] = ['fail', 'warn', 'pass', 'no values'];
      fieldQuality.push({
        source: src.name,
        field,
        column,
        rows: t.parsed + t.missing + t.rejected,
        parsed: t.parsed,
        missing: t.missing,
        rejected: t.rejected,
        parse_rate: rateOf(t),
        min_parse_rate: floor,
        result: order.find((o) => results.includes(o)) ?? 'no values',
        rejected_shapes: topShapes(t),
      });
    }
  }
  if (failures.length) {
    const [f, ...more] = failures;
    const given = f.t.parsed + f.t.rejected;
    const also = more.length
      ? `; also below their floors: ${more.map((m) => `${m.source} ${basename(m.file)} column ${m.column} (${pct(m.rate)}, floor ${pct(m.floor)})`).join(', ')}`
      : '';
    throw new InputError(
      `only ${pct(f.rate)} of the ${int(given)} ${FIELD_WORDS[f.field]} given parse (${int(f.t.rejected)} rejected), below the floor ${pct(f.floor)} (quality_gates.min_parse_rate.${f.field} in the batch config): a wrong format or a wrong column in the mapping?${also}`,
      {
        file: f.file,
        column: f.column,
        expected: expectedOf(f.field, f.mapping, basename(f.mappingPath)),
        found: `values shaped ${shapesText(topShapes(f.t), f.t.rejected)}`,
      },
    );
  }
  return { field_quality: fieldQuality, quality_warnings: warnings };
}
