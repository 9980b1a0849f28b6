/**
 * Families: persons that share a valid family-card number (No. KK) or a source's own family id (Regsosek
 * id_keluarga, P3KE id_keluarga_p3ke) in any of their records form one family (connected components over
 * persons, so a person seen in two sources joins their two families). A person with neither is a family of one.
 *
 * family_id = 'FM' + the first 16 hex digits of md5 of the smallest dtsen_id among the members (deterministic).
 */
import { lit } from '../../engine/db.ts';
import type { SourceName } from '../../../schemas/canonical.ts';

export const FAMILY_RULES: readonly { field: string; rule: string }[] = [
  { field: 'members', rule: 'persons joined by a shared valid KK or a shared source family id in any of their records (connected components); a person with neither is a family of one' },
  { field: 'family_id', rule: '`FM` + 16 hex digits of md5 of the smallest member `dtsen_id`' },
  { field: 'head_dtsen_id', rule: 'the member most records call head (DTKS `KEPALA RUMAH TANGGA`, Regsosek `hub_kk` 1); none (P3KE states no relation): the oldest member (`head_basis`: `relation`, `oldest`); ties to the older, then the smaller dtsen_id' },
  { field: 'village_code', rule: "the head's surviving village, else the one most members live in (then the smallest code)" },
  { field: 'decile', rule: 'the decile most members carry from `survivorship.decile_source`, else from the other sources; ties to the poorer' },
  { field: 'no_kks, source_family_ids', rule: 'lineage: every valid KK and every source family id of the members\' records' },
];

/** Family keys per person (cluster_id): valid KKs, and the sources' own family ids (DTKS's is its KK). */
export const FAMILY_EDGES_SQL = `
CREATE OR REPLACE TEMP TABLE fam_key AS
SELECT DISTINCT cluster_id, key FROM (
  SELECT cluster_id, 'kk:' || no_kk AS key FROM surv_member WHERE no_kk IS NOT NULL
  UNION ALL SELECT cluster_id, family_id FROM surv_member WHERE family_id IS NOT NULL AND family_id NOT LIKE '%-kk:%'
);
-- A star per key (every holder to the key's smallest holder), both directions; hubs join themselves so
-- every keyed person is a node.
CREATE OR REPLACE TEMP TABLE fam_edges AS
WITH hub AS (SELECT key, min(cluster_id) AS hub FROM fam_key GROUP BY key)
SELECT DISTINCT a, b FROM (
  SELECT f.cluster_id AS a, h.hub AS b FROM fam_key f JOIN hub h USING (key)
  UNION ALL SELECT h.hub, f.cluster_id FROM fam_key f JOIN hub h USING (key)
);
`;

/** After connectedComponents(fam_edges → fam_component(rec_id = person cluster_id, cluster_id = component)). */
export function familySql(decileSource: SourceName): string {
  const ds = lit(decileSource);
  return `
CREATE OR REPLACE TEMP TABLE fam_person AS
WITH fp AS (
  SELECT p.dtsen_id, p.cluster_id, coalesce(fc.cluster_id, p.cluster_id) AS comp FROM dtsen_person p
  LEFT JOIN fam_component fc ON fc.rec_id = p.cluster_id
)
SELECT fp.dtsen_id, fp.cluster_id, fp.comp, 'FM' || upper(substr(md5(min(fp.dtsen_id) OVER (PARTITION BY fp.comp)), 1, 16)) AS family_id FROM fp;

UPDATE dtsen_person p SET family_id = f.family_id FROM fam_person f WHERE f.dtsen_id = p.dtsen_id;

CREATE OR REPLACE TABLE dtsen_family AS
WITH heads AS (
  SELECT dtsen_id, count(*) FILTER (WHERE relation = 1) AS head_votes FROM surv_member GROUP BY dtsen_id
),
mem AS (SELECT p.*, h.head_votes FROM dtsen_person p JOIN heads h USING (dtsen_id)),
head AS (
  SELECT * EXCLUDE (rn) FROM (
    SELECT family_id, dtsen_id AS head_dtsen_id, CASE WHEN head_votes > 0 THEN 'relation' ELSE 'oldest' END AS head_basis,
           village_code AS head_village,
           row_number() OVER (PARTITION BY family_id ORDER BY head_votes DESC, birth_date NULLS LAST, dtsen_id) AS rn
    FROM mem) WHERE rn = 1
),
village AS (
  SELECT * EXCLUDE (rn) FROM (
    SELECT family_id, village_code, row_number() OVER (PARTITION BY family_id ORDER BY count(*) DESC, village_code) AS rn
    FROM mem WHERE village_code IS NOT NULL GROUP BY family_id, village_code) WHERE rn = 1
),
decile AS (
  SELECT * EXCLUDE (rn) FROM (
    SELECT family_id, decile, row_number() OVER (PARTITION BY family_id ORDER BY bool_or(decile_source = ${ds}) DESC, count(*) DESC, decile) AS rn
    FROM mem WHERE decile IS NOT NULL GROUP BY family_id, decile) WHERE rn = 1
),
agg AS (
  SELECT family_id, count(*) AS n_members, list_sort(list(dtsen_id)) AS members,
         bool_or(pkh) AS pkh, bool_or(bpnt) AS bpnt, bool_or(pbi_jkn) AS pbi_jkn,
         list_sort(list_distinct(flatten(list(programmes)))) AS programmes
  FROM mem GROUP BY family_id
),
keys AS (
  SELECT f.family_id,
         coalesce(list_sort(list_distinct(list(s.no_kk) FILTER (WHERE s.no_kk IS NOT NULL))), []) AS no_kks,
         coalesce(list_sort(list_distinct(list(s.family_id) FILTER (WHERE s.family_id IS NOT NULL AND s.family_id NOT LIKE '%-kk:%'))), []) AS source_family_ids
  FROM surv_member s JOIN fam_person f USING (dtsen_id) GROUP BY f.family_id
),
region AS (SELECT family_id, coalesce(h.head_village, v.village_code) AS village_code FROM head h LEFT JOIN village v USING (family_id))
SELECT a.family_id, h.head_dtsen_id, h.head_basis, a.n_members, a.members,
       r.village_code, substr(r.village_code, 1, 4) AS regency_code, substr(r.village_code, 1, 2) AS province_code,
       d.decile, a.pkh, a.bpnt, a.pbi_jkn, a.programmes, k.no_kks, k.source_family_ids
FROM agg a JOIN head h USING (family_id) JOIN region r USING (family_id) LEFT JOIN decile d USING (family_id) JOIN keys k USING (family_id)
ORDER BY a.family_id;
`;
}
