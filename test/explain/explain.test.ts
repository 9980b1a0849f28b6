import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thresholdOf } from '../../schemas/config.ts';
import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runMain } from '../fixtures/main.ts';
import { loadConfig } from '../../src/engine/config.ts';
import { silentLogger } from '../../src/engine/log.ts';
import { runBatch } from '../../src/pipeline.ts';
import { familyModelOf } from '../../src/linkage/family-context.ts';
import { priorWeight } from '../../src/linkage/score.ts';
import { levelWeight } from '../../src/linkage/comparison-sql.ts';
import { batchModel, openBatch, resolveRecords, type OpenBatch } from '../../src/explain/batch.ts';
import { scorePairsOf, type PairExplanation } from '../../src/explain/pair.ts';
import type { RecordExplanation } from '../../src/explain/record.ts';
import { treeLines, waterfallBars } from '../../src/explain/render.ts';
import type { Model } from '../../schemas/model.ts';
import { tempDir, writeConfig } from '../fixtures/inputs.ts';

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await runMain(args);
  return { code: r.code, out: r.stdout, err: r.stderr };
}

const SAMPLE = resolve('data-samples/sample');
let dir: string;
let out: string;
let batch: OpenBatch;
let model: Model;

/** "source:id" of a rec_id */
async function refOf(recId: string): Promise<string> {
  const r = await batch.db.one<{ s: string; id: string }>(`SELECT source AS s, source_record_id AS id FROM person_clean WHERE rec_id = ${recId}`);
  return `${r!.s}:${r!.id}`;
}

beforeAll(async () => {
  dir = tempDir('dtsen-explain-');
  out = join(dir, 'out');
  const cfg = writeConfig(dir, { dtks: join(SAMPLE, 'dtks.csv'), regsosek: join(SAMPLE, 'regsosek.parquet'), p3ke: join(SAMPLE, 'p3ke.csv') }, { out });
  await runBatch(await loadConfig(cfg), { log: silentLogger() });
  batch = await openBatch(out);
  model = await batchModel(batch);
});

afterAll(async () => batch?.close());

describe('explaining a pair agrees with scored_pairs', () => {
  let stored: Record<string, unknown>[];
  let explained: Awaited<ReturnType<typeof scorePairsOf>>;

  beforeAll(async () => {
    // 200 scored pairs drawn at random (seeded), the hard negatives and the pairs near the threshold among them.
    stored = await batch.db.all(`
      WITH picked AS (
        SELECT *, 0 AS pri FROM (SELECT * FROM scored_pairs WHERE hard_negative ORDER BY hash(rec_id_l, rec_id_r) LIMIT 25)
        UNION ALL SELECT *, 1 FROM (SELECT * FROM scored_pairs ORDER BY abs(match_probability - 0.99), rec_id_l, rec_id_r LIMIT 25)
        UNION ALL SELECT *, 2 FROM (SELECT * FROM scored_pairs ORDER BY hash(rec_id_l, rec_id_r, 7) LIMIT 400))
      SELECT * EXCLUDE (pri) FROM (
        SELECT * FROM picked QUALIFY row_number() OVER (PARTITION BY rec_id_l, rec_id_r ORDER BY pri) = 1
        ORDER BY pri, hash(rec_id_l, rec_id_r) LIMIT 200)
      ORDER BY rec_id_l, rec_id_r`);
    // Given in both orders: explain puts the smaller rec_id left, as scored_pairs does.
    explained = await scorePairsOf(batch, model, stored.map((s, i) => (i % 2 ? [String(s.rec_id_r), String(s.rec_id_l)] : [String(s.rec_id_l), String(s.rec_id_r)])));
  });

  it('covers 200 pairs, hard negatives and both sides of the threshold among them', () => {
    expect(explained).toHaveLength(200);
    expect(explained.filter((e) => e.hard_negative).length).toBeGreaterThan(5);
    expect(explained.filter((e) => e.linkable).length).toBeGreaterThan(5);
    expect(explained.filter((e) => !e.over_threshold).length).toBeGreaterThan(5);
  });

  it('every gamma, per-comparison weight, tf adjustment, total and probability equals the stored row exactly', () => {
    for (const [i, e] of explained.entries()) {
      const s = stored[i];
      expect([e.rec_id_l, e.rec_id_r]).toEqual([String(s.rec_id_l), String(s.rec_id_r)]);
      expect(e.stored?.differing).toEqual([]);
      expect(e.stored?.columns.length).toBeGreaterThanOrEqual(2 * e.comparisons.length + 3);
      for (const c of e.comparisons) {
        expect(c.gamma).toBe(Number(s[`gamma_${c.comparison}`]));
        expect(c.weight).toBe(Number(s[`bf_${c.comparison}`]));
        if (`tf_${c.comparison}` in s) expect(c.tf_adjustment).toBe(Number(s[`tf_${c.comparison}`]));
        else expect(c.tf_adjustment).toBeNull();
      }
      expect(e.match_weight).toBe(Number(s.match_weight));
      expect(e.match_probability).toBe(Number(s.match_probability));
      expect(e.hard_negative).toBe(s.hard_negative);
      expect(e.candidate).toBe(true);
      expect(e.blocking_rules.length).toBeGreaterThan(0);
      // The rule bits name the rules: equal NIKs come from the NIK rule (no block of the sample is capped).
      if (e.comparisons.find((c) => c.comparison === 'nik')!.gamma === 0) expect(e.blocking_rules).toContain('nik');
    }
    expect(explained.some((e) => e.comparisons.find((c) => c.comparison === 'nik')!.gamma === 0)).toBe(true);
  });

  it('the waterfall sums to the total: prior + Σ (weight + tf adjustment)', () => {
    for (const e of explained) {
      // a pair the family context scored starts from the family model's prior and loses its competitors' bits
      expect(e.prior.weight).toBe(priorWeight(e.family_context ? familyModelOf(model)! : model));
      // and an unsupported pair of two families (none of their other pairs matches) takes the family support's bits
      const competition = e.family_context?.competition ?? 0;
      const support = e.family_support?.weight ?? 0;
      const sum = e.prior.weight + e.comparisons.reduce((a, c) => a + c.weight + (c.tf_adjustment ?? 0), 0) - competition + support;
      expect(sum).toBeCloseTo(e.match_weight, 9);
      expect(e.comparisons.at(-1)!.running - competition + support).toBeCloseTo(e.match_weight, 9);
    }
  });

  it('the linked pairs are those over the threshold and not hard negatives', () => {
    for (const e of explained) {
      expect(e.over_threshold).toBe(e.match_probability >= thresholdOf(batch.linkage));
      expect(e.linkable).toBe(e.over_threshold && !e.hard_negative);
    }
  });
});

describe('dtsen explain SOURCE:ID SOURCE:ID', () => {
  it('prints the waterfall of a linked pair with its labels, the verdict and the check against the stored row', async () => {
    const p = await batch.db.one<{ l: string; r: string }>(`
      SELECT rec_id_l::VARCHAR AS l, rec_id_r::VARCHAR AS r FROM scored_pairs WHERE match_probability >= 0.999 AND NOT hard_negative ORDER BY rec_id_l LIMIT 1`);
    const [a, b] = [await refOf(p!.l), await refOf(p!.r)];
    const r = await cli(['explain', '--out', out, a, b]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Pair ${a} ~ ${b}`);
    expect(r.out).toMatch(/candidate pair: proposed by blocking rules? [a-z_]+/);
    expect(r.out).toMatch(/^prior\s+lambda = /m);
    for (const c of model.comparisons) expect(r.out).toMatch(new RegExp(`^${c.name}\\s+-?\\d+\\s+\\S`, 'm'));
    // the threshold the batch chose (linkage.threshold "auto"), printed with its weight
    const t = thresholdOf(batch.linkage);
    expect(r.out).toMatch(new RegExp(`threshold\\s+${String(t).replace('.', '\\.')} .*: over`));
    expect(r.out).toMatch(/links the records\s+yes/);
    expect(r.out).toMatch(/same person\s+yes: both in DT[0-9A-F]+/);
    expect(r.out).toMatch(/stored row\s+identical/);
  });

  it('masks NIKs and names unless --show-values is given', async () => {
    const p = await batch.db.one<{ l: string; r: string; nik: string; name: string }>(`
      SELECT s.rec_id_l::VARCHAR AS l, s.rec_id_r::VARCHAR AS r, p.nik_digits AS nik, p.name_norm AS name
      FROM scored_pairs s JOIN person_clean p ON p.rec_id = s.rec_id_l WHERE p.nik_digits IS NOT NULL AND p.name_norm IS NOT NULL ORDER BY s.rec_id_l LIMIT 1`);
    const refs = [await refOf(p!.l), await refOf(p!.r)];
    for (const json of [false, true]) {
      const masked = await cli(['explain', '--out', out, ...refs, ...(json ? ['--json'] : [])]);
      expect(masked.code).toBe(0);
      expect(masked.out).not.toContain(p!.nik);
      expect(masked.out).not.toContain(p!.name);
      expect(masked.out).toMatch(/present/);
      const shown = await cli(['explain', '--out', out, ...refs, '--show-values', ...(json ? ['--json'] : [])]);
      expect(shown.out).toContain(p!.nik);
      expect(shown.out).toContain(p!.name);
    }
  });

  it('explains a pair blocking never proposed, scored with the model levels', async () => {
    // Two records of different persons that are not a candidate pair.
    const p = await batch.db.one<{ l: string; r: string }>(`
      SELECT a.rec_id::VARCHAR AS l, b.rec_id::VARCHAR AS r FROM person_clean a JOIN person_clean b ON a.rec_id < b.rec_id AND a.source <> b.source
      WHERE NOT EXISTS (SELECT 1 FROM candidate_pairs c WHERE c.rec_id_l = a.rec_id AND c.rec_id_r = b.rec_id)
      ORDER BY hash(a.rec_id, b.rec_id) LIMIT 1`);
    const r = await cli(['explain', '--out', out, await refOf(p!.l), await refOf(p!.r), '--json']);
    expect(r.code).toBe(0);
    const e = JSON.parse(r.out) as PairExplanation;
    expect(e.candidate).toBe(false);
    expect(e.sources_paired).toBe(true);
    expect(e.blocking_rules).toEqual([]);
    expect(e.stored).toBeNull();
    expect(e.same_person).toBe(false);
    for (const c of e.comparisons) {
      const levels = model.comparisons.find((m) => m.name === c.comparison)!.levels;
      if (c.gamma < 0) expect(c.weight).toBe(0);
      else {
        const lv = levels[c.gamma];
        expect(c.level).toBe(lv.label);
        // The plain u of the level, or a conditional u of the model for this comparison.
        const us = [lv.u, ...model.conditional_u.filter((x) => x.comparison === c.comparison).map((x) => x.u[c.gamma])];
        const expected = us.map((u) => levelWeight({ m: lv.m, u }));
        expect(expected.some((w) => Math.abs(w - c.weight) < 1e-9)).toBe(true);
      }
    }
    expect(e.match_probability).toBeCloseTo(1 / (1 + 2 ** -e.match_weight), 12);
    const text = await cli(['explain', '--out', out, await refOf(p!.l), await refOf(p!.r)]);
    expect(text.out).toContain('not a candidate pair: blocking did not propose it');
    expect(text.out).toMatch(/stored row\s+none/);
  });

  it('tells a pair of sources the batch never pairs (linkage.dedupe / linkage.link)', async () => {
    const p = await batch.db.one<{ l: string; r: string }>(`
      SELECT min(rec_id)::VARCHAR AS l, max(rec_id)::VARCHAR AS r FROM person_clean WHERE source = 'dtks'`);
    const [paired] = await scorePairsOf(batch, model, [[p!.l, p!.r]]);
    expect(paired.sources_paired).toBe(true);
    const [unpaired] = await scorePairsOf({ ...batch, linkage: { ...batch.linkage, dedupe: ['regsosek'] } }, model, [[p!.l, p!.r]]);
    expect(unpaired.sources_paired).toBe(false);
    expect(unpaired.match_weight).toBe(paired.match_weight);
  });

  it('exits 2 naming the problem: unknown id, bad reference, no batch, unfinished batch, three records', async () => {
    const known = await refOf('1');
    let r = await cli(['explain', '--out', out, 'dtks:NO-SUCH-ID', known]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown record dtks:NO-SUCH-ID');
    r = await cli(['explain', '--out', out, 'nosource:1']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('SOURCE:ID');
    r = await cli(['explain', '--out', join(dir, 'nothing-here'), known]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('output folder not found');
    const unfinished = join(dir, 'unfinished');
    await import('node:fs').then((fs) => fs.mkdirSync(unfinished));
    copyFileSync(join(out, 'dtsen.duckdb'), join(unfinished, 'dtsen.duckdb'));
    r = await cli(['explain', '--out', unfinished, known]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('has not finished');
    r = await cli(['explain', '--out', out, known, known, known]);
    expect(r.code).toBe(2);
  });

  it('says so, and fails, when the stored row disagrees (a batch scored with another model)', async () => {
    const other = join(dir, 'other-model');
    await import('node:fs').then((fs) => fs.mkdirSync(other));
    for (const f of ['dtsen.duckdb', 'report.json']) copyFileSync(join(out, f), join(other, f));
    writeFileSync(join(other, 'model.json'), JSON.stringify({ ...model, lambda: model.lambda / 2 }));
    const p = await batch.db.one<{ l: string; r: string }>(`SELECT rec_id_l::VARCHAR AS l, rec_id_r::VARCHAR AS r FROM scored_pairs ORDER BY rec_id_l LIMIT 1`);
    const r = await cli(['explain', '--out', other, await refOf(p!.l), await refOf(p!.r)]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/stored row\s+DIFFERS in match_weight, match_probability/);
    expect(r.err).toContain('disagrees with scored_pairs');
  });
});

describe('dtsen explain SOURCE:ID', () => {
  it('lists the person of a record and a spanning tree of its links that reaches every member', async () => {
    const big = await batch.db.one<{ rec_id: string }>(`
      SELECT p.rec_id::VARCHAR AS rec_id FROM dtsen_link l JOIN person_clean p USING (source, source_record_id)
      WHERE l.dtsen_id = (SELECT dtsen_id FROM dtsen_link GROUP BY ALL ORDER BY count(*) DESC, dtsen_id LIMIT 1)
      ORDER BY p.rec_id DESC LIMIT 1`);
    const ref = await refOf(big!.rec_id);
    const r = await cli(['explain', '--out', out, ref, '--json']);
    expect(r.code).toBe(0);
    const e = JSON.parse(r.out) as RecordExplanation;
    const members = await batch.db.all<{ s: string }>(`SELECT source || ':' || source_record_id AS s FROM dtsen_link WHERE dtsen_id = '${e.dtsen_id}' ORDER BY 1`);
    expect(members.length).toBeGreaterThanOrEqual(3);
    expect(e.members.map((m) => m.record).sort()).toEqual(members.map((m) => m.s));
    expect(e.members[0]).toMatchObject({ record: ref, depth: 0, parent: null });
    // Every other member hangs on a parent one step closer, by a link over the threshold that is no hard negative.
    const byRecord = new Map(e.members.map((m) => [m.record, m]));
    const [resolved] = await resolveRecords(batch, [{ source: ref.split(':')[0] as 'dtks', sourceRecordId: ref.slice(ref.indexOf(':') + 1) }]);
    expect(resolved.recId).toBe(big!.rec_id);
    for (const m of e.members.slice(1)) {
      expect(m.depth).toBeGreaterThan(0);
      expect(byRecord.get(m.parent!)!.depth).toBe(m.depth! - 1);
      expect(m.link_probability).toBeGreaterThanOrEqual(e.threshold);
    }
    const touching = await batch.db.count(`
      SELECT count(*) FROM scored_pairs WHERE ${big!.rec_id} IN (rec_id_l, rec_id_r) AND match_probability >= ${e.threshold} AND NOT hard_negative`);
    expect(e.links_touching).toHaveLength(touching);
    for (const l of e.links_touching) expect([l.record_l, l.record_r]).toContain(ref);
    expect(e.members.filter((m) => m.depth === 1)).toHaveLength(touching);
    expect(e.links_in_person).toBeGreaterThanOrEqual(e.members.length - 1);

    const text = await cli(['explain', '--out', out, ref]);
    expect(text.out).toContain(`Record ${ref} is in person ${e.dtsen_id} with ${e.members.length - 1} other records`);
    expect(text.out).toMatch(/[├└]── (dtks|regsosek|p3ke):\S+ {2}link p [01](\.\d+)?/);
    for (const m of members) expect(text.out).toContain(m.s);
  });

  it('lists the closest pairs that do not link a record, hard negatives flagged', async () => {
    const p = await batch.db.one<{ l: string; r: string; over: boolean }>(`
      SELECT rec_id_l::VARCHAR AS l, rec_id_r::VARCHAR AS r, match_probability >= 0.99 AS over FROM scored_pairs
      WHERE hard_negative ORDER BY match_probability DESC, rec_id_l LIMIT 1`);
    const e = JSON.parse((await cli(['explain', '--out', out, await refOf(p!.l), '--json'])).out) as RecordExplanation;
    const other = await refOf(p!.r);
    // The strongest hard negative of the batch is among the (at most 5) closest pairs of its record that do not link.
    const n = e.nearest_not_linked.find((x) => x.record === other);
    expect(n).toMatchObject({ hard_negative: true, reason: p!.over ? 'hard negative' : 'below the threshold' });
    expect(e.nearest_not_linked.length).toBeLessThanOrEqual(5);
    const probs = e.nearest_not_linked.map((x) => x.match_probability);
    expect(probs).toEqual([...probs].sort((a, b) => b - a));
    const text = await cli(['explain', '--out', out, await refOf(p!.l)]);
    expect(text.out).toMatch(new RegExp(`${other}.*(hard negative)`));
  });
});

describe('dtsen sql', () => {
  it('prints a table, CSV or JSON', async () => {
    const q = `SELECT source, count(*) AS records FROM person_clean GROUP BY source ORDER BY source`;
    const expected = await batch.db.all<{ source: string; records: string }>(q);
    const table = await cli(['sql', '--out', out, q]);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/^source\s+records\n-+\s+-+\n/);
    for (const e of expected) expect(table.out).toMatch(new RegExp(`^${e.source}\\s+${e.records}$`, 'm'));
    expect(table.out).toContain('3 rows');
    const csv = await cli(['sql', '--out', out, q, '--csv']);
    expect(csv.out).toBe(`source,records\n${expected.map((e) => `${e.source},${e.records}`).join('\n')}\n`);
    const json = await cli(['sql', '--out', out, q, '--json']);
    expect(JSON.parse(json.out)).toEqual(expected);
  });

  it('quotes CSV fields and prints nested values as JSON', async () => {
    const r = await cli(['sql', '--out', out, `SELECT 'a,b' AS x, 'say "hi"' AS y, [1, 2] AS z, NULL AS n`, '--csv']);
    expect(r.out).toBe('x,y,z,n\n"a,b","say ""hi""","[1,2]",\n');
  });

  it('prints at most --limit rows and says when the result has more', async () => {
    const r = await cli(['sql', '--out', out, 'SELECT * FROM range(5000) t(i)', '--limit', '10']);
    expect(r.code).toBe(0);
    expect(r.out.trim().split('\n').filter((l) => /^\d+$/.test(l))).toHaveLength(10);
    expect(r.out).toContain('only the first 10 rows shown');
    const all = await cli(['sql', '--out', out, 'SELECT * FROM range(5000) t(i)', '--csv']);
    expect(all.out.trim().split('\n')).toHaveLength(1001);
    expect(all.err).toContain('only the first 1000 rows shown');
  });

  it('refuses writes and bad SQL with exit 2 and a message saying what is allowed, or DuckDB\'s own', async () => {
    const before = statSync(join(out, 'dtsen.duckdb')).mtimeMs;
    const digest = readFileSync(join(out, 'dtsen.duckdb'));
    for (const q of ['DELETE FROM clusters', 'CREATE TABLE x AS SELECT 1', 'DROP TABLE scored_pairs']) {
      const r = await cli(['sql', '--out', out, q]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/is not allowed; dtsen sql runs one read statement/);
    }
    const bad = await cli(['sql', '--out', out, 'SELEC 1']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/syntax error/i);
    const missing = await cli(['sql', '--out', out, 'SELECT * FROM no_such_table']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('no_such_table');
    expect(statSync(join(out, 'dtsen.duckdb')).mtimeMs).toBe(before);
    expect(readFileSync(join(out, 'dtsen.duckdb')).equals(digest)).toBe(true);
  });

  it('runs exactly one statement per call', async () => {
    const r = await cli(['sql', '--out', out, 'CREATE TEMP TABLE t AS SELECT 41 AS v; SELECT v + 1 AS answer FROM t', '--json']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('holds 2 statements: one per call');
    expect(r.out).toBe('');
    const one = await cli(['sql', '--out', out, 'WITH t AS (SELECT 41 AS v) SELECT v + 1 AS answer FROM t;', '--json']);
    expect(one.code).toBe(0);
    expect(JSON.parse(one.out)).toEqual([{ answer: 42 }]);
  });
});

describe('the waterfall bars', () => {
  it('span each step on one axis: + up, - down, | at zero', () => {
    const { bars, lo, hi } = waterfallBars([{ from: 0, to: -10 }, { from: -10, to: 10 }, { from: 10, to: 5 }], 20);
    expect([lo, hi]).toEqual([-10, 10]);
    expect(bars).toEqual(['----------|', '++++++++++++++++++++', '          |    -----']);
  });
});

describe('the spanning tree outline', () => {
  const member = (record: string, depth: number, parent: string | null, p: number | null) =>
    ({ record, rec_id: '0', match_probability: 1, depth, parent, link_probability: p, link_weight: p === null ? null : 10 });
  const e = {
    record: 'dtks:A', rec_id: '0', dtsen_id: 'DT0', threshold: 0.99, links_touching: [], links_in_person: 3, nearest_not_linked: [], values_shown: false,
    members: [member('dtks:A', 0, null, null), member('p3ke:B', 1, 'dtks:A', 0.999), member('p3ke:D', 1, 'dtks:A', 0.995), member('regsosek:C', 2, 'p3ke:B', 0.991)],
  } satisfies RecordExplanation;

  it('hangs each member under its parent, strongest link first', () => {
    expect(treeLines(e).map((l) => l.replace(/ {2}link.*/, ''))).toEqual(['dtks:A', '├── p3ke:B', '│   └── regsosek:C', '└── p3ke:D']);
  });

  it('stops at the line limit and says how many records there are', () => {
    const lines = treeLines(e, 2);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toContain('4 records in all');
  });
});
