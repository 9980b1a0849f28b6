/**
 * Explaining one record: the person (dtsen_id) it ended in, the other records of that person, and the links
 * that hold it there — the links touching it, and a spanning tree of the person's links grown from it
 * (breadth first, in SQL), so the path from this record to every other member can be read off.
 */
import { thresholdOf } from '../../schemas/config.ts';
import { materialise } from '../engine/sql-pipeline.ts';
import { linkableSql } from '../linkage/threshold.ts';
import { formatRef, type OpenBatch, type ResolvedRecord } from './batch.ts';
import type { SourceName } from '../../schemas/canonical.ts';

export interface Member {
  record: string;
  rec_id: string;
  /** dtsen_link.match_probability of the record */
  match_probability: number;
  /** links between this member and the explained record, along the tree (0 for the record itself; null: not reached) */
  depth: number | null;
  /** the member one step closer to the explained record in the spanning tree */
  parent: string | null;
  /** the link to the parent */
  link_probability: number | null;
  link_weight: number | null;
  /** shown only with --show-values */
  nik?: string | null;
  name?: string | null;
}

export interface Link {
  record_l: string;
  record_r: string;
  match_weight: number;
  match_probability: number;
}

export interface NotLinked {
  record: string;
  dtsen_id: string | null;
  match_weight: number;
  match_probability: number;
  /** the pair is flagged a hard negative (it could not link them even over the threshold) */
  hard_negative: boolean;
  reason: 'below the threshold' | 'hard negative';
}

export interface RecordExplanation {
  record: string;
  rec_id: string;
  dtsen_id: string;
  threshold: number;
  members: Member[];
  /** the person's links that touch this record */
  links_touching: Link[];
  /** all links among the person's records */
  links_in_person: number;
  /** the scored pairs touching this record that do not link it (the closest first, at most 5) */
  nearest_not_linked: NotLinked[];
  values_shown: boolean;
}

const ref = (source: unknown, id: unknown) => formatRef({ source: source as SourceName, sourceRecordId: String(id) });

export async function explainRecord(batch: OpenBatch, rec: ResolvedRecord, opts: { showValues: boolean }): Promise<RecordExplanation> {
  const { db } = batch;
  const threshold = thresholdOf(batch.linkage);
  const me = BigInt(rec.recId);
  const hasScored = await db.tableExists('scored_pairs');
  const hasHard = hasScored && (await db.columnExists('scored_pairs', 'hard_negative'));
  const linkable = linkableSql(threshold, hasHard);
  const scored = hasScored
    ? 'scored_pairs'
    : '(SELECT NULL::BIGINT AS rec_id_l, NULL::BIGINT AS rec_id_r, NULL::DOUBLE AS match_weight, NULL::DOUBLE AS match_probability WHERE false)';
  const person = await db.one<{ dtsen_id: string }>(`
    SELECT l.dtsen_id FROM dtsen_link l JOIN person_clean p USING (source, source_record_id) WHERE p.rec_id = $1`, [me]);
  if (!person) throw new Error(`record ${formatRef(rec)} has no row in dtsen_link`);
  // the person's records, the links among them, and the spanning tree of those links from this record: while this runs
  await using personMembers = await materialise(db, 'explain_members', `
    SELECT p.rec_id, p.source, p.source_record_id, l.match_probability, p.nik_digits AS nik, p.name_norm AS name
    FROM dtsen_link l JOIN person_clean p USING (source, source_record_id) WHERE l.dtsen_id = $1`, [person.dtsen_id]);
  await using personLinks = await materialise(db, 'explain_links', `
    SELECT s.* FROM (
      SELECT rec_id_l, rec_id_r, match_weight::DOUBLE AS match_weight, match_probability::DOUBLE AS match_probability
      FROM ${scored} WHERE ${linkable}) s
    SEMI JOIN ${personMembers} member_l ON member_l.rec_id = s.rec_id_l SEMI JOIN ${personMembers} member_r ON member_r.rec_id = s.rec_id_r`);
  await using tree = await materialise(db, 'explain_tree', `
      WITH RECURSIVE edges AS (
        SELECT rec_id_l AS a, rec_id_r AS b, match_probability AS p, match_weight AS w FROM ${personLinks}
        UNION ALL SELECT rec_id_r, rec_id_l, match_probability, match_weight FROM ${personLinks}),
      bfs(v, depth, parent, p, w) USING KEY (v) AS (
        SELECT $1::BIGINT, 0, NULL::BIGINT, NULL::DOUBLE, NULL::DOUBLE
        UNION
        -- each newly reached record hangs on its strongest link into the frontier (ties: the smallest rec_id)
        SELECT e.b, any_value(f.depth) + 1, arg_max(e.a, (e.p, -e.a)), max(e.p), arg_max(e.w, (e.p, -e.a))
        FROM bfs f JOIN edges e ON e.a = f.v
        WHERE e.b NOT IN (SELECT v FROM recurring.bfs)
        GROUP BY e.b)
      SELECT * FROM bfs`, [me]);
  const members = await db.all<Record<string, unknown>>(`
    SELECT m.rec_id, m.source, m.source_record_id, m.match_probability, m.nik, m.name, t.depth, t.p, t.w, pm.source AS parent_source, pm.source_record_id AS parent_id
    FROM ${personMembers} m LEFT JOIN ${tree} t ON t.v = m.rec_id LEFT JOIN ${personMembers} pm ON pm.rec_id = t.parent
    ORDER BY t.depth NULLS LAST, m.source, m.source_record_id`);
  const touching = await db.all<Record<string, unknown>>(`
    SELECT l.source AS source_l, l.source_record_id AS id_l, r.source AS source_r, r.source_record_id AS id_r, k.match_weight, k.match_probability
    FROM ${personLinks} k JOIN ${personMembers} l ON l.rec_id = k.rec_id_l JOIN ${personMembers} r ON r.rec_id = k.rec_id_r
    WHERE $1 IN (k.rec_id_l, k.rec_id_r) ORDER BY k.match_probability DESC, l.source, l.source_record_id, r.source, r.source_record_id`, [me]);
  const linksInPerson = await db.count(`SELECT count(*) FROM ${personLinks}`);
  const nearest = await db.all<Record<string, unknown>>(`
    WITH s AS (
      SELECT rec_id_l, rec_id_r, match_weight::DOUBLE AS match_weight, match_probability::DOUBLE AS match_probability,
        CASE WHEN ${linkableSql(threshold, false)} THEN 'hard negative' ELSE 'below the threshold' END AS reason,
        ${hasHard ? 'coalesce(hard_negative, false)' : 'false'} AS hard_negative
      FROM ${scored} WHERE $1 IN (rec_id_l, rec_id_r) AND NOT (${linkable}))
    SELECT o.source, o.source_record_id, dl.dtsen_id, s.match_weight, s.match_probability, s.reason, s.hard_negative
    FROM s JOIN person_clean o ON o.rec_id = CASE WHEN s.rec_id_l = $1 THEN s.rec_id_r ELSE s.rec_id_l END
    LEFT JOIN dtsen_link dl ON dl.source = o.source AND dl.source_record_id = o.source_record_id
    ORDER BY s.match_probability DESC, o.source, o.source_record_id LIMIT 5`, [me]);

  return {
    record: formatRef(rec),
    rec_id: rec.recId,
    dtsen_id: person.dtsen_id,
    threshold,
    members: members.map((m) => ({
      record: ref(m.source, m.source_record_id),
      rec_id: String(m.rec_id),
      match_probability: Number(m.match_probability),
      depth: m.depth === null ? null : Number(m.depth),
      parent: m.parent_source === null ? null : ref(m.parent_source, m.parent_id),
      link_probability: m.p === null ? null : Number(m.p),
      link_weight: m.w === null ? null : Number(m.w),
      ...(opts.showValues ? { nik: (m.nik as string | null) ?? null, name: (m.name as string | null) ?? null } : {}),
    })),
    links_touching: touching.map((t) => ({
      record_l: ref(t.source_l, t.id_l),
      record_r: ref(t.source_r, t.id_r),
      match_weight: Number(t.match_weight),
      match_probability: Number(t.match_probability),
    })),
    links_in_person: linksInPerson,
    nearest_not_linked: nearest.map((n) => ({
      record: ref(n.source, n.source_record_id),
      dtsen_id: (n.dtsen_id as string | null) ?? null,
      match_weight: Number(n.match_weight),
      match_probability: Number(n.match_probability),
      hard_negative: n.hard_negative === true,
      reason: n.reason as NotLinked['reason'],
    })),
    values_shown: opts.showValues,
  };
}
