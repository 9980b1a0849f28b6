/**
 * Family context: the register is made of families (a family card in every source), and a family is mostly
 * recorded whole in each source. Once two families are linked by one of their members (a pair at or above the
 * threshold), their other members are far likelier to be one person pairwise than two records drawn at random:
 * about one pair in a family's size is. A member who carries no NIK, no birth date, or who moved with the family
 * to another village keeps only the name to go on, and among all the register's records that is weak evidence;
 * among the few members of a linked family it is strong.
 *
 * So every pair of members of two linked families is compared (the new pairs are candidates of their own, rule
 * `linked_family`), and scored by a second Fellegi–Sunter model estimated on exactly those pairs (by the batch that
 * trains its model; a model given back brings its family model, Model.family_context): m of every
 * level as the batch's model has it (what a true match looks like does not depend on the family), u counted among
 * the member pairs other evidence marks as two persons (family-u.ts: the non-matches there are relatives, one
 * address, often one family card, shared family names, twins) and the prior by EM, no term-frequency adjustment (a
 * name common in the country is not common inside one family). A pair keeps the larger of its two weights; the score of the family model is
 * marked (family_context, with the bits its competitors took in family_competition) so it can be explained. Inside two families a record is one person at most once, so
 * the pairs sharing a record compete: each pair's weight is lowered by the odds of its competitors.
 *
 * An incremental batch scoring with the previous batch's model (and so its family model) scores only the family
 * pairs a change touched; the others keep their member pairs, the odds of their competitors and their weights from
 * the previous batch (FamilyPrevious, family_member_pairs, family_seed_pairs): every weight is the one scoring every
 * member pair gives, and only the few carried rows the merge into scored_pairs reads whole are scored again.
 */
import type { Db } from '../engine/db.ts';
import { lit } from '../engine/db.ts';
import type { Linkage } from '../../schemas/config.ts';
import type { Model } from '../../schemas/model.ts';
import { materialise } from '../engine/sql-pipeline.ts';
import { allowedSourcePairsSql } from './blocking.ts';
import { compareColumns, comparisonVectorsSql } from './comparison-vectors.ts';
import { COMPARISONS } from './comparisons.ts';
import { gammaColumn, probabilitySql } from './comparison-sql.ts';
import { runEm, type Pattern } from './em.ts';
import { scoreSql } from './score.ts';
import { rewriteWorkingTable } from './working-tables.ts';
import { BLOCKING_RULES } from './blocking-rules.ts';
import type { BlockingFigures } from './blocking.ts';
import { chooseThreshold, expectedCurve } from './threshold.ts';
import { estimateFamilyU } from './family-u.ts';
import { updatedInPlaceSql, updateInPlace, writtenWhole } from '../incremental/staging.ts';

export const FAMILY_RULE = {
  name: 'linked_family',
  description: 'members of two families already linked by another pair of their members at the threshold (scored by the family model)',
} as const;

/** The family context's bit in the rules mask of candidate_pairs and scored_pairs: after blocking's rules. */
export const FAMILY_RULE_BIT = BLOCKING_RULES.length;
/** The rule bits of blocking's own rules (the family context's left out). */
export const BLOCKING_RULE_MASK = 2 ** FAMILY_RULE_BIT - 1;

/** Families with more members than this (institutions, damaged family ids) are left out of the family context. */
export const FAMILY_CONTEXT_MAX_MEMBERS = 20;
/** New member pairs (not proposed by blocking) below this match probability under the family model are not kept. */
export const FAMILY_CONTEXT_KEEP_PROBABILITY = 0.001;

/**
 * The competitors' odds are summed in fixed point (HUGEINT, units of 2^-FIXED_ODDS_FRACTION_BITS): an integer sum
 * is the same in any order, so a parallel sum gives the same bits on every run and in every batch (an incremental
 * batch reuses the sums of the family pairs no change touched, and they must be what summing again gives). Odds
 * below a unit (2^-40, a weight under -40 bits) count as none; odds above 2^FIXED_ODDS_MAX_BITS (a weight over 75
 * bits) as that much — a competitor that strong sinks the pair alike. 20 members a family: a pair has at most 38
 * competitors, whose sum stays below 2^121, in HUGEINT's range.
 */
const FIXED_ODDS_FRACTION_BITS = 40;
const FIXED_ODDS_MAX_BITS = 75;
/** SQL: the odds of a match weight (bits) in fixed point. */
const FIXED_ODDS = (w: string) => `(pow(2.0, least(${w}, ${FIXED_ODDS_MAX_BITS}) + ${FIXED_ODDS_FRACTION_BITS}))::HUGEINT`;
/** SQL: a fixed-point sum of odds as odds. */
const FIXED_TO_ODDS = (k: string) => `(${k})::DOUBLE / pow(2.0, ${FIXED_ODDS_FRACTION_BITS})`;

export interface FamilyContextFigures {
  /** the match probability a member pair needed to link its two families */
  seed_threshold: number;
  linked_family_pairs: number;
  member_pairs: number;
  /** member pairs blocking had not proposed, kept (family model probability at least FAMILY_CONTEXT_KEEP_PROBABILITY) */
  new_pairs: number;
  /** member pairs blocking had not proposed whose comparison vector was computed (the others' are scored_pairs') */
  compared_pairs: number;
  /** linked family pairs holding a member pair compared (an incremental batch: the families its changes touched) */
  compared_family_pairs: number;
  /** member pairs blocking had not proposed whose gammas the previous batch gave (an incremental batch: two unchanged records) */
  reused_pairs: number;
  /** 'given': the model brought its family model (the previous batch's, or one given with --model); 'estimated': by EM here */
  model_source: 'given' | 'estimated';
  /** linked family pairs whose member pairs were scored with their competition (an incremental batch keeping the previous family model: those a change touched; else every one) */
  scored_family_pairs: number;
  /** member pairs of scored_family_pairs */
  scored_member_pairs: number;
  /** linked family pairs holding member pairs that took the previous batch's odds of their competitors (a linked family pair may hold none: one seed pair, no other) */
  reused_family_pairs: number;
  /** member pairs of reused_family_pairs */
  reused_member_pairs: number;
  /** of new_pairs, those whose comparison vector was computed */
  new_pairs_compared: number;
  /** candidate pairs whose weight the family model raised */
  raised_pairs: number;
  /** share of member pairs EM takes for matches: the family model's prior */
  lambda: number;
  iterations: number;
  converged: boolean;
  /** u per comparison and level among the member pairs of linked families */
  u: Record<string, number[]>;
  /** per comparison, the member pairs its u was counted on (estimateFamilyU; 0: the main model's u kept); absent when the model brought its family model */
  u_pairs?: Record<string, number>;
  /** what model.json keeps of it (Model.family_context) */
  model: NonNullable<Model['family_context']>;
}

/**
 * Adds the family context to scored_pairs (and its new pairs to candidate_pairs, under FAMILY_RULE_BIT). Needs
 * compare_input (prepareCompareInput) and the term-frequency tables of the batch's scoring.
 */
/**
 * Where an incremental batch takes the gammas of member pairs blocking had not proposed: `gammas`, a query of
 * (rec_id_l, rec_id_r, gamma_*) over pairs of two unchanged records oriented as this batch orients them (the
 * previous batch's scored pairs and FAMILY_UNKEPT_TABLE). The gammas of a pair depend on its two records' compare
 * columns only, which link_hash covers: they are the ones comparing again would give. `narrowCompareInput`: the
 * family context makes compare_input itself, of the records of the pairs it compares.
 */
export interface FamilyGammaReuse {
  gammas: string;
  narrowCompareInput: boolean;
  /** the previous batch's family state, when it scored with the family model this batch scores with: see FamilyPrevious */
  previous?: FamilyPrevious;
}

/**
 * What an incremental batch scoring with the previous batch's family model keeps of it. The family model's row of a
 * member pair (its weight after competition) is a function of: the gammas of the member pairs of its two families
 * (the pair's own, and its competitors'), which member pairs there are (the two families' members and the seed pairs
 * linking them), and the seed pairs inside either family (a competitor that is the record's duplicate does not
 * compete). A linked family pair is untouched when neither family holds a record new or changed now, nor held one
 * gone or changed then (`dirtyFamilies`), its seed pairs and those inside its two families are the previous batch's
 * (`seeds`: the seeds are rescored every batch with this batch's term frequencies, so a seed may come or go between
 * two unchanged records). Its member pairs are then the previous batch's (the same members, supported by the same
 * seeds), with the same rows: the previous odds of their competitors and weights after competition are carried
 * (`members`), never enumerated or scored again; only the member pairs of the other family pairs are scored with
 * their competition. Queries of two unchanged records (a record keeps its rec_id from batch to batch):
 */
export interface FamilyPrevious {
  /** (rec_id_l, rec_id_r): the previous batch's FAMILY_SEED_TABLE */
  seeds: string;
  /** (rec_id_l, rec_id_r, competitor_odds, match_weight): the previous batch's FAMILY_MEMBER_TABLE of two unchanged records */
  members: string;
  /** (family_id): person_clean.family_id of the records new or changed, and of the previous batch's records gone or changed */
  dirtyFamilies: string;
  /**
   * FAMILY_MEMBER_TABLE and FAMILY_UNKEPT_TABLE of this database are the previous batch's, copied (src/incremental/
   * staging.ts): `members` may read the former as it is (its rows of records gone or changed are never carried: a
   * gone record is no member, a changed one's family is dirty), and both are updated in place — the rows of the
   * pairs not carried taken out, the scored ones put in — instead of written whole.
   */
  inPlace: boolean;
}

/** The seed pairs of the family context (two members at the seed threshold, never a hard negative; of two families or of one). */
export const FAMILY_SEED_TABLE = 'family_seed_pairs';
/**
 * Every member pair of linked families with the summed odds of its competitors (0: none) and its weight under the
 * family model after competition: what the next batch carries for the family pairs no change touched.
 */
export const FAMILY_MEMBER_TABLE = 'family_member_pairs';

/** FAMILY_SEED_TABLE and FAMILY_MEMBER_TABLE with no rows: a batch without a family context, or the previous batch's state when it kept none. */
export const EMPTY_FAMILY_SEEDS_SQL = 'SELECT NULL::BIGINT AS rec_id_l, NULL::BIGINT AS rec_id_r WHERE false';
export const EMPTY_FAMILY_MEMBERS_SQL = 'SELECT NULL::BIGINT AS rec_id_l, NULL::BIGINT AS rec_id_r, NULL::DOUBLE AS competitor_odds, NULL::DOUBLE AS match_weight WHERE false';

/** Writes FAMILY_SEED_TABLE from the query. */
async function writeSeedPairs(db: Db, seeds: string): Promise<void> {
  await db.run(`
    CREATE OR REPLACE TABLE ${FAMILY_SEED_TABLE} AS ${seeds};
    COMMENT ON TABLE ${FAMILY_SEED_TABLE} IS ${lit('pairs of members of the family context at the seed threshold (of two families: linking them; of one: duplicates): what the next batch compares to find the family pairs it must score again')};`);
}

/** Writes FAMILY_SEED_TABLE and FAMILY_MEMBER_TABLE from the queries, or empty (no family context). */
export async function writeFamilyState(db: Db, seeds = EMPTY_FAMILY_SEEDS_SQL, members = EMPTY_FAMILY_MEMBERS_SQL): Promise<void> {
  await writeSeedPairs(db, seeds);
  await writtenWhole(db, FAMILY_MEMBER_TABLE);
  await db.run(`
    CREATE OR REPLACE TABLE ${FAMILY_MEMBER_TABLE} AS ${members};
    COMMENT ON TABLE ${FAMILY_MEMBER_TABLE} IS ${lit('every member pair of linked families with the summed posterior odds of its competitors under the family model and its weight after competition: what the next batch carries for the family pairs no change touches')};`);
}

/**
 * The member pairs the family context compared and did not keep (blocking had not proposed them, the family model
 * gives them less than FAMILY_CONTEXT_KEEP_PROBABILITY), with their gammas: the next batch scores them again
 * without comparing them again (the kept ones are in scored_pairs).
 */
export const FAMILY_UNKEPT_TABLE = 'family_unkept_pairs';

/** A query of no rows with FAMILY_UNKEPT_TABLE's columns (rec_id_l, rec_id_r, gamma_*). */
export function emptyUnkeptPairsSql(): string {
  return `SELECT NULL::BIGINT AS rec_id_l, NULL::BIGINT AS rec_id_r, ${COMPARISONS.map((c) => `NULL::TINYINT AS ${gammaColumn(c)}`).join(', ')} WHERE false`;
}

/** Writes FAMILY_UNKEPT_TABLE from `query`, or empty (no family context). */
export async function writeUnkeptPairs(db: Db, query = emptyUnkeptPairsSql()): Promise<void> {
  await writtenWhole(db, FAMILY_UNKEPT_TABLE);
  await db.run(`
    CREATE OR REPLACE TABLE ${FAMILY_UNKEPT_TABLE} AS ${query};
    COMMENT ON TABLE ${FAMILY_UNKEPT_TABLE} IS ${lit('member pairs of linked families the family context compared and did not keep, with their gammas: what the next batch scores again without comparing')};`);
}

/**
 * The family model's rows of member pairs (`vectors`: rec_id_l, rec_id_r, rule_id, rules, new_pair, gamma_*) given
 * the odds of their competitors (`competition`: rec_id_l, rec_id_r, k_odds): its weight lowered by
 * log2(1 + odds), the bits taken (family_competition) and the odds (competitor_odds). One SQL for the pairs scored
 * with their competition and the pairs an incremental batch carries: the same inputs give the same bits.
 */
function familyRowsSql(familyModel: Model, vectors: string, competition: string): string {
  return `
    WITH c AS (
      SELECT f.*, k.k_odds, f.match_weight - log2(1 + k.k_odds) AS w
      FROM (${scoreSql(familyModel, vectors, ['rule_id', 'rules', 'new_pair'])}) f JOIN ${competition} k USING (rec_id_l, rec_id_r))
    SELECT * EXCLUDE (k_odds, w) REPLACE (w AS match_weight, ${probabilitySql('w')} AS match_probability),
      match_weight - w AS family_competition, k_odds AS competitor_odds FROM c`;
}

export async function addFamilyContext(db: Db, linkage: Linkage, model: Model, seedThreshold: number, reuse?: FamilyGammaReuse): Promise<FamilyContextFigures | undefined> {
  const ruleBit = FAMILY_RULE_BIT;
  const gammas = COMPARISONS.map((c) => gammaColumn(c));
  const maxMembers = FAMILY_CONTEXT_MAX_MEMBERS;
  const prev = reuse?.previous;
  const keep = FAMILY_CONTEXT_KEEP_PROBABILITY;
  // The records of the families of at most maxMembers records, each family numbered (in the order of its id);
  // `dirty`: the family holds a record new or changed, or held one gone or changed (an incremental batch). Numbered
  // on the families grouped, not by windows over every record (at 1M persons: 0.35 s against 1.1–1.5 s).
  await using members = await materialise(db, 'family_member', `
    WITH f AS (
      SELECT family_id, row_number() OVER (ORDER BY family_id)::INTEGER AS fam, ${prev ? `family_id IN (${prev.dirtyFamilies})` : 'true'} AS dirty
      FROM person_clean WHERE family_id IS NOT NULL GROUP BY family_id HAVING count(*) <= ${maxMembers})
    SELECT p.rec_id, p.source, f.fam AS family_id, f.dirty FROM person_clean p JOIN f USING (family_id)`);
  // The pairs of members that link two families at the seed threshold (never a hard negative), each oriented
  // from the family with the smaller id.
  await using seeds = await materialise(db, 'family_seed', `
    SELECT CASE WHEN fl.family_id < fr.family_id THEN fl.family_id ELSE fr.family_id END AS family_l,
      CASE WHEN fl.family_id < fr.family_id THEN fr.family_id ELSE fl.family_id END AS family_r,
      CASE WHEN fl.family_id < fr.family_id THEN s.rec_id_l ELSE s.rec_id_r END AS seed_l,
      CASE WHEN fl.family_id < fr.family_id THEN s.rec_id_r ELSE s.rec_id_l END AS seed_r
    FROM scored_pairs s
    JOIN ${members} fl ON fl.rec_id = s.rec_id_l
    JOIN ${members} fr ON fr.rec_id = s.rec_id_r
    WHERE s.match_probability >= ${seedThreshold} AND NOT coalesce(s.hard_negative, false) AND fl.family_id <> fr.family_id`);
  // the pairs of two records of one family at the seed threshold: duplicates inside a source (see the competition)
  await using sameFamily = await materialise(db, 'family_same_seed', `
    SELECT s.rec_id_l, s.rec_id_r, ml.family_id FROM scored_pairs s
    JOIN ${members} ml ON ml.rec_id = s.rec_id_l JOIN ${members} mr ON mr.rec_id = s.rec_id_r
    WHERE ml.family_id = mr.family_id AND s.match_probability >= ${seedThreshold} AND NOT coalesce(s.hard_negative, false)`);
  const seedPairsSql = `SELECT least(seed_l, seed_r) AS rec_id_l, greatest(seed_l, seed_r) AS rec_id_r FROM ${seeds} UNION ALL SELECT rec_id_l, rec_id_r FROM ${sameFamily}`;
  // the linked family pairs (family_l < family_r)
  await using linked = await materialise(db, 'family_linked', `SELECT DISTINCT family_l, family_r FROM ${seeds}`);
  const linkedFamilies = await db.count(`SELECT count(*) FROM ${linked}`);
  // The family pairs to score with their competition: every one, but in an incremental batch that keeps the
  // previous family model those a change touched — a family dirty, or a seed pair between them, or inside either,
  // come or gone (FamilyPrevious). The member pairs of the others are the previous batch's, and so are their rows.
  await using touched = await materialise(db, 'family_touched', prev
    ? `
    WITH now AS (${seedPairsSql}),
    diff AS ((SELECT * FROM now EXCEPT SELECT rec_id_l, rec_id_r FROM (${prev.seeds})) UNION (SELECT rec_id_l, rec_id_r FROM (${prev.seeds}) EXCEPT SELECT * FROM now)),
    dfam AS (SELECT ml.family_id AS fl, mr.family_id AS fr FROM diff d JOIN ${members} ml ON ml.rec_id = d.rec_id_l JOIN ${members} mr ON mr.rec_id = d.rec_id_r),
    dirty AS (SELECT DISTINCT family_id FROM ${members} WHERE dirty)
    SELECT family_l, family_r FROM ${linked}
    WHERE family_l IN (SELECT family_id FROM dirty) OR family_r IN (SELECT family_id FROM dirty)
      OR (family_l, family_r) IN (SELECT (least(fl, fr), greatest(fl, fr)) FROM dfam WHERE fl <> fr)
      OR family_l IN (SELECT fl FROM dfam WHERE fl = fr) OR family_r IN (SELECT fl FROM dfam WHERE fl = fr)`
    : `SELECT * FROM ${linked}`);
  // Every pair of members of the touched family pairs whose sources the config pairs and that another seed pair
  // supports (one sharing neither record: a pair is never its own evidence), with the families of its two records,
  // the blocking rules that had proposed it and, then, its gammas (scored_pairs holds every candidate pair with its
  // comparison vector).
  await using pairs = await materialise(db, 'family_pairs', `
    -- each pair once without a DISTINCT: a record is a member of one family, so two records meet in one family pair
    WITH mp AS (
      SELECT least(a.rec_id, b.rec_id) AS rec_id_l, greatest(a.rec_id, b.rec_id) AS rec_id_r,
        CASE WHEN a.rec_id < b.rec_id THEN a.family_id ELSE b.family_id END AS fam_l,
        CASE WHEN a.rec_id < b.rec_id THEN b.family_id ELSE a.family_id END AS fam_r
      FROM ${touched} f
      JOIN ${members} a ON a.family_id = f.family_l
      JOIN ${members} b ON b.family_id = f.family_r
      SEMI JOIN (${allowedSourcePairsSql(linkage)}) ok ON ok.source_l = a.source AND ok.source_r = b.source
      SEMI JOIN ${seeds} sd ON sd.family_l = f.family_l AND sd.family_r = f.family_r AND sd.seed_l <> a.rec_id AND sd.seed_r <> b.rec_id)
    SELECT mp.rec_id_l, mp.rec_id_r, mp.fam_l, mp.fam_r,
      coalesce(c.rule_id, ${ruleBit})::UTINYINT AS rule_id,
      (coalesce(c.rules, 0) | ${1 << ruleBit})::UINTEGER AS rules, c.rec_id_l IS NULL AS new_pair,
      ${gammas.map((g) => `c.${g}`).join(', ')}
    FROM mp LEFT JOIN scored_pairs c USING (rec_id_l, rec_id_r)`);
  // The member pairs of the family pairs no change touched (an incremental batch): the previous batch's, with the
  // odds of their competitors and their weight after competition — every input of their rows is what it was (the
  // two families' members, their seed pairs, the gammas of two unchanged records, the family model).
  await using carried = await materialise(db, 'family_carried', prev
    ? `
    WITH p AS (
      SELECT p.rec_id_l, p.rec_id_r, p.competitor_odds, p.match_weight,
        least(ml.family_id, mr.family_id) AS family_l, greatest(ml.family_id, mr.family_id) AS family_r
      FROM (${prev.members}) p JOIN ${members} ml ON ml.rec_id = p.rec_id_l JOIN ${members} mr ON mr.rec_id = p.rec_id_r)
    SELECT p.* FROM p SEMI JOIN ${linked} USING (family_l, family_r) ANTI JOIN ${touched} USING (family_l, family_r)`
    : 'SELECT NULL::BIGINT AS rec_id_l, NULL::BIGINT AS rec_id_r, NULL::DOUBLE AS competitor_odds, NULL::DOUBLE AS match_weight, NULL::INTEGER AS family_l, NULL::INTEGER AS family_r WHERE false');
  const scoredMembers = await db.count(`SELECT count(*) FROM ${pairs}`);
  const carriedMembers = await db.count(`SELECT count(*) FROM ${carried}`);
  const memberPairs = scoredMembers + carriedMembers;
  if (memberPairs === 0) {
    await writeFamilyState(db);
    return undefined;
  }

  // The comparison vectors: a pair blocking had proposed keeps the gammas scored_pairs gave it (the same
  // comparisons of the same two records, oriented alike); an incremental batch takes the gammas of the other pairs
  // of two unchanged records from the previous batch (`reuse`); only the rest is compared.
  const gammaList = gammas.join(', ');
  // carried through to the scoring: the families of the two records
  const carriedCols = ['rule_id', 'rules', 'new_pair', 'fam_l', 'fam_r'];
  const keyCols = `rec_id_l, rec_id_r, ${carriedCols.join(', ')}`;
  await using reused = await materialise(db, 'family_reused', reuse
    ? `SELECT p.rec_id_l, p.rec_id_r, ${carriedCols.map((c) => `p.${c}`).join(', ')}, ${gammas.map((g) => `g.${g}`).join(', ')}
       FROM ${pairs} p JOIN (${reuse.gammas}) g USING (rec_id_l, rec_id_r) WHERE p.new_pair`
    : `SELECT ${keyCols}, ${gammaList} FROM ${pairs} WHERE false`);
  await using todo = await materialise(db, 'family_compare_pairs', `
    SELECT ${keyCols} FROM ${pairs} p
    ANTI JOIN ${reused} r USING (rec_id_l, rec_id_r) WHERE p.new_pair`);
  if (reuse?.narrowCompareInput) {
    await db.run(`CREATE OR REPLACE TEMP TABLE compare_input AS SELECT ${compareColumns().join(', ')} FROM person_clean
      WHERE rec_id IN (SELECT rec_id_l FROM ${todo} UNION SELECT rec_id_r FROM ${todo})`);
  }
  await using vectors = await materialise(db, 'family_vectors', `
    SELECT ${keyCols}, ${gammaList} FROM ${pairs} WHERE NOT new_pair
    UNION ALL BY NAME
    SELECT * FROM ${reused}
    UNION ALL BY NAME
    ${comparisonVectorsSql(String(todo), carriedCols)}`);
  const comparedPairs = await db.count(`SELECT count(*) FROM ${todo}`);
  const comparedFamilies = await db.count(`SELECT count(DISTINCT (fam_l, fam_r)) FROM ${todo}`);
  const scoredFamilies = await db.count(`SELECT count(DISTINCT (least(fam_l, fam_r), greatest(fam_l, fam_r))) FROM ${pairs}`);
  const carriedFamilies = await db.count(`SELECT count(DISTINCT (family_l, family_r)) FROM ${carried}`);
  // The family model: the one the model brings (the previous batch's, or one given with --model), else estimated
  // here: m as the batch's model has it; u among the member pairs other evidence marks as two persons
  // (estimateFamilyU); the prior by EM over the member pairs, m and u held (a model without one brings no
  // previous family state: every member pair is in `vectors` then).
  let familyContext = model.family_context;
  let em: { lambda: number; iterations: number; converged: boolean } = { lambda: familyContext?.lambda ?? 0, iterations: 0, converged: true };
  let uPairs: Record<string, number> | undefined;
  if (!familyContext) {
    const fu = await estimateFamilyU(db, vectors.name, model);
    uPairs = fu.pairs;
    const rows = await db.all<Record<string, number | bigint>>(`
      SELECT ${gammas.join(', ')}, count(*) AS n FROM ${vectors} GROUP BY ALL ORDER BY ALL`);
    const patterns: Pattern[] = rows.map((r) => ({ gammas: gammas.map((g) => (r[g] === null ? -1 : Number(r[g]))), count: Number(r.n) }));
    const fit = runEm(
      patterns,
      model.comparisons.map((c) => ({ levels: c.levels.length, m: c.levels.map((l) => l.m), u: fu.u[c.name] })),
      { lambda: 0.2, fixM: true, maxIterations: 200 },
    );
    em = fit;
    familyContext = { lambda: fit.lambda, member_pairs: memberPairs, u: fu.u };
  }
  const familyModel = familyModelOf({ ...model, family_context: familyContext })!;
  // A record is one person at most once in the other family: its candidates there compete. Each pair's weight
  // drops by log2(1 + the posterior odds of the pairs that share one of its records within the two families) —
  // a member with no birth date beside a father and a son of one name is either's with even odds, not both's with
  // the odds of one. A competitor that is the same person as the pair's own record (two records of one family
  // linked at the seed threshold: a duplicate inside a source) does not compete. A pair's competitors are member
  // pairs of its own two families: the touched family pairs' are all scored here.
  // Summed on narrow rows (the pair, its families and odds): the wide rows of the family model (gammas, weights) are
  // scored once more below and joined to the sums, instead of carried through the competition.
  await using competition = await materialise(db, 'family_competition', `
    WITH f AS (SELECT rec_id_l, rec_id_r, fam_l, fam_r, match_weight FROM (${scoreSql(familyModel, vectors.name, ['fam_l', 'fam_r'])})),
    r AS (SELECT f.rec_id_l, f.rec_id_r, f.fam_l, f.fam_r, ${FIXED_ODDS('f.match_weight')} AS q FROM f),
    side AS (
      SELECT rec_id_l AS rec, rec_id_r AS other, fam_r AS other_fam, q FROM r
      UNION ALL SELECT rec_id_r, rec_id_l, fam_l, q FROM r),
    same_family AS (SELECT rec_id_l, rec_id_r FROM ${sameFamily}),
    -- each record's pairs with the members of one other family: the sum of their odds
    cands AS (SELECT rec, other_fam, sum(q) AS s FROM side GROUP BY ALL),
    -- the records that have a duplicate in their own family, and the pairs of them
    dup_rec AS (SELECT rec_id_l AS rec FROM same_family UNION SELECT rec_id_r FROM same_family),
    dup_pairs AS (
      SELECT rec_id_l, rec_id_r FROM r SEMI JOIN dup_rec d ON d.rec = r.rec_id_l
      UNION SELECT rec_id_l, rec_id_r FROM r SEMI JOIN dup_rec d ON d.rec = r.rec_id_r),
    -- a pair of two records without a duplicate: its competitors are y's pairs (y, o) with o in x's family and x's
    -- pairs (x, o) with o in y's family, the pair itself left out (both sums hold it once)
    merged AS (
      SELECT r.rec_id_l, r.rec_id_r, cy.s + cx.s - 2 * r.q AS k
      FROM r ANTI JOIN dup_pairs t USING (rec_id_l, rec_id_r)
      JOIN cands cy ON cy.rec = r.rec_id_r AND cy.other_fam = r.fam_l
      JOIN cands cx ON cx.rec = r.rec_id_l AND cx.other_fam = r.fam_r),
    -- a pair of a record with a duplicate: (x, y) and a pair (y, o) or (x, o) sharing one record, o in the family
    -- of the other record and not its duplicate, one row each
    tr AS (SELECT r.* FROM r SEMI JOIN dup_pairs t USING (rec_id_l, rec_id_r)),
    competitor AS (
      SELECT r.rec_id_l, r.rec_id_r, sd.q
      FROM tr r JOIN side sd ON (sd.rec = r.rec_id_r AND sd.other_fam = r.fam_l AND sd.other <> r.rec_id_l)
      ANTI JOIN same_family d ON d.rec_id_l = least(sd.other, r.rec_id_l) AND d.rec_id_r = greatest(sd.other, r.rec_id_l)
      UNION ALL
      SELECT r.rec_id_l, r.rec_id_r, sd.q
      FROM tr r JOIN side sd ON (sd.rec = r.rec_id_l AND sd.other_fam = r.fam_r AND sd.other <> r.rec_id_r)
      ANTI JOIN same_family d ON d.rec_id_l = least(sd.other, r.rec_id_r) AND d.rec_id_r = greatest(sd.other, r.rec_id_r)),
    tr_competition AS (SELECT rec_id_l, rec_id_r, sum(q) AS k FROM competitor GROUP BY ALL)
    -- every pair without a duplicate is a row of merged (both sums hold the pair itself): no join back to r
    SELECT rec_id_l, rec_id_r, ${FIXED_TO_ODDS('k')} AS k_odds FROM merged
    UNION ALL
    SELECT tr.rec_id_l, tr.rec_id_r, coalesce(${FIXED_TO_ODDS('k.k')}, 0) FROM tr LEFT JOIN tr_competition k USING (rec_id_l, rec_id_r)`);
  await using familyScored = await materialise(db, 'family_scored', familyRowsSql(familyModel, vectors.name, String(competition)));
  // Every member pair now, narrow: its weight after competition, the odds of its competitors, whether it was scored
  // here, and whether blocking proposed it (in_s: a row of scored_pairs, whose weight s_weight is then the batch
  // model's); the carried pairs are looked up in scored_pairs, the scored ones know it (new_pair).
  // A batch without a previous one carries no pair: every member pair is a row of family_scored, read as it is.
  const scoredNow = `SELECT rec_id_l, rec_id_r, match_weight, competitor_odds, true AS scored, NOT new_pair AS in_s, NULL::DOUBLE AS s_weight FROM ${familyScored}`;
  await using nowTable = prev ? await materialise(db, 'family_member_now', `
    ${scoredNow}
    UNION ALL
    SELECT c.rec_id_l, c.rec_id_r, c.match_weight, c.competitor_odds, false, s.rec_id_l IS NOT NULL, s.match_weight
    FROM ${carried} c LEFT JOIN (SELECT rec_id_l, rec_id_r, match_weight FROM scored_pairs) s USING (rec_id_l, rec_id_r)`) : undefined;
  const now = nowTable ? String(nowTable) : `(${scoredNow})`;
  // The family model's whole rows the merge below reads of the carried pairs: those whose weight beats the batch
  // model's, and those blocking did not propose that are kept — scored again from their gammas (scored_pairs', or
  // the previous batch's) with the odds of their competitors kept: the rows the previous batch had.
  const wins = `(in_s AND match_weight > s_weight) OR (NOT in_s AND ${probabilitySql('match_weight')} >= ${keep})`;
  await using carriedVectors = await materialise(db, 'family_carried_vectors', prev
    ? `
    WITH w AS (SELECT rec_id_l, rec_id_r, in_s FROM ${now} WHERE NOT scored AND (${wins}))
    SELECT w.rec_id_l, w.rec_id_r, s.rule_id, (s.rules | ${1 << ruleBit})::UINTEGER AS rules, false AS new_pair, ${gammas.map((g) => `s.${g}`).join(', ')}
    FROM w JOIN scored_pairs s USING (rec_id_l, rec_id_r) WHERE w.in_s
    UNION ALL
    SELECT w.rec_id_l, w.rec_id_r, ${ruleBit}::UTINYINT, ${1 << ruleBit}::UINTEGER, true, ${gammas.map((g) => `g.${g}`).join(', ')}
    FROM w JOIN (${reuse!.gammas}) g USING (rec_id_l, rec_id_r) WHERE NOT w.in_s`
    : `SELECT rec_id_l, rec_id_r, rule_id, rules, new_pair, ${gammaList} FROM ${vectors} WHERE false`);
  await using carriedRows = await materialise(db, 'family_carried_rows',
    familyRowsSql(familyModel, carriedVectors.name, `(SELECT rec_id_l, rec_id_r, competitor_odds AS k_odds FROM ${carried})`));
  const carriedWanted = prev ? await db.count(`SELECT count(*) FROM ${now} WHERE NOT scored AND (${wins})`) : 0;
  const carriedFound = await db.count(`SELECT count(*) FROM ${carriedRows}`);
  if (carriedFound !== carriedWanted) throw new Error(`the family context found the gammas of ${carriedFound} of the ${carriedWanted} member pairs it carries from the previous batch`);
  // the family model's rows the merge reads: every scored one, and the carried ones above
  const familyRows = `(SELECT * FROM ${familyScored} UNION ALL BY NAME SELECT * FROM ${carriedRows})`;
  // the new pairs kept, and those of them compared here (the pairs raised are counted on scored_pairs below)
  const counts = await db.one<{ new_pairs: bigint; new_compared: bigint; carried_new: bigint }>(`
    SELECT count(*) AS new_pairs, count(*) FILTER (WHERE t.rec_id_l IS NOT NULL) AS new_compared,
      (SELECT count(*) FROM ${now} WHERE NOT scored AND NOT in_s) AS carried_new
    FROM (SELECT rec_id_l, rec_id_r FROM ${familyRows} WHERE new_pair AND match_probability >= ${keep}) f
    LEFT JOIN ${todo} t USING (rec_id_l, rec_id_r)`);
  // What the next batch reuses: the new pairs not kept (the kept ones are in scored_pairs), with their gammas; what
  // tells it which family pairs a change touched; every member pair's row it carries. The carried pairs not kept:
  // those not kept before either are FAMILY_UNKEPT_TABLE's rows already, the others (blocking proposed them then)
  // take their gammas from the previous scored pairs.
  const unkeptCarried = `(SELECT rec_id_l, rec_id_r FROM ${now} WHERE NOT scored AND NOT in_s AND ${probabilitySql('match_weight')} < ${keep})`;
  const unkeptScored = `SELECT rec_id_l, rec_id_r, ${gammaList} FROM ${familyScored} WHERE new_pair AND match_probability < ${keep}`;
  if (prev?.inPlace) {
    await updateInPlace(db, `
      DELETE FROM ${FAMILY_MEMBER_TABLE} WHERE rowid IN (SELECT m.rowid FROM ${FAMILY_MEMBER_TABLE} m ANTI JOIN ${carried} c USING (rec_id_l, rec_id_r));
      INSERT INTO ${FAMILY_MEMBER_TABLE} SELECT rec_id_l, rec_id_r, competitor_odds, match_weight FROM ${familyScored} ORDER BY rec_id_l, rec_id_r;
      ${updatedInPlaceSql(FAMILY_MEMBER_TABLE)}
      DELETE FROM ${FAMILY_UNKEPT_TABLE} WHERE rowid IN (SELECT u.rowid FROM ${FAMILY_UNKEPT_TABLE} u ANTI JOIN ${unkeptCarried} k USING (rec_id_l, rec_id_r));
      INSERT INTO ${FAMILY_UNKEPT_TABLE}
        ${unkeptScored}
        UNION ALL
        SELECT g.rec_id_l, g.rec_id_r, ${gammas.map((g) => `g.${g}`).join(', ')} FROM inc_prev_pairs g SEMI JOIN ${unkeptCarried} k USING (rec_id_l, rec_id_r);
      ${updatedInPlaceSql(FAMILY_UNKEPT_TABLE)}`);
    await writeSeedPairs(db, `SELECT * FROM (${seedPairsSql}) ORDER BY ALL`);
  } else {
    await writeUnkeptPairs(db, `
      ${unkeptScored}
      ${prev ? `UNION ALL
      SELECT g.rec_id_l, g.rec_id_r, ${gammas.map((g) => `g.${g}`).join(', ')} FROM (${reuse!.gammas}) g SEMI JOIN ${unkeptCarried} u USING (rec_id_l, rec_id_r)` : ''}`);
    await writeFamilyState(db, `SELECT * FROM (${seedPairsSql}) ORDER BY ALL`, `SELECT rec_id_l, rec_id_r, competitor_odds, match_weight FROM ${now} ORDER BY rec_id_l, rec_id_r`);
  }

  // scored_pairs: each pair once, with the larger weight of the two models (the batch's on a tie); the rule bits of
  // both. A member pair blocking had proposed is one row of scored_pairs and one of the family model's: joined, not
  // ranked in a window over both. Every such pair takes the family rule's bit (`m`; without a previous batch every
  // one is a row of `f`); the family model's whole row is read where it wins.
  const columnsOf = async (q: string) => (await db.all<{ column_name: string }>(`DESCRIBE ${q}`)).map((r) => r.column_name);
  const sCols = await columnsOf('SELECT * FROM scored_pairs');
  const fCols = (await columnsOf(`SELECT * FROM ${familyScored}`)).filter((c) => c !== 'new_pair' && c !== 'competitor_odds');
  const outCols = [...new Set([...sCols, 'family_context', 'family_competition', ...fCols])];
  const fWins = 'f.match_weight > s.match_weight';
  const joined = outCols.map((c) => {
    if (c === 'rec_id_l' || c === 'rec_id_r') return `s.${c}`;
    if (c === 'rules') return `CASE WHEN ${prev ? 'm' : 'f'}.rec_id_l IS NULL THEN s.rules ELSE (s.rules | ${1 << ruleBit})::UINTEGER END AS rules`;
    if (c === 'family_context') return `coalesce(${fWins}, false) AS family_context`;
    return `CASE WHEN ${fWins} THEN ${fCols.includes(c) ? `f.${c}` : 'NULL'} ELSE ${sCols.includes(c) ? `s.${c}` : 'NULL'} END AS ${c}`;
  });
  const added = outCols.map((c) => (c === 'family_context' ? 'true' : fCols.includes(c) ? `f.${c}` : 'NULL'));
  await rewriteWorkingTable(db, 'scored_pairs', `
    SELECT ${joined.join(', ')}
    FROM scored_pairs s LEFT JOIN (SELECT * FROM ${familyRows} WHERE NOT new_pair) f USING (rec_id_l, rec_id_r)
    ${prev ? `LEFT JOIN (SELECT rec_id_l, rec_id_r FROM ${now} WHERE in_s) m USING (rec_id_l, rec_id_r)` : ''}
    UNION ALL
    SELECT ${added.join(', ')} FROM ${familyRows} f WHERE f.new_pair AND f.match_probability >= ${keep}`);
  // the pairs the family model raised: its rows that won, but the new pairs (every one of which is its)
  const raised = (await db.count(`SELECT count(*) FILTER (WHERE family_context) FROM scored_pairs`)) - Number(counts?.new_pairs ?? 0);
  // candidate_pairs: the family rule's bit on the member pairs, and the new pairs kept; written anew (its rows have
  // no order), far cheaper than an UPDATE of the member pairs in place
  await rewriteWorkingTable(db, 'candidate_pairs', `
    SELECT c.rec_id_l, c.rec_id_r, c.rule_id, CASE WHEN f.rec_id_l IS NULL THEN c.rules ELSE (c.rules | ${1 << ruleBit})::UINTEGER END AS rules
    FROM candidate_pairs c LEFT JOIN (SELECT rec_id_l, rec_id_r FROM ${now} WHERE in_s) f USING (rec_id_l, rec_id_r)
    UNION ALL
    SELECT rec_id_l, rec_id_r, rule_id, rules FROM ${familyRows}
    WHERE new_pair AND match_probability >= ${keep}`);
  return {
    seed_threshold: seedThreshold,
    linked_family_pairs: linkedFamilies,
    member_pairs: memberPairs,
    new_pairs: Number(counts?.new_pairs ?? 0),
    compared_pairs: comparedPairs,
    compared_family_pairs: comparedFamilies,
    // the new pairs whose gammas the previous batch gave: those scored here with them, and those carried
    reused_pairs: (await db.count(`SELECT count(*) FROM ${reused}`)) + Number(counts?.carried_new ?? 0),
    model_source: model.family_context ? 'given' : 'estimated',
    scored_family_pairs: scoredFamilies,
    scored_member_pairs: scoredMembers,
    reused_family_pairs: carriedFamilies,
    reused_member_pairs: carriedMembers,
    new_pairs_compared: Number(counts?.new_compared ?? 0),
    raised_pairs: raised,
    lambda: em.lambda,
    iterations: em.iterations,
    converged: em.converged,
    u: familyContext.u,
    ...(uPairs ? { u_pairs: uPairs } : {}),
    model: familyContext,
  };
}

/**
 * The family context as a step of a batch's linking, after its pairs are scored (`linkage.family_context`): seeded
 * at `seedThreshold`, else the configured threshold, else the one "auto" would choose on the scored pairs. Adds its
 * rule to the blocking figures; returns the model as model.json keeps it (with the family model) and the figures.
 * scored_pairs then holds `new_pairs` more rows (the others were replaced one for one).
 */
export async function linkFamilyContext(db: Db, linkage: Linkage, model: Model, blocking: BlockingFigures, seedThreshold?: number, reuse?: FamilyGammaReuse): Promise<{ model: Model; figures?: Omit<FamilyContextFigures, 'model'> }> {
  const t = linkage.threshold;
  const seed = !linkage.family_context ? undefined : (seedThreshold ?? (t !== 'auto' ? t : chooseThreshold(await expectedCurve(db), linkage.precision_floor)?.match_probability));
  const family = seed === undefined ? undefined : await addFamilyContext(db, linkage, model, seed, reuse);
  if (!family) {
    // no family context ran (or it had no member pairs): the next batch finds empty tables
    await writeUnkeptPairs(db);
    await writeFamilyState(db);
    return { model };
  }
  blocking.rules.push({ rule: FAMILY_RULE.name, description: FAMILY_RULE.description, keys: 0, blocks: family.linked_family_pairs, capped_blocks: 0, capped_records: 0, pairs: family.member_pairs, new_pairs: family.new_pairs });
  blocking.candidate_pairs += family.new_pairs;
  const { model: familyModel, ...figures } = family;
  return { model: { ...model, family_context: familyModel }, figures };
}

/**
 * The family model as a Model the scoring SQL takes: the batch's m, the prior and u of the member pairs, no
 * conditional u, term-frequency adjustments bounded to nothing. Undefined when the model has no family context.
 */
export function familyModelOf(model: Model): Model | undefined {
  const f = model.family_context;
  if (!f) return undefined;
  return {
    ...model,
    lambda: f.lambda,
    conditional_u: [],
    tf_max_adjustment: 0,
    comparisons: model.comparisons.map((c) => ({ ...c, levels: c.levels.map((l, g) => ({ ...l, u: f.u[c.name]?.[g] ?? l.u })) })),
  };
}
