/**
 * Conditional u: the level frequencies of one comparison among non-matching pairs that sit at given levels of
 * other comparisons. Fellegi–Sunter multiplies the comparisons as if they were independent among non-matches;
 * in this register they are not:
 *  - two members of one household share a birth date far more often than two random persons (twins), and
 *    share name tokens (a family name, a father's name);
 *  - two persons born the same day carry NIKs with the same date digits, and when they were registered
 *    nearby, the same region digits too: their NIKs differ only in the serial (twins get consecutive serials),
 *    in the sex digit, or in one district digit (serial 0001 in two neighbouring districts).
 * Counting such agreements at the u of random pairs counts the same fact twice and merges twins. So each
 * entry below is estimated among sampled pairs at its given levels whose other evidence marks them as plainly
 * different persons (names that share nothing, or birth dates years apart), seeded and repeatable.
 * Entries are ordered, most specific first; the first whose conditions hold applies (see em.ts).
 */
import { LINKAGE_SEED } from './seed.ts';
import type { Db } from '../engine/db.ts';
import { lit } from '../engine/db.ts';
import { allowedSourcePairsSql } from './blocking.ts';
import { COMPARISONS, HOUSEHOLD_LEVELS, NEARBY_LEVELS, NIK_BEYOND_TYPO, NIK_DIFFERENT_LEVELS, SAME_DAY_LEVELS, levelIndex } from './comparisons.ts';
import { comparisonVectorsSql } from './comparison-vectors.ts';
import { gammaColumn } from './comparison-sql.ts';
import type { Linkage } from '../../schemas/config.ts';
import type { ConditionalU } from '../../schemas/model.ts';
import type { ConditionalU as EmConditionalU } from './em.ts';

/** The label that stands for "no evidence" (gamma -1) in a condition. */
export const NULL_LEVEL = 'null';
/** fewer non-matching pairs than this and an entry is not estimated (the next entry that fits applies) */
export const MIN_CONDITIONAL_PAIRS = 200;
/** pairs drawn by each sampler (at most) */
const SAMPLE_PAIRS = 250_000;

/** household: pairs of one family card or one neighbourhood; day_household: of those, born the same day;
 *  day_regency, day: born the same day in one regency, anywhere; regency: of one regency */
type Sample = 'household' | 'day_household' | 'day_regency' | 'day' | 'regency' | 'name';

interface Spec {
  comparison: string;
  description: string;
  given: { comparison: string; levels: string[] }[];
  /** SQL over the gammas of a sampled pair: it is plainly a non-match, by evidence independent of `comparison` */
  nonMatch: string;
  /** the sample it is estimated on (see samplePairs): drawn uniformly where its conditions hold, not from pairs
   *  another sampler selected on the very comparison this one measures */
  sample: Sample;
  /** levels that keep their plain u (the condition does not make them likelier among non-matches); the other
   *  levels share the rest in the proportions sampled */
  plain?: string[];
  /**
   * Estimated as a mixture over the age gap: `nonMatch` selects pairs born years apart, whose levels are counted as
   * sampled; pairs close in age (under five years, not born the same day) are counted among those of the other sex
   * (plainly two persons, by evidence the names do not carry); the two weigh by the share of pairs years apart
   * among the pairs whose names differ (non-matches whatever their ages). A sample kept to pairs years apart alone
   * holds parents and children, where a son named after his father is found, and leaves out spouses and siblings:
   * it made an exact name in one household look several times commoner among different persons than it is.
   */
  byAgeGap?: boolean;
}

/** SQL over a sampled pair's gammas: the comparison is at one of the levels. */
const g = (comparison: string, ...labels: string[]) => `${gammaColumn({ name: comparison })} IN (${labels.map((l) => levelIndex(comparison, l)).join(', ')})`;
const NAMES_DIFFER = g('name', 'different');
/**
 * Birth years (stated, else decoded from the NIK) five or more years apart: no typo, convention or estimated
 * year moves one person's date that far, so the sample cannot hold the same person with a damaged date (a
 * sample kept to dates merely "different" would, and would count their agreeing names as non-matches').
 */
const AGES_DIFFER = `years_apart >= 5`;
const SAME_DAY = { comparison: 'birth_date', levels: [...SAME_DAY_LEVELS] as string[] };
/** Birth-date levels that leave open whether two persons were born the same day: one date is a convention of an
 *  estimated year, or one record's stated date is the other's NIK date. */
const DAY_UNKNOWN_LEVELS = ['a conventional date, within two years', 'NIK-decoded date agrees'];
/**
 * NIKs among non-matches: pairs whose names share nothing. Two persons share a NIK only where one was copied,
 * which being born the same day or living nearby does not make likelier; among such sampled pairs a shared NIK
 * with names that differ is nearly always one person whose name was mistyped (records of one person outnumber
 * twins by far). So the shared NIK keeps its plain u.
 */
const NIK_NON_MATCHES = { nonMatch: NAMES_DIFFER, plain: ['exact'] };

function conditionalSpecs(): Spec[] {
  const specs: Spec[] = [];
  const groups: { of: string; at: string; levels: string[] }[] = [
    ...HOUSEHOLD_LEVELS.map((l) => ({ of: `of the ${l}`, at: `with the ${l}`, levels: [l] })),
    { of: 'of one household', at: 'in one household', levels: [...HOUSEHOLD_LEVELS] },
  ];
  // A father and his son share a name, twins do not: the names of pairs of a household not born the same day (or of
  // unknown dates) are measured apart from those of twins (below).
  const birthDateLevels = COMPARISONS.find((c) => c.name === 'birth_date')!.levels.map((l) => l.label);
  const notSameDay = { comparison: 'birth_date', levels: [NULL_LEVEL, ...birthDateLevels.filter((l) => !(SAME_DAY_LEVELS as readonly string[]).includes(l))] };
  // Twins are not named alike, but often near-alike (HASAN/HUSEIN, SAPUTRA/SAPUTRI, one shared first or family
  // name): among pairs of one household born the same day, the names' partial agreements are measured among those
  // whose NIKs disagree beyond a typo or whose sexes differ (twins, by evidence the names do not carry). The levels of
  // one name keep their plain u: there, one person's records with a NIK typo in the serial would outnumber twins.
  const twinsNonMatch = `(${g('nik', ...NIK_BEYOND_TYPO)} OR ${g('sex', 'different')})`;
  for (const x of groups) {
    const given = { comparison: 'household', levels: x.levels };
    specs.push(
      { comparison: 'name', description: `names of two persons ${x.of} not born the same day`, given: [given, notSameDay], nonMatch: AGES_DIFFER, sample: 'household', byAgeGap: true },
      { comparison: 'name', description: `names of two persons ${x.of} born the same day`, given: [given, SAME_DAY], nonMatch: twinsNonMatch, sample: 'day_household', plain: ['exact', 'same tokens, other order'] },
      { comparison: 'birth_date', description: `birth dates of two persons ${x.of}`, given: [given], nonMatch: NAMES_DIFFER, sample: 'household' },
    );
  }
  // Persons of one name are of one generation and one region more often than two random persons (names go in and
  // out of fashion; conventional dates gather the old): their birth years and conventional dates agree more
  // often. Measured among pairs of one name whose NIKs differ beyond a typo. The levels of one precise date keep
  // their plain u: there, the few records of one person carrying another's NIK would outnumber the strangers.
  specs.push({
    comparison: 'birth_date',
    description: 'birth dates of two persons of one name',
    given: [{ comparison: 'name', levels: ['exact'] }],
    nonMatch: g('nik', ...NIK_DIFFERENT_LEVELS),
    sample: 'name',
    plain: ['exact', 'day and month swapped', 'one year apart', 'NIK-decoded date agrees'],
  });
  for (const x of groups) {
    specs.push({ comparison: 'nik', description: `NIKs of two persons born the same day, ${x.at}`, given: [SAME_DAY, { comparison: 'household', levels: x.levels }], ...NIK_NON_MATCHES, sample: 'day_household' });
  }
  const nearby = { comparison: 'household', levels: [...NEARBY_LEVELS] };
  specs.push({ comparison: 'nik', description: 'NIKs of two persons born the same day in the same regency', given: [SAME_DAY, nearby], ...NIK_NON_MATCHES, sample: 'day_regency' });
  specs.push({ comparison: 'nik', description: 'NIKs of two persons born the same day', given: [SAME_DAY], ...NIK_NON_MATCHES, sample: 'day' });
  // Persons registered nearby share the region digits; with the low serials of one birth date (0001, 0002) two
  // NIKs of persons born days or months apart can differ in a single date digit.
  // A record can carry a relative's NIK (a parent's, a spouse's): among persons of one household not born the same
  // day a shared NIK is far commoner than among strangers. Estimated among pairs born years apart (no typo moves
  // one person's date that far), every level included.
  // "Not born the same day" there means dates that tell the days apart: a missing date, or a conventional one (1
  // January of an estimated year), hides twins, whose NIKs differ only in the serial or the sex digit; measured
  // among pairs born years apart, such NIKs looked a thousand times rarer among different persons than they are
  // (the next entry, over every pair of the household, holds the twins).
  const daysDiffer = { comparison: 'birth_date', levels: birthDateLevels.filter((l) => !(SAME_DAY_LEVELS as readonly string[]).includes(l) && !DAY_UNKNOWN_LEVELS.includes(l)) };
  specs.push({ comparison: 'nik', description: 'NIKs of two persons of one household born on days known to differ', given: [{ comparison: 'household', levels: [...HOUSEHOLD_LEVELS] }, daysDiffer], nonMatch: AGES_DIFFER, sample: 'household' });
  // Where the dates leave the day open (missing, or a convention of an estimated year) the household's twins are
  // hidden among its other members: their NIKs (one serial apart) and their dates (one convention) agree together,
  // so the NIK's u is measured among the pairs whose dates leave the day open, not over the household as a whole.
  specs.push({ comparison: 'nik', description: 'NIKs of two persons of one household whose dates leave the day open', given: [{ comparison: 'household', levels: [...HOUSEHOLD_LEVELS] }, { comparison: 'birth_date', levels: [NULL_LEVEL, 'a conventional date, within two years'] }], ...NIK_NON_MATCHES, sample: 'household' });
  specs.push({ comparison: 'nik', description: 'NIKs of two persons of one household', given: [{ comparison: 'household', levels: [...HOUSEHOLD_LEVELS] }], ...NIK_NON_MATCHES, sample: 'household' });
  specs.push({ comparison: 'nik', description: 'NIKs of two persons in the same regency', given: [nearby], ...NIK_NON_MATCHES, sample: 'regency' });
  return specs;
}

export const CONDITIONAL_SPECS: readonly Spec[] = conditionalSpecs();

/**
 * Samples pairs (allowed by the config) of records that share a family card, a neighbourhood (village + RT/RW),
 * a birth date in one household, in one regency or anywhere, or a regency: each record with the next few of its
 * group in a seeded random order. Their comparison vectors go to `u_cond_vectors`.
 */
async function samplePairs(db: Db, linkage: Linkage, seed: number): Promise<void> {
  // Group keys as 64-bit hashes of a narrow copy (hashing and sorting integers, not building strings).
  await db.run(`
    CREATE OR REPLACE TEMP TABLE cond_keys AS
    SELECT rec_id, source, coalesce(birth_date, nik_birth_date) AS day,
      CASE WHEN kk_valid THEN hash(no_kk) END AS kk,
      CASE WHEN village_code IS NOT NULL AND rt IS NOT NULL AND rw IS NOT NULL THEN hash(village_code, rt, rw) END AS nb,
      hash(coalesce(regency_code, substr(nik_region, 1, 4))) AS reg, CASE WHEN name_norm IS NOT NULL THEN hash(name_norm) END AS nm
    FROM person_clean`);
  // [group key, neighbours paired with each record, pairs kept (null: all)]. Records born the same day in one
  // household (twins, or one person in several sources) are few: all of their pairs are taken.
  const groups: [Sample, string, number, number | null][] = [
    ['household', 'kk', 2, SAMPLE_PAIRS],
    ['household', 'nb', 2, SAMPLE_PAIRS],
    ['day_household', 'hash(day, kk)', 3, null],
    ['day_household', 'hash(day, nb)', 3, null],
    ['day_regency', 'hash(day, reg)', 2, SAMPLE_PAIRS],
    ['day', 'hash(day)', 1, SAMPLE_PAIRS],
    ['regency', 'reg', 1, SAMPLE_PAIRS],
    ['name', 'nm', 2, SAMPLE_PAIRS],
  ];
  const notNull: Record<string, string> = { kk: 'kk', nb: 'nb', 'hash(day, kk)': 'day IS NOT NULL AND kk', 'hash(day, nb)': 'day IS NOT NULL AND nb', 'hash(day, reg)': 'day', 'hash(day)': 'day', reg: 'reg', nm: 'nm' };
  // Each record with the next `next` records of its group: equality joins on (key, k + d), one per offset (a
  // range condition on k would compare every pair of a group).
  const records = await db.count(`SELECT count(*) FROM cond_keys`);
  // A sampler with a limit needs about 4 × limit pairs to draw from, and a record makes up to `next` of them:
  // only the groups of a seeded share of the keys are enumerated (whole groups, chosen by the key's hash, so
  // the pairs stay a uniform draw), and only groups of two or more (a window over every record cost 48 s at 10M persons).
  const share = (next: number, limit: number | null) => (limit === null ? 1 : Math.min(1, (4 * limit) / Math.max(1, records * next)));
  const samplers = groups.map(
    ([sample, key, next, limit], i) => `(WITH keyed AS MATERIALIZED (
        SELECT rec_id, source, ${key} AS key FROM cond_keys WHERE ${notNull[key]} IS NOT NULL
        ${share(next, limit) < 1 ? `AND hash(${key}, ${seed}, ${i}) % 1000000 < ${Math.ceil(share(next, limit) * 1_000_000)}` : ''}),
      picked AS (SELECT * FROM keyed WHERE key IN (SELECT key FROM keyed GROUP BY key HAVING count(*) > 1)),
      r AS MATERIALIZED (
        SELECT rec_id, source, key, row_number() OVER (PARTITION BY key ORDER BY hash(rec_id, ${seed}, ${i})) AS k FROM picked),
      p AS (${Array.from({ length: next }, (_, d) => `SELECT a.rec_id AS x, b.rec_id AS y, a.source AS sx, b.source AS sy FROM r a JOIN r b ON b.key = a.key AND b.k = a.k + ${d + 1}`).join(' UNION ALL ')})
      SELECT ${lit(sample)} AS sample, least(x, y) AS rec_id_l, greatest(x, y) AS rec_id_r
      FROM p SEMI JOIN allowed_source_pairs s ON s.source_l = p.sx AND s.source_r = p.sy
      ${limit === null ? '' : `ORDER BY hash(least(x, y), greatest(x, y), ${seed}) LIMIT ${limit}`})`,
  );
  await db.run(`
    CREATE OR REPLACE TEMP TABLE allowed_source_pairs AS ${allowedSourcePairsSql(linkage)};
    CREATE OR REPLACE TEMP TABLE u_cond_pairs AS SELECT DISTINCT * FROM (${samplers.join('\nUNION ALL\n')});
    CREATE OR REPLACE TEMP TABLE u_cond_vectors AS
      SELECT v.*, abs(year(coalesce(l.birth_date, l.nik_birth_date)) - year(coalesce(r.birth_date, r.nik_birth_date))) AS years_apart
      FROM (${comparisonVectorsSql('u_cond_pairs', ['sample'])}) v
      JOIN compare_input l ON l.rec_id = v.rec_id_l JOIN compare_input r ON r.rec_id = v.rec_id_r;
    DROP TABLE u_cond_pairs; DROP TABLE cond_keys;
  `);
}

function whereGiven(spec: Spec): string {
  const index = (comparison: string, l: string) => (l === NULL_LEVEL ? -1 : levelIndex(comparison, l));
  return spec.given.map((c) => `${gammaColumn({ name: c.comparison })} IN (${c.levels.map((l) => index(c.comparison, l)).join(', ')})`).join(' AND ');
}

const OTHER_SEX = g('sex', 'different');

/**
 * Level counts of a mixture over the age gap (Spec.byAgeGap): the counts of pairs years apart and of pairs close in
 * age, each as proportions, weighed by the share of pairs years apart (`far` of `known`), as counts over the pairs
 * of both. Either part too small to estimate (fewer than MIN_CONDITIONAL_PAIRS): the other alone.
 */
export function mixByAgeGap(far: readonly number[], close: readonly number[], farPairs: number, knownPairs: number): number[] {
  const nFar = far.reduce((a, b) => a + b, 0);
  const nClose = close.reduce((a, b) => a + b, 0);
  if (nClose < MIN_CONDITIONAL_PAIRS || knownPairs < MIN_CONDITIONAL_PAIRS) return [...far];
  if (nFar < MIN_CONDITIONAL_PAIRS) return [...close];
  const f = farPairs / knownPairs;
  const n = nFar + nClose;
  return far.map((x, i) => n * (f * (x / nFar) + (1 - f) * (close[i] / nClose)));
}

/** The level counts of every entry of CONDITIONAL_SPECS among its sampled non-matching pairs. */
export interface ConditionalCounts {
  spec: Spec;
  counts: number[];
}

/** Samples the pairs of every entry of CONDITIONAL_SPECS and counts their levels (see conditionalEntries). */
export async function sampleConditionalCounts(db: Db, linkage: Linkage, seed = LINKAGE_SEED): Promise<ConditionalCounts[]> {
  await samplePairs(db, linkage, seed);
  const out: ConditionalCounts[] = [];
  for (const spec of CONDITIONAL_SPECS) {
    const comp = COMPARISONS.find((c) => c.name === spec.comparison)!;
    const col = gammaColumn(comp);
    const levelCounts = async (nonMatch: string) => {
      const rows = await db.all<{ g: string; n: string }>(
        `SELECT ${col} AS g, count(*) AS n FROM u_cond_vectors WHERE sample = ${lit(spec.sample)} AND ${col} >= 0 AND ${whereGiven(spec)} AND ${nonMatch} GROUP BY ALL`,
      );
      const counts = new Array<number>(comp.levels.length).fill(0);
      for (const r of rows) counts[Number(r.g)] = Number(r.n);
      return counts;
    };
    const counts = await levelCounts(spec.nonMatch);
    if (spec.byAgeGap) {
      const close = await levelCounts(`years_apart < 5 AND ${OTHER_SEX}`);
      const share = await db.one<{ far: number; known: number }>(
        `SELECT count(*) FILTER (WHERE ${spec.nonMatch})::DOUBLE AS far, count(*)::DOUBLE AS known FROM u_cond_vectors
         WHERE sample = ${lit(spec.sample)} AND ${whereGiven(spec)} AND years_apart IS NOT NULL AND ${NAMES_DIFFER}`,
      );
      out.push({ spec, counts: mixByAgeGap(counts, close, Number(share?.far ?? 0), Number(share?.known ?? 0)) });
      continue;
    }
    out.push({ spec, counts });
  }
  await db.run(`DROP TABLE u_cond_vectors; DROP TABLE allowed_source_pairs;`);
  return out;
}

/** The entries with enough non-matching pairs, their `plain` levels at the given plain u. */
export function conditionalEntries(sampled: readonly ConditionalCounts[], plainU: readonly number[][]): { entries: ConditionalU[]; skipped: { description: string; pairs: number }[] } {
  const entries: ConditionalU[] = [];
  const skipped: { description: string; pairs: number }[] = [];
  for (const { spec, counts } of sampled) {
    const comp = COMPARISONS.find((c) => c.name === spec.comparison)!;
    const plain = comp.levels.map((lv) => spec.plain?.includes(lv.label) ?? false);
    const pairs = counts.reduce((a, c, i) => a + (plain[i] ? 0 : c), 0);
    if (pairs < MIN_CONDITIONAL_PAIRS) {
      skipped.push({ description: spec.description, pairs });
      continue;
    }
    const ci = COMPARISONS.indexOf(comp);
    const rest = 1 - plain.reduce((a, p, i) => a + (p ? plainU[ci][i] : 0), 0);
    const free = plain.filter((p) => !p).length;
    // One pseudo-pair per level: rare, not impossible.
    const u = counts.map((c, i) => (plain[i] ? plainU[ci][i] : (rest * (c + 1)) / (pairs + free)));
    // pairs counted: a mixture over the age gap (mixByAgeGap) weighs them, so its count need not be whole
    entries.push({ comparison: spec.comparison, description: spec.description, given: spec.given, u, pairs: Math.round(pairs) });
  }
  return { entries, skipped };
}

/** Estimates every entry of CONDITIONAL_SPECS that has enough non-matching pairs. */
export async function estimateConditionalU(db: Db, linkage: Linkage, plainU: readonly number[][], seed = LINKAGE_SEED): Promise<{ entries: ConditionalU[]; skipped: { description: string; pairs: number }[] }> {
  return conditionalEntries(await sampleConditionalCounts(db, linkage, seed), plainU);
}

/** The model's conditional u entries with comparisons and levels as indices into `model.comparisons`. */
export function conditionalUs(model: { comparisons: readonly { name: string; levels: readonly { label: string }[] }[]; conditional_u?: readonly ConditionalU[] }): EmConditionalU[] {
  const index = (name: string) => {
    const i = model.comparisons.findIndex((c) => c.name === name);
    if (i < 0) throw new Error(`conditional u names an unknown comparison '${name}'`);
    return i;
  };
  const levelOf = (comparison: number, label: string) => {
    if (label === NULL_LEVEL) return -1;
    const i = model.comparisons[comparison].levels.findIndex((l) => l.label === label);
    if (i < 0) throw new Error(`conditional u names an unknown level '${label}' of ${model.comparisons[comparison].name}`);
    return i;
  };
  return (model.conditional_u ?? []).map((e) => ({
    comparison: index(e.comparison),
    given: e.given.map((c) => {
      const ci = index(c.comparison);
      return { comparison: ci, levels: c.levels.map((l) => levelOf(ci, l)) };
    }),
    u: e.u,
  }));
}
