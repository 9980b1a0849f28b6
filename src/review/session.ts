/**
 * One review session over a finished batch: the queues (queues.ts), what the reviewer has revealed, and the
 * decisions — written to the decisions store at once (appendDecision: one whole line, flushed to disk) and kept
 * in a TEMP table beside the ones the store already held, so that the queues skip what is decided and the
 * progress figures count it. Reveals are written to the audit log with the reviewer's name and time. Nothing else
 * is written: the batch is opened read-only (openBatch).
 *
 * Every database call goes through one queue (p-queue, one at a time): the connection is shared.
 */
import { existsSync } from 'node:fs';
import PQueue from 'p-queue';
import { lit } from '../engine/db.ts';
import type { OpenBatch } from '../engine/batch.ts';
import { InputError } from '../engine/errors.ts';
import type { Model } from '../../schemas/model.ts';
import { DECIDABLE_FIELDS, type Decision, type ReviewQueue } from '../../schemas/decision.ts';
import { appendDecision, appendLine, readDecisions } from '../register/decisions.ts';
import { buildQueues, queueCounts, queueTable, QUEUES, type QueueName } from './queues.ts';
import { familyContext, pairWaterfall, recordsOf, storedWaterfall } from './views.ts';

export interface SessionOptions {
  batch: OpenBatch;
  model: Model;
  threshold: number;
  store: string;
  audit: string;
  reviewer?: string;
  /** half-width of the uncertain band in bits */
  band: number;
}

type PairKind = 'same_person' | 'different_persons' | 'unsure';
const PAIR_KINDS: readonly PairKind[] = ['same_person', 'different_persons', 'unsure'];
/** most different-persons decisions one split may write (every record of one part against every one of the other) */
export const MAX_SPLIT_PAIRS = 400;

const today = () => new Date().toISOString().slice(0, 10);
const refSql = (t: string) => `${t}.source || ':' || ${t}.source_record_id`;

export class ReviewSession {
  readonly batch: OpenBatch;
  readonly model: Model;
  readonly threshold: number;
  readonly store: string;
  readonly audit: string;
  readonly band: number;
  reviewer: string | undefined;
  /** records (source:id) and persons (dtsen_id) whose values the reviewer revealed */
  readonly revealed = new Set<string>();
  /** per queue, the positions decided (in the store before, or in this session) */
  readonly done: Record<QueueName, Set<number>> = { pairs: new Set(), clusters: new Set(), persons: new Set(), decisions: new Set() };
  private readonly dbq = new PQueue({ concurrency: 1 });
  /** what a decision on a pair of the queue needs, noted when the pair is shown: no database work to decide it */
  private readonly pairMeta = new Map<number, { refs: [string, string]; model: 'same' | 'different'; probability: number }>();
  /** the notes of decisions in rv_store not awaited by the decision (pair queue) */
  private noting: Promise<unknown> = Promise.resolve();
  private writing = Promise.resolve();
  startedMs = 0;
  written = 0;

  constructor(o: SessionOptions) {
    this.batch = o.batch;
    this.model = o.model;
    this.threshold = o.threshold;
    this.store = o.store;
    this.audit = o.audit;
    this.reviewer = o.reviewer;
    this.band = o.band;
  }

  private get db() {
    return this.batch.db;
  }

  /** Runs database work one call at a time. */
  private q<T>(work: () => Promise<T>): Promise<T> {
    return this.dbq.add(work) as Promise<T>;
  }

  /** Builds the queues and reads the store: what it decided already is done. */
  async start(): Promise<void> {
    const t0 = performance.now();
    await buildQueues(this.db, { band: this.band, threshold: this.threshold });
    await this.db.run(`CREATE OR REPLACE TEMP TABLE rv_store (line INTEGER, kind VARCHAR, a VARCHAR, b VARCHAR, target VARCHAR, field VARCHAR, queue VARCHAR, model VARCHAR, this_session BOOLEAN)`);
    const stored = existsSync(this.store) ? await readDecisions(this.store) : [];
    for (let i = 0; i < stored.length; i += 500) {
      const rows = stored.slice(i, i + 500).map(({ line, decision }) => this.storeRow(line, decision, false));
      await this.db.run(`INSERT INTO rv_store VALUES ${rows.join(', ')}`);
    }
    await this.refreshDone();
    this.startedMs = performance.now() - t0;
  }

  private storeRow(line: number, d: Decision, thisSession: boolean): string {
    const v = (x: string | undefined | null) => (x === undefined || x === null ? 'NULL' : lit(x));
    const pair = d.kind === 'field_value' ? [undefined, undefined] : d.records;
    return `(${line}, ${lit(d.kind)}, ${v(pair[0])}, ${v(pair[1])}, ${v(d.kind === 'field_value' ? d.target : undefined)}, ${v(d.kind === 'field_value' ? d.field : undefined)}, ${v(d.review?.queue)}, ${v(d.review?.model)}, ${thisSession})`;
  }

  /** The positions of every queue that the store's decisions settle. */
  private async refreshDone(): Promise<void> {
    const rows = await this.db.all<{ queue: QueueName; pos: number }>(`
      WITH s2 AS (SELECT a, b, line FROM rv_store WHERE a IS NOT NULL UNION ALL SELECT b, a, line FROM rv_store WHERE a IS NOT NULL),
      refs AS (SELECT a AS ref, queue FROM rv_store WHERE a IS NOT NULL UNION ALL SELECT b, queue FROM rv_store WHERE b IS NOT NULL)
      SELECT 'pairs' AS queue, p.pos FROM rv_pair p JOIN rv_rec x ON x.rec_id = p.rec_id_l JOIN rv_rec y ON y.rec_id = p.rec_id_r
        JOIN s2 ON s2.a = ${refSql('x')} AND s2.b = ${refSql('y')}
      UNION SELECT 'clusters', c.pos FROM rv_cluster c JOIN rv_cc g ON g.grp = c.grp JOIN clusters k ON k.cluster_id = g.cluster_id
        JOIN rv_rec r ON r.rec_id = k.rec_id JOIN refs ON refs.ref = ${refSql('r')} AND refs.queue = 'clusters'
      UNION SELECT 'persons', p.pos FROM rv_person p JOIN rv_store s ON s.kind = 'field_value' AND s.target = p.dtsen_id
      UNION SELECT 'persons', p.pos FROM rv_person p JOIN dtsen_link l ON l.dtsen_id = p.dtsen_id
        JOIN rv_store s ON s.kind = 'field_value' AND s.target = ${refSql('l')}
      UNION SELECT 'decisions', d.pos FROM rv_decision d JOIN s2 ON s2.line > d.decision_no
        AND s2.a = d.source_l || ':' || d.source_record_id_l AND s2.b = d.source_r || ':' || d.source_record_id_r
      UNION SELECT 'decisions', d.pos FROM rv_decision d JOIN rv_store s ON s.line > d.decision_no AND s.kind = 'field_value'
        AND s.target = d.target AND s.field = d.field`);
    for (const r of rows) this.done[r.queue].add(Number(r.pos));
  }

  // ---------------------------------------------------------------- state and queues

  async state() {
    return this.q(async () => {
      const counts = await queueCounts(this.db);
      const progress = await this.db.all<{ queue: string | null; kind: string; n: string; this_session: string }>(`
        SELECT queue, kind, count(*) AS n, count(*) FILTER (WHERE this_session) AS this_session FROM rv_store GROUP BY ALL ORDER BY queue NULLS LAST, kind`);
      const agreement = await this.db.one<{ n: string; overturned: string }>(`
        SELECT count(*) AS n, count(*) FILTER (WHERE (kind = 'same_person' AND model = 'different') OR (kind = 'different_persons' AND model = 'same')) AS overturned
        FROM rv_store WHERE model IS NOT NULL AND kind IN ('same_person', 'different_persons')`);
      const n = Number(agreement?.n ?? 0);
      return {
        reviewer: this.reviewer ?? null,
        batch: this.batch.dir,
        threshold: this.threshold,
        band_bits: this.band,
        store: this.store,
        queues: counts.map((c) => ({ ...c, done: this.done[c.queue].size })),
        progress: progress.map((p) => ({ queue: p.queue ?? 'outside the app', kind: p.kind, decisions: Number(p.n), this_session: Number(p.this_session) })),
        agreement: { pair_decisions: n, overturned: Number(agreement?.overturned ?? 0), overturned_share: n ? Number(agreement?.overturned ?? 0) / n : null },
        fields: Object.keys(DECIDABLE_FIELDS),
      };
    });
  }

  /** Up to `limit` items of a queue from `offset` (done ones marked), for its list: no personal values. */
  async list(queue: QueueName, offset: number, limit: number) {
    return this.q(async () => {
      const t = queueTable(queue);
      const extra: Record<QueueName, string> = {
        pairs: `(SELECT ${refSql('r')} FROM rv_rec r WHERE r.rec_id = t.rec_id_l) AS record_l, (SELECT ${refSql('r')} FROM rv_rec r WHERE r.rec_id = t.rec_id_r) AS record_r, match_weight, match_probability, same_person, hard_negative`,
        clusters: `n_records, n_conflicts, outcome, reasons`,
        persons: `dtsen_id, types, n_records`,
        decisions: `decision_no, kind, status, detail, reference`,
      };
      const rows = await this.db.all<Record<string, unknown>>(`SELECT pos, priority, ${extra[queue]} FROM ${t} t WHERE pos > $1 ORDER BY pos LIMIT ${limit}`, [offset]);
      return rows.map((r) => ({ ...r, done: this.done[queue].has(Number(r.pos)) }));
    });
  }

  /** The first position after `after` not decided yet (wrapping round to the start), or null. */
  async next(queue: QueueName, after: number): Promise<number | null> {
    return this.q(async () => {
      const t = queueTable(queue);
      for (const [from, to] of [[after, Number.MAX_SAFE_INTEGER], [0, after + 1]] as const) {
        let cursor = from;
        for (;;) {
          const rows = await this.db.all<{ pos: number }>(`SELECT pos FROM ${t} WHERE pos > $1 AND pos < $2 ORDER BY pos LIMIT 64`, [cursor, Math.min(to, 2_000_000_000)]);
          if (rows.length === 0) break;
          const free = rows.find((r) => !this.done[queue].has(Number(r.pos)));
          if (free) return Number(free.pos);
          cursor = Number(rows[rows.length - 1].pos);
        }
      }
      return null;
    });
  }

  // ---------------------------------------------------------------- views

  async pairAt(pos: number) {
    return this.q(async () => {
      const row = await this.db.one<Record<string, unknown>>(`SELECT * FROM rv_pair WHERE pos = $1`, [pos]);
      if (!row) throw new InputError(`the pair queue has no item ${pos}`);
      const recIds = [String(row.rec_id_l), String(row.rec_id_r)];
      const { records, fields } = await recordsOf(this.db, 'rv_rec', recIds, this.revealed);
      this.pairMeta.set(pos, { refs: [records[0].record, records[1].record], model: row.same_person === true ? 'same' : 'different', probability: Number(row.match_probability) });
      if (this.pairMeta.size > 10_000) this.pairMeta.delete(this.pairMeta.keys().next().value!);
      return {
        queue: 'pairs' as const,
        pos,
        priority: Number(row.priority),
        done: this.done.pairs.has(pos),
        records,
        fields,
        waterfall: storedWaterfall(row, this.model, this.threshold),
        same_person: row.same_person === true,
        linked: row.linked === true,
        context: await familyContext(this.db, records, 'rv_rec'),
      };
    });
  }

  /** Any two records (from the decisions queue, a cluster, a search). */
  async pairOf(refs: [string, string]) {
    return this.q(async () => {
      const ids = await this.recIds(refs);
      const { records, fields } = await recordsOf(this.db, 'person_clean', ids, this.revealed);
      const waterfall = await pairWaterfall(this.batch, this.model, this.threshold, ids[0], ids[1]);
      const same = records[0].dtsen_id !== null && records[0].dtsen_id === records[1].dtsen_id;
      return { queue: null, pos: null, priority: null, done: false, records, fields, waterfall, same_person: same, linked: waterfall.linkable, context: await familyContext(this.db, records, 'person_clean') };
    });
  }

  private async recIds(refs: string[]): Promise<string[]> {
    const out: string[] = [];
    for (const ref of refs) {
      const i = ref.indexOf(':');
      const row = i > 0 ? await this.db.one<{ rec_id: string }>(`SELECT rec_id::VARCHAR AS rec_id FROM person_clean WHERE source = $1 AND source_record_id = $2`, [ref.slice(0, i), ref.slice(i + 1)]) : undefined;
      if (!row) throw new InputError(`the batch holds no record ${ref}`);
      out.push(row.rec_id);
    }
    return out;
  }

  async clusterAt(pos: number) {
    return this.q(async () => {
      const item = await this.db.one<{ grp: string; outcome: string; reasons: string[]; clusters: string[]; priority: number }>(
        `SELECT grp::VARCHAR AS grp, outcome, reasons, clusters::VARCHAR[] AS clusters, priority FROM rv_cluster WHERE pos = $1`, [pos]);
      if (!item) throw new InputError(`the cluster queue has no item ${pos}`);
      const members = await this.db.all<{ rec_id: string; cluster_id: string }>(`
        SELECT c.rec_id::VARCHAR AS rec_id, c.cluster_id::VARCHAR AS cluster_id FROM rv_cc g JOIN clusters c ON c.cluster_id = g.cluster_id WHERE g.grp = $1 ORDER BY c.rec_id`, [BigInt(item.grp)]);
      const ids = members.map((m) => m.rec_id);
      const { records, fields } = await recordsOf(this.db, 'rv_rec', ids, this.revealed);
      const inList = ids.map((x) => BigInt(x)).join(', ');
      const edges = ids.length
        ? await this.db.all<{ rec_id_l: string; rec_id_r: string; match_weight: number; match_probability: number; hard_negative: boolean | null }>(`
            SELECT rec_id_l::VARCHAR AS rec_id_l, rec_id_r::VARCHAR AS rec_id_r, match_weight, match_probability, ${(await this.db.columnExists('scored_pairs', 'hard_negative')) ? 'hard_negative' : 'false AS hard_negative'}
            FROM scored_pairs WHERE rec_id_l IN (${inList}) AND rec_id_r IN (${inList}) ORDER BY rec_id_l, rec_id_r`)
        : [];
      const conflicts = ids.length
        ? await this.db.all<{ rec_id_l: string; rec_id_r: string; reason: string; outcome: string }>(`
            SELECT rec_id_l::VARCHAR AS rec_id_l, rec_id_r::VARCHAR AS rec_id_r, reason, outcome FROM cluster_conflicts WHERE rec_id_l IN (${inList}) AND rec_id_r IN (${inList})`)
        : [];
      const ref = new Map(records.map((r) => [r.rec_id, r.record]));
      const cluster = new Map(members.map((m) => [m.rec_id, m.cluster_id]));
      return {
        queue: 'clusters' as const,
        pos,
        priority: Number(item.priority),
        done: this.done.clusters.has(pos),
        outcome: item.outcome,
        reasons: item.reasons,
        records: records.map((r) => ({ ...r, cluster_id: cluster.get(r.rec_id) ?? null })),
        fields,
        edges: edges.map((e) => ({
          l: ref.get(e.rec_id_l), r: ref.get(e.rec_id_r), match_weight: Number(e.match_weight), match_probability: Number(e.match_probability),
          linked: Number(e.match_probability) >= this.threshold && e.hard_negative !== true, hard_negative: e.hard_negative === true,
        })),
        conflicts: conflicts.map((c) => ({ l: ref.get(c.rec_id_l), r: ref.get(c.rec_id_r), reason: c.reason, outcome: c.outcome })),
      };
    });
  }

  async personAt(pos: number) {
    const row = await this.q(() => this.db.one<{ dtsen_id: string }>(`SELECT dtsen_id FROM rv_person WHERE pos = $1`, [pos]));
    if (!row) throw new InputError(`the person queue has no item ${pos}`);
    return { ...(await this.person(row.dtsen_id)), queue: 'persons' as const, pos, done: this.done.persons.has(pos) };
  }

  /** A golden record: masked unless revealed, its lineage, conflicts, family and the decisions that touched it. */
  async person(dtsenId: string) {
    return this.q(async () => {
      const p = await this.db.one<Record<string, unknown>>(`SELECT * EXCLUDE (source_record_ids) FROM dtsen_person WHERE dtsen_id = $1`, [dtsenId]);
      if (!p) throw new InputError(`the batch holds no person ${dtsenId}`);
      const shown = this.revealed.has(dtsenId);
      const PERSONAL = new Set(['nik', 'name', 'birth_date', 'sex', 'village_code', 'district_code', 'rt', 'rw', 'address', 'no_kk']);
      const golden = Object.fromEntries(Object.entries(p).map(([k, v]) => {
        const val = v === null || v === undefined ? null : Array.isArray(v) ? v.join(', ') : typeof v === 'object' ? String(v) : String(v);
        return [k, PERSONAL.has(k) && !shown ? (val === null ? 'missing' : 'present') : val];
      }));
      const links = await this.db.all<{ rec_id: string; match_probability: number }>(`SELECT rec_id::VARCHAR AS rec_id, match_probability FROM dtsen_link WHERE dtsen_id = $1 ORDER BY source, source_record_id`, [dtsenId]);
      const recordsShown = new Set(this.revealed);
      if (shown) for (const r of await this.db.all<{ ref: string }>(`SELECT ${refSql('l')} AS ref FROM dtsen_link l WHERE dtsen_id = $1`, [dtsenId])) recordsShown.add(r.ref);
      const { records, fields } = await recordsOf(this.db, 'person_clean', links.map((l) => l.rec_id), recordsShown);
      const conflicts = await this.db.all<{ conflict_type: string; n_values: number; values: { value: string; source_record_ids: string[] }[]; surviving_value: string }>(
        `SELECT conflict_type, n_values, "values", surviving_value FROM dtsen_conflict WHERE dtsen_id = $1 ORDER BY conflict_type`, [dtsenId]);
      const refs = records.map((r) => r.record);
      const inRefs = refs.length ? refs.map(lit).join(', ') : `''`;
      const batchDecisions = (await this.db.tableExists('decision_status'))
        ? await this.db.all<Record<string, unknown>>(`
            SELECT d.decision_no, d.kind, d.reference, d.author, d.decided_on::VARCHAR AS decided_on, d.field, s.status, s.detail,
              d.source_l || ':' || d.source_record_id_l AS record_l, d.source_r || ':' || d.source_record_id_r AS record_r
            FROM decision d LEFT JOIN decision_status s USING (decision_no)
            WHERE d.target = $1 OR d.target IN (${inRefs}) OR d.source_l || ':' || d.source_record_id_l IN (${inRefs}) OR d.source_r || ':' || d.source_record_id_r IN (${inRefs})
            ORDER BY d.decision_no`, [dtsenId])
        : [];
      const storeDecisions = await this.db.all<Record<string, unknown>>(`
        SELECT line, kind, a AS record_l, b AS record_r, field, queue, this_session FROM rv_store
        WHERE target = $1 OR target IN (${inRefs}) OR a IN (${inRefs}) OR b IN (${inRefs}) ORDER BY line`, [dtsenId]);
      const family = p.family_id
        ? await this.db.one<Record<string, unknown>>(`SELECT family_id, head_dtsen_id, head_basis, n_members, members, decile, programmes FROM dtsen_family WHERE family_id = $1`, [String(p.family_id)])
        : undefined;
      return {
        queue: null as QueueName | null,
        pos: null as number | null,
        done: false,
        dtsen_id: dtsenId,
        revealed: shown,
        golden,
        records: records.map((r) => ({ ...r, match_probability: Number(links.find((l) => l.rec_id === r.rec_id)?.match_probability ?? NaN) })),
        fields,
        conflicts: conflicts.map((c) => ({
          conflict_type: c.conflict_type,
          n_values: Number(c.n_values),
          values: c.values.map((v) => ({ value: shown ? v.value : 'present', records: v.source_record_ids })),
          surviving_value: shown ? c.surviving_value : 'present',
        })),
        decisions_in_batch: batchDecisions,
        decisions_in_store: storeDecisions.map((d) => ({ ...d, line: Number(d.line) })),
        family: family ? { ...family, n_members: Number(family.n_members) } : null,
      };
    });
  }

  async decisionAt(pos: number) {
    return this.q(async () => {
      const d = await this.db.one<Record<string, unknown>>(`SELECT * FROM rv_decision WHERE pos = $1`, [pos]);
      if (!d) throw new InputError(`the decisions queue has no item ${pos}`);
      const records = d.source_l ? [`${d.source_l}:${d.source_record_id_l}`, `${d.source_r}:${d.source_record_id_r}`] : [];
      const present = records.length
        ? await this.db.all<{ ref: string }>(`SELECT ${refSql('p')} AS ref FROM person_clean p WHERE ${refSql('p')} IN (${records.map(lit).join(', ')})`)
        : [];
      return {
        queue: 'decisions' as const, pos, done: this.done.decisions.has(pos),
        decision_no: Number(d.decision_no), kind: d.kind, status: d.status, detail: d.detail, reference: d.reference,
        records, target: d.target, field: d.field,
        records_in_batch: present.map((r) => r.ref),
      };
    });
  }

  /** By record (SOURCE:ID or the source's id alone), dtsen_id, NIK or name: the persons found, no values. */
  async search(text: string) {
    const q = text.trim();
    if (!q) return [];
    return this.q(async () => {
      const found = new Map<string, string>();
      const add = (rows: { dtsen_id: string }[], via: string) => rows.forEach((r) => found.has(r.dtsen_id) || found.set(r.dtsen_id, via));
      if (/^DT[0-9A-Fa-f]{16}$/.test(q)) add(await this.db.all(`SELECT dtsen_id FROM dtsen_person WHERE dtsen_id = $1`, [q.toUpperCase()]), 'dtsen_id');
      if (/^\d{16}$/.test(q)) {
        add(await this.db.all(`SELECT dtsen_id FROM dtsen_person WHERE nik = $1 LIMIT 50`, [q]), 'NIK');
        add(await this.db.all(`SELECT l.dtsen_id FROM person_clean p JOIN dtsen_link l USING (rec_id) WHERE p.nik_digits = $1 LIMIT 50`, [q]), 'NIK of a record');
      }
      const colon = q.indexOf(':');
      if (colon > 0) add(await this.db.all(`SELECT dtsen_id FROM dtsen_link WHERE source = $1 AND source_record_id = $2`, [q.slice(0, colon).toLowerCase(), q.slice(colon + 1)]), 'record');
      add(await this.db.all(`SELECT dtsen_id FROM dtsen_link WHERE source_record_id = $1 LIMIT 50`, [q]), 'record id');
      if (/[A-Za-z]/.test(q) && q.length >= 3) {
        add(await this.db.all(`SELECT dtsen_id FROM dtsen_person WHERE name = upper($1) ORDER BY dtsen_id LIMIT 50`, [q]), 'name');
        add(await this.db.all(`SELECT dtsen_id FROM dtsen_person WHERE contains(name, upper($1)) ORDER BY dtsen_id LIMIT 50`, [q]), 'part of the name');
      }
      const ids = [...found.keys()].slice(0, 50);
      if (!ids.length) return [];
      const rows = await this.db.all<{ dtsen_id: string; n_records: number; sources: string[]; decile: number | null }>(
        `SELECT dtsen_id, n_records, sources, decile FROM dtsen_person WHERE dtsen_id IN (${ids.map(lit).join(', ')}) ORDER BY dtsen_id`);
      return rows.map((r) => ({ dtsen_id: r.dtsen_id, n_records: Number(r.n_records), sources: r.sources, decile: r.decile === null ? null : Number(r.decile), found_by: found.get(r.dtsen_id) }));
    });
  }

  // ---------------------------------------------------------------- writing

  private requireReviewer(): string {
    if (!this.reviewer) throw new InputError('the reviewer has not given a name yet');
    return this.reviewer;
  }

  /**
   * Appends decisions to the store, one at a time in order, and notes them in rv_store (awaited, or not when
   * `awaitNote` is false: the caller keeps its own mark). Returns their lines once they are on disk.
   */
  private async write(decisions: Decision[], awaitNote = true): Promise<number[]> {
    const run = this.writing.then(async () => {
      const lines: number[] = [];
      for (const d of decisions) {
        const line = await appendDecision(this.store, d);
        lines.push(line);
        this.written++;
        const note = this.q(() => this.db.run(`INSERT INTO rv_store VALUES ${this.storeRow(line, d, true)}`));
        if (awaitNote) await note;
        else this.noting = Promise.all([this.noting, note.catch(() => undefined)]);
      }
      return lines;
    });
    this.writing = run.then(() => undefined, () => undefined);
    return run;
  }

  private common(note: string | undefined, reference: string | undefined, fallback: string) {
    return {
      reference: reference?.trim() || `REVIEW-${today()}`,
      author: this.requireReviewer(),
      date: today(),
      reason: note?.trim() || fallback,
    };
  }

  /** A decision on a pair: of the pair queue (pos), or of any two records (from another queue). */
  async decidePair(input: { kind: string; pos?: number; records?: [string, string]; queue?: ReviewQueue; note?: string; reference?: string }) {
    const kind = input.kind as PairKind;
    if (!PAIR_KINDS.includes(kind)) throw new InputError(`unknown kind of decision '${input.kind}'`, { expected: PAIR_KINDS.join(', ') });
    let refs: [string, string];
    let model: 'same' | 'different';
    let probability: number | undefined;
    let queue: ReviewQueue = input.queue ?? 'pairs';
    const pos = input.pos;
    const meta = pos !== undefined ? this.pairMeta.get(pos) : undefined;
    if (pos !== undefined && (input.queue ?? 'pairs') === 'pairs' && meta) {
      refs = meta.refs;
      model = meta.model;
      probability = meta.probability;
    } else if (pos !== undefined && (input.queue ?? 'pairs') === 'pairs') {
      const row = await this.q(() => this.db.one<{ l: string; r: string; same_person: boolean; match_probability: number }>(`
        SELECT ${refSql('a')} AS l, ${refSql('b')} AS r, same_person, match_probability FROM rv_pair p JOIN rv_rec a ON a.rec_id = p.rec_id_l JOIN rv_rec b ON b.rec_id = p.rec_id_r WHERE pos = $1`, [pos]));
      if (!row) throw new InputError(`the pair queue has no item ${pos}`);
      refs = [row.l, row.r];
      model = row.same_person ? 'same' : 'different';
      probability = Number(row.match_probability);
      queue = 'pairs';
    } else if (input.records && input.records.length === 2) {
      refs = input.records;
      const pair = await this.pairOf(refs);
      model = pair.same_person ? 'same' : 'different';
      probability = pair.waterfall.match_probability;
    } else throw new InputError('a pair decision names the pair queue position (pos) or two records');
    const fallback = { same_person: 'clerical review: same person', different_persons: 'clerical review: different persons', unsure: 'clerical review: unsure' }[kind];
    const decision = { kind, records: refs, ...this.common(input.note, input.reference, fallback), review: { queue, model, ...(probability !== undefined && Number.isFinite(probability) ? { match_probability: probability } : {}), at: new Date().toISOString() } } as Decision;
    const inQueue = queue === 'pairs' && pos !== undefined;
    // a pair of the queue is marked done here, in memory: its note in rv_store (progress figures) follows
    const [line] = await this.write([decision], !inQueue);
    if (inQueue) this.done.pairs.add(pos);
    else await this.q(() => this.refreshDone());
    return { lines: [line] };
  }

  /** Splits a cluster of the cluster queue: the records chosen are one part, the others the rest. */
  async split(input: { pos: number; records: string[]; note?: string; reference?: string }) {
    const view = await this.clusterAt(input.pos);
    const all = view.records.map((r) => r.record);
    const part = new Set(input.records.filter((r) => all.includes(r)));
    const rest = all.filter((r) => !part.has(r));
    if (part.size === 0 || rest.length === 0) throw new InputError('choose some of the cluster\'s records, not none and not all');
    if (part.size * rest.length > MAX_SPLIT_PAIRS) throw new InputError(`this split would write ${part.size * rest.length} decisions`, { expected: `at most ${MAX_SPLIT_PAIRS}: split off fewer records at a time` });
    const sameNow = new Map(view.records.map((r) => [r.record, r.dtsen_id]));
    const base = this.common(input.note, input.reference, 'clerical review: cluster split');
    const at = new Date().toISOString();
    const decisions = [...part].flatMap((a) => rest.map((b) => ({
      kind: 'different_persons', records: [a, b], ...base,
      review: { queue: 'clusters', model: sameNow.get(a) !== null && sameNow.get(a) === sameNow.get(b) ? 'same' : 'different', at },
    }) as Decision));
    const lines = await this.write(decisions);
    this.done.clusters.add(input.pos);
    return { lines };
  }

  /** A corrected value of a golden record's field, with its reference. */
  async fieldValue(input: { dtsen_id: string; field: string; value: string; reference?: string; note?: string; queue?: ReviewQueue }) {
    if (!input.reference?.trim()) throw new InputError('a field decision needs its reference (the usul/sanggah number or groundcheck form)');
    const decision = { kind: 'field_value', target: input.dtsen_id, field: input.field, value: input.value, ...this.common(input.note, input.reference, 'clerical review: field corrected'), review: { queue: input.queue ?? 'persons', at: new Date().toISOString() } };
    const lines = await this.write([decision as unknown as Decision]);
    await this.q(() => this.refreshDone());
    return { lines };
  }

  /** Reveals the values of records or of a person, written to the audit log first. */
  async reveal(input: { records?: string[]; dtsen_id?: string; view: string }) {
    const who = this.requireReviewer();
    const records = (input.records ?? []).filter((r) => typeof r === 'string' && r.includes(':')).slice(0, 200);
    const person = input.dtsen_id && /^DT[0-9A-F]{16}$/.test(input.dtsen_id) ? input.dtsen_id : undefined;
    if (!records.length && !person) throw new InputError('a reveal names records or a person');
    await this.auditLine({ action: 'reveal', view: String(input.view ?? ''), records, ...(person ? { dtsen_id: person } : {}) }, who);
    for (const r of records) this.revealed.add(r);
    if (person) this.revealed.add(person);
    return { revealed: records.length + (person ? 1 : 0) };
  }

  async auditLine(entry: Record<string, unknown>, reviewer = this.reviewer): Promise<void> {
    await appendLine(this.audit, `${JSON.stringify({ time: new Date().toISOString(), reviewer: reviewer ?? null, batch: this.batch.dir, ...entry })}\n`);
  }

  async setReviewer(name: string): Promise<void> {
    const n = name.trim();
    if (!n || n.length > 100) throw new InputError('a reviewer name of 1 to 100 characters is needed');
    this.reviewer = n;
    await this.auditLine({ action: 'session', store: this.store });
  }

  async idle(): Promise<void> {
    await this.writing;
    await this.noting;
    await this.dbq.onIdle();
  }
}

/** Decisions this session appended (counted as they were written). */
export function writtenThisSession(s: ReviewSession): number {
  return s.written;
}

export { QUEUES };
