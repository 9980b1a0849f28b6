/**
 * Incremental linking: the candidate pairs and scored pairs a full batch would make, from the previous batch's
 * pairs and the records that changed (incremental_record, inc_prev_* of previous.ts).
 *
 * Blocking. Every record's keys are the previous batch's (BLOCKING_KEYS_TABLE, updated in place: the keys of the
 * records gone or changed taken out, those of the new and changed ones put in); only the dirty records' keys are
 * computed. Rule by rule, only the blocks a change touched are counted: those holding a key of a new or changed
 * ("dirty") record now, or one a gone or changed record held; the other blocks hold the records they held in the
 * previous batch. Then only:
 *  - the pairs of a dirty record: its kept keys joined with every record's;
 *  - the touched blocks whose kept status flipped since the previous batch (their sizes then are their sizes now,
 *    minus the dirty records' keys, plus the keys the gone and changed records had): a block kept now and not then
 *    adds the pairs of its unchanged records; a block kept then and not now takes the rule's bit off the
 *    previous pairs of two of its records that share no other kept key of the rule;
 *  - every other pair of two unchanged records is the previous batch's, with its rules.
 * The rule's figures (keys, blocks, capped blocks) are the previous batch's (BLOCKING_STATE_TABLE) plus what the
 * touched blocks changed, and its largest blocks come from BLOCKING_LARGE_TABLE, updated alike: exactly the
 * figures grouping every key gives.
 * A pair's rule_id is its lowest rule, as in a full batch (the first rule that finds it).
 *
 * Comparison vectors are computed only for the pairs the previous batch did not hold; the others keep their gammas
 * (a record keeps its rec_id, so a pair is the same pair, its records in the same order). Term frequencies are
 * computed again from this batch's records and every pair is scored again from its gammas (a linear pass): a pair's
 * weight is then exactly what a full batch scoring with the same model gives, whatever the frequencies did.
 */
import type { Ctx } from '../engine/context.ts';
import { cpuSecondsSince } from '../engine/profile.ts';
import { materialise } from '../engine/sql-pipeline.ts';
import type { Model } from '../../schemas/model.ts';
import { SOURCES } from '../../schemas/canonical.ts';
import { BLOCKING_KEYS_TABLE, CREATE_BLOCKING_KEYS_SQL, LARGEST_BLOCKS, allRuleKeysSql, allowedSourceMask, blockingFigures, countedBlocksSql, largeFromSql, ruleKeysSql, storedRuleKeysSql, writeBlockingState } from '../linkage/blocking.ts';
import type { Db } from '../engine/db.ts';
import { previousCopyOf, updatedInPlaceSql, updateInPlace, writtenWhole } from './staging.ts';
import { BLOCKING_RULES } from '../linkage/blocking-rules.ts';
import { COMPARISONS } from '../linkage/comparisons.ts';
import { gammaColumn } from '../linkage/comparison-sql.ts';
import { compareColumns, comparisonVectorsSql, prepareCompareInput } from '../linkage/comparison-vectors.ts';
import { trainModel } from '../linkage/train.ts';
import { scorePairs } from '../linkage/score.ts';
import { startWorkingTableSql } from '../linkage/working-tables.ts';
import { LINKAGE_SEED } from '../linkage/seed.ts';
import { FAMILY_MEMBER_TABLE, FAMILY_UNKEPT_TABLE, linkFamilyContext, type FamilyPrevious } from '../linkage/family-context.ts';

export interface IncrementalLinkFigures {
  records: { total: number; new: number; changed: number; unchanged: number; gone: number; fields_changed: number };
  pairs: {
    /** candidate pairs of this batch (blocking's and the family context's) */
    total: number;
    /** pairs of the previous batch kept, with their gammas */
    reused: number;
    /** pairs whose comparison vector was computed (new; the family context's new pairs) */
    compared: number;
    /** pairs of the previous batch not kept (a record gone or changed, or no rule finds them any more) */
    dropped: number;
    /** pairs scored: every pair, from its gammas, with this batch's term frequencies */
    scored: number;
  };
  /**
   * the family context: its member pairs (every pair of members of two linked families), the linked family pairs,
   * and how many of each it compared — the member pairs blocking had not proposed and the previous batch had not
   * compared (a record new or changed, a family newly linked), and the family pairs holding one. Every member pair
   * is scored again (the family model is estimated on all of them).
   */
  family?: {
    member_pairs: number; family_pairs: number; compared_pairs: number; compared_family_pairs: number; reused_pairs: number;
    /** the family pairs (and their member pairs) scored with their competition: those a change touched when the previous family model is kept */
    scored_family_pairs: number; scored_member_pairs: number;
    /** the family pairs (and their member pairs) carried from the previous batch with their rows, not scored again (a linked family pair may hold no member pair) */
    reused_family_pairs: number; reused_member_pairs: number;
    /** 'given': the model's family model (the previous batch's); 'estimated': by EM over every member pair */
    model_source: 'given' | 'estimated';
    /** the carried rows were read from, and the state updated in, the copy of the previous batch's tables (FAMILY_MEMBER_TABLE, FAMILY_UNKEPT_TABLE); false: read from copies of them and written whole */
    in_place: boolean;
  };
  /** the blocking keys: the previous batch's updated in place with the dirty records' (true), or every record's computed (false: no copy of the previous ones to update) */
  keys_in_place: boolean;
  /** blocks whose kept status (under the cap, holding a probe) changed since the previous batch */
  flipped_blocks: number;
  /** previous pairs that lost a rule (their only shared block of it is no longer kept) */
  rule_bits_cleared: number;
  /** rules whose blocks were all grouped again: their largest blocks had shrunk by half or more (BLOCKING_LARGE_TABLE) */
  rules_regrouped: number;
}

/** SQL: per key of `keys` (key, probe, as ruleKeysSql gives them), its records (n), its probes (p) and whether it is a coarse key. */
const blockSizesSql = (keys: string) =>
  `SELECT key, count(*) AS n, count(*) FILTER (WHERE probe) AS p, bool_or(probe IS NOT NULL) AS is_probe FROM ${keys} GROUP BY key`;

const s3 = (a: number, b: number) => Number(((b - a) / 1000).toFixed(3));

/**
 * Brings BLOCKING_KEYS_TABLE to this batch's records: where the database holds the previous batch's, untouched
 * (src/incremental/staging.ts, copied from `previousDb`), in place — the rows of the records gone or changed
 * (inc_prev_dirty) and of the dirty ones taken out, `dirtyKeys` (every rule's keys of the dirty records) put in —
 * else written whole from person_clean (the copy refused, a previous batch without it, a stage run again after the
 * update). Either way the table is every record's keys, as a full batch writes them. True when updated in place.
 */
async function updateBlockingKeys(db: Db, dirty: string, dirtyKeys: string, previousDb: string | undefined): Promise<boolean> {
  if (previousDb !== undefined && (await previousCopyOf(db, BLOCKING_KEYS_TABLE)) === previousDb) {
    // the dirty records' keys appended in rule order: a rule's scan still reads few row groups of other rules
    await updateInPlace(db, `
      DELETE FROM ${BLOCKING_KEYS_TABLE} WHERE rec_id IN (SELECT rec_id FROM inc_prev_dirty UNION ALL SELECT rec_id FROM ${dirty});
      INSERT INTO ${BLOCKING_KEYS_TABLE} SELECT * FROM ${dirtyKeys} ORDER BY rule_id;
      ${updatedInPlaceSql(BLOCKING_KEYS_TABLE)}`);
    return true;
  }
  await writtenWhole(db, BLOCKING_KEYS_TABLE);
  await db.run(`
    ${CREATE_BLOCKING_KEYS_SQL}
    INSERT INTO ${BLOCKING_KEYS_TABLE} ${allRuleKeysSql(BLOCKING_RULES)};`);
  return false;
}

/**
 * `model`: the model to score with (the previous batch's, or one given with --model), else trained;
 * `previousModel`: it is the previous batch's, and the previous batch kept its family state (the family context then
 * scores only the family pairs a change touched, FamilyPrevious).
 */
export async function linkIncremental(ctx: Ctx, o: { model?: Model; previousModel?: boolean; retrain: boolean; previousPairs: number; seedThreshold?: number; previousDb?: string; familyInPlace?: boolean }) {
  const { db, config } = ctx;
  const linkage = config.linkage;
  const rules = BLOCKING_RULES;
  const cap = linkage.max_block_size;
  const capOf = (i: number) => Math.min(rules[i].maxBlockSize ?? cap, cap);
  const t0 = performance.now();
  const mask = allowedSourceMask(linkage);
  const conds = (l: string, r: string) => `(${l}.aux IS NULL OR ${l}.aux IS DISTINCT FROM ${r}.aux) AND (${l}.probe IS NULL OR ${l}.probe OR ${r}.probe)
    AND (${mask}::UINTEGER >> (${l}.src * ${SOURCES.length} + ${r}.src)::INTEGER) & 1 = 1`;
  await using dirty = await materialise(db, 'inc_dirty', `SELECT rec_id FROM incremental_record WHERE status IN ('new', 'changed')`);
  // every rule's keys of the dirty records; BLOCKING_KEYS_TABLE then holds every record's keys of this batch
  await using dirtyKeysAll = await materialise(db, 'inc_keys_dirty_all', allRuleKeysSql(rules, `(SELECT * FROM person_clean SEMI JOIN ${dirty} USING (rec_id))`));
  const keysInPlace = await updateBlockingKeys(db, String(dirty), String(dirtyKeysAll), o.previousDb);
  await using newPairs = await materialise(db, 'inc_new_pairs', `SELECT NULL::BIGINT AS rec_id_l, NULL::BIGINT AS rec_id_r, NULL::UTINYINT AS rule_id WHERE false`);
  await using bitsOff = await materialise(db, 'inc_bits_off', `SELECT NULL::BIGINT AS rec_id_l, NULL::BIGINT AS rec_id_r, NULL::UTINYINT AS rule_id WHERE false`);
  // this batch's figures of every rule (the previous batch's, updated with the blocks a change touched) and its
  // large blocks (BLOCKING_LARGE_TABLE: the previous ones, updated likewise), where the figures find the largest
  await using stats = await materialise(db, 'inc_blocking_stats', `SELECT NULL::UTINYINT AS rule_id, NULL::BIGINT AS keys, NULL::BIGINT AS blocks, NULL::BIGINT AS capped_blocks, NULL::BIGINT AS capped_records, NULL::BIGINT AS large_from, NULL::BIGINT AS flipped WHERE false`);
  await using large = await materialise(db, 'inc_blocking_large', `SELECT rule_id, key, records FROM inc_prev_blocking_large`);
  let regrouped = 0;
  for (const [i, r] of rules.entries()) {
    const c = capOf(i);
    // The blocks a change touched: the keys a dirty record holds now, or a gone or changed one held. Only their
    // records' keys are read from BLOCKING_KEYS_TABLE; the other blocks hold the same records as in the previous
    // batch, and their pairs are its pairs.
    await using dirtyKeys = await materialise(db, 'inc_keys_dirty', `SELECT key, rec_id, src, aux, probe FROM ${dirtyKeysAll} WHERE rule_id = ${i}`);
    await using was = await materialise(db, 'inc_keys_was', ruleKeysSql(r, 'inc_prev_dirty'));
    await using wanted = await materialise(db, 'inc_keys_touched', `SELECT key FROM ${dirtyKeys} UNION SELECT key FROM ${was}`);
    await using keys = await materialise(db, 'inc_block_keys', `SELECT k.* FROM ${storedRuleKeysSql(i)} k SEMI JOIN ${wanted} w ON w.key = k.key`);
    // each touched block's size and probes now, and then (now, less the dirty records' keys, plus the gone and
    // changed records' keys): whether it counted (two records or more, a probe in a coarse block) and was kept
    await using sizes = await materialise(db, 'inc_block_sizes', `
      WITH b AS (${blockSizesSql(String(keys))}), d AS (${blockSizesSql(String(dirtyKeys))}), w AS (${blockSizesSql(String(was))}),
      s AS (
        SELECT k.key, coalesce(b.n, 0) AS n_now, coalesce(b.p, 0) AS p_now,
          coalesce(b.n, 0) - coalesce(d.n, 0) + coalesce(w.n, 0) AS n_was, coalesce(b.p, 0) - coalesce(d.p, 0) + coalesce(w.p, 0) AS p_was,
          coalesce(b.is_probe, w.is_probe) AS is_probe
        FROM ${wanted} k LEFT JOIN b USING (key) LEFT JOIN d USING (key) LEFT JOIN w USING (key)),
      t AS (SELECT key, n_now, n_was, n_now > 1 AND (NOT is_probe OR p_now > 0) AS counted_now, n_was > 1 AND (NOT is_probe OR p_was > 0) AS counted_was FROM s)
      SELECT *, counted_now AND n_now <= ${c} AS kept_now, counted_was AND n_was <= ${c} AS kept_was FROM t`);
    await using flipped = await materialise(db, 'inc_flipped', `SELECT key, kept_now FROM ${sizes} WHERE kept_now <> kept_was`);
    const capped = (when: 'now' | 'was') => `counted_${when} AND n_${when} > ${c}`;
    await db.run(`
      INSERT INTO ${stats}
        SELECT ${i},
          ps.keys + (SELECT count(*) FILTER (WHERE probe IS NULL OR probe) FROM ${dirtyKeys}) - (SELECT count(*) FILTER (WHERE probe IS NULL OR probe) FROM ${was}),
          ps.blocks + coalesce(z.blocks, 0), ps.capped_blocks + coalesce(z.capped_blocks, 0), ps.capped_records + coalesce(z.capped_records, 0),
          ps.large_from, (SELECT count(*) FROM ${flipped})
        FROM (SELECT * FROM inc_prev_blocking_state WHERE rule_id = ${i}) ps,
          (SELECT sum(counted_now::INTEGER - counted_was::INTEGER) AS blocks,
             sum((${capped('now')})::INTEGER - (${capped('was')})::INTEGER) AS capped_blocks,
             sum(CASE WHEN ${capped('now')} THEN n_now ELSE 0 END - CASE WHEN ${capped('was')} THEN n_was ELSE 0 END) AS capped_records
           FROM ${sizes}) z;
      DELETE FROM ${large} WHERE rule_id = ${i} AND key IN (SELECT key FROM ${wanted});
      INSERT INTO ${large} SELECT ${i}, key, n_now FROM ${sizes} WHERE counted_now AND n_now >= (SELECT large_from FROM ${stats} WHERE rule_id = ${i});`);
    // The largest blocks shrank by half or more (their number fell below LARGEST_BLOCKS): every block of the rule is
    // grouped again to find them.
    const kept = await db.one<{ n: bigint; large_from: bigint }>(`SELECT (SELECT count(*) FROM ${large} WHERE rule_id = ${i}) AS n, large_from FROM ${stats} WHERE rule_id = ${i}`);
    if (!kept) throw new Error(`the previous batch's blocking state has no rule ${r.name}`);
    if (Number(kept.n) < LARGEST_BLOCKS && Number(kept.large_from) > 2) {
      regrouped++;
      await using all = await materialise(db, 'inc_blocks_all', countedBlocksSql(storedRuleKeysSql(i)));
      await db.run(`
        UPDATE ${stats} SET large_from = (${largeFromSql(String(all))}) WHERE rule_id = ${i};
        DELETE FROM ${large} WHERE rule_id = ${i};
        INSERT INTO ${large} SELECT ${i}, key, records FROM ${all} WHERE records >= (SELECT large_from FROM ${stats} WHERE rule_id = ${i});`);
    }
    // the keys the pairs below read: those of the blocks holding a dirty record, and of the blocks kept now and not before
    await using keptKeys = await materialise(db, 'inc_block_keys_kept', `
      WITH want AS (SELECT key FROM ${dirtyKeys} UNION SELECT key FROM ${flipped} WHERE kept_now)
      SELECT k.* FROM ${keys} k SEMI JOIN want w ON w.key = k.key SEMI JOIN ${sizes} s ON s.key = k.key AND s.kept_now`);
    await db.run(`
      -- the pairs of a dirty record
      INSERT INTO ${newPairs}
        SELECT DISTINCT least(d.rec_id, x.rec_id), greatest(d.rec_id, x.rec_id), ${i}::UTINYINT
        FROM (SELECT * FROM ${keptKeys} SEMI JOIN ${dirty} USING (rec_id)) d JOIN ${keptKeys} x ON x.key = d.key AND x.rec_id <> d.rec_id
        WHERE ${conds('d', 'x')};
      -- blocks kept now and not before: the pairs of their unchanged records
      INSERT INTO ${newPairs}
        SELECT DISTINCT l.rec_id, r.rec_id, ${i}::UTINYINT
        FROM (SELECT * FROM ${keptKeys} SEMI JOIN ${flipped} f ON f.key = ${keptKeys}.key AND f.kept_now ANTI JOIN ${dirty} USING (rec_id)) l
        JOIN (SELECT * FROM ${keptKeys} ANTI JOIN ${dirty} USING (rec_id)) r ON r.key = l.key AND l.rec_id < r.rec_id
        WHERE ${conds('l', 'r')};`);
    // blocks kept before and not now: the previous pairs of this rule sharing one, unless they share another kept
    // key of the rule (their keys in untouched blocks are counted here: those blocks are kept as they were)
    await using hit = await materialise(db, 'inc_hit_pairs', `
      WITH off_keys AS (SELECT k.rec_id, k.key FROM ${keys} k SEMI JOIN ${flipped} f ON f.key = k.key AND NOT f.kept_now)
      SELECT DISTINCT pp.rec_id_l, pp.rec_id_r FROM inc_prev_pairs pp
      JOIN off_keys kl ON kl.rec_id = pp.rec_id_l JOIN off_keys kr ON kr.rec_id = pp.rec_id_r AND kr.key = kl.key
      WHERE (pp.rules >> ${i}) & 1 = 1`);
    if ((await db.count(`SELECT count(*) FROM ${hit}`)) > 0) {
      await using hitKeys = await materialise(db, 'inc_hit_keys', `SELECT * FROM ${storedRuleKeysSql(i)} WHERE rec_id IN (SELECT rec_id_l FROM ${hit} UNION SELECT rec_id_r FROM ${hit})`);
      await using hitKept = await materialise(db, 'inc_hit_kept', `
        WITH other AS (SELECT key FROM ${hitKeys} EXCEPT SELECT key FROM ${wanted}),
        b AS (${blockSizesSql(`(SELECT k.* FROM ${storedRuleKeysSql(i)} k SEMI JOIN other o ON o.key = k.key)`)}),
        kept AS (
          SELECT key FROM b WHERE n > 1 AND n <= ${c} AND (NOT is_probe OR p > 0)
          UNION ALL SELECT key FROM ${sizes} WHERE kept_now)
        SELECT k.* FROM ${hitKeys} k SEMI JOIN kept USING (key)`);
      await db.run(`
        INSERT INTO ${bitsOff}
          WITH still AS (
            SELECT DISTINCT h.rec_id_l, h.rec_id_r FROM ${hit} h
            JOIN ${hitKept} l ON l.rec_id = h.rec_id_l JOIN ${hitKept} r ON r.rec_id = h.rec_id_r AND r.key = l.key
            WHERE ${conds('l', 'r')})
          SELECT rec_id_l, rec_id_r, ${i}::UTINYINT FROM (SELECT * FROM ${hit} EXCEPT SELECT * FROM still);`);
    }
  }
  await writeBlockingState(db, rules, String(stats), String(large));
  const lowestRule = `list_min(list_filter(range(${rules.length}), i -> (rules >> i::INTEGER) & 1 = 1))::UTINYINT`;
  await using pairs = await materialise(db, 'inc_pairs', `
    WITH off AS (SELECT rec_id_l, rec_id_r, bit_or((1::UINTEGER) << rule_id::INTEGER) AS off FROM ${bitsOff} GROUP BY ALL),
    prev AS (SELECT pp.rec_id_l, pp.rec_id_r, pp.rules - (pp.rules & coalesce(off.off, 0::UINTEGER)) AS rules FROM inc_prev_pairs pp LEFT JOIN off USING (rec_id_l, rec_id_r)),
    added AS (SELECT rec_id_l, rec_id_r, bit_or((1::UINTEGER) << rule_id::INTEGER) AS rules FROM ${newPairs} GROUP BY ALL),
    u AS (SELECT rec_id_l, rec_id_r, bit_or(rules) AS rules FROM (SELECT * FROM prev UNION ALL SELECT * FROM added) GROUP BY ALL HAVING bit_or(rules) <> 0)
    SELECT rec_id_l, rec_id_r, ${lowestRule} AS rule_id, rules::UINTEGER AS rules FROM u`);
  const tBlock = performance.now();

  // Comparison vectors: reused, or computed for the pairs the previous batch did not hold.
  const gammas = COMPARISONS.map((c) => gammaColumn(c));
  await using todo = await materialise(db, 'inc_compare_pairs', `
    SELECT p.* FROM ${pairs} p ANTI JOIN inc_prev_pairs pp USING (rec_id_l, rec_id_r)`);
  // compare_input: every record when training again (u is sampled over all), else the records of the pairs to compare
  await using _compareInput = o.retrain
    ? await prepareCompareInput(db)
    : await materialise(db, 'compare_input', `
        SELECT ${compareColumns().join(', ')} FROM person_clean
        WHERE rec_id IN (SELECT rec_id_l FROM ${todo} UNION SELECT rec_id_r FROM ${todo})`);
  await using _vectors = await materialise(db, 'comparison_vectors', `
    SELECT p.rec_id_l, p.rec_id_r, p.rule_id, p.rules, ${gammas.map((g) => `pp.${g}`).join(', ')}
    FROM ${pairs} p JOIN inc_prev_pairs pp USING (rec_id_l, rec_id_r)
    UNION ALL
    ${comparisonVectorsSql(String(todo), ['rule_id', 'rules'])}`);
  await db.run(`
    ${startWorkingTableSql('candidate_pairs', 'SELECT rec_id_l, rec_id_r, rule_id, rules FROM comparison_vectors ORDER BY rec_id_l, rec_id_r')}`);
  const tCompare = performance.now();
  const model = o.model ?? (await trainModel(db, linkage, rules.map((r) => r.name), { uSamplePairs: linkage.u_sample_pairs, seed: LINKAGE_SEED }));
  const tTrain = performance.now();
  let scored = await scorePairs(db, model);
  const tScore = performance.now();

  const n = await db.one<Record<string, bigint | number>>(`
    SELECT (SELECT count(*) FROM incremental_record) AS total,
      (SELECT count(*) FILTER (WHERE status = 'new') FROM incremental_record) AS new,
      (SELECT count(*) FILTER (WHERE status = 'changed') FROM incremental_record) AS changed,
      (SELECT count(*) FILTER (WHERE status = 'unchanged') FROM incremental_record) AS unchanged,
      (SELECT count(*) FILTER (WHERE fields_changed) FROM incremental_record) AS fields_changed,
      (SELECT count(*) FROM inc_prev_gone) AS gone,
      (SELECT count(*) FROM ${pairs}) AS pairs,
      (SELECT count(*) FROM ${todo}) AS compared,
      (SELECT count(*) FROM inc_prev_pairs pp SEMI JOIN ${pairs} p USING (rec_id_l, rec_id_r)) AS reused,
      (SELECT sum(flipped) FROM ${stats}) AS flipped,
      (SELECT count(*) FROM ${bitsOff}) AS bits_off`);
  const num = (k: string) => Number(n?.[k] ?? 0);
  // the previous batch's pairs: the reused ones and those dropped (a record gone or changed, or found by no rule now)
  const blocking = await blockingFigures(db, BLOCKING_RULES, linkage.max_block_size, { pairs: String(pairs), stats: String(stats), large: String(large) });
  // The family context as a full batch makes it, with the model's family model. Scoring with the previous batch's,
  // only the family pairs a change touched are scored with their competition (FamilyPrevious): the others carry
  // their member pairs and rows from the previous batch. A model trained again brings none: its family model is estimated by EM over
  // every member pair, and a change anywhere then moves every family pair's weight. The comparisons are bounded
  // either way: the member pairs of two unchanged records keep the gammas the previous batch gave them (its scored
  // pairs, and the member pairs it compared and did not keep); only the others are compared.
  const tFamily0 = performance.now();
  const cpuFamily0 = process.cpuUsage();
  const prevGammas = (t: string) => `SELECT rec_id_l, rec_id_r, ${gammas.join(', ')} FROM ${t}`;
  // the previous batch's unkept pairs: this database's FAMILY_UNKEPT_TABLE while it is the previous batch's copy
  // (its rows of records gone or changed left out), else their copy inc_prev_family_unkept (previous.ts)
  const prevUnkept = o.familyInPlace
    ? `(SELECT u.* FROM ${FAMILY_UNKEPT_TABLE} u ANTI JOIN inc_prev_dirty l ON l.rec_id = u.rec_id_l ANTI JOIN inc_prev_dirty r ON r.rec_id = u.rec_id_r)`
    : 'inc_prev_family_unkept';
  const familyPrevious: FamilyPrevious | undefined = o.previousModel && o.model?.family_context && !o.retrain
    ? {
        seeds: 'SELECT rec_id_l, rec_id_r FROM inc_prev_family_seeds',
        members: `SELECT rec_id_l, rec_id_r, competitor_odds, match_weight FROM ${o.familyInPlace ? FAMILY_MEMBER_TABLE : 'inc_prev_family_members'}`,
        dirtyFamilies: `SELECT family_id FROM person_clean SEMI JOIN ${dirty} USING (rec_id) UNION ALL SELECT family_id FROM inc_prev_dirty`,
        inPlace: o.familyInPlace === true,
      }
    : undefined;
  const family = await linkFamilyContext(db, linkage, model, blocking, o.seedThreshold, {
    gammas: `${prevGammas('inc_prev_pairs')} UNION ALL ${prevGammas(prevUnkept)}`,
    // compare_input (the handle above drops it) then holds the records of the pairs compared (every record when training again)
    narrowCompareInput: !o.retrain,
    ...(familyPrevious ? { previous: familyPrevious } : {}),
  });
  scored += family.figures?.new_pairs ?? 0;
  const tFamily = performance.now();
  const cpuFamily = cpuSecondsSince(cpuFamily0);
  const ff = family.figures;
  const figures: IncrementalLinkFigures = {
    records: { total: num('total'), new: num('new'), changed: num('changed'), unchanged: num('unchanged'), gone: num('gone'), fields_changed: num('fields_changed') },
    // total: with the pairs the family context added, as a full batch counts its scored pairs
    // the family context's new pairs: compared, or their gammas reused from the previous batch
    pairs: {
      total: blocking.candidate_pairs,
      reused: num('reused') + (ff ? ff.new_pairs - ff.new_pairs_compared : 0),
      compared: num('compared') + (ff?.new_pairs_compared ?? 0),
      dropped: o.previousPairs - num('reused'),
      scored,
    },
    ...(ff
      ? {
          family: {
            member_pairs: ff.member_pairs, family_pairs: ff.linked_family_pairs, compared_pairs: ff.compared_pairs, compared_family_pairs: ff.compared_family_pairs, reused_pairs: ff.reused_pairs,
            scored_family_pairs: ff.scored_family_pairs, scored_member_pairs: ff.scored_member_pairs,
            reused_family_pairs: ff.reused_family_pairs, reused_member_pairs: ff.reused_member_pairs,
            model_source: ff.model_source,
            in_place: familyPrevious !== undefined && o.familyInPlace === true,
          },
        }
      : {}),
    keys_in_place: keysInPlace,
    flipped_blocks: num('flipped'),
    rule_bits_cleared: num('bits_off'),
    rules_regrouped: regrouped,
  };
  return {
    candidatePairs: blocking.candidate_pairs,
    scoredPairs: scored,
    model: family.model,
    familyContext: family.figures,
    blocking,
    incremental: figures,
    seconds: { blocking: s3(t0, tBlock), compare: s3(tBlock, tCompare), train: s3(tCompare, tTrain), score: s3(tTrain, tScore), family_context: s3(tFamily0, tFamily) },
    /** CPU seconds of the process (every thread), user and system */
    cpu_seconds: { family_context: cpuFamily },
  };
}

