/**
 * The figures of the report that no earlier stage holds: aggregated in DuckDB, only small result sets come
 * back to JS. Counts only; no NIK, name or address.
 */
import type { Db } from '../../engine/db.ts';

export interface HistogramBin {
  bin_start: number;
  bin_end: number;
  pairs: number;
}

export interface SourceCoverage {
  source: string;
  persons: number;
  share_of_persons: number;
  only_this_source: number;
}

export interface ProvinceCounts {
  province_code: string;
  province: string;
  persons: number;
  source_records: number;
  persons_linked: number;
  persons_in_two_or_more_sources: number;
}

export interface ConflictCount {
  conflict_type: string;
  conflicts: number;
  persons: number | null;
}

export interface ModelLevel {
  comparison: string;
  level: string;
  order: number;
  m: number;
  u: number;
  match_weight: number;
}

export interface ReportFigures {
  threshold: { match_probability: number; match_weight: number };
  match_weight_histogram: HistogramBin[];
  source_coverage: SourceCoverage[];
  provinces: ProvinceCounts[];
  /** null: the batch has no conflict table */
  conflicts_by_type: ConflictCount[] | null;
  /** null: the linker has no model (the exact engine) */
  model_levels: ModelLevel[] | null;
}

/** Match weight in bits of a match probability: log2(p / (1 − p)). */
export function weightOf(probability: number): number {
  return Math.log2(probability / (1 - probability));
}

/** At most about 100 bins, each a whole number of bits wide. */
async function matchWeightHistogram(db: Db): Promise<HistogramBin[]> {
  if (!(await db.tableExists('scored_pairs'))) return [];
  const rows = await db.all<{ bin_start: number; bin_end: number; pairs: string }>(`
    WITH s AS (SELECT match_weight AS w FROM scored_pairs WHERE match_weight IS NOT NULL AND isfinite(match_weight)),
         r AS (SELECT greatest(1, ceil((max(w) - min(w)) / 100)) AS width FROM s)
    SELECT (floor(w / width) * width)::DOUBLE AS bin_start, (floor(w / width) * width + width)::DOUBLE AS bin_end, count(*) AS pairs
    FROM s, r GROUP BY ALL ORDER BY bin_start`);
  return rows.map((r) => ({ bin_start: r.bin_start, bin_end: r.bin_end, pairs: Number(r.pairs) }));
}

async function sourceCoverage(db: Db): Promise<SourceCoverage[]> {
  if (!(await db.tableExists('dtsen_person'))) return [];
  const rows = await db.all<{ source: string; persons: string; only: string; total: string }>(`
    WITH t AS (SELECT count(*) AS total FROM dtsen_person)
    SELECT source, count(*) AS persons, count(*) FILTER (WHERE n_sources = 1) AS only, any_value(t.total) AS total
    FROM (SELECT unnest(sources) AS source, len(sources) AS n_sources FROM dtsen_person), t
    GROUP BY source ORDER BY source`);
  return rows.map((r) => ({ source: r.source, persons: Number(r.persons), share_of_persons: Number(r.persons) / Math.max(1, Number(r.total)), only_this_source: Number(r.only) }));
}

async function provinces(db: Db): Promise<ProvinceCounts[]> {
  if (!(await db.tableExists('dtsen_person'))) return [];
  const rows = await db.all<Record<string, string>>(`
    SELECT coalesce(d.province_code, '') AS province_code, coalesce(any_value(r.name), 'unknown') AS province,
           count(*) AS persons, sum(d.n_records) AS source_records,
           count(*) FILTER (WHERE d.n_records > 1) AS persons_linked,
           count(*) FILTER (WHERE len(d.sources) > 1) AS persons_in_two_or_more_sources
    FROM dtsen_person d LEFT JOIN ref_province r ON r.code = d.province_code
    GROUP BY 1 ORDER BY persons DESC, province_code`);
  return rows.map((r) => ({
    province_code: r.province_code,
    province: r.province,
    persons: Number(r.persons),
    source_records: Number(r.source_records),
    persons_linked: Number(r.persons_linked),
    persons_in_two_or_more_sources: Number(r.persons_in_two_or_more_sources),
  }));
}

/**
 * Conflicts by type: from the dtsen_conflict table when the batch has one, else from the survive stage's
 * conflicts_by_type figure (a list of {conflict_type, conflicts|rows|count} or a {type: count} map).
 */
export async function conflictsByType(db: Db, surviveFigures: unknown): Promise<ConflictCount[] | null> {
  if (await db.tableExists('dtsen_conflict')) {
    const rows = await db.all<{ conflict_type: string; conflicts: string; persons: string }>(`
      SELECT coalesce(conflict_type::VARCHAR, 'unknown') AS conflict_type, count(*) AS conflicts, count(DISTINCT dtsen_id) AS persons
      FROM dtsen_conflict GROUP BY 1 ORDER BY conflicts DESC, conflict_type`);
    return rows.map((r) => ({ conflict_type: r.conflict_type, conflicts: Number(r.conflicts), persons: Number(r.persons) }));
  }
  const fig = (surviveFigures as { conflicts_by_type?: unknown } | undefined)?.conflicts_by_type;
  if (fig === undefined || fig === null) return null;
  const num = (v: unknown) => (v === undefined || v === null ? null : Number(v));
  const list = Array.isArray(fig)
    ? (fig as Record<string, unknown>[]).map((r) => ({
        conflict_type: String(r.conflict_type ?? r.type ?? 'unknown'),
        conflicts: num(r.conflicts ?? r.rows ?? r.count ?? r.n) ?? 0,
        persons: num(r.persons),
      }))
    : Object.entries(fig as Record<string, unknown>).map(([k, v]) => ({ conflict_type: k, conflicts: Number(v), persons: null }));
  return list.sort((a, b) => b.conflicts - a.conflicts || a.conflict_type.localeCompare(b.conflict_type));
}

interface ModelShape {
  comparisons: { name: string; levels: { label: string; m: number; u: number }[] }[];
}

/** One row per comparison level of the model, with its match weight log2(m/u). */
export function modelLevels(model: unknown): ModelLevel[] | null {
  const comparisons = (model as ModelShape | undefined)?.comparisons;
  if (!Array.isArray(comparisons)) return null;
  let order = 0;
  return comparisons.flatMap((c) =>
    c.levels.map((l) => ({ comparison: c.name, level: l.label, order: order++, m: l.m, u: l.u, match_weight: l.m > 0 && l.u > 0 ? Math.log2(l.m / l.u) : 0 })),
  );
}

export async function reportFigures(db: Db, figures: { readonly link?: { readonly model?: unknown }; readonly survive?: unknown }, threshold: number): Promise<ReportFigures> {
  const link = figures.link;
  return {
    threshold: { match_probability: threshold, match_weight: weightOf(threshold) },
    match_weight_histogram: await matchWeightHistogram(db),
    source_coverage: await sourceCoverage(db),
    provinces: await provinces(db),
    conflicts_by_type: await conflictsByType(db, figures.survive),
    model_levels: modelLevels(link?.model),
  };
}
