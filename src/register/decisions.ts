/**
 * The decisions store (schemas/decision.ts): read and checked line by line, appended one decision at a time
 * (`dtsen decide`), and loaded into the batch by the decisions stage, which resolves the pair decisions against
 * the batch's records:
 *
 * - a decision naming a record that is not among the batch's accepted records is `orphaned`;
 * - a same_person and a different_persons decision on one pair contradict: the later one (date, then line)
 *   is applied, the other is `contradicted`;
 * - a different_persons decision whose two records are joined by same_person decisions (through third
 *   records) contradicts them: the same_person decisions are applied, it is `contradicted`;
 * - every other pair decision is applied: decision_pair holds them for clustering (src/stages/cluster).
 *
 * Field decisions are resolved by the register stage, once the persons and their ids are known (fields.sql.ts).
 * An `unsure` decision (a reviewer could not tell) is kept: status `kept`, never applied.
 * Nothing is dropped silently: every decision has a row in decision_status, counted in report.json.
 */
import { open, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { Decision } from '../../schemas/decision.ts';
import { InputError } from '../engine/errors.ts';
import { formatZodError } from '../engine/config.ts';
import type { Db } from '../engine/db.ts';
import { lit } from '../engine/db.ts';
import { defineStage, type Ctx } from '../engine/context.ts';
import { connectedComponents } from '../engine/connected-components.ts';

export interface StoredDecision {
  /** line of the store (1-based): the decision's number */
  line: number;
  decision: Decision;
}

/** Every decision of the store, checked; a bad line is an input error naming the file, the line and the field. */
export async function readDecisions(file: string): Promise<StoredDecision[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new InputError('decisions store not found or not readable', { file, expected: 'a JSON-lines file of decisions' });
  }
  const out: StoredDecision[] = [];
  const lines = text.split('\n');
  for (const [i, raw] of lines.entries()) {
    if (!raw.trim()) continue;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      throw new InputError('not a JSON object', { file, row: i + 1, expected: 'one decision as a JSON object a line' });
    }
    const parsed = Decision.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InputError(`invalid decision: ${formatZodError(parsed.error)}`, { file, row: i + 1, column: issue?.path.join('.') || undefined });
    }
    out.push({ line: i + 1, decision: parsed.data });
  }
  return out;
}

/**
 * Appends one decision to the store (created when missing), after checking it and the store: a store that does
 * not read cleanly is not appended to. Returns its line number.
 */
export async function appendDecision(file: string, input: unknown): Promise<number> {
  const parsed = Decision.safeParse(input);
  if (!parsed.success) throw new InputError(`invalid decision:\n  ${formatZodError(parsed.error)}`);
  let text = '';
  if (existsSync(file)) {
    await readDecisions(file);
    text = await readFile(file, 'utf8');
  }
  const lead = text.length && !text.endsWith('\n') ? '\n' : '';
  const lines = text.length ? (text + lead).split('\n').length - 1 : 0;
  await appendLine(file, `${lead}${JSON.stringify(input)}\n`);
  return lines + 1;
}

/**
 * Appends `text` (whole lines) to `file` in one write in append mode — a concurrent append adds its own whole
 * line — and flushes it to the disk before returning, so that a crash after the call has it and a crash during it
 * leaves at most a line the next read names.
 */
export async function appendLine(file: string, text: string): Promise<void> {
  const fh = await open(file, 'a');
  try {
    await fh.write(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const cell = (v: string | undefined | null) => (v === undefined || v === null ? 'NULL' : lit(v));

/** Splits `source:id` at the first colon. */
export function splitRecord(ref: string): [string, string] {
  const i = ref.indexOf(':');
  return [ref.slice(0, i), ref.slice(i + 1)];
}

/** The store's decisions into the table `decision` (one row per decision; `decision_no` its line). */
export async function loadDecisions(db: Db, decisions: readonly StoredDecision[]): Promise<void> {
  await db.run(`
    CREATE OR REPLACE TABLE decision (
      decision_no INTEGER, kind VARCHAR, reference VARCHAR, author VARCHAR, decided_on DATE, reason VARCHAR,
      source_l VARCHAR, source_record_id_l VARCHAR, source_r VARCHAR, source_record_id_r VARCHAR,
      target VARCHAR, field VARCHAR, value VARCHAR, review_queue VARCHAR, review_model VARCHAR, review_probability DOUBLE)`);
  for (let i = 0; i < decisions.length; i += 1000) {
    const rows = decisions.slice(i, i + 1000).map(({ line, decision: d }) => {
      const [sl, il] = d.kind === 'field_value' ? [undefined, undefined] : splitRecord(d.records[0]);
      const [sr, ir] = d.kind === 'field_value' ? [undefined, undefined] : splitRecord(d.records[1]);
      const target = d.kind === 'field_value' ? d.target : undefined;
      return `(${line}, ${lit(d.kind)}, ${lit(d.reference)}, ${lit(d.author)}, ${lit(d.date)}::DATE, ${lit(d.reason)}, ${cell(sl)}, ${cell(il)}, ${cell(sr)}, ${cell(ir)}, ${cell(target)}, ${cell(d.kind === 'field_value' ? d.field : undefined)}, ${cell(d.kind === 'field_value' ? d.value : undefined)}, ${cell(d.review?.queue)}, ${cell(d.review?.model)}, ${d.review?.match_probability ?? 'NULL'})`;
    });
    await db.run(`INSERT INTO decision VALUES ${rows.join(',\n')}`);
  }
  await db.run(`COMMENT ON TABLE decision IS ${lit('the decisions store as this batch read it: one row per decision (decision_no = its line)')}`);
}

/**
 * decision_pair(decision_no, kind, rec_id_l, rec_id_r): the pair decisions clustering applies; decision_status
 * rows of the pair decisions (applied, orphaned, contradicted, with the reason). Needs person_clean.
 */
export const RESOLVE_PAIRS_SQL = `
CREATE OR REPLACE TABLE decision_pair_all AS
SELECT d.decision_no, d.kind, d.decided_on, d.reference, l.rec_id AS rec_id_l, r.rec_id AS rec_id_r,
       least(l.rec_id, r.rec_id) AS lo, greatest(l.rec_id, r.rec_id) AS hi,
       CASE WHEN l.rec_id IS NULL AND r.rec_id IS NULL THEN 'records ' || d.source_l || ':' || d.source_record_id_l || ' and ' || d.source_r || ':' || d.source_record_id_r || ' are not in this batch'
            WHEN l.rec_id IS NULL THEN 'record ' || d.source_l || ':' || d.source_record_id_l || ' is not in this batch'
            WHEN r.rec_id IS NULL THEN 'record ' || d.source_r || ':' || d.source_record_id_r || ' is not in this batch' END AS orphan
FROM decision d
LEFT JOIN person_clean l ON l.source = d.source_l AND l.source_record_id = d.source_record_id_l
LEFT JOIN person_clean r ON r.source = d.source_r AND r.source_record_id = d.source_record_id_r
WHERE d.kind IN ('same_person', 'different_persons');

-- one pair, both kinds: the latest decision (date, then line) stands
CREATE OR REPLACE TABLE decision_pair_latest AS
SELECT lo, hi, arg_max(decision_no, (decided_on, decision_no)) AS winner, arg_max(kind, (decided_on, decision_no)) AS kind, count(DISTINCT kind) AS kinds
FROM decision_pair_all WHERE orphan IS NULL GROUP BY lo, hi;

CREATE OR REPLACE TABLE decision_same_edges AS
SELECT DISTINCT a, b FROM (
  SELECT lo AS a, hi AS b FROM decision_pair_latest WHERE kind = 'same_person'
  UNION ALL SELECT hi, lo FROM decision_pair_latest WHERE kind = 'same_person');
`;

export const PAIR_STATUS_SQL = `
CREATE OR REPLACE TABLE decision_pair AS
SELECT a.decision_no, a.kind, a.rec_id_l, a.rec_id_r
FROM decision_pair_all a JOIN decision_pair_latest w ON w.lo = a.lo AND w.hi = a.hi
LEFT JOIN decision_same_cc cl ON cl.rec_id = a.lo LEFT JOIN decision_same_cc cr ON cr.rec_id = a.hi
WHERE a.orphan IS NULL AND a.kind = w.kind
  AND NOT (a.kind = 'different_persons' AND cl.cluster_id IS NOT NULL AND cl.cluster_id = cr.cluster_id)
ORDER BY a.decision_no;
COMMENT ON TABLE decision_pair IS ${lit('the same-person and different-persons decisions clustering applies, as record pairs (rec_id of person_clean)')};

CREATE OR REPLACE TABLE decision_status AS
SELECT a.decision_no, a.kind, a.reference,
       CASE WHEN a.orphan IS NOT NULL THEN 'orphaned'
            WHEN a.kind <> w.kind THEN 'contradicted'
            WHEN a.kind = 'different_persons' AND cl.cluster_id = cr.cluster_id THEN 'contradicted'
            ELSE 'applied' END AS status,
       CASE WHEN a.orphan IS NOT NULL THEN a.orphan
            WHEN a.kind <> w.kind THEN 'contradicts the later decision ' || w.winner || ' on the same records, which is applied'
            WHEN a.kind = 'different_persons' AND cl.cluster_id = cr.cluster_id THEN 'its records are joined by same-person decisions, which are applied'
            WHEN w.kinds > 1 THEN 'applied; an earlier decision on the same records contradicts it' END AS detail
FROM decision_pair_all a
LEFT JOIN decision_pair_latest w ON w.lo = a.lo AND w.hi = a.hi
LEFT JOIN decision_same_cc cl ON cl.rec_id = a.lo LEFT JOIN decision_same_cc cr ON cr.rec_id = a.hi
ORDER BY a.decision_no;
COMMENT ON TABLE decision_status IS ${lit('every decision of the store and what this batch did with it: applied, orphaned (a record or person is gone) or contradicted (with the reason)')};
DROP TABLE decision_same_edges; DROP TABLE decision_same_cc; DROP TABLE decision_pair_latest; DROP TABLE decision_pair_all;
`;

/** With no store: empty tables, so that every later stage reads the same shape. */
const EMPTY_SQL = `
CREATE OR REPLACE TABLE decision_pair (decision_no INTEGER, kind VARCHAR, rec_id_l BIGINT, rec_id_r BIGINT);
CREATE OR REPLACE TABLE decision_status (decision_no INTEGER, kind VARCHAR, reference VARCHAR, status VARCHAR, detail VARCHAR);
`;

export interface DecisionFigures {
  store: string | null;
  decisions: number;
  by_kind: Record<string, number>;
  by_status: Record<string, number>;
}

export async function statusCounts(db: Db): Promise<Record<string, number>> {
  const rows = await db.all<{ k: string; n: string }>(`SELECT status AS k, count(*) AS n FROM decision_status GROUP BY ALL ORDER BY k`);
  return Object.fromEntries(rows.map((r) => [r.k, Number(r.n)]));
}

export async function applyDecisionStore(db: Db, file: string | undefined): Promise<DecisionFigures> {
  if (!file) {
    await db.run(EMPTY_SQL);
    await db.run(`CREATE OR REPLACE TABLE decision AS SELECT * FROM (SELECT 1::INTEGER AS decision_no, NULL::VARCHAR AS kind, NULL::VARCHAR AS reference, NULL::VARCHAR AS author, NULL::DATE AS decided_on, NULL::VARCHAR AS reason, NULL::VARCHAR AS source_l, NULL::VARCHAR AS source_record_id_l, NULL::VARCHAR AS source_r, NULL::VARCHAR AS source_record_id_r, NULL::VARCHAR AS target, NULL::VARCHAR AS field, NULL::VARCHAR AS value, NULL::VARCHAR AS review_queue, NULL::VARCHAR AS review_model, NULL::DOUBLE AS review_probability) WHERE false`);
    return { store: null, decisions: 0, by_kind: {}, by_status: {} };
  }
  const decisions = await readDecisions(file);
  await loadDecisions(db, decisions);
  await db.run(RESOLVE_PAIRS_SQL);
  await connectedComponents(db, 'decision_same_edges', 'decision_same_cc');
  await db.run(PAIR_STATUS_SQL);
  await db.run(`INSERT INTO decision_status SELECT decision_no, kind, reference, 'kept', 'unsure: kept in the store, not applied' FROM decision WHERE kind = 'unsure' ORDER BY decision_no`);
  const byKind: Record<string, number> = {};
  for (const d of decisions) byKind[d.decision.kind] = (byKind[d.decision.kind] ?? 0) + 1;
  return { store: file, decisions: decisions.length, by_kind: byKind, by_status: await statusCounts(db) };
}

/**
 * The decisions stage (after normalise): reads the store named in the config and resolves its pair decisions
 * against this batch's records, for clustering.
 */
export const decisionsStage = defineStage({
  name: 'decisions',
  produces: [
    { name: 'decision_pair', description: 'the same-person and different-persons decisions clustering applies, as record pairs', columns: [{ name: 'decision_no', type: 'INTEGER' }, { name: 'kind', type: 'VARCHAR' }, { name: 'rec_id_l', type: 'BIGINT' }, { name: 'rec_id_r', type: 'BIGINT' }], grain: [] },
    { name: 'decision_status', description: 'every decision of the store and whether this batch applied it', columns: [{ name: 'decision_no', type: 'INTEGER' }, { name: 'kind', type: 'VARCHAR' }, { name: 'status', type: 'VARCHAR' }], grain: ['decision_no'] },
  ],
  async run(ctx: Ctx) {
    const figures = await applyDecisionStore(ctx.db, ctx.config.decisions);
    if ((figures.by_status.orphaned ?? 0) + (figures.by_status.contradicted ?? 0) > 0) {
      ctx.log.warn({ orphaned: figures.by_status.orphaned ?? 0, contradicted: figures.by_status.contradicted ?? 0 }, 'decisions that could not be applied: see decision_status and the report');
    }
    return { rows: figures.decisions, figures: { ...figures } };
  },
});
