import { describe, expect, it } from 'vitest';
import { Db } from '../../src/engine/db.ts';
import { applyFamilySupport } from '../../src/linkage/family-support.ts';

/**
 * 300 pairs of two-member families whose both members match (confident, supported), 6 pairs of families linked by
 * one confident pair while their other members do not match (unsupported), the cross pairs of the first kind
 * (plain non-links: the two other pairs of their families share a record with them, so unsupported), a pair to a one-record family and a pair inside one family (out of scope), and a
 * hard negative.
 */
async function batch(): Promise<Db> {
  const db = await Db.open();
  await db.run(`
    CREATE TABLE person_clean AS
      SELECT r AS rec_id, 'dtks:' || (CASE WHEN r < 10000 THEN 'f' ELSE 'g' END) || ((r - 1) // 2)::VARCHAR AS family_id
      FROM (SELECT unnest(range(1, 1201)) AS r UNION ALL SELECT unnest(range(10001, 10025))) t
      UNION ALL SELECT 20001, 'dtks:alone'
      UNION ALL SELECT 20002, NULL;
    CREATE TABLE scored_pairs AS
      SELECT l AS rec_id_l, r AS rec_id_r, w AS match_weight, 1.0 / (1.0 + pow(2.0, -w)) AS match_probability, h AS hard_negative, false AS family_context
      FROM (
        SELECT 4 * i + 1 AS l, 4 * i + 3 AS r, 13.3 AS w, false AS h FROM range(300) t(i)
        UNION ALL SELECT 4 * i + 2, 4 * i + 4, 13.3, false FROM range(300) t(i)
        UNION ALL SELECT 4 * i + 1, 4 * i + 4, -13.3, false FROM range(300) t(i)
        UNION ALL SELECT 10001 + 4 * j, 10003 + 4 * j, 13.3, false FROM range(6) t(j)
        UNION ALL SELECT 10002 + 4 * j, 10004 + 4 * j, -13.3, false FROM range(6) t(j)
        UNION ALL SELECT 1, 20001, 3.0, false
        UNION ALL SELECT 1, 2, 3.0, false
        UNION ALL SELECT 5, 10001, 4.0, true);`);
  return db;
}

describe('family support', () => {
  it('measures how often confident links lack support and weighs only the unsupported pairs', async () => {
    const db = await batch();
    const before = new Map((await db.all<{ l: string; r: string; w: number }>(`SELECT rec_id_l AS l, rec_id_r AS r, match_weight AS w FROM scored_pairs`)).map((x) => [`${x.l}-${x.r}`, Number(x.w)]));
    const f = (await applyFamilySupport(db))!;
    // confident: 600 supported + 6 unsupported; plain non-links: 300 cross pairs, unsupported, and the 6 other pairs
    // of the lone links' families, supported by those links
    const m = (6 + 1) / (606 + 2);
    const u = (300 + 1) / (306 + 2);
    expect(f.confident_links).toBe(606);
    expect(f.m_unsupported).toBeCloseTo(m, 12);
    expect(f.u_unsupported).toBeCloseTo(u, 12);
    expect(f.weight_unsupported).toBeCloseTo(Math.log2(m / u), 12);
    const rows = await db.all<{ l: string; r: string; w: number; p: number; s: string | null; bf: number | null }>(
      `SELECT rec_id_l AS l, rec_id_r AS r, match_weight AS w, match_probability AS p, family_support AS s, bf_family_support AS bf FROM scored_pairs`);
    const by = new Map(rows.map((x) => [`${x.l}-${x.r}`, x]));
    // one confident pair alone between its two families: weighed down, its probability with it
    const lone = by.get('10001-10003')!;
    expect(lone.s).toBe('unsupported');
    expect(Number(lone.w)).toBeCloseTo(13.3 + Math.log2(m / u), 9);
    expect(Number(lone.p)).toBeCloseTo(1 / (1 + 2 ** -Number(lone.w)), 12);
    // supported pairs keep their weight
    expect(by.get('1-3')!.s).toBe('supported');
    expect(Number(by.get('1-3')!.w)).toBe(before.get('1-3'));
    // a cross pair: the family's other pairs share one of its records, so nothing else supports it
    expect(by.get('1-4')!.s).toBe('unsupported');
    expect(Number(by.get('1-4')!.w)).toBeCloseTo(-13.3 + Math.log2(m / u), 9);
    // a one-record family, one family, a hard negative: out of scope, untouched
    for (const k of ['1-20001', '1-2', '5-10001']) {
      expect(by.get(k)!.s).toBeNull();
      expect(Number(by.get(k)!.w)).toBe(before.get(k));
    }
    expect(rows.length).toBe(before.size);
  });

  it('does not weigh the support when the confident links are too few to measure it', async () => {
    const db = await batch();
    await db.run(`DELETE FROM scored_pairs WHERE rec_id_l < 10000 AND rec_id_l % 4 = 2`);
    await db.run(`DELETE FROM scored_pairs WHERE rec_id_l < 800 AND match_weight > 0`);
    const f = (await applyFamilySupport(db))!;
    expect(f.confident_links).toBeLessThan(200);
    expect(f.weight_unsupported).toBe(0);
  });
});
