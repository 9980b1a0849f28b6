/**
 * Candidate generation (blocking): person_clean → candidate_pairs(rec_id_l, rec_id_r, rule, rules).
 * Rule by rule, every record's keys are computed; blocks larger than the cap are dropped and reported
 * (a placeholder NIK or a very common name must never explode the pair count); pairs of all rules
 * are unioned without duplicates, only between the source pairs the batch asks for.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../engine/db.ts';
import { lit } from '../engine/db.ts';
import type { Linkage } from '../../schemas/config.ts';
import { SOURCES, type SourceName } from '../../schemas/canonical.ts';
import { BLOCKING_RULES, type BlockingRule } from './blocking-rules.ts';
import { startWorkingTableSql } from './working-tables.ts';

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

/** The (source_l, source_r) pairs allowed by the config, both orders. */
function allowedSourcePairs(linkage: Pick<Linkage, 'dedupe' | 'link'>): [SourceName, SourceName][] {
  const pairs = new Map<string, [SourceName, SourceName]>();
  const allow = (a: SourceName, b: SourceName) => pairs.set(`${a}|${b}`, [a, b]);
  for (const s of linkage.dedupe) allow(s, s);
  for (const [a, b] of linkage.link) {
    allow(a, b);
    allow(b, a);
  }
  return [...pairs.values()];
}

/** (source_l, source_r) pairs allowed by the config, both orders, as a VALUES list. */
export function allowedSourcePairsSql(linkage: Pick<Linkage, 'dedupe' | 'link'>): string {
  const pairs = allowedSourcePairs(linkage);
  if (pairs.length === 0) return `SELECT NULL::VARCHAR AS source_l, NULL::VARCHAR AS source_r WHERE false`;
  return `SELECT * FROM (VALUES ${pairs.map((p) => `(${p.map(lit).join(', ')})`).join(', ')}) t(source_l, source_r)`;
}

/** The same pairs as a bit mask over (source_l × 3 + source_r), sources coded by their index in SOURCES. */
export function allowedSourceMask(linkage: Pick<Linkage, 'dedupe' | 'link'>): number {
  return allowedSourcePairs(linkage).reduce((mask, [a, b]) => mask | (1 << (SOURCES.indexOf(a) * SOURCES.length + SOURCES.indexOf(b))), 0);
}

/** A source coded as a small integer (its index in SOURCES), over `p.source`. */
const SOURCE_CODE_SQL = `CASE p.source ${SOURCES.map((x, i) => `WHEN ${lit(x)} THEN ${i}`).join(' ')} END::UTINYINT`;

/**
 * SELECT key, rec_id, src, aux, probe: the keys of rule `r` of every record of `table` (alias p, the columns of
 * person_clean). Keys are hashed to 64-bit integers (joins and groups on integers, not on 16-digit strings), sources
 * coded as small integers; a hash collision only adds a candidate pair, which is then scored like any other.
 * Coarse keys of a rule with probes are hashed apart from its own keys (probe true or false; NULL for own keys).
 */
export function ruleKeysSql(r: BlockingRule, table = 'person_clean'): string {
  const own = `SELECT hash(key) AS key, rec_id, src, CASE WHEN aux IS NOT NULL THEN hash(aux) END AS aux, NULL::BOOLEAN AS probe
      FROM (SELECT unnest(${r.keys}) AS key, p.rec_id, ${SOURCE_CODE_SQL} AS src, ${r.distinctOn ?? 'NULL'}::VARCHAR AS aux FROM ${table} p)
      WHERE key IS NOT NULL`;
  const probe = r.probe
    ? `UNION ALL SELECT hash('probe', p_key) AS key, rec_id, src, NULL::UBIGINT AS aux, coalesce(is_probe, false) AS probe
      FROM (SELECT ${r.probe.key} AS p_key, ${r.probe.when} AS is_probe, p.rec_id, ${SOURCE_CODE_SQL} AS src FROM ${table} p) WHERE p_key IS NOT NULL`
    : '';
  return `${own} ${probe}`;
}

/**
 * Every record's blocking keys, kept from batch to batch (the next batch updates them in place with the keys of
 * its new and changed records, src/incremental/link.ts, instead of computing every record's again): rule_id, and
 * the columns ruleKeysSql gives. Written rule by rule, so a rule's rows lie together (a scan of one rule reads
 * its own row groups).
 */
export const BLOCKING_KEYS_TABLE = 'blocking_keys';
/** SQL: BLOCKING_KEYS_TABLE made anew, empty. */
export const CREATE_BLOCKING_KEYS_SQL = `
  CREATE OR REPLACE TABLE ${BLOCKING_KEYS_TABLE} (rule_id UTINYINT, key UBIGINT, rec_id BIGINT, src UTINYINT, aux UBIGINT, probe BOOLEAN);
  COMMENT ON TABLE ${BLOCKING_KEYS_TABLE} IS ${lit("every record's blocking keys per rule (key: the key's 64-bit hash): what the next batch updates with its new and changed records' keys")};`;

/** SQL: the keys of every rule of `rules` of the records of `table` (rule_id, then ruleKeysSql's columns), in rule order. */
export function allRuleKeysSql(rules: readonly BlockingRule[], table = 'person_clean'): string {
  return rules.map((r, i) => `SELECT ${i}::UTINYINT AS rule_id, * FROM (${ruleKeysSql(r, table)})`).join(' UNION ALL ');
}

/** SQL: rule `i`'s rows of BLOCKING_KEYS_TABLE, as ruleKeysSql gives them. */
export const storedRuleKeysSql = (i: number) => `(SELECT key, rec_id, src, aux, probe FROM ${BLOCKING_KEYS_TABLE} WHERE rule_id = ${i})`;

/**
 * A rule's fingerprint (its key expression, probe and cap): the blocking keys and pairs a batch keeps serve the
 * next one only when every rule is the same (src/incremental/previous.ts). Kept in BLOCKING_STATE_TABLE.
 */
export function ruleFingerprint(r: BlockingRule): string {
  return createHash('sha256').update(JSON.stringify([r.name, r.keys, r.distinctOn ?? null, r.probe ?? null, r.maxBlockSize ?? null])).digest('hex').slice(0, 16);
}

export async function buildCandidatePairs(db: Db, linkage: Linkage, rules: readonly BlockingRule[] = BLOCKING_RULES): Promise<BlockingFigures> {
  const cap = linkage.max_block_size;
  const capOf = (r: BlockingRule) => Math.min(r.maxBlockSize ?? cap, cap);
  const allowed = `(${allowedSourceMask(linkage)}::UINTEGER >> (l.src * ${SOURCES.length} + r.src)::INTEGER) & 1 = 1`;
  await db.run(`
    ${CREATE_BLOCKING_KEYS_SQL}
    CREATE OR REPLACE TEMP TABLE block_pairs (rec_id_l BIGINT, rec_id_r BIGINT, rule_id UTINYINT);
    CREATE OR REPLACE TEMP TABLE blocking_stats (rule_id UTINYINT, keys BIGINT, blocks BIGINT, capped_blocks BIGINT, capped_records BIGINT, large_from BIGINT);
    CREATE OR REPLACE TEMP TABLE blocking_large (rule_id UTINYINT, key UBIGINT, records BIGINT);`);
  // One rule at a time: its keys (kept in BLOCKING_KEYS_TABLE), its blocks (capped), its pairs; the work and memory of a rule are its own.
  for (const [i, r] of rules.entries()) {
    await db.run(`
      INSERT INTO ${BLOCKING_KEYS_TABLE} SELECT ${i}::UTINYINT, * FROM (${ruleKeysSql(r)});
      CREATE OR REPLACE TEMP VIEW block_keys AS SELECT * FROM ${storedRuleKeysSql(i)};
      -- a coarse block counts only when it holds a probe (bool_or(probe) is NULL for the rule's own keys)
      CREATE OR REPLACE TEMP TABLE blocking_blocks AS ${countedBlocksSql('block_keys')};
      INSERT INTO blocking_stats
        SELECT ${i}, (SELECT count(*) FILTER (WHERE probe IS NULL OR probe) FROM block_keys), count(*),
          count(*) FILTER (WHERE records > ${capOf(r)}), coalesce(sum(records) FILTER (WHERE records > ${capOf(r)}), 0),
          (${largeFromSql('blocking_blocks')}) FROM blocking_blocks;
      INSERT INTO blocking_large
        SELECT ${i}, key, records FROM blocking_blocks WHERE records >= (SELECT large_from FROM blocking_stats WHERE rule_id = ${i});
      CREATE OR REPLACE TEMP TABLE block_keys_kept AS
        SELECT k.* FROM block_keys k SEMI JOIN blocking_blocks b ON b.key = k.key AND b.records <= ${capOf(r)};
      DROP VIEW block_keys; DROP TABLE blocking_blocks;
      INSERT INTO block_pairs
        SELECT DISTINCT l.rec_id, r.rec_id, ${i}::UTINYINT
        FROM block_keys_kept l JOIN block_keys_kept r ON l.key = r.key AND l.rec_id < r.rec_id
        WHERE (l.aux IS NULL OR l.aux IS DISTINCT FROM r.aux) AND (l.probe IS NULL OR l.probe OR r.probe) AND ${allowed};
      DROP TABLE block_keys_kept;`);
  }
  await db.run(`
    ${startWorkingTableSql('candidate_pairs', 'SELECT rec_id_l, rec_id_r, min(rule_id) AS rule_id, bit_or((1::UINTEGER) << rule_id) AS rules FROM block_pairs GROUP BY rec_id_l, rec_id_r')}
    DROP TABLE block_pairs;`);
  const figures = await blockingFigures(db, rules, cap, { pairs: 'candidate_pairs', stats: 'blocking_stats', large: 'blocking_large' });
  await writeBlockingState(db, rules, 'blocking_stats', 'blocking_large');
  await db.run(`DROP TABLE blocking_stats; DROP TABLE blocking_large;`);
  return figures;
}

/** How many of each rule's largest blocks the figures list (and the blocking state keeps at least). */
export const LARGEST_BLOCKS = 10;

/**
 * What a batch keeps of its blocks for the next one (an incremental batch counts only the blocks its changed records
 * touch, and takes the others' figures from here): per rule, BLOCKING_STATE_TABLE holds the figures over every
 * block (keys, blocks, capped_blocks, capped_records) and `large_from`; BLOCKING_LARGE_TABLE every block of the
 * rule holding at least `large_from` records (key: the hashed key, as blocking groups them). `large_from` is half
 * the rule's LARGEST_BLOCKS-th largest block (2 when it has fewer): the largest blocks are then among those kept
 * while they shrink by less than half, and the next batch finds them without grouping every key again.
 */
export const BLOCKING_STATE_TABLE = 'blocking_state';
export const BLOCKING_LARGE_TABLE = 'blocking_large_blocks';

/**
 * SQL: the blocks of a rule's keys (`keys`: key, probe, as ruleKeysSql gives them) that count — two records or more,
 * and a coarse block only when it holds a probe (bool_or(probe) is NULL for the rule's own keys) — with their records.
 */
export function countedBlocksSql(keys: string): string {
  return `SELECT key, count(*) AS records FROM ${keys} GROUP BY key HAVING count(*) > 1 AND coalesce(bool_or(probe), true)`;
}

/** SQL: `large_from` over a table of a rule's counted blocks (key, records). */
export function largeFromSql(blocks: string): string {
  return `SELECT CASE WHEN count(*) < ${LARGEST_BLOCKS} THEN 2 ELSE greatest(2, (min(records) + 1) // 2) END
    FROM (SELECT records FROM ${blocks} ORDER BY records DESC LIMIT ${LARGEST_BLOCKS})`;
}

/**
 * Writes BLOCKING_STATE_TABLE and BLOCKING_LARGE_TABLE from `stats` (rule_id, keys, blocks, capped_blocks,
 * capped_records, large_from) and `large` (rule_id, key, records).
 */
export async function writeBlockingState(db: Db, rules: readonly BlockingRule[], stats: string, large: string): Promise<void> {
  const names = `SELECT * FROM (VALUES ${rules.map((r, i) => `(${i}::UTINYINT, ${lit(r.name)}, ${lit(ruleFingerprint(r))})`).join(', ')}) t(rule_id, rule, fingerprint)`;
  await db.run(`
    CREATE OR REPLACE TABLE ${BLOCKING_STATE_TABLE} AS
      SELECT s.rule_id, n.rule, s.keys, s.blocks, s.capped_blocks, s.capped_records, s.large_from, n.fingerprint FROM ${stats} s JOIN (${names}) n USING (rule_id) ORDER BY s.rule_id;
    COMMENT ON TABLE ${BLOCKING_STATE_TABLE} IS ${lit("per blocking rule, its keys, blocks and capped blocks over every record, large_from, and the fingerprint of its keys' SQL: what the next batch updates with the blocks its changed records touch")};
    CREATE OR REPLACE TABLE ${BLOCKING_LARGE_TABLE} AS SELECT rule_id, key, records FROM ${large} ORDER BY rule_id, records DESC, key;
    COMMENT ON TABLE ${BLOCKING_LARGE_TABLE} IS ${lit("per blocking rule, every block of at least the rule's large_from records (key: the key's 64-bit hash): where the next batch finds the largest blocks")};`);
}

/**
 * The blocking figures of a batch: per rule its keys, blocks and capped blocks (`stats`: rule_id, keys, blocks,
 * capped_blocks, capped_records), the pairs it found and those it found first (`pairs`: candidate pairs with rule_id
 * and the rules bit mask), and the ten largest blocks (of `large`: rule_id, key, records, holding each rule's largest
 * blocks — BLOCKING_LARGE_TABLE's rows).
 */
export async function blockingFigures(db: Db, rules: readonly BlockingRule[], cap: number, t: { pairs: string; stats: string; large: string }): Promise<BlockingFigures> {
  const perRule = await db.all<Record<string, string>>(`
    WITH p AS (SELECT r.rule_id, count(*) AS pairs FROM ${t.pairs} c JOIN range(${rules.length}) r(rule_id) ON (c.rules >> r.rule_id::INT) & 1 = 1 GROUP BY ALL),
         n AS (SELECT rule_id, count(*) AS new_pairs FROM ${t.pairs} GROUP BY ALL)
    SELECT r.rule_id, coalesce(b.keys, 0) AS keys, coalesce(b.blocks, 0) AS blocks, coalesce(b.capped_blocks, 0) AS capped_blocks,
           coalesce(b.capped_records, 0) AS capped_records, coalesce(p.pairs, 0) AS pairs, coalesce(n.new_pairs, 0) AS new_pairs
    FROM range(${rules.length}) r(rule_id) LEFT JOIN ${t.stats} b USING (rule_id) LEFT JOIN p USING (rule_id) LEFT JOIN n USING (rule_id)
    ORDER BY r.rule_id`);
  const largest = await db.all<{ rule_id: string; records: string; key_hash: string }>(`
    SELECT rule_id, records, substr(md5(key::VARCHAR), 1, 8) AS key_hash FROM ${t.large} ORDER BY records DESC, rule_id, key_hash LIMIT ${LARGEST_BLOCKS}`);
  const caps = rules.map((r) => Math.min(r.maxBlockSize ?? cap, cap));
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
    candidate_pairs: await db.count(`SELECT count(*) FROM ${t.pairs}`),
    max_block_size: cap,
    rule_caps: Object.fromEntries(rules.map((r, i) => [r.name, caps[i]])),
    largest_blocks: largest.map((b) => ({ rule: rules[Number(b.rule_id)].name, records: Number(b.records), key_hash: b.key_hash })),
  };
}
