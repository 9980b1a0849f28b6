/**
 * Normalise: accepted_record (text as read) → person_clean (typed, cleaned, decoded; see schemas/canonical.ts).
 * One set-based statement over SQL macros; a bad field is nulled and flagged, never a reason to drop the row.
 */
import { defineStage, type TableDeclaration } from '../../engine/context.ts';
import type { Db } from '../../engine/db.ts';
import { lit } from '../../engine/db.ts';
import { loadReference } from '../../engine/reference.ts';
import { materialise } from '../../engine/sql-pipeline.ts';
import type { Mapping } from '../../../schemas/mapping.ts';
import { NAME_MACROS } from './names.sql.ts';
import { DATE_FORMATS, FIELD_MACROS } from './fields.sql.ts';
import { normaliseRecomputeRow, normaliseRows, type NormaliseRecompute } from '../../incremental/normalise.ts';
import { recordRecompute } from '../../incremental/state.ts';

export async function createNormaliseMacros(db: Db): Promise<void> {
  await db.run(NAME_MACROS);
  await db.run(FIELD_MACROS);
}

/** The mapping's own value codes, applied before the built-in ones. */
export function valueCodes(mappings: Mapping[], field: 'sex' | 'relation', column: string): string {
  const whens: string[] = [];
  for (const m of mappings) {
    for (const [code, value] of Object.entries(m.values[field] ?? {})) {
      whens.push(`WHEN source = ${lit(m.source)} AND upper(trim(${column})) = ${lit(code.trim().toUpperCase())} THEN ${typeof value === 'number' ? value : lit(value)}`);
    }
  }
  return whens.length ? `CASE ${whens.join(' ')} END` : 'NULL';
}

/** The date a row's age is counted to (and the year its NIK century is inferred up to): the mapping's, else the snapshot date. */
function ageReference(mappings: Mapping[], snapshotDate: string, source = 'source'): string {
  const whens = mappings.filter((m) => m.age_reference_date).map((m) => `WHEN ${source} = ${lit(m.source)} THEN DATE ${lit(m.age_reference_date!)}`);
  return whens.length ? `CASE ${whens.join(' ')} ELSE DATE ${lit(snapshotDate)} END` : `DATE ${lit(snapshotDate)}`;
}

/**
 * For a batch whose snapshot date moved from `from` to `to` (nothing else normalisation depends on changed): a
 * predicate over a previous person_clean row `p` (cleaned with `from`) and this batch's unchanged source row `i`,
 * true exactly when cleaning `i` with `to` gives another row. The snapshot date enters a cleaned row in three places
 * (keep this in step with lookupSql and personCleanSql), and every other column that moves with it is computed from
 * these (birth_year, flags):
 *  - birth_date_status (date_status): a parsed birth date after the snapshot date is 'impossible'. An 'ok' row turns
 *    'impossible' when its birth date is after `to`; an 'impossible' one turns 'ok' when its parsed date is from 1900
 *    to `to` (it was impossible only for being after `from`);
 *  - age: counted from the valid birth date to the age reference date (the snapshot date unless the mapping has its
 *    own) when no age is stated;
 *  - nik_birth_date: the NIK's century is inferred with the age reference date's year (nik_century); with the birth
 *    date and age unchanged (else the row is cleaned again anyway) the NIK date with `to` is computed as cleaning
 *    would, from the row's own birth date and age.
 * Nothing else of person_clean reads the snapshot date (updated_at's status is not kept).
 */
export function snapshotMovedSql(mappings: Mapping[], from: string, to: string): string {
  const [refFrom, refTo] = [ageReference(mappings, from, 'i.source'), ageReference(mappings, to, 'i.source')];
  // CASE, not AND, before the costly parts: DuckDB evaluates a CASE branch only on the rows it selects
  return `(
    (p.birth_date_status = 'ok' AND p.birth_date > DATE ${lit(to)})
    OR CASE WHEN p.birth_date_status = 'impossible'
       THEN coalesce(date_parse(i.birth_date, ${dateFormatsSql(mappings)}) BETWEEN DATE '1900-01-01' AND DATE ${lit(to)}, false) ELSE false END
    OR (p.birth_date_status = 'ok' AND try_cast(trim(i.age) AS INTEGER) IS NULL
        AND age_at(p.birth_date, ${refFrom}) <> age_at(p.birth_date, ${refTo}))
    OR CASE WHEN p.nik_status = 'valid' AND year(${refFrom}) <> year(${refTo})
       THEN nik_birth_date_of(p.nik, p.birth_date, p.age, year(${refTo})) IS DISTINCT FROM p.nik_birth_date ELSE false END)`;
}

/**
 * Lookup tables of the expensive string work, computed once per distinct value (names, addresses and date
 * strings repeat a lot across 1.6 million records) and joined back.
 */
/** The date formats tried, as a SQL list: the built-in ones, then every mapping's own. */
export function dateFormatsSql(mappings: Mapping[]): string {
  const formats = [...DATE_FORMATS, ...mappings.flatMap((m) => m.date_formats)];
  return `[${[...new Set(formats)].map(lit).join(', ')}]`;
}

export function lookupSql(mappings: Mapping[], snapshotDate: string, input = 'accepted_record'): string {
  const fmts = dateFormatsSql(mappings);
  return `
  CREATE OR REPLACE TEMP TABLE norm_name AS
    SELECT raw, fullname, own, name_parent(fullname) AS parent, name_phonetic_key(own) AS phonetic,
      CASE WHEN own IS NOT NULL THEN string_split(own, ' ') END AS tokens, split_part(own, ' ', 1) AS first,
      CASE WHEN own IS NOT NULL THEN string_split(own, ' ')[-1] END AS last
    FROM (SELECT raw, fullname, name_own(fullname) AS own FROM (SELECT raw, name_full(raw) AS fullname FROM (
      SELECT DISTINCT name AS raw FROM ${input} WHERE name IS NOT NULL
      UNION SELECT DISTINCT mother_name FROM ${input} WHERE mother_name IS NOT NULL)));
  CREATE OR REPLACE TEMP TABLE norm_address AS
    SELECT raw, norm, string_split(norm, ' ') AS tokens, rt, rw
    FROM (SELECT raw, address_norm_of(raw) AS norm, rt_from_address(raw) AS rt, rw_from_address(raw) AS rw
          FROM (SELECT DISTINCT address AS raw FROM ${input} WHERE nullif(trim(address), '') IS NOT NULL));
  -- Coded fields hold a handful of distinct values: decoded once each.
  CREATE OR REPLACE TEMP TABLE norm_code AS
    SELECT source AS code_source, sex AS raw_sex, relation AS raw_relation,
      coalesce(${valueCodes(mappings, 'sex', 'sex')}, sex_of(sex)) AS sx,
      coalesce(${valueCodes(mappings, 'relation', 'relation')}, relation_of(relation)) AS rel
    FROM (SELECT DISTINCT source, sex, relation FROM ${input});
  -- The programme fields and the civil-registry check: a few hundred combinations, each decoded once.
  CREATE OR REPLACE TEMP TABLE norm_programme AS
    SELECT raw_programmes, raw_pkh, raw_bpnt, raw_pbi_jkn, raw_dukcapil, pkh, bpnt, pbi_jkn,
      list_sort(list_distinct(list_concat(listed, list_filter(['PKH', 'BPNT', 'PBI_JKN'],
        p -> (p = 'PKH' AND pkh) OR (p = 'BPNT' AND bpnt) OR (p = 'PBI_JKN' AND pbi_jkn))))) AS programmes,
      CASE WHEN dukcapil_letters = 'PADAN' THEN true WHEN dukcapil_letters = 'TIDAKPADAN' THEN false END AS dukcapil_match
    FROM (
      SELECT *,
        coalesce(flag_of(raw_pkh), CASE WHEN raw_programmes IS NOT NULL THEN list_contains(listed, 'PKH') END) AS pkh,
        coalesce(flag_of(raw_bpnt), CASE WHEN raw_programmes IS NOT NULL THEN list_contains(listed, 'BPNT') END) AS bpnt,
        coalesce(flag_of(raw_pbi_jkn), CASE WHEN raw_programmes IS NOT NULL THEN list_contains(listed, 'PBI_JKN') END) AS pbi_jkn
      FROM (
        SELECT raw_programmes, raw_pkh, raw_bpnt, raw_pbi_jkn, raw_dukcapil, programme_names(raw_programmes) AS listed,
          regexp_replace(upper(trim(raw_dukcapil)), '[^A-Z]', '', 'g') AS dukcapil_letters
        FROM (SELECT DISTINCT programme_list AS raw_programmes, prog_pkh AS raw_pkh, prog_bpnt AS raw_bpnt, prog_pbi_jkn AS raw_pbi_jkn,
                dukcapil_status AS raw_dukcapil FROM ${input})));
  CREATE OR REPLACE TEMP TABLE norm_date AS
    SELECT raw, parsed, date_status(raw, parsed, DATE ${lit(snapshotDate)}) AS status
    FROM (SELECT raw, date_parse(raw, ${fmts}) AS parsed FROM (
      SELECT DISTINCT birth_date AS raw FROM ${input} WHERE birth_date IS NOT NULL
      UNION SELECT DISTINCT updated_at FROM ${input} WHERE updated_at IS NOT NULL));
  `;
}

/**
 * accepted_record → person_clean in four named steps (CTEs), each adding columns to the row it is given:
 * - `looked_up`: the row's rec_id and what the lookup tables (lookupSql) hold for its name (and its tokens), mother's
 *   name, dates, address (and its tokens), codes, programmes and civil-registry check; the NIK's and KK's digits;
 * - `checked`: the NIK, KK and village code checked against the reference tables of regions;
 * - `dated`: the birth date kept when valid, the age, the NIK's digits kept for comparison, the decile as stated;
 * - `decoded`: the birth date the NIK encodes, the decile kept.
 * The final SELECT names the columns of person_clean (schemas/canonical.ts).
 */
export function personCleanSql(mappings: Mapping[], snapshotDate: string, input = 'accepted_record', target = 'TABLE person_clean'): string {
  const nikSex = `CASE WHEN substr(nik_given_digits, 7, 2)::INT > 40 THEN 'P' ELSE 'L' END`;
  return `
  CREATE OR REPLACE ${target} AS
  WITH looked_up AS (
    SELECT r.*, ri.rec_id,
      id_digits(r.nik) AS nik_given_digits,
      id_digits(r.no_kk) AS kk_given_digits,
      name_lookup.own AS clean_name, name_lookup.parent AS clean_parent_name, name_lookup.phonetic AS clean_name_phonetic,
      name_lookup.tokens AS clean_name_tokens, name_lookup.first AS clean_name_first, name_lookup.last AS clean_name_last,
      mother_lookup.own AS clean_mother_name,
      birth_lookup.parsed AS birth_date_parsed, coalesce(birth_lookup.status, 'missing') AS birth_date_check,
      code_lookup.sx AS sex_decoded, code_lookup.rel AS relation_decoded,
      programme_lookup.pkh AS pkh_flag, programme_lookup.bpnt AS bpnt_flag, programme_lookup.pbi_jkn AS pbi_jkn_flag,
      programme_lookup.programmes AS programmes_kept, programme_lookup.dukcapil_match AS dukcapil_matched,
      updated_lookup.parsed AS updated_parsed,
      address_lookup.norm AS address_clean, address_lookup.tokens AS address_clean_tokens, address_lookup.rt AS address_rt, address_lookup.rw AS address_rw,
      try_cast(trim(r.age) AS INTEGER) AS age_stated,
      ${ageReference(mappings, snapshotDate)} AS age_reference_date,
      village_digits(r.village_code) AS village_given_digits
    FROM ${input} r
    JOIN norm_rec_id ri ON ri.rid = r.rid
    LEFT JOIN norm_name name_lookup ON name_lookup.raw = r.name
    LEFT JOIN norm_name mother_lookup ON mother_lookup.raw = r.mother_name
    LEFT JOIN norm_date birth_lookup ON birth_lookup.raw = r.birth_date
    LEFT JOIN norm_date updated_lookup ON updated_lookup.raw = r.updated_at
    LEFT JOIN norm_address address_lookup ON address_lookup.raw = r.address
    JOIN norm_code code_lookup ON code_lookup.code_source = r.source AND code_lookup.raw_sex IS NOT DISTINCT FROM r.sex
      AND code_lookup.raw_relation IS NOT DISTINCT FROM r.relation
    JOIN norm_programme programme_lookup ON programme_lookup.raw_programmes IS NOT DISTINCT FROM r.programme_list
      AND programme_lookup.raw_pkh IS NOT DISTINCT FROM r.prog_pkh AND programme_lookup.raw_bpnt IS NOT DISTINCT FROM r.prog_bpnt
      AND programme_lookup.raw_pbi_jkn IS NOT DISTINCT FROM r.prog_pbi_jkn AND programme_lookup.raw_dukcapil IS NOT DISTINCT FROM r.dukcapil_status
  ),
  checked AS (
    SELECT looked_up.*,
      nik_status_of(nik, nik_given_digits, nik_province.code IS NOT NULL, kk_given_digits) AS nik_check,
      CASE WHEN kk_is_valid(no_kk, kk_given_digits, kk_province.code IS NOT NULL) THEN kk_given_digits END AS kk_valid_digits,
      village.code AS village_ref_code, village.district_code AS village_ref_district, village.regency_code AS village_ref_regency,
      village.province_code AS village_ref_province,
      village_status_of(village_given_digits, village.code IS NOT NULL) AS village_check,
      district.code AS district_ref_code, regency.code AS regency_ref_code, province.code AS province_ref_code
    FROM looked_up
    LEFT JOIN ref_province nik_province ON nik_province.code = substr(nik_given_digits, 1, 2)
    LEFT JOIN ref_province kk_province ON kk_province.code = substr(kk_given_digits, 1, 2)
    LEFT JOIN ref_village village ON village.code = village_given_digits
    LEFT JOIN ref_district district ON district.code = substr(village_given_digits, 1, 6)
    LEFT JOIN ref_regency regency ON regency.code = substr(village_given_digits, 1, 4)
    LEFT JOIN ref_province province ON province.code = substr(village_given_digits, 1, 2)
  ),
  dated AS (
    SELECT checked.*,
      CASE WHEN birth_date_check = 'ok' THEN birth_date_parsed END AS birth_date_valid,
      coalesce(age_stated, CASE WHEN birth_date_check = 'ok' THEN age_at(birth_date_parsed, age_reference_date) END) AS age_years,
      CASE WHEN nik_check IN ('valid', 'bad_province', 'bad_month', 'bad_day', 'bad_serial', 'is_kk') THEN nik_given_digits END AS nik_compared_digits,
      try_cast(trim(decile) AS INTEGER) AS decile_stated
    FROM checked
  ),
  decoded AS (
    SELECT dated.*,
      CASE WHEN nik_check = 'valid' THEN nik_birth_date_of(nik_given_digits, birth_date_valid, age_years, year(age_reference_date)) END AS nik_encoded_birth_date,
      CASE WHEN decile_stated BETWEEN 1 AND 10 THEN decile_stated END AS decile_valid
    FROM dated
  )
  SELECT
    rec_id,
    source, trim(source_record_id) AS source_record_id, file, row_number, snapshot_id,
    nik AS nik_raw,
    CASE WHEN nik_check = 'valid' THEN nik_given_digits END AS nik,
    nik_compared_digits AS nik_digits,
    nik_check AS nik_status,
    CASE WHEN nik_check = 'valid' THEN substr(nik_given_digits, 1, 6) END AS nik_region,
    nik_encoded_birth_date AS nik_birth_date,
    CASE WHEN nik_check = 'valid' THEN ${nikSex} END AS nik_sex,
    kk_valid_digits AS no_kk,
    kk_valid_digits IS NOT NULL AS kk_valid,
    CASE WHEN nullif(trim(family_id), '') IS NOT NULL THEN source || ':' || trim(family_id)
         WHEN kk_valid_digits IS NOT NULL THEN source || '-kk:' || kk_valid_digits END AS family_id,
    name AS name_raw,
    clean_name AS name_norm,
    clean_name_tokens AS name_tokens,
    clean_name_first AS name_first,
    clean_name_last AS name_last,
    clean_name_phonetic AS name_phonetic,
    clean_parent_name AS name_parent,
    birth_date_valid AS birth_date,
    birth_date_check AS birth_date_status,
    coalesce(year(birth_date_valid), year(nik_encoded_birth_date)) AS birth_year,
    age_years AS age,
    sex_decoded AS sex,
    relation_decoded AS relation,
    village_ref_code AS village_code,
    village_check AS village_status,
    coalesce(village_ref_district, district_ref_code) AS district_code,
    coalesce(village_ref_regency, regency_ref_code) AS regency_code,
    coalesce(village_ref_province, province_ref_code) AS province_code,
    rt_rw_pad(coalesce(nullif(trim(rt), ''), address_rt)) AS rt,
    rt_rw_pad(coalesce(nullif(trim(rw), ''), address_rw)) AS rw,
    address_clean AS address_norm,
    address_clean_tokens AS address_tokens,
    clean_mother_name AS mother_name_norm,
    decile_valid AS decile,
    pkh_flag AS pkh, bpnt_flag AS bpnt, pbi_jkn_flag AS pbi_jkn,
    programmes_kept AS programmes,
    dukcapil_matched AS dukcapil_match,
    updated_parsed AS updated_at,
    list_filter([
      CASE WHEN nik_check NOT IN ('valid', 'missing') THEN 'nik:' || nik_check END,
      CASE WHEN birth_date_check IN ('unparsed', 'impossible') THEN 'birth_date:' || birth_date_check END,
      CASE WHEN village_check IN ('malformed', 'unknown') THEN 'village:' || village_check END,
      CASE WHEN decile_stated IS NOT NULL AND decile_valid IS NULL OR (decile_stated IS NULL AND NOT is_blank(decile)) THEN 'decile:invalid' END,
      CASE WHEN sex_decoded IS NULL AND NOT is_blank(sex) THEN 'sex:unknown_code' END,
      CASE WHEN nik_encoded_birth_date IS NOT NULL AND birth_date_valid IS NOT NULL AND nik_encoded_birth_date <> birth_date_valid THEN 'nik_date_mismatch' END,
      CASE WHEN nik_check = 'valid' AND sex_decoded IS NOT NULL AND sex_decoded <> ${nikSex} THEN 'nik_sex_mismatch' END,
      CASE WHEN NOT is_blank(no_kk) AND kk_valid_digits IS NULL THEN 'no_kk:invalid' END,
      CASE WHEN NOT is_blank(updated_at) AND updated_parsed IS NULL THEN 'updated_at:unparsed' END
    ], f -> f IS NOT NULL) AS flags
  FROM decoded
  `;
}

/** What normalise produces for linkage: one cleaned record per accepted row. */
export const NORMALISE_TABLES: readonly TableDeclaration[] = [
  { name: 'person_clean', description: 'one cleaned record per accepted row', columns: [{ name: 'rec_id', type: 'BIGINT' }, { name: 'source', type: 'VARCHAR' }, { name: 'source_record_id', type: 'VARCHAR' }, { name: 'nik', type: 'VARCHAR' }, { name: 'nik_digits', type: 'VARCHAR' }, { name: 'nik_status', type: 'VARCHAR' }, { name: 'nik_region', type: 'VARCHAR' }, { name: 'nik_birth_date', type: 'DATE' }, { name: 'no_kk', type: 'VARCHAR' }, { name: 'kk_valid', type: 'BOOLEAN' }, { name: 'name_norm', type: 'VARCHAR' }, { name: 'name_tokens', type: 'VARCHAR[]' }, { name: 'name_first', type: 'VARCHAR' }, { name: 'name_last', type: 'VARCHAR' }, { name: 'name_phonetic', type: 'VARCHAR' }, { name: 'birth_date', type: 'DATE' }, { name: 'sex', type: 'VARCHAR' }, { name: 'village_code', type: 'VARCHAR' }, { name: 'district_code', type: 'VARCHAR' }, { name: 'regency_code', type: 'VARCHAR' }, { name: 'province_code', type: 'VARCHAR' }, { name: 'rt', type: 'VARCHAR' }, { name: 'rw', type: 'VARCHAR' }], grain: ['rec_id'] },
  { name: 'normalise_state', description: 'per row of person_clean, the hash of its source row: what the next batch matches to copy the cleaned rows of unchanged rows', columns: [{ name: 'rec_id', type: 'BIGINT' }, { name: 'source', type: 'VARCHAR' }, { name: 'source_record_id', type: 'VARCHAR' }, { name: 'source_hash', type: 'UBIGINT' }], grain: ['rec_id'] },
  { name: 'rec_id_state', description: 'the highest rec_id the batch and those it continues issued (new records are numbered above it), and how many records kept their rec_id or took a new one', columns: [{ name: 'high_water', type: 'BIGINT' }, { name: 'carried', type: 'BIGINT' }, { name: 'issued', type: 'BIGINT' }], grain: [] },
  { name: 'normalise_fingerprint', description: 'what the cleaned rows depend on besides the source row (code, mappings, snapshot date, regions)', columns: [{ name: 'part', type: 'VARCHAR' }, { name: 'fingerprint', type: 'VARCHAR' }], grain: ['part'] },
];

/**
 * The SQL normalisation runs, as this code writes it (with one made-up mapping, so that the SQL written per mapping
 * is in it too): a batch copies the cleaned rows of a previous one only when it is the same (src/incremental/normalise.ts).
 */
export function normaliseCodeSql(): string {
  const probe = { source: 'dtks', values: { sex: { '9': 'L' }, relation: { '9': 1 } }, age_reference_date: '2000-01-01', date_formats: ['%d%m%Y'] } as unknown as Mapping;
  return [NAME_MACROS, FIELD_MACROS, lookupSql([probe], '2000-01-01', 'input'), personCleanSql([probe], '2000-01-01', 'input')].join('\n');
}

export const normaliseStage = defineStage({
  name: 'normalise',
  produces: NORMALISE_TABLES,
  async run(ctx) {
    const { db } = ctx;
    await loadReference(db);
    await createNormaliseMacros(db);
    const mappings = ctx.sources.map((s) => s.mapping);
    let recompute: NormaliseRecompute;
    {
      // accepted_record is a view over the stored raw tables (and the quarantine): read once into memory, then
      // every lookup and person_clean read it there. Written from a TEMP table, person_clean also costs far less to
      // write and to checkpoint than when it is written straight from the stored tables (measured: 200,000 persons,
      // normalise 4.0 s → see the commit).
      await using input = await materialise(db, 'norm_input', 'SELECT * FROM accepted_record');
      // with a previous batch only the new and changed source rows are cleaned, the others copied (src/incremental/normalise.ts)
      recompute = await normaliseRows(db, {
        config: ctx.config,
        mappings,
        input,
        codeSql: normaliseCodeSql(),
        snapshotMoved: (from, to) => snapshotMovedSql(mappings, from, to),
        clean: async (rows, target) => {
          await db.run(lookupSql(mappings, ctx.config.snapshot_date, rows));
          await db.run(personCleanSql(mappings, ctx.config.snapshot_date, rows, target));
        },
      });
    }
    ctx.log.info({ stage: 'normalise', path: recompute.path, reason: recompute.reason, cleaned: recompute.cleaned, copied: recompute.copied },
      recompute.path === 'incremental' ? 'normalised the new and changed rows, copied the others' : 'normalised every row');
    await recordRecompute(db, recompute.path, recompute.reason, [normaliseRecomputeRow(recompute)]);
    await db.run(`DROP TABLE norm_name; DROP TABLE norm_address; DROP TABLE norm_date; DROP TABLE norm_rec_id; DROP TABLE norm_code; DROP TABLE norm_programme;`);
    const rows = await db.count(`SELECT count(*) FROM person_clean`);
    const by = async (col: string) =>
      (await db.all<{ source: string; value: string; rows: string }>(`SELECT source, ${col} AS value, count(*) AS rows FROM person_clean GROUP BY ALL ORDER BY ALL`)).map(
        (r) => ({ source: r.source, value: r.value, rows: Number(r.rows) }),
      );
    return {
      rows,
      figures: {
        recompute,
        nik_status: await by('nik_status'),
        birth_date_status: await by('birth_date_status'),
        village_status: await by('village_status'),
        sex_missing: await by(`sex IS NULL`),
        flags: (await db.all<{ source: string; flag: string; rows: string }>(`SELECT source, flag, count(*) AS rows FROM (SELECT source, unnest(flags) AS flag FROM person_clean) GROUP BY ALL ORDER BY ALL`)).map((r) => ({ ...r, rows: Number(r.rows) })),
      },
    };
  },
});
