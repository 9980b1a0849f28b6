/**
 * Evaluate against a ground truth (source, source_record_id, person_id[, family_id]) — used only to measure,
 * never to train. Pairwise precision, recall and F1 of the clusters, the exact-NIK baseline on the same
 * records, the share of persons resolved to exactly one cluster, where the false negatives come from and
 * what the false positives look like. Pair counts come from combinatorics over group sizes per source, so
 * no pair list of the whole population is ever built; only the true pairs are listed, for the breakdown.
 */
import type { Ctx, Stage } from '../../engine/context.ts';
import type { Db } from '../../engine/db.ts';
import { lit } from '../../engine/db.ts';
import type { Linkage } from '../../../schemas/config.ts';
import { allowedSourcePairsSql } from '../block/index.ts';
import { BLOCKING_RULES } from '../block/rules.ts';
import { linkableSql } from '../cluster/index.ts';
import { COMPARISONS } from '../compare/comparisons.ts';
import { gammaColumn } from '../compare/index.ts';

export interface QualityFigures {
  precision: number;
  recall: number;
  f1: number;
  true_pairs: number;
  predicted_pairs: number;
  true_positive_pairs: number;
}

export interface EvaluationFigures extends QualityFigures {
  baseline: QualityFigures & { rule: string };
  persons: number;
  persons_in_exactly_one_cluster: number;
  share_persons_exactly_one_cluster: number;
  records_evaluated: number;
  records_without_truth: number;
  false_negatives: { never_candidate: number; scored_below_threshold: number; held_apart_as_hard_negative: number; split_by_clustering: number };
  false_positives: {
    /** links (pairs at or above the threshold that joined two records) between records of different persons */
    pairs_linked_across_persons: number;
    same_family: number;
    by_source_pair: { sources: string; pairs: number }[];
    /** the most frequent comparison patterns among those links */
    by_pattern: { levels: Record<string, string>; pairs: number; same_family: number; mean_weight: number }[];
  };
  /** the true pairs the blocking rules proposed as candidates, overall and per rule */
  blocking: { true_pairs: number; found_by_any_rule: number; recall: number; by_rule: { rule: string; true_pairs_found: number; share: number }[] };
}

/** SQL: allowed pairs inside groups of `table` grouped by `key`, from per-source counts. */
function pairCountSql(table: string, key: string, linkage: Pick<Linkage, 'dedupe' | 'link'>): string {
  const n = (s: string) => `count(*) FILTER (WHERE source = ${lit(s)})`;
  const terms = [
    ...linkage.dedupe.map((s) => `${n(s)} * (${n(s)} - 1) / 2`),
    ...linkage.link.map(([a, b]) => `${n(a)} * ${n(b)}`),
  ];
  return `SELECT coalesce(sum(p), 0) FROM (SELECT ${terms.length ? terms.join(' + ') : '0'} AS p FROM ${table} GROUP BY ${key})`;
}

function quality(truePairs: number, predicted: number, tp: number): QualityFigures {
  const precision = predicted > 0 ? tp / predicted : 1;
  const recall = truePairs > 0 ? tp / truePairs : 1;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, f1, true_pairs: truePairs, predicted_pairs: predicted, true_positive_pairs: tp };
}

export async function loadTruth(db: Db, truthPath: string): Promise<void> {
  await db.run(`
    CREATE OR REPLACE TABLE truth AS
    SELECT trim(source) AS source, trim(source_record_id) AS source_record_id, trim(person_id) AS person_id,
           ${'nullif(trim(family_id), \'\')'} AS family_id
    FROM read_csv(${lit(truthPath)}, header = true, all_varchar = true, union_by_name = true, columns = {'source': 'VARCHAR', 'source_record_id': 'VARCHAR', 'person_id': 'VARCHAR', 'family_id': 'VARCHAR'}, auto_detect = false, delim = ',', quote = '"')
  `);
}

export async function evaluate(db: Db, truthPath: string, linkage: Linkage): Promise<EvaluationFigures> {
  await loadTruth(db, truthPath);
  await db.run(`
    CREATE OR REPLACE TEMP TABLE eval_records AS
    SELECT p.rec_id, p.source, p.nik, c.cluster_id, t.person_id, t.family_id
    FROM person_clean p JOIN clusters c USING (rec_id)
    JOIN truth t ON t.source = p.source AND t.source_record_id = p.source_record_id;
  `);
  const evaluated = await db.count(`SELECT count(*) FROM eval_records`);
  const withoutTruth = (await db.count(`SELECT count(*) FROM person_clean`)) - evaluated;
  const truePairs = await db.count(pairCountSql('eval_records', 'person_id', linkage));
  const predicted = await db.count(pairCountSql('eval_records', 'cluster_id', linkage));
  const tp = await db.count(pairCountSql('eval_records', 'cluster_id, person_id', linkage));
  const baseKey = `coalesce(nik, 'rec:' || rec_id::VARCHAR)`;
  const bPred = await db.count(pairCountSql('eval_records', baseKey, linkage));
  const bTp = await db.count(pairCountSql('eval_records', `${baseKey}, person_id`, linkage));
  const persons = await db.count(`SELECT count(DISTINCT person_id) FROM eval_records`);
  const exactlyOne = await db.count(`
    WITH pc AS (SELECT person_id, count(DISTINCT cluster_id) AS clusters, any_value(cluster_id) AS cluster_id FROM eval_records GROUP BY ALL),
         cp AS (SELECT cluster_id, count(DISTINCT person_id) AS persons FROM eval_records GROUP BY ALL)
    SELECT count(*) FROM pc JOIN cp USING (cluster_id) WHERE pc.clusters = 1 AND cp.persons = 1`);
  // The true pairs (allowed by the config) once: where the false negatives were lost, and what each blocking rule finds.
  const threshold = linkage.threshold;
  const hasHard = (await db.count(`SELECT count(*) FROM duckdb_columns() WHERE table_name = 'scored_pairs' AND column_name = 'hard_negative'`)) > 0;
  const linkable = linkableSql(threshold, hasHard);
  await db.run(`
    CREATE OR REPLACE TEMP TABLE eval_true_pairs AS
    SELECT l.rec_id AS rec_id_l, r.rec_id AS rec_id_r, l.cluster_id = r.cluster_id AS together
    FROM eval_records l JOIN eval_records r ON l.person_id = r.person_id AND l.rec_id < r.rec_id
    SEMI JOIN (${allowedSourcePairsSql(linkage)}) s ON s.source_l = l.source AND s.source_r = r.source`);
  const fn = await db.one<Record<string, string>>(`
    SELECT count(*) FILTER (WHERE NOT together AND s.rec_id_l IS NULL) AS never_candidate,
           count(*) FILTER (WHERE NOT together AND s.match_probability < ${threshold}) AS below,
           count(*) FILTER (WHERE NOT together AND s.match_probability >= ${threshold} AND NOT (${linkable})) AS hard_negative,
           count(*) FILTER (WHERE NOT together AND ${linkable}) AS split
    FROM eval_true_pairs tp LEFT JOIN scored_pairs s USING (rec_id_l, rec_id_r)`);
  const ruleNames = linkage.engine === 'probabilistic' ? BLOCKING_RULES.map((r) => r.name) : ['exact'];
  const byRule = await db.all<{ rule_id: string; found: string }>(`
    SELECT r.rule_id, count(c.rec_id_l) AS found
    FROM range(${ruleNames.length}) r(rule_id)
    LEFT JOIN (eval_true_pairs tp JOIN candidate_pairs c USING (rec_id_l, rec_id_r)) ON (c.rules >> r.rule_id::INT) & 1 = 1
    GROUP BY ALL ORDER BY r.rule_id`);
  const candidates = await db.count(`SELECT count(*) FROM eval_true_pairs SEMI JOIN candidate_pairs USING (rec_id_l, rec_id_r)`);
  const allowedTrue = await db.count(`SELECT count(*) FROM eval_true_pairs`);
  await db.run(`DROP TABLE eval_true_pairs`);
  // False positives: the links (pairs that joined two records) between records of different persons.
  const fpEdges = `scored_pairs s JOIN eval_records l ON l.rec_id = s.rec_id_l JOIN eval_records r ON r.rec_id = s.rec_id_r
    WHERE ${linkable} AND l.person_id <> r.person_id`;
  const fp = await db.all<{ sources: string; pairs: string; same_family: string }>(`
    SELECT l.source || '-' || r.source AS sources, count(*) AS pairs, count(*) FILTER (WHERE l.family_id = r.family_id) AS same_family
    FROM ${fpEdges} GROUP BY ALL ORDER BY pairs DESC, sources`);
  const gammas = COMPARISONS.map((c) => gammaColumn(c));
  const patterns = linkage.engine === 'probabilistic'
    ? await db.all<Record<string, string>>(`
        SELECT ${gammas.map((g) => `s.${g}`).join(', ')}, count(*) AS pairs, avg(s.match_weight) AS mean_weight, count(*) FILTER (WHERE l.family_id = r.family_id) AS same_family
        FROM ${fpEdges} GROUP BY ALL ORDER BY pairs DESC, ${gammas.map((g) => `s.${g}`).join(', ')} LIMIT 10`)
    : [];
  const levelLabel = (ci: number, g: number) => (g < 0 ? 'null' : COMPARISONS[ci].levels[g]?.label ?? String(g));
  return {
    ...quality(truePairs, predicted, tp),
    baseline: { rule: 'records with the same valid NIK are one person', ...quality(truePairs, bPred, bTp) },
    persons,
    persons_in_exactly_one_cluster: exactlyOne,
    share_persons_exactly_one_cluster: persons > 0 ? exactlyOne / persons : 1,
    records_evaluated: evaluated,
    records_without_truth: withoutTruth,
    false_negatives: {
      never_candidate: Number(fn?.never_candidate ?? 0),
      scored_below_threshold: Number(fn?.below ?? 0),
      held_apart_as_hard_negative: Number(fn?.hard_negative ?? 0),
      split_by_clustering: Number(fn?.split ?? 0),
    },
    false_positives: {
      pairs_linked_across_persons: fp.reduce((a, r) => a + Number(r.pairs), 0),
      same_family: fp.reduce((a, r) => a + Number(r.same_family), 0),
      by_source_pair: fp.map((r) => ({ sources: r.sources, pairs: Number(r.pairs) })),
      by_pattern: patterns.map((p) => ({
        levels: Object.fromEntries(COMPARISONS.map((c, i) => [c.name, levelLabel(i, Number(p[gammas[i]]))])),
        pairs: Number(p.pairs),
        same_family: Number(p.same_family),
        mean_weight: Number(Number(p.mean_weight).toFixed(2)),
      })),
    },
    blocking: {
      true_pairs: allowedTrue,
      found_by_any_rule: candidates,
      recall: allowedTrue > 0 ? candidates / allowedTrue : 1,
      by_rule: byRule.map((r) => ({ rule: ruleNames[Number(r.rule_id)], true_pairs_found: Number(r.found), share: allowedTrue > 0 ? Number(r.found) / allowedTrue : 0 })),
    },
  };
}

export const evaluateStage: Stage = {
  name: 'evaluate',
  async run(ctx: Ctx) {
    if (!ctx.truthPath) return { rows: 0 };
    const figures = await evaluate(ctx.db, ctx.truthPath, ctx.config.linkage);
    ctx.log.info({ stage: 'evaluate', precision: figures.precision, recall: figures.recall, f1: figures.f1, baseline_f1: figures.baseline.f1 }, 'evaluated');
    return { rows: figures.records_evaluated, figures: figures as unknown as Record<string, unknown> };
  },
};
