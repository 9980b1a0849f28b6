/**
 * Pseudonymisation of the exported files: NIK and family-card numbers are replaced by a keyed hash computed in
 * SQL, hex(sha256(key || hex(sha256(key || value)))) — the nested (HMAC-like) construction, so the hash cannot be
 * extended or recomputed without the key. The key lives only in a session variable while the files are written
 * (never in a table, a file, the SQL of a view or a log) and is reset afterwards.
 */
import type { Db } from '../../engine/db.ts';
import { ident, lit } from '../../engine/db.ts';
import type { Mapping } from '../../../schemas/mapping.ts';
import type { OutputColumn } from '../../../schemas/outputs.ts';

const KEY_VARIABLE = 'dtsen_pseudonym_key';

/** The SQL expression of one value's pseudonym (NULL stays NULL). */
export const PSEUDONYM_MACRO = `
CREATE OR REPLACE TEMP MACRO dtsen_pseudonym(x) AS
  CASE WHEN x IS NULL THEN NULL ELSE sha256(getvariable('${KEY_VARIABLE}') || sha256(getvariable('${KEY_VARIABLE}') || x)) END;
`;

/** Runs `work` with the key set in the session; the key is removed whatever happens. */
export async function withPseudonymKey<T>(db: Db, key: string, work: () => Promise<T>): Promise<T> {
  await db.run(`SET VARIABLE ${KEY_VARIABLE} = ${lit(key)}; ${PSEUDONYM_MACRO}`);
  try {
    return await work();
  } finally {
    await db.run(`RESET VARIABLE ${KEY_VARIABLE}; DROP MACRO IF EXISTS temp.dtsen_pseudonym;`);
  }
}

/**
 * The raw row with its NIK and KK pseudonymised: in a row read as JSON, the fields the source's mapping names
 * for nik and no_kk (keys matched case-insensitively); in a line that could not be parsed (plain text), every
 * run of ten or more digits.
 */
function rawSql(col: string, mappings: readonly Mapping[]): string {
  const whens = mappings
    .map((m) => {
      const keys = [m.columns.nik, m.columns.no_kk].filter((k): k is string => Boolean(k)).map((k) => lit(k.trim().toLowerCase()));
      if (!keys.length) return '';
      return `WHEN source = ${lit(m.source)} THEN to_json(map_from_entries(list_transform(json_keys(${col}), k -> {'k': k, 'v':
        CASE WHEN lower(trim(k)) IN (${keys.join(', ')}) THEN to_json(dtsen_pseudonym(${col} ->> k)) ELSE ${col} -> k END})))::VARCHAR`;
    })
    .filter(Boolean);
  const text = `array_to_string(list_transform(regexp_extract_all(${col}, '[0-9]+|[^0-9]+'),
      t -> CASE WHEN regexp_full_match(t, '[0-9]{10,}') THEN dtsen_pseudonym(t) ELSE t END), '')`;
  return `CASE WHEN ${col} IS NULL THEN NULL
    WHEN NOT json_valid(${col}) THEN ${text}
    WHEN json_type(${col}) <> 'OBJECT' THEN ${text}
    ${whens.join('\n    ')} ELSE ${col} END`;
}

function valueSql(c: OutputColumn, pseudonymise: boolean, mappings: readonly Mapping[]): string {
  const col = ident(c.name);
  if (!pseudonymise || !c.pseudonym) return col;
  switch (c.pseudonym) {
    case 'value':
      return `dtsen_pseudonym(${col})`;
    case 'list':
      return `list_transform(${col}, x -> dtsen_pseudonym(x))`;
    case 'conflict':
      return c.type.startsWith('STRUCT')
        ? `CASE WHEN conflict_type = 'nik' THEN list_transform(${col}, x -> struct_pack(value := dtsen_pseudonym(x.value), source_record_ids := x.source_record_ids)) ELSE ${col} END`
        : `CASE WHEN conflict_type = 'nik' THEN dtsen_pseudonym(${col}) ELSE ${col} END`;
    case 'raw':
      return rawSql(col, mappings);
    case 'change':
      return `CASE WHEN field IN ('nik', 'no_kk') THEN dtsen_pseudonym(${col}) ELSE ${col} END`;
  }
}

/** The select expression of an exported column: of the dictionary's type, pseudonymised when asked and the column says how. */
export function exportExpr(c: OutputColumn, pseudonymise: boolean, mappings: readonly Mapping[]): string {
  return `CAST(${valueSql(c, pseudonymise, mappings)} AS ${c.type}) AS ${ident(c.name)}`;
}
