/**
 * The family context (src/linkage/family-context.ts) on a generated population with many records lacking a NIK or a
 * birth date, many moves and many juniors: the same batch run with and without it.
 */
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from '../../src/generate/index.ts';
import { profileByName } from '../../src/generate/profiles.ts';
import { loadConfig } from '../../src/engine/config.ts';
import { silentLogger } from '../../src/engine/log.ts';
import { runBatch } from '../../src/pipeline.ts';
import { openBatch } from '../../src/engine/batch.ts';
import { BLOCKING_RULE_MASK, FAMILY_RULE } from '../../src/linkage/family-context.ts';
import { tempDir, writeConfig } from '../fixtures/inputs.ts';

interface Report {
  evaluate: { precision: number; recall: number; blocking: { by_rule: { rule: string; true_pairs_found: number }[] } };
  link: { family_context?: { linked_family_pairs: number; member_pairs: number; new_pairs: number; raised_pairs: number; lambda: number; seed_threshold: number }; blocking: { rules: { rule: string }[] } };
}

/** SQL (CTEs): `s`, every scored pair with its two records' source families `fl` and `fr`. */
const PAIRS_WITH_FAMILIES = `
  fam AS (SELECT rec_id, family_id FROM person_clean WHERE family_id IS NOT NULL),
  s AS (SELECT s.*, fl.family_id AS fl, fr.family_id AS fr FROM scored_pairs s JOIN fam fl ON fl.rec_id = s.rec_id_l JOIN fam fr ON fr.rec_id = s.rec_id_r)`;

let pop: string;
const outs: Record<'with' | 'without', string> = { with: '', without: '' };
const reports = {} as Record<'with' | 'without', Report>;

beforeAll(async () => {
  pop = tempDir('dtsen-family-');
  await generate({ persons: 6000, seed: 11, out: pop, profile: profileByName('random:9003') });
  for (const mode of ['with', 'without'] as const) {
    // the run with the family context keeps its working tables (debug_sql): the competition test reads them
    if (mode === 'with') process.env.DTSEN_DEBUG_SQL = '1';
    else delete process.env.DTSEN_DEBUG_SQL;
    const dir = tempDir(`dtsen-family-${mode}-`);
    outs[mode] = join(dir, 'out');
    const cfg = writeConfig(dir, { dtks: join(pop, 'dtks.csv'), regsosek: join(pop, 'regsosek.parquet'), p3ke: join(pop, 'p3ke.csv') }, {
      out: outs[mode],
      truth: join(pop, 'truth.csv'),
      linkage: { family_context: mode === 'with' },
    });
    await runBatch(await loadConfig(cfg), { log: silentLogger() });
    reports[mode] = JSON.parse(readFileSync(join(outs[mode], 'report.json'), 'utf8')) as Report;
  }
  delete process.env.DTSEN_DEBUG_SQL;
}, 240_000);

describe('the family context', () => {
  it('finds the members a family brings along: recall rises, precision holds', () => {
    const w = reports.with.evaluate;
    const wo = reports.without.evaluate;
    expect(reports.without.link.family_context).toBeUndefined();
    const f = reports.with.link.family_context!;
    expect(f.linked_family_pairs).toBeGreaterThan(100);
    expect(f.new_pairs).toBeGreaterThan(0);
    expect(f.raised_pairs).toBeGreaterThan(0);
    expect(f.lambda).toBeGreaterThan(0.05);
    expect(f.lambda).toBeLessThan(0.6);
    expect(w.recall).toBeGreaterThan(wo.recall + 0.01);
    expect(w.precision).toBeGreaterThan(wo.precision - 0.003);
    expect(reports.with.link.blocking.rules.map((r) => r.rule)).toContain(FAMILY_RULE.name);
    expect(w.blocking.by_rule.find((r) => r.rule === FAMILY_RULE.name)?.true_pairs_found).toBeGreaterThan(0);
  });

  it('counts as raised the pairs blocking proposed whose family-model weight won, and as new the pairs only it found', async () => {
    const batch = await openBatch(outs.with);
    onTestFinished(() => batch.close());
    const f = reports.with.link.family_context!;
    const [raised, added] = await Promise.all([`<> 0`, `= 0`].map((x) => batch.db.count(`SELECT count(*) FROM scored_pairs WHERE family_context AND (rules & ${BLOCKING_RULE_MASK}) ${x}`)));
    expect(raised).toBeGreaterThan(0);
    expect(f.raised_pairs).toBe(raised);
    expect(f.new_pairs).toBe(added);
  });

  it('never takes a pair for its own evidence: another pair of members links the two families', async () => {
    const batch = await openBatch(outs.with);
    onTestFinished(() => batch.close());
    const seed = reports.with.link.family_context!.seed_threshold;
    // the seed is read at the probability the family context saw: before the family support, weighed after it,
    // took its bits (a seed pair no other pair of the two families supports may end below the seed threshold)
    const unsupported = await batch.db.count(`
      WITH ${PAIRS_WITH_FAMILIES}
      SELECT count(*) FROM s p WHERE p.family_context AND NOT EXISTS (
        SELECT 1 FROM s q WHERE 1 / (1 + pow(2.0, -(q.match_weight - coalesce(q.bf_family_support, 0)))) >= ${seed} AND NOT q.hard_negative
          AND ((q.fl = p.fl AND q.fr = p.fr AND q.rec_id_l <> p.rec_id_l AND q.rec_id_r <> p.rec_id_r)
            OR (q.fl = p.fr AND q.fr = p.fl AND q.rec_id_l <> p.rec_id_r AND q.rec_id_r <> p.rec_id_l)))`);
    expect(await batch.db.count(`SELECT count(*) FROM scored_pairs WHERE family_context`)).toBeGreaterThan(0);
    expect(unsupported).toBe(0);
  });

  it('lets a record be one person at most once in the other family: its candidates there share one probability', async () => {
    const batch = await openBatch(outs.with);
    onTestFinished(() => batch.close());
    // Per record and other family, the family model's probabilities sum to less than one (a father and his son
    // of one name are not both the undated member of the other family) — unless two of its candidates there are
    // one person (linked to each other at the seed threshold: a duplicate inside a source), which do not compete.
    const seed = reports.with.link.family_context!.seed_threshold;
    const over = await batch.db.count(`
      WITH ${PAIRS_WITH_FAMILIES},
      fc AS (SELECT rec_id_l, rec_id_r, match_probability AS p, fl, fr FROM s WHERE family_context),
      side AS (SELECT rec_id_l AS rec, rec_id_r AS other, fr AS fam, p FROM fc UNION ALL SELECT rec_id_r, rec_id_l, fl, p FROM fc),
      dup AS (SELECT rec_id_l, rec_id_r FROM s WHERE fl = fr AND match_probability >= ${seed} AND NOT hard_negative),
      grp AS (SELECT rec, fam, sum(p) AS p, list(other) AS others FROM side GROUP BY ALL)
      SELECT count(*) FROM grp WHERE p > 1.000001
        AND NOT EXISTS (SELECT 1 FROM dup WHERE list_contains(grp.others, dup.rec_id_l) AND list_contains(grp.others, dup.rec_id_r))`);
    const shared = await batch.db.count(`
      WITH ${PAIRS_WITH_FAMILIES},
      side AS (SELECT rec_id_l AS rec, fr AS fam FROM s WHERE family_context UNION ALL SELECT rec_id_r, fl FROM s WHERE family_context)
      SELECT count(*) FROM (SELECT rec, fam FROM side GROUP BY ALL HAVING count(*) > 1)`);
    expect(shared).toBeGreaterThan(0);
    expect(over).toBe(0);
  });

  it('sums for every member pair the odds of exactly its competitors: the pairs sharing one of its records in its two families, a duplicate of that record left out', async () => {
    const batch = await openBatch(outs.with);
    onTestFinished(() => batch.close());
    // From the family model's weights before the competition (debug_sql keeps the working tables), each pair's
    // competitors summed by their plain definition, against the odds family_member_pairs keeps for the next batch.
    const rows = await batch.db.all<{ pairs: number; competing: number; off: number; fm: number }>(`
      WITH m AS (
        SELECT v.rec_id_l, v.rec_id_r, least(v.fam_l, v.fam_r) AS fa, greatest(v.fam_l, v.fam_r) AS fb,
          pow(2.0, least(f.match_weight + f.family_competition, 200)) AS odds
        FROM debug_sql.family_vectors v JOIN debug_sql.family_scored f USING (rec_id_l, rec_id_r)),
      dup AS (SELECT rec_id_l, rec_id_r FROM debug_sql.family_same_seed),
      -- a competitor shares exactly one record of the pair: o, its other record; t, the pair's record in o's family
      comp AS (
        SELECT p.rec_id_l, p.rec_id_r, q.odds,
          CASE WHEN q.rec_id_l IN (p.rec_id_l, p.rec_id_r) THEN q.rec_id_r ELSE q.rec_id_l END AS o,
          CASE WHEN p.rec_id_l IN (q.rec_id_l, q.rec_id_r) THEN p.rec_id_r ELSE p.rec_id_l END AS t
        FROM m p JOIN m q ON q.fa = p.fa AND q.fb = p.fb
          AND ((q.rec_id_l = p.rec_id_l OR q.rec_id_r = p.rec_id_l) <> (q.rec_id_l = p.rec_id_r OR q.rec_id_r = p.rec_id_r))),
      -- o the same person as t (a duplicate at the seed threshold inside o's family) does not compete
      ref AS (
        SELECT m.rec_id_l, m.rec_id_r, coalesce(sum(c.odds), 0) AS odds
        FROM m LEFT JOIN (SELECT * FROM comp ANTI JOIN dup d ON d.rec_id_l = least(o, t) AND d.rec_id_r = greatest(o, t)) c USING (rec_id_l, rec_id_r)
        GROUP BY ALL)
      SELECT count(*)::INTEGER AS pairs, count(*) FILTER (WHERE r.odds > 0)::INTEGER AS competing,
        count(*) FILTER (WHERE abs(r.odds - k.competitor_odds) > 1e-9 * (1 + r.odds))::INTEGER AS off,
        (SELECT count(*) FROM family_member_pairs)::INTEGER AS fm
      FROM ref r JOIN family_member_pairs k USING (rec_id_l, rec_id_r)`);
    const r = rows[0];
    expect(r.pairs).toBe(reports.with.link.family_context!.member_pairs);
    expect(r.fm).toBe(r.pairs);
    expect(r.competing).toBeGreaterThan(r.pairs / 2);
    expect(r.off).toBe(0);
    // the duplicates' case is reached: some member pair has a record with a duplicate in its family
    expect(await batch.db.count(`SELECT count(*) FROM debug_sql.family_same_seed`)).toBeGreaterThan(0);
  });
});

describe('explaining a pair the family context scored', () => {
  it('re-scores it with the family model of model.json and agrees with the stored row exactly', async () => {
    const { batchModel } = await import('../../src/explain/batch.ts');
    const { scorePairsOf } = await import('../../src/explain/pair.ts');
    const batch = await openBatch(outs.with);
    onTestFinished(() => batch.close());
    const model = await batchModel(batch);
    expect(model.family_context?.lambda).toBeCloseTo(reports.with.link.family_context!.lambda, 12);
    const rows = await batch.db.all<{ l: string; r: string }>(`
      (SELECT rec_id_l::VARCHAR AS l, rec_id_r::VARCHAR AS r FROM scored_pairs WHERE family_context AND family_competition > 0.5 ORDER BY ALL LIMIT 3)
      UNION ALL (SELECT rec_id_l::VARCHAR, rec_id_r::VARCHAR FROM scored_pairs WHERE NOT family_context ORDER BY ALL LIMIT 2)`);
    expect(rows.length).toBe(5);
    const scores = await scorePairsOf(batch, model, rows.map((x) => [x.l, x.r]));
    expect(scores.map((x) => x.family_context !== null)).toEqual([true, true, true, false, false]);
    for (const s of scores) {
      expect(s.stored?.differing).toEqual([]);
      const sum =
        s.prior.weight + s.comparisons.reduce((a, c) => a + c.weight + (c.tf_adjustment ?? 0), 0) - (s.family_context?.competition ?? 0) + (s.family_support?.weight ?? 0);
      expect(sum).toBeCloseTo(s.match_weight, 9);
    }
  });
});
