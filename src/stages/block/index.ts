/**
 * Candidate generation (blocking): person_clean → candidate_pairs(rec_id_l, rec_id_r, rule, rules).
 * Every rule's keys are computed in one pass; blocks larger than the cap are dropped and reported
 * (a placeholder NIK or a very common name must never explode the pair count); pairs of all rules
 * are unioned without duplicates, only between the source pairs the batch asks for.
 */
import type { Ctx } from '../../engine/context.ts';
import type { Db } from '../../engine/db.ts';
import { lit } from '../../engine/db.ts';
import type { Linkage } from '../../../schemas/config.ts';
import { BLOCKING_RULES, type BlockingRule } from './rules.ts';

export interface GiantBlock {
  rule: string;
  records: number;
  /** the key is personal data (a NIK, a name): only its length and a short hash are reported */
  key_hash: string;
}

export interface BlockingFigures {
  rules: { rule: string; description: string; keys: number; blocks: number; capped_blocks: number; capped_records: number; pairs: number; new_pairs: number }[];
  candidate_pairs: number;
  max_block_size: number;
  rule_caps: Record<string, number>;
  largest_blocks: GiantBlock[];
}

/** (source_l, source_r) pairs allowed by the config, both orders, as a VALUES list. */
export function allowedSourcePairsSql(linkage: Pick<Linkage, 'dedupe' | 'link'>): string {
  const pairs = new Set<string>();
  for (const s of linkage.dedupe) pairs.add(`${s}|${s}`);
  for (const [a, b] of linkage.link) {
    pairs.add(`${a}|${b}`);
    pairs.add(`${b}|${a}`);
  }
  if (pairs.size === 0) return `SELECT NULL::VARCHAR AS source_l, NULL::VARCHAR AS source_r WHERE false`;
  return `SELECT * FROM (VALUES ${[...pairs].map((p) => `(${p.split('|').map(lit).join(', ')})`).join(', ')}) t(source_l, source_r)`;
}

export async function buildCandidatePairs(db: Db, linkage: Linkage, rules: readonly BlockingRule[] = BLOCKING_RULES): Promise<BlockingFigures> {
  const cap = linkage.max_block_size;
  // Keys are hashed to 64-bit integers with the rule id (joins and groups on integers, not on 16-digit strings);
  // a collision only adds a candidate pair, which is then scored like any other.
  const keySelects = rules.map(
    (r, i) => `SELECT ${i}::UTINYINT AS rule_id, hash(${i}, key) AS key, rec_id, source, CASE WHEN aux IS NOT NULL THEN hash(aux) END AS aux, NULL::BOOLEAN AS probe
      FROM (SELECT unnest(${r.keys}) AS key, p.rec_id, p.source, ${r.distinctOn ?? 'NULL'}::VARCHAR AS aux FROM person_clean p)
      WHERE key IS NOT NULL`,
  );
  // Coarse keys of the rules with probes (hashed apart from the rule's own keys): only their blocks holding a probe
  // are kept, and a pair needs a probe on one side.
  const probeSelects = rules.flatMap((r, i) =>
    r.probe
      ? [`SELECT ${i}::UTINYINT AS rule_id, hash(${i}, 'probe', p_key) AS key, rec_id, source, NULL::UBIGINT AS aux, coalesce(${r.probe.when}, false) AS probe
      FROM (SELECT ${r.probe.key} AS p_key, p.* FROM person_clean p) p WHERE p_key IS NOT NULL`]
      : [],
  );
  const capOf = (r: BlockingRule) => Math.min(r.maxBlockSize ?? cap, cap);
  const capSql = `CASE b.rule_id ${rules.map((r, i) => `WHEN ${i} THEN ${capOf(r)}`).join(' ')} END`;
  await db.run(`
    CREATE OR REPLACE TEMP TABLE allowed_source_pairs AS ${allowedSourcePairsSql(linkage)};
    CREATE OR REPLACE TEMP TABLE block_keys AS
      ${[...keySelects, ...probeSelects].join('\nUNION ALL\n')};
    -- a coarse block counts only when it holds a probe (bool_or(probe) is NULL for the rules' own keys)
    CREATE OR REPLACE TEMP TABLE blocking_blocks AS
      SELECT rule_id, key, count(*) AS records FROM block_keys GROUP BY ALL HAVING count(*) > 1 AND coalesce(bool_or(probe), true);
    CREATE OR REPLACE TEMP TABLE block_keys_kept AS
      SELECT k.* FROM block_keys k SEMI JOIN blocking_blocks b ON b.rule_id = k.rule_id AND b.key = k.key AND b.records <= ${capSql};
    CREATE OR REPLACE TABLE candidate_pairs AS
      SELECT l.rec_id AS rec_id_l, r.rec_id AS rec_id_r, min(l.rule_id) AS rule_id, bit_or((1::UINTEGER) << l.rule_id) AS rules
      FROM block_keys_kept l JOIN block_keys_kept r ON l.key = r.key AND l.rule_id = r.rule_id AND l.rec_id < r.rec_id
        AND (l.aux IS NULL OR l.aux IS DISTINCT FROM r.aux) AND (l.probe IS NULL OR l.probe OR r.probe)
      SEMI JOIN allowed_source_pairs a ON a.source_l = l.source AND a.source_r = r.source
      GROUP BY l.rec_id, r.rec_id;
  `);
  const perRule = await db.all<Record<string, string>>(`
    WITH k AS (SELECT rule_id, count(*) FILTER (WHERE probe IS NULL OR probe) AS keys FROM block_keys GROUP BY ALL),
         b AS (SELECT rule_id, count(*) AS blocks, count(*) FILTER (WHERE records > ${capSql}) AS capped_blocks,
                      coalesce(sum(records) FILTER (WHERE records > ${capSql}), 0) AS capped_records FROM blocking_blocks b GROUP BY ALL),
         p AS (SELECT r.rule_id, count(*) AS pairs FROM candidate_pairs c JOIN range(${rules.length}) r(rule_id) ON (c.rules >> r.rule_id::INT) & 1 = 1 GROUP BY ALL),
         n AS (SELECT rule_id, count(*) AS new_pairs FROM candidate_pairs GROUP BY ALL)
    SELECT r.rule_id, coalesce(k.keys, 0) AS keys, coalesce(b.blocks, 0) AS blocks, coalesce(b.capped_blocks, 0) AS capped_blocks,
           coalesce(b.capped_records, 0) AS capped_records, coalesce(p.pairs, 0) AS pairs, coalesce(n.new_pairs, 0) AS new_pairs
    FROM range(${rules.length}) r(rule_id) LEFT JOIN k USING (rule_id) LEFT JOIN b USING (rule_id) LEFT JOIN p USING (rule_id) LEFT JOIN n USING (rule_id)
    ORDER BY r.rule_id`);
  const largest = await db.all<{ rule_id: string; records: string; key_hash: string }>(`
    SELECT rule_id, records, substr(md5(key::VARCHAR), 1, 8) AS key_hash FROM blocking_blocks ORDER BY records DESC, rule_id, key_hash LIMIT 10`);
  const caps = rules.map(capOf);
  const candidatePairs = await db.count(`SELECT count(*) FROM candidate_pairs`);
  await db.run(`DROP TABLE block_keys; DROP TABLE block_keys_kept; DROP TABLE blocking_blocks;`);
  return {
    rules: perRule.map((r) => ({
      rule: rules[Number(r.rule_id)].name,
      description: rules[Number(r.rule_id)].description,
      keys: Number(r.keys),
      blocks: Number(r.blocks),
      capped_blocks: Number(r.capped_blocks),
      capped_records: Number(r.capped_records),
      pairs: Number(r.pairs),
      new_pairs: Number(r.new_pairs),
    })),
    candidate_pairs: candidatePairs,
    max_block_size: cap,
    rule_caps: Object.fromEntries(rules.map((r, i) => [r.name, caps[i]])),
    largest_blocks: largest.map((b) => ({ rule: rules[Number(b.rule_id)].name, records: Number(b.records), key_hash: b.key_hash })),
  };
}

export async function blockingStage(ctx: Ctx): Promise<BlockingFigures> {
  return buildCandidatePairs(ctx.db, ctx.config.linkage);
}
