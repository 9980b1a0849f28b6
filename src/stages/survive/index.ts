/**
 * Survive: clusters → golden records (dtsen_person, dtsen_link), conflicts for field verification
 * (dtsen_conflict) and families (dtsen_family). The rules are data (SURVIVORSHIP_RULES, FAMILY_RULES) and
 * the README's tables; the SQL sits beside them.
 */
import { defineStage, type TableDeclaration } from '../../engine/context.ts';
import type { ResolvedSource } from '../../engine/context.ts';
import type { Db } from '../../engine/db.ts';
import { connectedComponents } from '../../engine/connected-components.ts';
import type { SourceName } from '../../../schemas/canonical.ts';
import { digitPart, idDigitRanges, memberSql, personSql, RECORDS_PER_PART, type SurviveOptions } from './person.sql.ts';
import { conflictSql, CONFLICT_TYPES } from './conflict.sql.ts';
import { recomputePath, recordRecompute } from '../../incremental/state.ts';
import { BUILT_TABLE, FAMILY_OUTSIDE_TABLE, FAMILY_SCOPE_TABLE, carriedFamilies, carriedPersons, familyScope, insertCarried, insertCarriedConflicts, insertCarriedFamilies, writeSurviveOptions } from '../../incremental/survive.ts';
import { dropStagingCopy, previousCopyOf, writtenWhole } from '../../incremental/staging.ts';
import { join } from 'node:path';
import { dropPreviousCopies } from '../../incremental/previous.ts';
import { realpath } from 'node:fs/promises';
import { FAMILY_KEYS_SQL, familyEdgesSql, familyHeadsSql, familyPartsSql, familyPersonSql, familySql } from './family.sql.ts';

export { SURVIVORSHIP_RULES } from './person.sql.ts';
export { FAMILY_RULES } from './family.sql.ts';
export { CONFLICT_TYPES } from './conflict.sql.ts';

export interface SurviveFigures {
  persons: number;
  source_overlap: { sources: string; persons: number }[];
  conflicts: number;
  conflicts_by_type: Record<string, number>;
  families: number;
  families_by_size: { size: string; families: number }[];
  families_with_several_kks: number;
  largest_family: number;
  family_heads_by_basis: Record<string, number>;
  decile_by_source: Record<string, number>;
  /** a batch with a previous one: the kept golden records stayed in the database copied from the previous batch's (src/incremental/staging.ts) */
  golden_records_in_place?: boolean;
  /** a batch with a previous one: the persons whose families were found again (src/incremental/survive.ts familyScope) and the frontier's steps */
  family_scope?: { persons: number; steps: number };
}

/** Options from the batch: the decile source and, per source, the date its undated records describe. */
export function surviveOptions(decileSource: SourceName, sources: readonly ResolvedSource[]): SurviveOptions {
  const sourceDates: Partial<Record<SourceName, string>> = {};
  for (const s of sources) if (s.mapping.age_reference_date) sourceDates[s.name] = s.mapping.age_reference_date;
  return { decileSource, sourceDates };
}

/**
 * Builds dtsen_person, dtsen_link, dtsen_conflict and dtsen_family from clusters + person_clean; persons and
 * families in parts of about `recordsPerPart` records or persons (idDigitRanges); `singles: false` builds one-record persons
 * through the aggregations too (personSql). `previousDir`: the previous batch's folder, whose golden records an incremental
 * batch keeps. `ordered`: the four tables are written in their order (a first batch); a batch continuing a register
 * leaves them unordered, since the register stage rewrites them in their order (with the final ids) anyway.
 */
export async function survive(db: Db, o: SurviveOptions, recordsPerPart = RECORDS_PER_PART, singles = true, previousDir?: string, ordered = true): Promise<{ persons: number; built: number; families: number; familiesBuilt: number; keptInPlace: boolean; familyScope?: { persons: number; steps: number } }> {
  // several parts: the members are stored part by part (memberSql), so each part reads only its own rows
  const byPart = idDigitRanges(await db.count(`SELECT count(*) FROM clusters`), recordsPerPart).length > 1;
  // an incremental batch keeps the previous golden records of the persons none of whose records changed (src/incremental/survive.ts)
  const carried = await carriedPersons(db, previousDir, o);
  // their members carry only what ids, families and dtsen_link read
  await db.run(memberSql(o, byPart, carried !== undefined ? 'surv_carried' : undefined));
  // families first: dtsen_person takes its family_id from fam_person. An incremental batch finds again only the
  // families a change can reach (familyScope); the others are the previous ones.
  await db.run(FAMILY_KEYS_SQL);
  const scope = carried !== undefined && (await db.tableExists('inc_prev_gone')) ? await familyScope(db) : undefined;
  const scopeTable = scope ? FAMILY_SCOPE_TABLE : undefined;
  await db.run(familyEdgesSql(scopeTable));
  await connectedComponents(db, 'fam_edges', 'fam_component');
  await db.run(familyPersonSql(scope ? FAMILY_OUTSIDE_TABLE : undefined));
  // fam_person has one row per person (cluster) with its dtsen_id
  const ids = await db.one<{ persons: string; ids: string }>(`SELECT count(*) AS persons, count(DISTINCT dtsen_id) AS ids FROM fam_person`);
  if (ids?.persons !== ids?.ids) throw new Error('dtsen_id collision: two persons share an id');
  const records = await db.count(`SELECT count(*) FROM surv_member`);
  if (carried !== undefined) await db.run(`CREATE OR REPLACE TEMP TABLE surv_todo AS SELECT * FROM surv_member ANTI JOIN surv_carried USING (cluster_id)`);
  const todo = carried !== undefined ? 'surv_todo' : 'surv_member';
  // the database holds the previous golden records (src/incremental/staging.ts): the kept ones stay where they are,
  // those built again go to a temporary table first
  const inPlace = carried !== undefined && previousDir !== undefined && (await previousCopyOf(db, 'dtsen_person')) === join(previousDir, 'dtsen.duckdb');
  if (!inPlace) await writtenWhole(db, 'dtsen_person');
  const ranges = idDigitRanges(carried !== undefined ? await db.count(`SELECT count(*) FROM surv_todo`) : records, recordsPerPart);
  for (const [i, range] of ranges.entries()) {
    // a part's rows read in place: surv_member is stored in id_digit order, so each scan of the part reads only its own row groups
    const members = ranges.length > 1 ? `(SELECT * FROM ${todo} WHERE id_digit BETWEEN ${range[0]} AND ${range[1]})` : todo;
    await db.run(personSql(o, { members, part: digitPart('dtsen_id', range), into: i === 0 ? 'create' : 'append', singles, ordered, persons: inPlace ? `TEMP TABLE ${BUILT_TABLE}` : undefined }));
  }
  const keptInPlace = carried !== undefined ? await insertCarried(db, ordered, inPlace) : false;
  await dropStagingCopy(db);
  await writeSurviveOptions(db, o);
  // an incremental batch finds the conflicts of the persons built again; a kept person's are its previous ones
  await db.run(conflictSql(todo, ordered));
  if (carried !== undefined) {
    await db.run(`DROP TABLE surv_todo`);
    await insertCarriedConflicts(db, ordered);
  }
  // the families built: every one, or those of the scope (an incremental batch keeps the previous rows of the others)
  await db.run(familyHeadsSql(scopeTable));
  const familyRanges = idDigitRanges(scope ? scope.persons : Number(ids?.persons ?? records), recordsPerPart);
  const split = familyRanges.length > 1;
  if (split) await db.run(familyPartsSql(scopeTable));
  const keptFamilies = scope ? await carriedFamilies(db) : undefined;
  for (const [i, range] of familyRanges.entries()) await db.run(familySql(o.decileSource, range, i === 0 ? 'create' : 'append', split, scopeTable, ordered));
  if (split) await db.run(`DROP TABLE fam_members; DROP TABLE fam_keys_all;`);
  if (keptFamilies !== undefined) await insertCarriedFamilies(db, ordered);
  if (carried !== undefined) await db.run(`DETACH surv_prev`);
  await db.run(`DROP TABLE fam_key; DROP TABLE fam_edges; DROP TABLE fam_component; DROP TABLE fam_person; DROP TABLE fam_heads; DROP TABLE surv_member;`);
  const persons = await db.count(`SELECT count(*) FROM dtsen_person`);
  const families = await db.count(`SELECT count(*) FROM dtsen_family`);
  return { persons, built: persons - (carried ?? 0), families, familiesBuilt: families - (keptFamilies ?? 0), keptInPlace, ...(scope ? { familyScope: scope } : {}) };
}

const toCounts = (rows: { k: string | null; n: string }[]): Record<string, number> => Object.fromEntries(rows.map((r) => [r.k ?? 'none', Number(r.n)]));

export async function surviveFigures(db: Db, persons: number): Promise<SurviveFigures> {
  const overlap = await db.all<{ sources: string; persons: string }>(
    `SELECT array_to_string(sources, '+') AS sources, count(*) AS persons FROM dtsen_person GROUP BY ALL ORDER BY persons DESC, sources`,
  );
  const conflictsByType = {
    ...Object.fromEntries(Object.keys(CONFLICT_TYPES).map((k) => [k, 0])),
    ...toCounts(await db.all(`SELECT conflict_type AS k, count(*) AS n FROM dtsen_conflict GROUP BY ALL ORDER BY k`)),
  };
  const sizes = await db.all<{ size: string; families: string }>(`
    SELECT CASE WHEN n_members >= 10 THEN '10+' ELSE n_members::VARCHAR END AS size, count(*) AS families
    FROM dtsen_family GROUP BY ALL ORDER BY min(n_members)`);
  const fam = await db.one<{ families: string; several: string; largest: string }>(
    `SELECT count(*) AS families, count(*) FILTER (WHERE len(no_kks) > 1) AS several, coalesce(max(n_members), 0) AS largest FROM dtsen_family`,
  );
  return {
    persons,
    source_overlap: overlap.map((o) => ({ sources: o.sources, persons: Number(o.persons) })),
    conflicts: Object.values(conflictsByType).reduce((a, b) => a + b, 0),
    conflicts_by_type: conflictsByType,
    families: Number(fam?.families ?? 0),
    families_by_size: sizes.map((s) => ({ size: s.size, families: Number(s.families) })),
    families_with_several_kks: Number(fam?.several ?? 0),
    largest_family: Number(fam?.largest ?? 0),
    family_heads_by_basis: toCounts(await db.all(`SELECT head_basis AS k, count(*) AS n FROM dtsen_family GROUP BY ALL ORDER BY k`)),
    decile_by_source: toCounts(await db.all(`SELECT decile_source AS k, count(*) AS n FROM dtsen_person GROUP BY ALL ORDER BY k NULLS LAST`)),
  };
}

/** What survive produces: the golden records, their links, families and conflicts. */
export const SURVIVE_TABLES: readonly TableDeclaration[] = [
  { name: 'dtsen_person', description: 'one row per person (golden record)', columns: [{ name: 'dtsen_id', type: 'VARCHAR' }, { name: 'nik', type: 'VARCHAR' }, { name: 'name', type: 'VARCHAR' }, { name: 'birth_date', type: 'DATE' }, { name: 'sex', type: 'VARCHAR' }, { name: 'village_code', type: 'VARCHAR' }, { name: 'family_id', type: 'VARCHAR' }], grain: ['dtsen_id'] },
  { name: 'dtsen_link', description: 'one row per accepted source record: its person', columns: [{ name: 'dtsen_id', type: 'VARCHAR' }, { name: 'source', type: 'VARCHAR' }, { name: 'source_record_id', type: 'VARCHAR' }, { name: 'match_probability', type: 'DOUBLE' }, { name: 'rec_id', type: 'BIGINT' }], grain: ['rec_id'] },
  { name: 'dtsen_family', description: 'one row per family', columns: [{ name: 'family_id', type: 'VARCHAR' }, { name: 'head_dtsen_id', type: 'VARCHAR' }, { name: 'n_members', type: 'BIGINT' }, { name: 'members', type: 'VARCHAR[]' }], grain: ['family_id'] },
  { name: 'dtsen_conflict', description: 'one row per person and field whose records disagree', columns: [{ name: 'dtsen_id', type: 'VARCHAR' }, { name: 'conflict_type', type: 'VARCHAR' }, { name: 'n_values', type: 'BIGINT' }, { name: 'surviving_value', type: 'VARCHAR' }], grain: ['dtsen_id', 'conflict_type'] },
];

export const surviveStage = defineStage({
  name: 'survive',
  produces: SURVIVE_TABLES,
  async run(ctx) {
    const path = await recomputePath(ctx.db);
    const previous = path?.path === 'incremental' ? ctx.config.previous : undefined;
    const { persons: rows, built, families, familiesBuilt, keptInPlace, familyScope } = await survive(ctx.db, surviveOptions(ctx.config.survivorship.decile_source, ctx.sources), RECORDS_PER_PART, true, previous && (await realpath(previous)), !ctx.config.previous);
    // the previous clusters of the unchanged records (src/incremental/previous.ts) were kept for this stage
    await dropPreviousCopies(ctx.db);
    if (path) await recordRecompute(ctx.db, path.path, path.reason, [{ what: 'persons', total: rows, recomputed: built }, { what: 'families', total: families, recomputed: familiesBuilt }]);
    // golden_records_in_place: the kept golden records stayed in the database copied from the previous batch's
    return { rows, figures: { ...(await surviveFigures(ctx.db, rows)), ...(path ? { golden_records_in_place: keptInPlace } : {}), ...(familyScope ? { family_scope: familyScope } : {}) } };
  },
});
