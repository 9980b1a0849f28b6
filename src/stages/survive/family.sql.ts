/**
 * Families: persons that share a valid family-card number (No. KK) or a source's own family id (Regsosek
 * id_keluarga, P3KE id_keluarga_p3ke) in any of their records form one family (connected components over
 * persons, so a person seen in two sources joins their two families). A person with neither is a family of one.
 *
 * family_id = 'FM' + the first 16 hex digits of md5 of the smallest dtsen_id among the members (deterministic).
 */
import { lit } from '../../engine/db.ts';
import { digitPart, idDigit, pick } from './person.sql.ts';
import type { SourceName } from '../../../schemas/canonical.ts';

export const FAMILY_RULES: readonly { field: string; rule: string }[] = [
  { field: 'members', rule: 'persons joined by a shared valid KK or a shared source family id in any of their records (connected components); a person with neither is a family of one' },
  { field: 'family_id', rule: '`FM` + 16 hex digits of md5 of the smallest member `dtsen_id`, in the first batch of a register; then carried forward like `dtsen_id`' },
  { field: 'head_dtsen_id', rule: 'the member most records call head (DTKS `KEPALA RUMAH TANGGA`, Regsosek `hub_kk` 1); none (P3KE states no relation): the oldest member (`head_basis`: `relation`, `oldest`); ties to the older, then the smaller dtsen_id' },
  { field: 'village_code', rule: "the head's surviving village, else the one most members live in (then the smallest code)" },
  { field: 'decile', rule: 'the decile most members carry from `survivorship.decile_source`, else from the other sources; ties to the poorer' },
  { field: 'no_kks, source_family_ids', rule: 'lineage: every valid KK and every source family id of the members\' records' },
];

/** Family keys per person (cluster_id): valid KKs, and the sources' own family ids (DTKS's is its KK). */
export const FAMILY_KEYS_SQL = `
CREATE OR REPLACE TEMP TABLE fam_key AS
SELECT DISTINCT cluster_id, key FROM (
  SELECT cluster_id, 'kk:' || no_kk AS key FROM surv_member WHERE no_kk IS NOT NULL
  UNION ALL SELECT cluster_id, family_id FROM surv_member WHERE family_id IS NOT NULL AND family_id NOT LIKE '%-kk:%'
);
`;

/**
 * A star per key (every holder to the key's smallest holder), both directions; hubs join themselves so every keyed
 * person is a node. `scope`: a table of the persons (cluster_id) whose families are found, holding every holder of
 * each of their keys (src/incremental/survive.ts familyScope), so their components are whole; else every person.
 */
export function familyEdgesSql(scope?: string): string {
  return `
CREATE OR REPLACE TEMP TABLE fam_edges AS
WITH k AS (SELECT cluster_id, key FROM fam_key${scope ? ` SEMI JOIN ${scope} USING (cluster_id)` : ''}),
hub AS (SELECT key, min(cluster_id) AS hub FROM k GROUP BY key)
SELECT DISTINCT a, b FROM (
  SELECT f.cluster_id AS a, h.hub AS b FROM k f JOIN hub h USING (key)
  UNION ALL SELECT h.hub, f.cluster_id FROM k f JOIN hub h USING (key)
);
`;
}

/**
 * After connectedComponents(fam_edges → fam_component(rec_id = person cluster_id, cluster_id = component)): the
 * family of every person (fam_person: cluster_id, dtsen_id, family_id), before dtsen_person is built. `outside`: a
 * table (cluster_id, family) of the persons whose family was not found again (an incremental batch keeps their
 * previous family: `family` is its id, and every member of it is there); the others' is their component.
 */
export function familyPersonSql(outside?: string): string {
  const comp = outside ? `coalesce(o.family, coalesce(fc.cluster_id, p.cluster_id)::VARCHAR)` : 'coalesce(fc.cluster_id, p.cluster_id)';
  return `
CREATE OR REPLACE TEMP TABLE fam_person AS
WITH fp AS (
  SELECT p.cluster_id, p.dtsen_id, ${comp} AS comp
  FROM (SELECT cluster_id, min(dtsen_id) AS dtsen_id FROM surv_member GROUP BY cluster_id) p
  LEFT JOIN fam_component fc ON fc.rec_id = p.cluster_id${outside ? `\n  LEFT JOIN ${outside} o ON o.cluster_id = p.cluster_id` : ''}
),
fam AS (SELECT comp, 'FM' || upper(substr(md5(min(dtsen_id)), 1, 16)) AS family_id FROM fp GROUP BY comp)
SELECT fp.cluster_id, fp.dtsen_id, fam.family_id FROM fp JOIN fam USING (comp);
`;
}

/** A sort key of a boolean: true first, then false, then NULL (ORDER BY … DESC). */
const trueFirst = (b: string) => `CASE WHEN ${b} THEN 0 WHEN NOT ${b} THEN 1 ELSE 2 END`;

/**
 * Per person (cluster_id), how many of its records call it the head of its family: read by familySql. `scope`: only
 * the persons of the families built (familyEdgesSql's scope; familySql then reads only theirs).
 */
export function familyHeadsSql(scope?: string): string {
  return `
CREATE OR REPLACE TEMP TABLE fam_heads AS
SELECT cluster_id, count(*) FILTER (WHERE relation = 1) AS head_votes FROM surv_member${scope ? ` SEMI JOIN ${scope} USING (cluster_id)` : ''} GROUP BY cluster_id;
`;
}

/**
 * The members (fam_members) and family keys (fam_keys) of a family's SQL (familySql): read from these tables. The
 * members are those fam_heads holds (familyHeadsSql's scope); the keys are read for the persons of `scope`.
 */
const FAMILY_MEMBERS = `SELECT p.family_id, p.dtsen_id, p.birth_date, p.village_code, p.decile, p.decile_source, p.pkh, p.bpnt, p.pbi_jkn, p.programmes, h.head_votes
  FROM dtsen_person p JOIN fam_heads h USING (cluster_id)`;
const familyKeys = (scope?: string) => `SELECT f.family_id,
         coalesce(list_sort(list_distinct(list(s.no_kk) FILTER (WHERE s.no_kk IS NOT NULL))), []) AS no_kks,
         coalesce(list_sort(list_distinct(list(s.family_id) FILTER (WHERE s.family_id IS NOT NULL AND s.family_id NOT LIKE '%-kk:%'))), []) AS source_family_ids
  FROM surv_member s JOIN fam_person f USING (cluster_id)${scope ? ` SEMI JOIN ${scope} USING (cluster_id)` : ''}`;

/**
 * For families built in several parts: the members and the family keys of every family built (`scope`: see
 * familyHeadsSql), computed once and stored in the order of the family id's first hex digit (family_digit), so that
 * each part reads its own row groups instead of joining every person and record again.
 */
export function familyPartsSql(scope?: string): string {
  return `
CREATE OR REPLACE TEMP TABLE fam_members AS
SELECT *, ${idDigit('family_id')} AS family_digit FROM (${FAMILY_MEMBERS}) ORDER BY family_digit;
CREATE OR REPLACE TEMP TABLE fam_keys_all AS
SELECT *, ${idDigit('family_id')} AS family_digit FROM (${familyKeys(scope)} GROUP BY f.family_id) ORDER BY family_digit;
`;
}

/**
 * dtsen_family from dtsen_person (family_id set from fam_person) and the members' records; built in parts of the
 * family id space like dtsen_person (`range`: first hex digits of family_id, see idDigitRanges; `into`: create or
 * append). `split`: the part is read from familyPartsSql's tables. `scope`: only the families of these persons are
 * built (those fam_heads holds: familyHeadsSql with the same scope). `ordered`: written in family_id order (see personSql).
 */
export function familySql(decileSource: SourceName, range: [number, number] = [0, 15], into: 'create' | 'append' = 'create', split = false, scope?: string, ordered = true): string {
  const ds = lit(decileSource);
  const inPart = `family_digit BETWEEN ${range[0]} AND ${range[1]}`;
  const mem = split ? `SELECT * FROM fam_members WHERE ${inPart}` : `${FAMILY_MEMBERS} WHERE ${digitPart('p.family_id', range)}`;
  const keys = split
    ? `SELECT family_id, no_kks, source_family_ids FROM fam_keys_all WHERE ${inPart}`
    : `${familyKeys(scope)} WHERE ${digitPart('f.family_id', range)} GROUP BY f.family_id`;
  return `
${into === 'create' ? 'CREATE OR REPLACE TABLE dtsen_family AS' : 'INSERT INTO dtsen_family'}
WITH mem AS (${mem}),
head AS (
  SELECT family_id, h.head.head_dtsen_id AS head_dtsen_id, CASE WHEN h.head.head_votes > 0 THEN 'relation' ELSE 'oldest' END AS head_basis,
         h.head.head_village AS head_village
  FROM (
    SELECT family_id, ${pick([['head_dtsen_id', 'dtsen_id'], ['head_votes', 'head_votes'], ['head_village', 'village_code']],
      ['-head_votes', 'birth_date IS NULL', "coalesce(birth_date, DATE '1970-01-01')", 'dtsen_id'])} AS head
    FROM mem GROUP BY family_id) h
),
village AS (
  SELECT family_id, ${pick('village_code', ['-n', 'village_code'])} AS village_code
  FROM (SELECT family_id, village_code, count(*) AS n FROM mem WHERE village_code IS NOT NULL GROUP BY ALL) GROUP BY family_id
),
decile AS (
  SELECT family_id, ${pick('decile', ['from_source', '-n', 'decile'])} AS decile
  FROM (SELECT family_id, decile, ${trueFirst(`bool_or(decile_source = ${ds})`)} AS from_source, count(*) AS n
        FROM mem WHERE decile IS NOT NULL GROUP BY family_id, decile) GROUP BY family_id
),
agg AS (
  SELECT family_id, count(*) AS n_members, list_sort(list(dtsen_id)) AS members,
         bool_or(pkh) AS pkh, bool_or(bpnt) AS bpnt, bool_or(pbi_jkn) AS pbi_jkn,
         list_sort(list_distinct(flatten(list(programmes)))) AS programmes
  FROM mem GROUP BY family_id
),
keys AS (${keys}),
region AS (SELECT family_id, coalesce(h.head_village, v.village_code) AS village_code FROM head h LEFT JOIN village v USING (family_id))
SELECT a.family_id, h.head_dtsen_id, h.head_basis, a.n_members, a.members,
       r.village_code, substr(r.village_code, 1, 4) AS regency_code, substr(r.village_code, 1, 2) AS province_code,
       d.decile, a.pkh, a.bpnt, a.pbi_jkn, a.programmes, k.no_kks, k.source_family_ids
FROM agg a JOIN head h USING (family_id) JOIN region r USING (family_id) LEFT JOIN decile d USING (family_id) JOIN keys k USING (family_id)${ordered ? '\nORDER BY a.family_id' : ''};
`;
}
