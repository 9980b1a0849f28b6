/**
 * What each view of the review app shows, read from the batch (and the queues' TEMP tables) in SQL. Personal
 * values (NIK, name, birth date, sex, family card, address, village) leave the server only for records the
 * reviewer revealed: otherwise a field says whether it is present, and beside a pair whether the two agree — the
 * comparison is made here, on the values, so the page learns nothing else.
 */
import type { Db } from '../engine/db.ts';
import type { OpenBatch } from '../engine/batch.ts';
import type { Model } from '../../schemas/model.ts';
import { COMPARISONS } from '../linkage/comparisons.ts';
import { priorWeight } from '../linkage/score.ts';
import { FAMILY_SUPPORT_LEVELS } from '../linkage/family-support.ts';
import { MASK_MISSING, MASK_PRESENT, RECORD_FIELDS, scorePairsOf, type ComparisonTerm } from '../explain/pair.ts';
import { formatRef } from '../explain/batch.ts';
import type { SourceName } from '../../schemas/canonical.ts';

export interface ShownRecord {
  record: string;
  rec_id: string;
  source: string;
  dtsen_id: string | null;
  revealed: boolean;
  fields: Record<string, string | null>;
}

export interface FieldRow {
  field: string;
  personal: boolean;
  values: (string | null)[];
  /** every record states it and all agree (true), some differ (false), or too few state it (null) */
  same: boolean | null;
}

const mask = (v: string | null) => (v === null ? MASK_MISSING : MASK_PRESENT);

/** Records by rec_id, masked unless revealed, with per field whether they agree. */
export async function recordsOf(db: Db, table: string, recIds: string[], revealed: Set<string>): Promise<{ records: ShownRecord[]; fields: FieldRow[] }> {
  if (recIds.length === 0) return { records: [], fields: [] };
  const rows = await db.all<Record<string, string | null>>(`
    SELECT r.rec_id::VARCHAR AS rec_id, r.source, r.source_record_id, ${table === 'rv_rec' ? 'r.dtsen_id' : 'l.dtsen_id'}, ${RECORD_FIELDS.map((f, i) => `${f.sql} AS f${i}`).join(', ')}
    FROM ${table} r ${table === 'rv_rec' ? '' : 'LEFT JOIN dtsen_link l ON l.rec_id = r.rec_id'}
    WHERE r.rec_id IN (${recIds.map((x) => BigInt(x)).join(', ')}) ORDER BY r.rec_id`);
  const records = rows.map((row): ShownRecord => {
    const record = formatRef({ source: row.source as SourceName, sourceRecordId: String(row.source_record_id) });
    const shown = revealed.has(record);
    return {
      record,
      rec_id: String(row.rec_id),
      source: String(row.source),
      dtsen_id: row.dtsen_id ?? null,
      revealed: shown,
      fields: Object.fromEntries(RECORD_FIELDS.map((f, i) => [f.field, f.personal && !shown ? mask(row[`f${i}`] ?? null) : (row[`f${i}`] ?? null)])),
    };
  });
  const fields = RECORD_FIELDS.map((f, i): FieldRow => {
    const raw = rows.map((r) => r[`f${i}`] ?? null);
    const stated = raw.filter((v) => v !== null);
    return {
      field: f.field,
      personal: f.personal,
      values: records.map((r) => r.fields[f.field]),
      same: stated.length < 2 ? null : stated.every((v) => v === stated[0]),
    };
  });
  return { records, fields };
}

export interface Waterfall {
  prior: { lambda: number; weight: number };
  comparisons: ComparisonTerm[];
  match_weight: number;
  match_probability: number;
  threshold: number;
  hard_negative: boolean;
  over_threshold: boolean;
  linkable: boolean;
  /** read from scored_pairs, or scored now by `dtsen explain`'s function (a pair blocking never proposed) */
  from: 'scored_pairs' | 'explain';
}

/**
 * The waterfall of a scored pair from its stored row (gamma_*, bf_*, tf_*), summed in the order and with the
 * labels `dtsen explain` uses (src/explain/pair.ts): the same numbers, without rescoring the pair.
 */
export function storedWaterfall(row: Record<string, unknown>, model: Model, threshold: number): Waterfall {
  const byName = new Map(model.comparisons.map((c) => [c.name, c]));
  const prior = priorWeight(model);
  let running = prior;
  const comparisons = COMPARISONS.filter((c) => `bf_${c.name}` in row).map((c): ComparisonTerm => {
    const gamma = Number(row[`gamma_${c.name}`]);
    const weight = Number(row[`bf_${c.name}`]);
    const tf = `tf_${c.name}` in row ? Number(row[`tf_${c.name}`]) : null;
    running += weight + (tf ?? 0);
    const mc = byName.get(c.name);
    return {
      comparison: c.name,
      description: mc?.description ?? c.description,
      gamma,
      level: gamma < 0 ? 'no evidence: a value is missing' : (mc?.levels[gamma]?.label ?? c.levels[gamma]?.label ?? `level ${gamma}`),
      weight,
      tf_adjustment: tf,
      running,
    };
  });
  // the family support (src/linkage/family-support.ts), weighed after the comparisons
  if (row.family_support === 'supported' || row.family_support === 'unsupported') {
    const weight = Number(row.bf_family_support ?? 0);
    running += weight;
    comparisons.push({
      comparison: 'family_support',
      description: 'other pairs of the two families',
      gamma: row.family_support === 'supported' ? 0 : 1,
      level: FAMILY_SUPPORT_LEVELS[row.family_support],
      weight,
      tf_adjustment: null,
      running,
    });
  }
  const p = Number(row.match_probability);
  const hard = row.hard_negative === true;
  return {
    prior: { lambda: model.lambda, weight: prior },
    comparisons,
    match_weight: Number(row.match_weight),
    match_probability: p,
    threshold,
    hard_negative: hard,
    over_threshold: p >= threshold,
    linkable: p >= threshold && !hard,
    from: 'scored_pairs',
  };
}

/** The waterfall of any two records: the stored row when scored_pairs has it, else scored as `dtsen explain` does. */
export async function pairWaterfall(batch: OpenBatch, model: Model, threshold: number, a: string, b: string): Promise<Waterfall> {
  const [l, r] = BigInt(a) <= BigInt(b) ? [a, b] : [b, a];
  const row = await batch.db.one<Record<string, unknown>>(`SELECT * FROM scored_pairs WHERE rec_id_l = ${BigInt(l)} AND rec_id_r = ${BigInt(r)}`);
  if (row) return storedWaterfall(row, model, threshold);
  const [s] = await scorePairsOf(batch, model, [[l, r]]);
  return {
    prior: s.prior,
    comparisons: s.comparisons,
    match_weight: s.match_weight,
    match_probability: s.match_probability,
    threshold,
    hard_negative: s.hard_negative,
    over_threshold: s.over_threshold,
    linkable: s.linkable,
    from: 'explain',
  };
}

export interface FamilyContext {
  record: string;
  dtsen_id: string | null;
  family_id: string | null;
  /** the family's members: person ids, the head marked, each with its decile and programmes (no personal values) */
  members: { dtsen_id: string; head: boolean; relation: number | null; decile: number | null; programmes: string[]; n_records: number; this: boolean }[];
  /** other records of the same source family id (the source's own household) */
  source_family_records: string[];
}

/**
 * The household and family of each record: its person's family in dtsen_family, and its source family. Point
 * lookups by filter only (no join against a whole table), so that a pair view stays fast on a large batch.
 */
export async function familyContext(db: Db, recs: ShownRecord[], table: string): Promise<FamilyContext[]> {
  if (!recs.length) return [];
  const inList = (xs: string[]) => xs.map((_, i) => `$${i + 1}`).join(', ');
  const personIds = [...new Set(recs.map((r) => r.dtsen_id).filter((x): x is string => x !== null))];
  const persons = personIds.length
    ? await db.all<{ dtsen_id: string; family_id: string | null }>(`SELECT dtsen_id, family_id FROM dtsen_person WHERE dtsen_id IN (${inList(personIds)})`, personIds)
    : [];
  const familyOf = new Map(persons.map((p) => [p.dtsen_id, p.family_id]));
  const familyIds = [...new Set(persons.map((p) => p.family_id).filter((x): x is string => x !== null))];
  const families = familyIds.length
    ? await db.all<{ family_id: string; head: string | null; members: string[] | null }>(`SELECT family_id, head_dtsen_id AS head, members FROM dtsen_family WHERE family_id IN (${inList(familyIds)})`, familyIds)
    : [];
  const family = new Map(families.map((f) => [f.family_id, f]));
  const memberIds = [...new Set(families.flatMap((f) => (f.members ?? []).slice(0, 40)))];
  const members = memberIds.length
    ? await db.all<{ dtsen_id: string; relation: number | null; decile: number | null; programmes: string[] | null; n_records: string }>(`
        SELECT dtsen_id, relation, decile, programmes, n_records FROM dtsen_person WHERE dtsen_id IN (${inList(memberIds)}) ORDER BY dtsen_id`, memberIds)
    : [];
  const member = new Map(members.map((m) => [m.dtsen_id, m]));
  const own = await db.all<{ rec_id: string; source: string; family_id: string | null }>(
    `SELECT rec_id::VARCHAR AS rec_id, source, family_id FROM ${table} WHERE rec_id IN (${recs.map((r) => BigInt(r.rec_id)).join(', ')})`);
  const srcFamilies = [...new Set(own.map((o) => o.family_id).filter((x): x is string => x !== null))];
  const housemates = srcFamilies.length
    ? await db.all<{ rec_id: string; source: string; family_id: string; source_record_id: string }>(`
        SELECT rec_id::VARCHAR AS rec_id, source, family_id, source_record_id FROM person_clean WHERE family_id IN (${inList(srcFamilies)}) ORDER BY source_record_id LIMIT 200`, srcFamilies)
    : [];
  return recs.map((r) => {
    const o = own.find((x) => x.rec_id === r.rec_id);
    const fid = r.dtsen_id ? (familyOf.get(r.dtsen_id) ?? null) : null;
    const f = fid ? family.get(fid) : undefined;
    return {
      record: r.record,
      dtsen_id: r.dtsen_id,
      family_id: fid,
      members: (f?.members ?? []).slice(0, 40).map((id) => member.get(id)).filter((m) => m !== undefined).map((m) => ({
        dtsen_id: m.dtsen_id,
        head: m.dtsen_id === f?.head,
        relation: m.relation === null ? null : Number(m.relation),
        decile: m.decile === null ? null : Number(m.decile),
        programmes: m.programmes ?? [],
        n_records: Number(m.n_records),
        this: m.dtsen_id === r.dtsen_id,
      })),
      source_family_records: housemates
        .filter((h) => o && o.family_id !== null && h.source === o.source && h.family_id === o.family_id && h.rec_id !== r.rec_id)
        .slice(0, 40)
        .map((h) => `${h.source}:${h.source_record_id}`),
    };
  });
}
