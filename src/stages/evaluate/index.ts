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
  false_negatives: { never_candidate: number; scored_below_threshold: number; split_by_clustering: number };
  false_positives: { pairs_linked_across_persons: number; same_family: number; by_source_pair: { sources: string; pairs: number }[] };
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
  // False negatives: the true pairs that did not end in one cluster, by where they were lost.
  const threshold = linkage.threshold;
  const fn = await db.one<Record<string, string>>(`
    WITH tp AS (
      SELECT l.rec_id AS rec_id_l, r.rec_id AS rec_id_r, l.cluster_id = r.cluster_id AS together
      FROM eval_records l JOIN eval_records r ON l.person_id = r.person_id AND l.rec_id < r.rec_id
      SEMI JOIN (${allowedSourcePairsSql(linkage)}) s ON s.source_l = l.source AND s.source_r = r.source
    )
    SELECT count(*) FILTER (WHERE NOT together AND s.rec_id_l IS NULL) AS never_candidate,
           count(*) FILTER (WHERE NOT together AND s.match_probability < ${threshold}) AS below,
           count(*) FILTER (WHERE NOT together AND s.match_probability >= ${threshold}) AS split
    FROM tp LEFT JOIN scored_pairs s USING (rec_id_l, rec_id_r)`);
  const fp = await db.all<{ sources: string; pairs: string; same_family: string }>(`
    SELECT l.source || '-' || r.source AS sources, count(*) AS pairs,
           count(*) FILTER (WHERE l.family_id = r.family_id) AS same_family
    FROM scored_pairs s JOIN eval_records l ON l.rec_id = s.rec_id_l JOIN eval_records r ON r.rec_id = s.rec_id_r
    WHERE s.match_probability >= ${threshold} AND l.person_id <> r.person_id
    GROUP BY ALL ORDER BY pairs DESC`);
  return {
    ...quality(truePairs, predicted, tp),
    baseline: { rule: 'records with the same valid NIK are one person', ...quality(truePairs, bPred, bTp) },
    persons,
    persons_in_exactly_one_cluster: exactlyOne,
    share_persons_exactly_one_cluster: persons > 0 ? exactlyOne / persons : 1,
    records_evaluated: evaluated,
    records_without_truth: withoutTruth,
    false_negatives: { never_candidate: Number(fn?.never_candidate ?? 0), scored_below_threshold: Number(fn?.below ?? 0), split_by_clustering: Number(fn?.split ?? 0) },
    false_positives: {
      pairs_linked_across_persons: fp.reduce((a, r) => a + Number(r.pairs), 0),
      same_family: fp.reduce((a, r) => a + Number(r.same_family), 0),
      by_source_pair: fp.map((r) => ({ sources: r.sources, pairs: Number(r.pairs) })),
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
