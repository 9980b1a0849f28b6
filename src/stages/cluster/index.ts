/**
 * Cluster: records linked by pairs at or above the threshold form one person (connected components,
 * engine/connected-components.ts). A cluster holding two records that are plainly distinct persons (conflicts.sql.ts) is split
 * at its weakest links (split.ts), or flagged when its links cannot separate them.
 * Output clusters(rec_id, cluster_id, best_link_probability, conflicted) holds every record, singletons
 * included; cluster_conflicts(rec_id_l, rec_id_r, reason, outcome, cluster_id_l, cluster_id_r) every conflict
 * found, split or flagged, and every cluster too large to be checked pair by pair.
 */
import { defineStage, type TableDeclaration } from '../../engine/context.ts';
import { linkStage } from '../link/index.ts';
import type { Db } from '../../engine/db.ts';
import { lit } from '../../engine/db.ts';
import type { ConflictReason } from '../../../schemas/config.ts';
import { thresholdOf } from '../../../schemas/config.ts';
import { connectedComponents } from '../../engine/connected-components.ts';
import { CONFLICT_REASONS, conflictSql } from './conflicts.sql.ts';
import { splitConflicted, type SplitResult } from './split.ts';
import { expectedClusterQuality, linkableSql } from '../../linkage/threshold.ts';
import { allowedSourcePairsSql } from '../../linkage/blocking.ts';
import { APPLY_LAST_SPLIT_SQL, DECISION_WEIGHT, MODEL_WEIGHT_CAP, DECISIONS_LEFT_SQL, decisionConflictsSql, NOT_DIFFERENT_SQL, SAME_EDGES_SQL } from '../../register/cluster.sql.ts';



export interface ConflictOptions {
  /** split conflicted clusters (else they are only flagged) */
  split: boolean;
  /** match weights in bits, ascending (split.ts) */
  tiers: readonly number[];
  /** clusters larger than this are not searched pair by pair */
  maxClusterSize: number;
  /** the reasons that split (default all); conflicts of the others are only flagged */
  reasons?: readonly ConflictReason[];
}

export interface ConflictFigures {
  /** clusters of 2 to max_conflict_cluster_size records, searched pair by pair */
  clusters_checked: number;
  /** clusters over max_conflict_cluster_size: searched for hard negatives only, flagged */
  too_large: { clusters: number; records: number; largest: number; max_conflict_cluster_size: number };
  /** clusters holding at least one conflict pair */
  conflicted: number;
  /** conflicted clusters that ended in two or more clusters, and the clusters they became */
  split: number;
  clusters_after_split: number;
  /** records that left the cluster they were in (all but the piece keeping the cluster's smallest record) */
  records_moved: number;
  /** clusters still holding a conflict pair (flagged), too large ones included */
  still_flagged: number;
  by_reason: { reason: string; pairs: number; split: number; flagged: number }[];
  tiers: SplitResult['tiers'];
}


/** Match weight in bits of a match probability. */
export const weightOfProbability = (p: number): number => Math.log2(p / (1 - p));

/**
 * Clusters every record of person_clean from the links of scored_pairs. With `conflicts`, conflicted clusters
 * are found and split (or flagged), and cluster_conflicts is written.
 */
export async function clusterRecords(
  db: Db,
  threshold: number,
  conflicts?: ConflictOptions,
): Promise<{ rounds: number; clusters: number; conflicts?: ConflictFigures }> {
  const hasHard = await db.columnExists('scored_pairs', 'hard_negative');
  const weight = (await db.columnExists('scored_pairs', 'match_weight'))
    ? 'match_weight'
    : `CASE WHEN match_probability >= 1 THEN 'inf'::DOUBLE ELSE log2(match_probability / (1 - match_probability)) END`;
  // human decisions (src/register/cluster.sql.ts): same_person pairs always link, different_persons never do
  const decided = (await db.tableExists('decision_pair')) && (await db.count(`SELECT count(*) FROM decision_pair`)) > 0;
  const linkable = linkableSql(threshold, hasHard) + (decided ? ` AND ${NOT_DIFFERENT_SQL}` : '');
  // the model's links stay under the decisions' weight, so that the last split can part what no human joined
  const w = decided ? `least(${weight}, ${MODEL_WEIGHT_CAP})` : weight;
  await db.run(`
    CREATE OR REPLACE TEMP TABLE cluster_edges AS
      SELECT rec_id_l AS a, rec_id_r AS b, ${w} AS w, match_probability AS p FROM scored_pairs WHERE ${linkable}
      UNION ALL SELECT rec_id_r, rec_id_l, ${w}, match_probability FROM scored_pairs WHERE ${linkable}
      ${decided ? SAME_EDGES_SQL : ''};
  `);
  const rounds = await connectedComponents(db, 'cluster_edges', 'cluster_linked');
  let figures: ConflictFigures | undefined;
  let final = 'cluster_linked';
  if (conflicts) {
    await db.run(conflictSql('cluster_linked', conflicts.maxClusterSize, hasHard));
    if (decided) await db.run(decisionConflictsSql('cluster_linked'));
    // A tier at or under the threshold's weight would cut nothing.
    const tiers = conflicts.split ? conflicts.tiers.filter((t) => t > weightOfProbability(threshold)) : [];
    const reasons = [...(conflicts.reasons ?? CONFLICT_REASONS), ...(decided ? ['decision'] : [])];
    await db.run(`CREATE OR REPLACE TEMP TABLE cl_to_split AS SELECT * FROM cl_conflict WHERE reason IN (${reasons.map(lit).join(', ') || 'NULL'})`);
    const split = await splitConflicted(db, 'cluster_edges', 'cluster_linked', 'cl_to_split', tiers);
    await db.run(`
      CREATE OR REPLACE TEMP TABLE cluster_final AS
        SELECT l.rec_id, coalesce(s.cluster_id, l.cluster_id) AS cluster_id, l.cluster_id AS orig
        FROM cluster_linked l LEFT JOIN cl_split s USING (rec_id);
      DROP TABLE cl_split;`);
    // different_persons records the tiers could not part (or split_conflicts off): split over the decided edges alone
    if (decided) {
      await db.run(DECISIONS_LEFT_SQL);
      if ((await db.count(`SELECT count(*) FROM cl_decision_left`)) > 0) await splitConflicted(db, 'cluster_edges', 'cl_stage2', 'cl_decision_left', [DECISION_WEIGHT]);
      else await db.run(`CREATE OR REPLACE TEMP TABLE cl_split AS SELECT rec_id, cluster_id FROM cl_stage2 WHERE false`);
      await db.run(APPLY_LAST_SPLIT_SQL);
    }
    final = 'cluster_final';
    figures = await writeConflicts(db, conflicts.maxClusterSize, split);
  }
  await db.run(`
    CREATE OR REPLACE TABLE clusters AS
    WITH best AS (
      SELECT e.a AS rec_id, max(e.p) AS best_link_probability
      FROM cluster_edges e JOIN ${final} x ON x.rec_id = e.a JOIN ${final} y ON y.rec_id = e.b
      WHERE x.cluster_id = y.cluster_id GROUP BY e.a),
    flagged AS (${conflicts ? `SELECT DISTINCT cluster_id_l AS cluster_id FROM cluster_conflicts WHERE outcome = 'flagged'` : 'SELECT NULL::BIGINT AS cluster_id WHERE false'})
    SELECT p.rec_id, coalesce(c.cluster_id, p.rec_id) AS cluster_id, coalesce(b.best_link_probability, 1.0) AS best_link_probability,
      c.cluster_id IS NOT NULL AND c.cluster_id IN (SELECT cluster_id FROM flagged) AS conflicted
    FROM person_clean p LEFT JOIN ${final} c USING (rec_id) LEFT JOIN best b USING (rec_id)
    ORDER BY p.rec_id;
    DROP TABLE cluster_edges; DROP TABLE cluster_linked; ${conflicts ? 'DROP TABLE cluster_final; DROP TABLE cl_member; DROP TABLE cl_conflict; DROP TABLE cl_to_split;' : ''}
  `);
  return { rounds, clusters: await db.count(`SELECT count(DISTINCT cluster_id) FROM clusters`), conflicts: figures };
}

/** cluster_conflicts from cl_conflict and cluster_final, and the figures of the check. */
async function writeConflicts(db: Db, maxSize: number, split: SplitResult): Promise<ConflictFigures> {
  await db.run(`
    CREATE OR REPLACE TABLE cluster_conflicts AS
    WITH unchecked AS (SELECT DISTINCT cluster_id FROM cluster_final WHERE orig IN (SELECT orig FROM cluster_final GROUP BY ALL HAVING count(*) > ${maxSize}))
    SELECT c.rec_id_l, c.rec_id_r, c.reason, CASE WHEN l.cluster_id = r.cluster_id THEN 'flagged' ELSE 'split' END AS outcome,
      l.cluster_id AS cluster_id_l, r.cluster_id AS cluster_id_r
    FROM cl_conflict c JOIN cluster_final l ON l.rec_id = c.rec_id_l JOIN cluster_final r ON r.rec_id = c.rec_id_r
    UNION ALL
    SELECT NULL, NULL, 'too_large', 'flagged', cluster_id, cluster_id FROM unchecked
    ORDER BY cluster_id_l, rec_id_l NULLS FIRST, rec_id_r;
    COMMENT ON TABLE cluster_conflicts IS ${lit('records of one cluster that are plainly distinct persons: split apart, or flagged when their links could not separate them; clusters too large to be checked')};`);
  const one = async (sql: string) => db.count(sql);
  const big = await db.one<{ clusters: bigint; records: bigint; largest: number | null }>(`
    SELECT count(*) AS clusters, coalesce(sum(size), 0) AS records, max(size) AS largest
    FROM (SELECT orig, count(*) AS size FROM cluster_final GROUP BY ALL) WHERE size > ${maxSize}`);
  const reasons = await db.all<{ reason: string; pairs: bigint; split: bigint; flagged: bigint }>(`
    SELECT reason, count(*) AS pairs, count(*) FILTER (WHERE outcome = 'split') AS split, count(*) FILTER (WHERE outcome = 'flagged') AS flagged
    FROM cluster_conflicts WHERE rec_id_l IS NOT NULL GROUP BY ALL`);
  const byReason = new Map(reasons.map((r) => [r.reason, r]));
  return {
    clusters_checked: await one(`SELECT count(DISTINCT cluster_id) FROM cl_member`),
    too_large: { clusters: Number(big?.clusters ?? 0), records: Number(big?.records ?? 0), largest: Number(big?.largest ?? 0), max_conflict_cluster_size: maxSize },
    conflicted: await one(`SELECT count(DISTINCT cluster_id) FROM cl_conflict`),
    split: await one(`SELECT count(*) FROM (SELECT orig FROM cluster_final GROUP BY ALL HAVING count(DISTINCT cluster_id) > 1)`),
    clusters_after_split: await one(`SELECT count(DISTINCT cluster_id) FROM cluster_final WHERE orig IN (SELECT orig FROM cluster_final GROUP BY ALL HAVING count(DISTINCT cluster_id) > 1)`),
    records_moved: await one(`SELECT count(*) FROM cluster_final WHERE cluster_id <> orig`),
    still_flagged: await one(`SELECT count(DISTINCT cluster_id_l) FROM cluster_conflicts WHERE outcome = 'flagged'`),
    by_reason: [...CONFLICT_REASONS, ...(byReason.has('decision') ? ['decision'] : []), 'too_large'].map((reason) => {
      const r = byReason.get(reason);
      if (reason === 'too_large') return { reason, pairs: 0, split: 0, flagged: Number(big?.clusters ?? 0) };
      return { reason, pairs: Number(r?.pairs ?? 0), split: Number(r?.split ?? 0), flagged: Number(r?.flagged ?? 0) };
    }),
    tiers: split.tiers,
  };
}

/** What cluster produces: every record in one cluster, and the conflicts found inside clusters. */
export const CLUSTER_TABLES: readonly TableDeclaration[] = [
  { name: 'clusters', description: 'one row per record: its cluster', columns: [{ name: 'rec_id', type: 'BIGINT' }, { name: 'cluster_id', type: 'BIGINT' }, { name: 'best_link_probability', type: 'DOUBLE' }, { name: 'conflicted', type: 'BOOLEAN' }], grain: ['rec_id'] },
  { name: 'cluster_conflicts', description: 'pairs of records of one cluster that are plainly distinct persons', columns: [{ name: 'rec_id_l', type: 'BIGINT' }, { name: 'rec_id_r', type: 'BIGINT' }, { name: 'reason', type: 'VARCHAR' }, { name: 'outcome', type: 'VARCHAR' }], grain: [] },
];

export const clusterStage = defineStage({
  name: 'cluster',
  reads: [linkStage],
  produces: CLUSTER_TABLES,
  async run(ctx, prior) {
    const linkage = ctx.config.linkage;
    const linkFigures = prior.link;
    const curve = linkFigures?.threshold?.expected_curve;
    const options: ConflictOptions = {
      split: linkage.split_conflicts,
      tiers: linkage.split_tiers,
      maxClusterSize: linkage.max_conflict_cluster_size,
      reasons: linkage.split_reasons,
    };
    const at = async (t: number) => {
      const r = await clusterRecords(ctx.db, t, options);
      const expected = curve ? await expectedClusterQuality(ctx.db, allowedSourcePairsSql(linkage), curve.expected_true_pairs) : undefined;
      return { ...r, expected, threshold: t };
    };
    let result = await at(thresholdOf(linkage));
    // Persons hold the pairs clustering adds through a third record too: when the expected precision of the
    // persons built falls under the floor, "auto" moves up the curve (bisection over its points) to the lowest
    // threshold whose persons keep to it, and writes it back for the stages after this one.
    const raised: { match_probability: number; expected_precision: number }[] = [];
    if (linkFigures?.threshold?.mode === 'auto' && curve && result.expected && result.expected.precision < linkage.precision_floor) {
      const above = curve.points.filter((p) => p.match_probability > result.threshold);
      let lo = 0;
      let hi = above.length - 1;
      let best: typeof result | undefined;
      while (lo <= hi && above.length) {
        const mid = (lo + hi) >> 1;
        const r = await at(above[mid].match_probability);
        raised.push({ match_probability: r.threshold, expected_precision: r.expected!.precision });
        if (r.expected!.precision >= linkage.precision_floor) {
          best = r;
          hi = mid - 1;
        } else lo = mid + 1;
      }
      result = best ?? (await at(above.at(-1)?.match_probability ?? result.threshold));
      if (best && best.threshold !== raised.at(-1)?.match_probability) result = await at(best.threshold);
      linkage.threshold = result.threshold;
    }
    const { rounds, clusters, conflicts, expected } = result;
    const sizes = await ctx.db.all<{ size: string; clusters: string }>(`
      SELECT size, count(*) AS clusters FROM (SELECT cluster_id, count(*) AS size FROM clusters GROUP BY ALL) GROUP BY ALL ORDER BY size`);
    if (conflicts && conflicts.too_large.clusters > 0) {
      ctx.log.warn({ clusters: conflicts.too_large.clusters, largest: conflicts.too_large.largest }, 'clusters too large to be checked for conflicts pair by pair');
    }
    return {
      rows: clusters,
      figures: {
        rounds,
        clusters,
        threshold: thresholdOf(linkage),
        threshold_mode: linkFigures?.threshold?.mode,
        /** "auto": the thresholds tried to keep the persons' expected precision at the floor */
        threshold_raised: raised,
        /** the model's expected pairwise precision and recall of the persons built (no truth used) */
        expected,
        size_distribution: sizes.map((s) => ({ size: Number(s.size), clusters: Number(s.clusters) })),
        conflicts,
      },
    };
  },
});
