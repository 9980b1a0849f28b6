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
import { temporaryComponents } from '../../engine/connected-components.ts';
import { materialise, type TempTable } from '../../engine/sql-pipeline.ts';
import { CONFLICT_REASONS, conflictMembersSql, conflictPairsSql } from './conflicts.sql.ts';
import { splitConflicted, type SplitResult } from './split.ts';
import { expectedClusterQuality, linkableSql } from '../../linkage/threshold.ts';
import { allowedSourcePairsSql } from '../../linkage/blocking.ts';
import { canClusterIncrementally, carryConflicts, incrementalScope, type IncrementalClusterFigures } from '../../incremental/cluster.ts';
import { dropPreviousCopies } from '../../incremental/previous.ts';
import { recomputePath, recordRecompute } from '../../incremental/state.ts';
import { DECISION_WEIGHT, MODEL_WEIGHT_CAP, decisionConflictsSql, decisionsLeftSql, NOT_DIFFERENT_SQL, SAME_EDGES_SQL } from '../../register/cluster.sql.ts';

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
  opts: { incremental?: boolean } = {},
): Promise<{ rounds: number; clusters: number; components: number; conflicts?: ConflictFigures; incremental?: IncrementalClusterFigures }> {
  const hasHard = await db.columnExists('scored_pairs', 'hard_negative');
  const weight = (await db.columnExists('scored_pairs', 'match_weight'))
    ? 'match_weight'
    : `CASE WHEN match_probability >= 1 THEN 'inf'::DOUBLE ELSE log2(match_probability / (1 - match_probability)) END`;
  // human decisions (src/register/cluster.sql.ts): same_person pairs always link, different_persons never do
  const decided = (await db.tableExists('decision_pair')) && (await db.count(`SELECT count(*) FROM decision_pair`)) > 0;
  const linkable = linkableSql(threshold, hasHard) + (decided ? ` AND ${NOT_DIFFERENT_SQL}` : '');
  // the model's links stay under the decisions' weight, so that the last split can part what no human joined
  const w = decided ? `least(${weight}, ${MODEL_WEIGHT_CAP})` : weight;
  // cluster_edges(a, b, w, p): the links, both directions
  await using edges = await materialise(db, 'cluster_edges', `
    SELECT rec_id_l AS a, rec_id_r AS b, ${w} AS w, match_probability AS p FROM scored_pairs WHERE ${linkable}
    UNION ALL SELECT rec_id_r, rec_id_l, ${w}, match_probability FROM scored_pairs WHERE ${linkable}
    ${decided ? SAME_EDGES_SQL : ''}`);
  // An incremental batch (src/incremental/cluster.ts) labels only the components a change reaches, resolves the
  // conflicts of those it must cluster again, and takes the previous clusters of the others; a full one labels
  // every component of the links.
  const scope = opts.incremental && conflicts ? await incrementalScope(db, { edges, threshold, hasHard, decided }) : undefined;
  const labelled = scope ? { rounds: scope.rounds, components: scope.linked } : await temporaryComponents(db, String(edges), 'cluster_linked');
  const rounds = labelled.rounds;
  await using linked = labelled.components;
  await using _region = scope?.region;
  await using untouched = scope?.untouched;
  const resolved = conflicts ? await resolveConflicts(db, threshold, conflicts, { edges, linked: scope?.region ?? linked, hasHard, decided }) : undefined;
  await using _final = resolved?.final;
  if (untouched) await carryConflicts(db, untouched);
  await using _all = resolved && untouched ? await materialise(db, 'cluster_final_all', `SELECT rec_id, cluster_id, orig FROM ${resolved.final} UNION ALL SELECT rec_id, cluster_id, orig FROM ${untouched}`) : undefined;
  const final = _all ?? resolved?.final ?? linked;
  // the component of a record: the cluster before conflicts split it (orig), or its cluster when none were searched
  const component = (_all ?? resolved?.final) ? 'c.orig' : 'c.cluster_id';
  await db.run(`
    CREATE OR REPLACE TABLE clusters AS
    WITH best AS (
      SELECT e.a AS rec_id, max(e.p) AS best_link_probability
      FROM ${edges} e JOIN ${final} cluster_a ON cluster_a.rec_id = e.a JOIN ${final} cluster_b ON cluster_b.rec_id = e.b
      WHERE cluster_a.cluster_id = cluster_b.cluster_id GROUP BY e.a),
    flagged AS (${conflicts ? `SELECT DISTINCT cluster_id_l AS cluster_id FROM cluster_conflicts WHERE outcome = 'flagged'` : 'SELECT NULL::BIGINT AS cluster_id WHERE false'})
    SELECT p.rec_id, coalesce(c.cluster_id, p.rec_id) AS cluster_id, coalesce(b.best_link_probability, 1.0) AS best_link_probability,
      c.cluster_id IS NOT NULL AND c.cluster_id IN (SELECT cluster_id FROM flagged) AS conflicted,
      coalesce(${component}, p.rec_id) AS component_id
    FROM person_clean p LEFT JOIN ${final} c USING (rec_id) LEFT JOIN best b USING (rec_id)
    ORDER BY p.rec_id`);
  return {
    rounds,
    clusters: await db.count(`SELECT count(DISTINCT cluster_id) FROM clusters`),
    components: scope?.figures.components ?? (await db.count(`SELECT count(DISTINCT cluster_id) FROM ${linked}`)),
    conflicts: resolved?.figures,
    incremental: scope?.figures,
  };
}

/** SELECT (rec_id, cluster_id, orig): `clusters` with the pieces of a split applied; `orig` the cluster before the first split. */
const applySplitSql = (clusters: string, pieces: string, orig: string) => `
  SELECT c.rec_id, coalesce(s.cluster_id, c.cluster_id) AS cluster_id, ${orig} AS orig FROM ${clusters} c LEFT JOIN ${pieces} s USING (rec_id)`;

/**
 * The conflicts inside the clusters of `linked`: found, split over the tiers (and over the human decisions),
 * written to cluster_conflicts. Returns cluster_final(rec_id, cluster_id, orig), which lives as long as the
 * caller's handle, and the figures.
 */
async function resolveConflicts(
  db: Db,
  threshold: number,
  conflicts: ConflictOptions,
  { edges, linked, hasHard, decided }: { edges: TempTable; linked: TempTable; hasHard: boolean; decided: boolean },
): Promise<{ final: TempTable; figures: ConflictFigures }> {
  await using members = await materialise(db, 'conflict_member', conflictMembersSql(String(linked), conflicts.maxClusterSize));
  await using found = await materialise(db, 'conflict_pair', conflictPairsSql(String(members), String(linked), hasHard));
  if (decided) await db.run(decisionConflictsSql(String(found), String(linked)));
  // A tier at or under the threshold's weight would cut nothing.
  const tiers = conflicts.split ? conflicts.tiers.filter((t) => t > weightOfProbability(threshold)) : [];
  const reasons = [...(conflicts.reasons ?? CONFLICT_REASONS), ...(decided ? ['decision'] : [])];
  await using toSplit = await materialise(db, 'conflict_to_split', `SELECT * FROM ${found} WHERE reason IN (${reasons.map(lit).join(', ') || 'NULL'})`);
  const split = await splitConflicted(db, String(edges), String(linked), String(toSplit), tiers);
  let final: TempTable;
  {
    await using pieces = split.pieces;
    final = await materialise(db, 'cluster_final', applySplitSql(String(linked), String(pieces), 'c.cluster_id'));
  }
  try {
    // different_persons records the tiers could not part (or split_conflicts off): split over the decided edges alone
    if (decided) {
      await using left = await materialise(db, 'decision_left', decisionsLeftSql(String(final)));
      if ((await db.count(`SELECT count(*) FROM ${left}`)) > 0) {
        const last = await splitConflicted(db, String(edges), String(final), String(left), [DECISION_WEIGHT]);
        await using pieces = last.pieces;
        const decidedFinal = await materialise(db, 'cluster_final_decided', applySplitSql(String(final), String(pieces), 'c.orig'));
        await final.drop();
        final = decidedFinal;
      }
    }
    return { final, figures: await writeConflicts(db, conflicts.maxClusterSize, split, { members, found, final }) };
  } catch (e) {
    await final[Symbol.asyncDispose]();
    throw e;
  }
}

/** cluster_conflicts from the conflict pairs and cluster_final, and the figures of the check. */
async function writeConflicts(
  db: Db,
  maxSize: number,
  split: SplitResult,
  { members, found, final }: { members: TempTable; found: TempTable; final: TempTable },
): Promise<ConflictFigures> {
  await db.run(`
    CREATE OR REPLACE TABLE cluster_conflicts AS
    WITH unchecked AS (SELECT DISTINCT cluster_id FROM ${final} WHERE orig IN (SELECT orig FROM ${final} GROUP BY ALL HAVING count(*) > ${maxSize}))
    SELECT c.rec_id_l, c.rec_id_r, c.reason, CASE WHEN l.cluster_id = r.cluster_id THEN 'flagged' ELSE 'split' END AS outcome,
      l.cluster_id AS cluster_id_l, r.cluster_id AS cluster_id_r
    FROM ${found} c JOIN ${final} l ON l.rec_id = c.rec_id_l JOIN ${final} r ON r.rec_id = c.rec_id_r
    UNION ALL
    SELECT NULL, NULL, 'too_large', 'flagged', cluster_id, cluster_id FROM unchecked
    ORDER BY cluster_id_l, rec_id_l NULLS FIRST, rec_id_r;
    COMMENT ON TABLE cluster_conflicts IS ${lit('records of one cluster that are plainly distinct persons: split apart, or flagged when their links could not separate them; clusters too large to be checked')};`);
  const counts = await db.one<Record<string, bigint | number | null>>(`
    WITH sizes AS (SELECT orig, count(*) AS size, count(DISTINCT cluster_id) AS pieces FROM ${final} GROUP BY ALL)
    SELECT
      (SELECT count(*) FROM sizes WHERE size > ${maxSize}) AS large_clusters,
      (SELECT coalesce(sum(size), 0) FROM sizes WHERE size > ${maxSize}) AS large_records,
      (SELECT max(size) FROM sizes WHERE size > ${maxSize}) AS largest,
      (SELECT count(DISTINCT cluster_id) FROM ${members}) AS clusters_checked,
      (SELECT count(DISTINCT cluster_id) FROM ${found}) AS conflicted,
      (SELECT count(*) FROM sizes WHERE pieces > 1) AS split,
      (SELECT count(DISTINCT cluster_id) FROM ${final} WHERE orig IN (SELECT orig FROM sizes WHERE pieces > 1)) AS clusters_after_split,
      (SELECT count(*) FROM ${final} WHERE cluster_id <> orig) AS records_moved,
      (SELECT count(DISTINCT cluster_id_l) FROM cluster_conflicts WHERE outcome = 'flagged') AS still_flagged`);
  const n = (k: string) => Number(counts?.[k] ?? 0);
  const reasons = await db.all<{ reason: string; pairs: bigint; split: bigint; flagged: bigint }>(`
    SELECT reason, count(*) AS pairs, count(*) FILTER (WHERE outcome = 'split') AS split, count(*) FILTER (WHERE outcome = 'flagged') AS flagged
    FROM cluster_conflicts WHERE rec_id_l IS NOT NULL GROUP BY ALL`);
  const byReason = new Map(reasons.map((r) => [r.reason, r]));
  return {
    clusters_checked: n('clusters_checked'),
    too_large: { clusters: n('large_clusters'), records: n('large_records'), largest: n('largest'), max_conflict_cluster_size: maxSize },
    conflicted: n('conflicted'),
    split: n('split'),
    clusters_after_split: n('clusters_after_split'),
    records_moved: n('records_moved'),
    still_flagged: n('still_flagged'),
    by_reason: [...CONFLICT_REASONS, ...(byReason.has('decision') ? ['decision'] : []), 'too_large'].map((reason) => {
      const r = byReason.get(reason);
      if (reason === 'too_large') return { reason, pairs: 0, split: 0, flagged: n('large_clusters') };
      return { reason, pairs: Number(r?.pairs ?? 0), split: Number(r?.split ?? 0), flagged: Number(r?.flagged ?? 0) };
    }),
    tiers: split.tiers,
  };
}

/** What cluster produces: every record in one cluster, and the conflicts found inside clusters. */
export const CLUSTER_TABLES: readonly TableDeclaration[] = [
  { name: 'clusters', description: 'one row per record: its cluster, and its connected component of links (the cluster before conflicts split it)', columns: [{ name: 'rec_id', type: 'BIGINT' }, { name: 'cluster_id', type: 'BIGINT' }, { name: 'best_link_probability', type: 'DOUBLE' }, { name: 'conflicted', type: 'BOOLEAN' }, { name: 'component_id', type: 'BIGINT' }], grain: ['rec_id'] },
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
    // the link stage linked incrementally and copied the previous batch's clusters (src/incremental/)
    const incremental = linkFigures?.recompute?.path === 'incremental' && (await canClusterIncrementally(ctx.db));
    const at = async (t: number) => {
      const r = await clusterRecords(ctx.db, t, options, { incremental });
      const expected = curve ? await expectedClusterQuality(ctx.db, allowedSourcePairsSql(linkage)) : undefined;
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
    // the previous clusters (inc_prev_cluster) and gone records (inc_prev_gone) stay for the survive stage
    if (incremental) await dropPreviousCopies(ctx.db, ['inc_prev_cluster', 'inc_prev_gone']);
    const path = await recomputePath(ctx.db);
    if (path) {
      // connected components of the links (before conflicts split them), as the incremental path counts them
      await recordRecompute(ctx.db, path.path, path.reason, [{ what: 'components', total: result.components, recomputed: result.incremental?.components_reclustered ?? result.components }]);
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
        /** an incremental batch: the components clustered again (the conflict figures above count only theirs) */
        incremental: result.incremental,
      },
    };
  },
});
