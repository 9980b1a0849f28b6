/**
 * Golden records: clusters + person_clean → dtsen_person (one row per person) and dtsen_link (one row per
 * accepted source record). Every field has one rule, documented in SURVIVORSHIP_RULES (README table).
 *
 * dtsen_id = 'DT' + the first 16 hex digits of md5 of the smallest "source:source_record_id" of the
 * cluster's members: the same inputs give the same ids on any run and any thread count (rec_id and
 * cluster_id numbering do not enter it). Every tie below is broken on values, never on row order.
 */
import { lit } from '../../engine/db.ts';
import { SOURCES, type SourceName } from '../../../schemas/canonical.ts';

export interface SurviveOptions {
  /** the source whose decile wins (config survivorship.decile_source) */
  decileSource: SourceName;
  /** per source, the date its records describe when they carry no update date of their own (YYYY-MM-DD) */
  sourceDates: Partial<Record<SourceName, string>>;
}

/** field → the rule that picks its value; the README's survivorship table is this list. */
export const SURVIVORSHIP_RULES: readonly { field: string; rule: string }[] = [
  { field: 'dtsen_id', rule: "`DT` + 16 hex digits of md5 of the smallest `source:source_record_id` of the person's records, in the first batch of a register; a batch continuing one carries the earlier ids forward (see A living register)" },
  { field: 'nik', rule: 'a structurally valid NIK: one the civil registry matched (`STATUS_DUKCAPIL` PADAN) first, one without a verdict next, one only marked TIDAK PADAN last; then the one carried by most sources, then by most records, then one whose decoded date agrees with a stated birth date, then the smallest' },
  { field: 'nik_dukcapil', rule: 'true when a record carrying the surviving NIK says PADAN' },
  { field: 'name', rule: 'the most frequent normalised name; ties to the longest, then alphabetical' },
  { field: 'birth_date', rule: "a stated date agreeing with the surviving NIK's decoded date first, then the one stated by most sources and records, then the earliest; with no stated date, the NIK's decoded date (`birth_date_basis`: `nik_agrees`, `stated`, `nik`)" },
  { field: 'sex', rule: "the stated sex agreeing with the surviving NIK's sex digit first, then the most frequent, then L before P; with none stated, the NIK's" },
  { field: 'village_code, rt, rw, address', rule: "all from one record, the most recent one with a village code: a record's date is its own update date (DTKS `TGL_UPDATE`), else its source's reference date (the mapping's `age_reference_date`: Regsosek's enumeration, 2022-10-15), else none (P3KE carries no date; its records come after dated ones); ties DTKS, Regsosek, P3KE, then record id (`address_source`, `address_date`)" },
  { field: 'relation', rule: 'relation to the head (1 head … 8 other) of the most recent record stating one; ties as for the address' },
  { field: 'no_kk', rule: 'the valid family-card number of most records, from the most recent record on a tie, then the smallest' },
  { field: 'decile', rule: '`survivorship.decile_source` (default Regsosek) when that source states one (its most recent record, then the poorest); else the poorest decile any other source states (`decile_source`)' },
  { field: 'pkh, bpnt, pbi_jkn', rule: 'the union of what DTKS and P3KE state: true when any record says so; `pkh_sources` … list the sources that do' },
  { field: 'programmes', rule: 'the union of every programme any record names' },
  { field: 'family_id', rule: 'the person\'s family in `dtsen_family` (see Families)' },
  { field: 'source_record_ids', rule: 'lineage: every `source:source_record_id` of the person, sorted (also one row each in `dtsen_link`)' },
];

/** Sources in alphabetical order, so lists built from flags come out sorted. */
const SORTED_SOURCES = [...SOURCES].sort();
const PROGRAMMES = ['pkh', 'bpnt', 'pbi_jkn'] as const;

/**
 * A sorted list of the labels whose flag (a SQL boolean; NULL counts as false) is true: a CASE over the flags as a
 * bit mask with one constant list per combination (a lambda per row costs more).
 */
function present(flags: [string, string][]): string {
  const mask = flags.map(([f], i) => `CASE WHEN ${f} THEN ${1 << i} ELSE 0 END`).join(' + ');
  const lists = Array.from({ length: 1 << flags.length }, (_, m) => `WHEN ${m} THEN [${flags.filter((_, i) => m & (1 << i)).map(([, label]) => lit(label)).join(', ')}]::VARCHAR[]`);
  return `CASE ${mask} ${lists.join(' ')} END`;
}

/** How many sources a group's rows come from (count(DISTINCT source) without the distinct hash table). */
const nSources = (source: string) => SORTED_SOURCES.map((x) => `bool_or(${source} = ${lit(x)})::INTEGER`).join(' + ');

const SOURCE_RANK = `CASE source ${SOURCES.map((s, i) => `WHEN ${lit(s)} THEN ${i}`).join(' ')} END`;

function sourceDateSql(dates: Partial<Record<SourceName, string>>): string {
  const whens = Object.entries(dates).map(([s, d]) => `WHEN ${lit(s)} THEN DATE ${lit(d!)}`);
  return whens.length ? `CASE source ${whens.join(' ')} END` : 'NULL::DATE';
}

/**
 * The value of the row with the smallest key per group: arg_min over STRUCTs, which compare field by field.
 * `value` is an expression or [name, expression] pairs (a struct); `keys` are ascending and non-null, the last
 * one unique within a group, so the winner never depends on row order. A hash aggregate, not a sort.
 */
export function pick(value: string | [string, string][], keys: string[], filter?: string): string {
  const v = typeof value === 'string' ? value : `{${value.map(([n, e]) => `${lit(n)}: ${e}`).join(', ')}}`;
  return `arg_min(${v}, {${keys.map((k, i) => `'k${i}': ${k}`).join(', ')}})${filter ? ` FILTER (WHERE ${filter})` : ''}`;
}

/** Ascending key of a boolean that should come first when true. */
const first = (b: string) => `NOT coalesce(${b}, false)`;

/** The first hex digit (0-15) of an id ('DT…', 'FM…'): which part of the id space (idDigitRanges) it is built in. */
export const idDigit = (column: string) => `(strpos('0123456789ABCDEF', substr(${column}, 3, 1)) - 1)::UTINYINT`;

/**
 * Members of every cluster with the columns survivorship reads; kept as surv_member for conflicts and families.
 * `byPart`: stored in id_digit order, so that each part of the id space is read from its own row groups (the
 * zone maps skip the others) rather than by a scan of every member per part. `kept`: a table of the clusters
 * (cluster_id) whose golden records an incremental batch keeps: their members carry only the columns ids, families
 * and dtsen_link read (their record, family keys and relation), the others NULL.
 */
export function memberSql(o: SurviveOptions, byPart = false, kept?: string): string {
  const clusters = kept ? `(SELECT * FROM clusters ANTI JOIN ${kept} USING (cluster_id))` : 'clusters';
  return `
CREATE OR REPLACE TEMP TABLE surv_member AS
-- not materialized: ids reads only two columns of the join, so the wide rows are built once
WITH m AS NOT MATERIALIZED (
  SELECT c.cluster_id, c.best_link_probability, p.rec_id, p.source, p.source_record_id, p.source || ':' || p.source_record_id AS record_key,
         p.nik, p.nik_birth_date, p.nik_sex, p.dukcapil_match, p.no_kk, p.family_id, p.name_norm, p.birth_date, p.sex, p.relation,
         p.village_code, p.district_code, p.regency_code, p.province_code, p.rt, p.rw, p.address_norm, p.decile,
         p.pkh, p.bpnt, p.pbi_jkn, p.programmes, p.updated_at,
         coalesce(p.updated_at, ${sourceDateSql(o.sourceDates)}) AS record_date
  FROM ${clusters} c JOIN person_clean p USING (rec_id)${kept ? `
  UNION ALL BY NAME
  SELECT c.cluster_id, c.best_link_probability, p.rec_id, p.source, p.source_record_id, p.source || ':' || p.source_record_id AS record_key,
         p.no_kk, p.family_id, p.relation
  FROM clusters c SEMI JOIN ${kept} USING (cluster_id) JOIN person_clean p USING (rec_id)` : ''}
),
ids AS (SELECT cluster_id, 'DT' || upper(substr(md5(min(record_key)), 1, 16)) AS dtsen_id, count(*) AS cluster_records FROM m GROUP BY cluster_id)
-- id_digit: the first hex digit of dtsen_id (0-15), which part of the id space the person is built in
SELECT ids.dtsen_id, ${idDigit('ids.dtsen_id')} AS id_digit, ids.cluster_records, m.* FROM m JOIN ids USING (cluster_id)${byPart ? ' ORDER BY id_digit' : ''};
`;
}

/**
 * The persons are built in parts of the id space (see idDigitRanges): `members` holds the part's rows of
 * surv_member and `part` is the part's condition on dtsen_id (for fam_person). `ordered`: each part's rows are written
 * in dtsen_id order, so the parts appended in order give a table sorted by dtsen_id (and dtsen_link's rows in its
 * order); a batch continuing a register leaves the order to the register stage, which rewrites both tables anyway.
 * One part at a time keeps the aggregations' memory to what that part needs (the whole population at once outgrew
 * 16 GB). `into`: the first part creates the table, the others append. `persons`: the table of the golden records
 * ('TABLE dtsen_person', or a TEMP TABLE of those an incremental batch builds again beside the ones it keeps in place).
 *
 * A person of one record (about half of them) needs no vote: its golden record is that record, read by
 * singleSql under the same rules; `singles: false` sends them through the aggregations too (a test compares).
 */
export function personSql(
  o: SurviveOptions,
  { members = 'surv_member', part = 'true', into = 'create', singles = true, ordered = true, persons = 'TABLE dtsen_person' }: { members?: string; part?: string; into?: 'create' | 'append'; singles?: boolean; ordered?: boolean; persons?: string } = {},
): string {
  const ds = lit(o.decileSource);
  return `
${into === 'create' ? `CREATE OR REPLACE ${persons} AS` : `INSERT INTO ${persons.replace(/^(TEMP )?TABLE /, '')}`}
WITH m AS NOT MATERIALIZED (
  -- recency: the most recent record first, undated ones last
  SELECT *, coalesce(-date_diff('day', DATE '1970-01-01', record_date), 2147483647) AS recency, ${SOURCE_RANK} AS source_rank FROM ${members}
  ${singles ? 'WHERE cluster_records > 1' : ''}
),
agg AS (
  SELECT cluster_id, min(dtsen_id) AS dtsen_id, count(*) AS n_records,
         ${SORTED_SOURCES.map((x) => `bool_or(source = ${lit(x)}) AS in_${x}`).join(', ')},
         ${PROGRAMMES.flatMap((p) => [`coalesce(bool_or(${p}), false) AS ${p}`, ...SORTED_SOURCES.map((x) => `coalesce(bool_or(${p} AND source = ${lit(x)}), false) AS ${p}_${x}`)]).join(',\n         ')},
         list(programmes) FILTER (WHERE len(programmes) > 0) AS programme_lists,
         list(record_key) AS record_keys,
         ${pick([['village_code', 'village_code'], ['district_code', 'district_code'], ['regency_code', 'regency_code'], ['province_code', 'province_code'],
           ['rt', 'rt'], ['rw', 'rw'], ['address', 'address_norm'], ['source', 'source'], ['date', 'record_date']],
           ['village_code IS NULL', 'recency', 'source_rank', 'record_key'], 'village_code IS NOT NULL OR province_code IS NOT NULL OR address_norm IS NOT NULL')} AS addr,
         ${pick('relation', ['recency', 'source_rank', 'record_key'], 'relation IS NOT NULL')} AS relation,
         ${pick([['decile', 'decile'], ['source', 'source']], [`source <> ${ds}`, `CASE WHEN source = ${ds} THEN recency ELSE 0 END`, 'decile', 'source_rank', 'record_key'], 'decile IS NOT NULL')} AS dec
  FROM m GROUP BY cluster_id
),
nik_votes AS (
  SELECT cluster_id, nik, ${nSources('source')} AS n_sources, count(*) AS n_records,
         CASE WHEN bool_or(dukcapil_match) THEN 2 WHEN bool_or(NOT dukcapil_match) THEN 0 ELSE 1 END AS dukcapil,
         coalesce(bool_or(birth_date = nik_birth_date), false) AS date_agrees,
         ${present(SORTED_SOURCES.map((x) => [`bool_or(source = ${lit(x)})`, x]))} AS nik_sources,
         min(nik_birth_date) AS nik_birth_date, min(nik_sex) AS nik_sex
  FROM m WHERE nik IS NOT NULL GROUP BY ALL
),
nik_w AS MATERIALIZED (
  SELECT cluster_id, ${pick([['nik', 'nik'], ['dukcapil', 'dukcapil = 2'], ['sources', 'nik_sources'], ['birth_date', 'nik_birth_date'], ['sex', 'nik_sex']],
    ['-dukcapil', '-n_sources', '-n_records', first('date_agrees'), 'nik'])} AS w
  FROM nik_votes GROUP BY cluster_id
),
name_w AS (
  SELECT cluster_id, ${pick('name_norm', ['-votes', '-length(name_norm)', 'name_norm'])} AS name
  FROM (SELECT cluster_id, name_norm, count(*) AS votes FROM m WHERE name_norm IS NOT NULL GROUP BY ALL) GROUP BY cluster_id
),
bd_w AS (
  SELECT cluster_id, ${pick([['birth_date', 'birth_date'], ['agrees', 'agrees']], [first('agrees'), '-n_sources', '-votes', 'birth_date'])} AS w
  FROM (SELECT m.cluster_id, m.birth_date, ${nSources('m.source')} AS n_sources, count(*) AS votes, coalesce(bool_or(m.birth_date = f.w.birth_date), false) AS agrees
        FROM m LEFT JOIN nik_w f USING (cluster_id) WHERE m.birth_date IS NOT NULL GROUP BY ALL)
  GROUP BY cluster_id
),
sex_w AS (
  SELECT cluster_id, ${pick('sex', [first('agrees'), '-votes', 'sex'])} AS sex
  FROM (SELECT m.cluster_id, m.sex, count(*) AS votes, coalesce(bool_or(m.sex = f.w.sex), false) AS agrees
        FROM m LEFT JOIN nik_w f USING (cluster_id) WHERE m.sex IS NOT NULL GROUP BY ALL)
  GROUP BY cluster_id
),
kk_w AS (
  SELECT cluster_id, ${pick('no_kk', ['-votes', 'recency', 'no_kk'])} AS no_kk
  FROM (SELECT cluster_id, no_kk, count(*) AS votes, min(recency) AS recency FROM m WHERE no_kk IS NOT NULL GROUP BY ALL) GROUP BY cluster_id
),
multi AS (
SELECT agg.dtsen_id, nik_w.w.nik, coalesce(nik_w.w.dukcapil, false) AS nik_dukcapil, nik_w.w.sources AS nik_sources,
       name_w.name,
       coalesce(bd_w.w.birth_date, nik_w.w.birth_date) AS birth_date,
       CASE WHEN bd_w.w.agrees THEN 'nik_agrees' WHEN bd_w.w.birth_date IS NOT NULL THEN 'stated' WHEN nik_w.w.birth_date IS NOT NULL THEN 'nik' END AS birth_date_basis,
       coalesce(sex_w.sex, nik_w.w.sex) AS sex,
       agg.addr.village_code, agg.addr.district_code, agg.addr.regency_code, agg.addr.province_code, agg.addr.rt, agg.addr.rw, agg.addr.address,
       agg.addr.source AS address_source, agg.addr.date AS address_date,
       agg.relation, kk_w.no_kk, fam_person.family_id,
       agg.dec.decile, agg.dec.source AS decile_source,
       ${PROGRAMMES.map((p) => `agg.${p}, ${present(SORTED_SOURCES.map((x) => [`agg.${p}_${x}`, x]))} AS ${p}_sources`).join(', ')},
       coalesce(list_sort(list_distinct(flatten(agg.programme_lists))), []) AS programmes,
       agg.n_records, ${present(SORTED_SOURCES.map((x) => [`agg.in_${x}`, x]))} AS sources, agg.in_dtks, agg.in_regsosek, agg.in_p3ke,
       list_sort(agg.record_keys) AS source_record_ids,
       agg.cluster_id
FROM agg
LEFT JOIN nik_w USING (cluster_id) LEFT JOIN name_w USING (cluster_id) LEFT JOIN bd_w USING (cluster_id)
LEFT JOIN sex_w USING (cluster_id) LEFT JOIN kk_w USING (cluster_id)
LEFT JOIN (SELECT cluster_id, family_id FROM fam_person WHERE ${part}) fam_person USING (cluster_id)
)
SELECT * FROM (SELECT * FROM multi UNION ALL BY NAME ${singles ? singleSql(members, part) : 'SELECT * FROM multi WHERE false'})${ordered ? ' ORDER BY dtsen_id' : ''};

${into === 'create' ? 'CREATE OR REPLACE TABLE dtsen_link AS' : 'INSERT INTO dtsen_link'}
SELECT dtsen_id, source, source_record_id, best_link_probability AS match_probability, rec_id
FROM ${members}${ordered ? '\nORDER BY dtsen_id, source, source_record_id' : ''};
`;
}

/**
 * The golden record of a person of one record: each rule of personSql applied to a single record (a pick over one
 * row is that row's value where its filter holds; a vote is that value; a union is that record's list).
 */
function singleSql(members: string, part: string): string {
  const hasAddr = 's.village_code IS NOT NULL OR s.province_code IS NOT NULL OR s.address_norm IS NOT NULL';
  const addr = (col: string, as: string) => `CASE WHEN ${hasAddr} THEN ${col} END AS ${as}`;
  const one = (flag: string) => `CASE WHEN ${flag} THEN [s.source] ELSE []::VARCHAR[] END`;
  return `
SELECT s.dtsen_id, s.nik, coalesce(s.nik IS NOT NULL AND s.dukcapil_match, false) AS nik_dukcapil,
       CASE WHEN s.nik IS NOT NULL THEN [s.source] END AS nik_sources,
       s.name_norm AS name,
       coalesce(s.birth_date, CASE WHEN s.nik IS NOT NULL THEN s.nik_birth_date END) AS birth_date,
       CASE WHEN s.birth_date IS NOT NULL AND s.nik IS NOT NULL AND s.birth_date = s.nik_birth_date THEN 'nik_agrees'
            WHEN s.birth_date IS NOT NULL THEN 'stated' WHEN s.nik IS NOT NULL AND s.nik_birth_date IS NOT NULL THEN 'nik' END AS birth_date_basis,
       coalesce(s.sex, CASE WHEN s.nik IS NOT NULL THEN s.nik_sex END) AS sex,
       ${[['s.village_code', 'village_code'], ['s.district_code', 'district_code'], ['s.regency_code', 'regency_code'], ['s.province_code', 'province_code'],
         ['s.rt', 'rt'], ['s.rw', 'rw'], ['s.address_norm', 'address'], ['s.source', 'address_source'], ['s.record_date', 'address_date']].map(([c, a]) => addr(c, a)).join(', ')},
       s.relation, s.no_kk, fam_person.family_id,
       s.decile, CASE WHEN s.decile IS NOT NULL THEN s.source END AS decile_source,
       ${PROGRAMMES.map((p) => `coalesce(s.${p}, false) AS ${p}, ${one(`s.${p}`)} AS ${p}_sources`).join(', ')},
       CASE WHEN len(s.programmes) > 0 THEN list_sort(list_distinct(s.programmes)) ELSE []::VARCHAR[] END AS programmes,
       1::BIGINT AS n_records, [s.source] AS sources, ${SORTED_SOURCES.map((x) => `s.source = ${lit(x)} AS in_${x}`).join(', ')},
       [s.record_key] AS source_record_ids,
       s.cluster_id
FROM (SELECT * FROM ${members} WHERE cluster_records = 1) s
LEFT JOIN (SELECT cluster_id, family_id FROM fam_person WHERE ${part}) fam_person ON fam_person.cluster_id = s.cluster_id`;
}

/** Records per part of the survivorship work (personSql, familySql): 2.5 million fit well within a few GB. */
export const RECORDS_PER_PART = 2_500_000;

/**
 * Ranges of the first hex digit of ids ('DT…', 'FM…': two letters, then upper-case hex digits of md5) that split
 * `records` into 1, 2, 4, 8 or 16 parts of about `perPart` each, in ascending id order.
 */
export function idDigitRanges(records: number, perPart = RECORDS_PER_PART): [number, number][] {
  let n = 1;
  while (n < 16 && records / n > perPart) n *= 2;
  const width = 16 / n;
  return Array.from({ length: n }, (_, k) => [k * width, (k + 1) * width - 1]);
}

/** The condition on an id column of the part of first hex digits lo..hi. */
export function digitPart(column: string, [lo, hi]: [number, number]): string {
  if (lo === 0 && hi === 15) return 'true';
  return `substr(${column}, 3, 1) IN (${[...'0123456789ABCDEF'.slice(lo, hi + 1)].map(lit).join(', ')})`;
}
