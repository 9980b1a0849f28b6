/**
 * Normalise: accepted_record (text as read) → person_clean (typed, cleaned, decoded; see schemas/canonical.ts).
 * One set-based statement over SQL macros; a bad field is nulled and flagged, never a reason to drop the row.
 */
import { defineStage, type TableDeclaration } from '../../engine/context.ts';
import type { Db } from '../../engine/db.ts';
import { lit } from '../../engine/db.ts';
import { loadReference } from '../../engine/reference.ts';
import type { Mapping } from '../../../schemas/mapping.ts';
import { NAME_MACROS } from './names.sql.ts';
import { DATE_FORMATS, FIELD_MACROS } from './fields.sql.ts';

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

function ageReference(mappings: Mapping[], snapshotDate: string): string {
  const whens = mappings.filter((m) => m.age_reference_date).map((m) => `WHEN source = ${lit(m.source)} THEN DATE ${lit(m.age_reference_date!)}`);
  return whens.length ? `CASE ${whens.join(' ')} ELSE DATE ${lit(snapshotDate)} END` : `DATE ${lit(snapshotDate)}`;
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

export function lookupSql(mappings: Mapping[], snapshotDate: string): string {
  const fmts = dateFormatsSql(mappings);
  return `
  CREATE OR REPLACE TEMP TABLE norm_name AS
    SELECT raw, fullname, own, name_parent(fullname) AS parent, name_phonetic_key(own) AS phonetic
    FROM (SELECT raw, fullname, name_own(fullname) AS own FROM (SELECT raw, name_full(raw) AS fullname FROM (
      SELECT DISTINCT name AS raw FROM accepted_record WHERE name IS NOT NULL
      UNION SELECT DISTINCT mother_name FROM accepted_record WHERE mother_name IS NOT NULL)));
  CREATE OR REPLACE TEMP TABLE norm_address AS
    SELECT raw, address_norm_of(raw) AS norm, rt_from_address(raw) AS rt, rw_from_address(raw) AS rw
    FROM (SELECT DISTINCT address AS raw FROM accepted_record WHERE nullif(trim(address), '') IS NOT NULL);
  -- rec_id: dense and deterministic (source, file, row number); sorted narrow, then joined back by rid.
  CREATE OR REPLACE TEMP TABLE norm_rec_id AS
    SELECT rid, row_number() OVER (ORDER BY source, file, row_number) AS rec_id FROM accepted_record;
  -- Coded fields hold a handful of distinct values: decoded once each.
  CREATE OR REPLACE TEMP TABLE norm_code AS
    SELECT source AS code_source, sex AS raw_sex, relation AS raw_relation, programme_list AS raw_programmes,
      coalesce(${valueCodes(mappings, 'sex', 'sex')}, sex_of(sex)) AS sx,
      coalesce(${valueCodes(mappings, 'relation', 'relation')}, relation_of(relation)) AS rel,
      programme_names(programme_list) AS progs_listed
    FROM (SELECT DISTINCT source, sex, relation, programme_list FROM accepted_record);
  CREATE OR REPLACE TEMP TABLE norm_date AS
    SELECT raw, parsed, date_status(raw, parsed, DATE ${lit(snapshotDate)}) AS status
    FROM (SELECT raw, date_parse(raw, ${fmts}) AS parsed FROM (
      SELECT DISTINCT birth_date AS raw FROM accepted_record WHERE birth_date IS NOT NULL
      UNION SELECT DISTINCT updated_at FROM accepted_record WHERE updated_at IS NOT NULL));
  `;
}

export function personCleanSql(mappings: Mapping[], snapshotDate: string): string {
  return `
  CREATE OR REPLACE TABLE person_clean AS
  WITH a AS (
    SELECT r.*, ri.rec_id,
      id_digits(r.nik) AS nik_d,
      id_digits(r.no_kk) AS kk_d,
      nn.fullname AS nm_full, nn.own AS nm_own, nn.parent AS nm_parent, nn.phonetic AS nm_phonetic, nm.own AS mother_own,
      nd.parsed AS bd_parsed, coalesce(nd.status, 'missing') AS bd_st,
      nc.sx, nc.rel, nc.progs_listed,
      nu.parsed AS upd,
      na.norm AS addr_norm, na.rt AS addr_rt, na.rw AS addr_rw,
      try_cast(trim(r.age) AS INTEGER) AS age_given,
      ${ageReference(mappings, snapshotDate)} AS age_ref,
      village_digits(r.village_code) AS vc,
      nullif(trim(coalesce(r.address, '')), '') AS addr
    FROM accepted_record r
    JOIN norm_rec_id ri ON ri.rid = r.rid
    LEFT JOIN norm_name nn ON nn.raw = r.name
    LEFT JOIN norm_name nm ON nm.raw = r.mother_name
    LEFT JOIN norm_date nd ON nd.raw = r.birth_date
    LEFT JOIN norm_date nu ON nu.raw = r.updated_at
    LEFT JOIN norm_address na ON na.raw = r.address
    JOIN norm_code nc ON nc.code_source = r.source AND nc.raw_sex IS NOT DISTINCT FROM r.sex AND nc.raw_relation IS NOT DISTINCT FROM r.relation
      AND nc.raw_programmes IS NOT DISTINCT FROM r.programme_list
  ),
  b AS (
    SELECT a.*,
      nik_status_of(a.nik, a.nik_d, pn.code IS NOT NULL, a.kk_d) AS nik_st,
      CASE WHEN kk_is_valid(a.no_kk, a.kk_d, pk.code IS NOT NULL) THEN a.kk_d END AS kk_ok,
      v.code AS v_code, v.district_code AS v_district, v.regency_code AS v_regency, v.province_code AS v_province,
      village_status_of(a.vc, v.code IS NOT NULL) AS v_st,
      d.code AS d_code, rg.code AS rg_code, pv.code AS pv_code
    FROM a
    LEFT JOIN ref_province pn ON pn.code = substr(a.nik_d, 1, 2)
    LEFT JOIN ref_province pk ON pk.code = substr(a.kk_d, 1, 2)
    LEFT JOIN ref_village v ON v.code = a.vc
    LEFT JOIN ref_district d ON d.code = substr(a.vc, 1, 6)
    LEFT JOIN ref_regency rg ON rg.code = substr(a.vc, 1, 4)
    LEFT JOIN ref_province pv ON pv.code = substr(a.vc, 1, 2)
  ),
  c AS (
    SELECT b.*,
      CASE WHEN b.bd_st = 'ok' THEN b.bd_parsed END AS bd,
      coalesce(b.age_given, CASE WHEN b.bd_st = 'ok' THEN date_diff('year', b.bd_parsed, b.age_ref) END) AS age_i,
      CASE WHEN b.nik_st IN ('valid', 'bad_province', 'bad_month', 'bad_day', 'bad_serial', 'is_kk') THEN b.nik_d END AS nik_dig,
      try_cast(trim(b.decile) AS INTEGER) AS dec_raw
    FROM b
  ),
  d AS (
    SELECT c.*,
      CASE WHEN c.nik_st = 'valid' THEN nik_birth_date_of(c.nik_d, c.bd, c.age_i, year(c.age_ref)) END AS nik_bd,
      CASE WHEN c.dec_raw BETWEEN 1 AND 10 THEN c.dec_raw END AS dec,
      coalesce(flag_of(c.prog_pkh), CASE WHEN c.programme_list IS NOT NULL THEN list_contains(c.progs_listed, 'PKH') END) AS f_pkh,
      coalesce(flag_of(c.prog_bpnt), CASE WHEN c.programme_list IS NOT NULL THEN list_contains(c.progs_listed, 'BPNT') END) AS f_bpnt,
      coalesce(flag_of(c.prog_pbi_jkn), CASE WHEN c.programme_list IS NOT NULL THEN list_contains(c.progs_listed, 'PBI_JKN') END) AS f_pbi
    FROM c
  )
  SELECT
    rec_id,
    source, trim(source_record_id) AS source_record_id, file, row_number, snapshot_id,
    nik AS nik_raw,
    CASE WHEN nik_st = 'valid' THEN nik_d END AS nik,
    nik_dig AS nik_digits,
    nik_st AS nik_status,
    CASE WHEN nik_st = 'valid' THEN substr(nik_d, 1, 6) END AS nik_region,
    nik_bd AS nik_birth_date,
    CASE WHEN nik_st = 'valid' THEN CASE WHEN substr(nik_d, 7, 2)::INT > 40 THEN 'P' ELSE 'L' END END AS nik_sex,
    kk_ok AS no_kk,
    kk_ok IS NOT NULL AS kk_valid,
    CASE WHEN nullif(trim(family_id), '') IS NOT NULL THEN source || ':' || trim(family_id)
         WHEN kk_ok IS NOT NULL THEN source || '-kk:' || kk_ok END AS family_id,
    name AS name_raw,
    nm_own AS name_norm,
    CASE WHEN nm_own IS NOT NULL THEN string_split(nm_own, ' ') END AS name_tokens,
    split_part(nm_own, ' ', 1) AS name_first,
    CASE WHEN nm_own IS NOT NULL THEN string_split(nm_own, ' ')[-1] END AS name_last,
    nm_phonetic AS name_phonetic,
    nm_parent AS name_parent,
    bd AS birth_date,
    bd_st AS birth_date_status,
    coalesce(year(bd), year(nik_bd)) AS birth_year,
    age_i AS age,
    sx AS sex,
    rel AS relation,
    v_code AS village_code,
    v_st AS village_status,
    coalesce(v_district, d_code) AS district_code,
    coalesce(v_regency, rg_code) AS regency_code,
    coalesce(v_province, pv_code) AS province_code,
    rt_rw_pad(coalesce(nullif(trim(rt), ''), addr_rt)) AS rt,
    rt_rw_pad(coalesce(nullif(trim(rw), ''), addr_rw)) AS rw,
    addr_norm AS address_norm,
    string_split(addr_norm, ' ') AS address_tokens,
    mother_own AS mother_name_norm,
    dec AS decile,
    f_pkh AS pkh, f_bpnt AS bpnt, f_pbi AS pbi_jkn,
    list_sort(list_distinct(list_concat(progs_listed, list_filter(['PKH', 'BPNT', 'PBI_JKN'],
      p -> (p = 'PKH' AND f_pkh) OR (p = 'BPNT' AND f_bpnt) OR (p = 'PBI_JKN' AND f_pbi))))) AS programmes,
    CASE WHEN regexp_replace(upper(trim(dukcapil_status)), '[^A-Z]', '', 'g') = 'PADAN' THEN true
         WHEN regexp_replace(upper(trim(dukcapil_status)), '[^A-Z]', '', 'g') = 'TIDAKPADAN' THEN false END AS dukcapil_match,
    upd AS updated_at,
    list_filter([
      CASE WHEN nik_st NOT IN ('valid', 'missing') THEN 'nik:' || nik_st END,
      CASE WHEN bd_st IN ('unparsed', 'impossible') THEN 'birth_date:' || bd_st END,
      CASE WHEN v_st IN ('malformed', 'unknown') THEN 'village:' || v_st END,
      CASE WHEN dec_raw IS NOT NULL AND dec IS NULL OR (dec_raw IS NULL AND NOT is_blank(decile)) THEN 'decile:invalid' END,
      CASE WHEN sx IS NULL AND NOT is_blank(sex) THEN 'sex:unknown_code' END,
      CASE WHEN nik_bd IS NOT NULL AND bd IS NOT NULL AND nik_bd <> bd THEN 'nik_date_mismatch' END,
      CASE WHEN nik_st = 'valid' AND sx IS NOT NULL AND sx <> CASE WHEN substr(nik_d, 7, 2)::INT > 40 THEN 'P' ELSE 'L' END THEN 'nik_sex_mismatch' END,
      CASE WHEN NOT is_blank(no_kk) AND kk_ok IS NULL THEN 'no_kk:invalid' END,
      CASE WHEN NOT is_blank(updated_at) AND upd IS NULL THEN 'updated_at:unparsed' END
    ], f -> f IS NOT NULL) AS flags
  FROM d
  `;
}

/** What normalise produces for linkage: one cleaned record per accepted row. */
export const NORMALISE_TABLES: readonly TableDeclaration[] = [
  { name: 'person_clean', description: 'one cleaned record per accepted row', columns: [{ name: 'rec_id', type: 'BIGINT' }, { name: 'source', type: 'VARCHAR' }, { name: 'source_record_id', type: 'VARCHAR' }, { name: 'nik', type: 'VARCHAR' }, { name: 'nik_digits', type: 'VARCHAR' }, { name: 'nik_status', type: 'VARCHAR' }, { name: 'nik_region', type: 'VARCHAR' }, { name: 'nik_birth_date', type: 'DATE' }, { name: 'no_kk', type: 'VARCHAR' }, { name: 'kk_valid', type: 'BOOLEAN' }, { name: 'name_norm', type: 'VARCHAR' }, { name: 'name_tokens', type: 'VARCHAR[]' }, { name: 'name_first', type: 'VARCHAR' }, { name: 'name_last', type: 'VARCHAR' }, { name: 'name_phonetic', type: 'VARCHAR' }, { name: 'birth_date', type: 'DATE' }, { name: 'sex', type: 'VARCHAR' }, { name: 'village_code', type: 'VARCHAR' }, { name: 'district_code', type: 'VARCHAR' }, { name: 'regency_code', type: 'VARCHAR' }, { name: 'province_code', type: 'VARCHAR' }, { name: 'rt', type: 'VARCHAR' }, { name: 'rw', type: 'VARCHAR' }], grain: ['rec_id'] },
];

export const normaliseStage = defineStage({
  name: 'normalise',
  produces: NORMALISE_TABLES,
  async run(ctx) {
    const { db } = ctx;
    await loadReference(db);
    await createNormaliseMacros(db);
    const mappings = ctx.sources.map((s) => s.mapping);
    await db.run(lookupSql(mappings, ctx.config.snapshot_date));
    await db.run(personCleanSql(mappings, ctx.config.snapshot_date));
    await db.run(`DROP TABLE norm_name; DROP TABLE norm_address; DROP TABLE norm_date; DROP TABLE norm_rec_id; DROP TABLE norm_code;`);
    const rows = await db.count(`SELECT count(*) FROM person_clean`);
    const by = async (col: string) =>
      (await db.all<{ source: string; value: string; rows: string }>(`SELECT source, ${col} AS value, count(*) AS rows FROM person_clean GROUP BY ALL ORDER BY ALL`)).map(
        (r) => ({ source: r.source, value: r.value, rows: Number(r.rows) }),
      );
    return {
      rows,
      figures: {
        nik_status: await by('nik_status'),
        birth_date_status: await by('birth_date_status'),
        village_status: await by('village_status'),
        sex_missing: await by(`sex IS NULL`),
        flags: (await db.all<{ source: string; flag: string; rows: string }>(`SELECT source, flag, count(*) AS rows FROM (SELECT source, unnest(flags) AS flag FROM person_clean) GROUP BY ALL ORDER BY ALL`)).map((r) => ({ ...r, rows: Number(r.rows) })),
      },
    };
  },
});
