/**
 * Comparisons with graded levels, as data. Each level is a SQL condition over a pair (columns of the two
 * records as l.<col> and r.<col>); levels are tried in order, the first that holds wins. The null level
 * (gamma -1) means "no evidence" and weighs nothing; the last level is "everything else" (disagreement).
 * Gamma values: -1 null, then 0 = the first (strongest) level, 1, 2 … in order.
 */
import { usableNikSql } from './nik.ts';

export interface ComparisonLevel {
  label: string;
  /** SQL boolean over l.* and r.*; the last level has 'TRUE' */
  when: string;
  /** starting m for EM (probability of this level among matches) */
  m: number;
  /** term-frequency adjusted: the weight of this level depends on how common the value is */
  tf?: boolean;
}

export interface Comparison {
  name: string;
  description: string;
  /** SQL boolean: this pair carries no evidence on this comparison */
  isNull: string;
  levels: ComparisonLevel[];
  /** person_clean column whose value frequency drives the term-frequency adjustment */
  tfColumn?: string;
  /** the person_clean columns its SQL reads (as l.<col> and r.<col>): the pair joins carry only these */
  columns: readonly string[];
  /**
   * The training sessions that learn its m by EM (train.ts): the names of blocking rules whose pairs teach it, or
   * ALL_CANDIDATE_PAIRS (the last session, every other comparison's m held). A blocking rule's pairs teach
   * only what the rule does not fix (BlockingRule.fixes).
   */
  trainedBy: readonly string[];
  /**
   * A prior of the pair rather than evidence of a match: its m is not learnt by EM but counted among the confident
   * links (CONFIDENT_LINKS), the candidate pairs the other comparisons alone call matches beyond doubt; its u is
   * sampled as every comparison's. Left out of every training session.
   */
  pairPrior?: boolean;
}

/** The training session over every candidate pair, after the sessions of the blocking rules. */
export const ALL_CANDIDATE_PAIRS = 'all candidate pairs';
/** The candidate pairs the comparisons other than the pair priors call matches beyond doubt (train.ts). */
export const CONFIDENT_LINKS = 'confident links';

const NIK_OK = (s: 'l' | 'r') => usableNikSql(s);

/** Two 16-digit strings that differ only by one swap of adjacent digits. */
const ADJACENT_SWAP = `hamming(l.nik_digits, r.nik_digits) = 2 AND list_bool_or(list_transform(range(1, 16), i ->
  substr(l.nik_digits, i, 1) = substr(r.nik_digits, i + 1, 1) AND substr(l.nik_digits, i + 1, 1) = substr(r.nik_digits, i, 1)
  AND substr(l.nik_digits, i, 1) <> substr(l.nik_digits, i + 1, 1)))`;

/**
 * The two NIKs carry one birth date and the NIK comparison has counted it: its levels exact, one substitution in
 * the region code, serial differs and same date for the other sex all hold the same date digits. (Two persons born
 * the same day in one district carry such NIKs: counting their decoded dates again as a birth date agreeing would
 * count one fact twice.)
 */
const NIK_COUNTS_DATE = `(${NIK_OK('l')} AND ${NIK_OK('r')} AND substr(l.nik_digits, 8, 5) = substr(r.nik_digits, 8, 5) AND (
    substr(l.nik_digits, 1, 7) = substr(r.nik_digits, 1, 7)
    OR (substr(l.nik_digits, 1, 6) = substr(r.nik_digits, 1, 6) AND abs(substr(l.nik_digits, 7, 1)::INT - substr(r.nik_digits, 7, 1)::INT) = 4)
    OR (hamming(l.nik_digits, r.nik_digits) = 1 AND substr(l.nik_digits, 7) = substr(r.nik_digits, 7))))`;

/** The stated birth date, else the one decoded from the NIK — unless the NIK comparison has already counted the
 *  NIKs' date (NIK_COUNTS_DATE). */
const BD = (s: 'l' | 'r') => `coalesce(${s}.birth_date, CASE WHEN NOT ${NIK_COUNTS_DATE} THEN ${s}.nik_birth_date END)`;

/** A conventional birth date: 1 January, 1 July or 31 December (domain.md). */
const CONVENTIONAL = (d: string) => `(strftime(${d}, '%m%d') IN ('0101', '0701', '1231'))`;

/** The NIK level of two NIKs that differ beyond a typo, each carrying its own record's stated birth date. */
export const NIK_DIFFERENT_CORROBORATED = 'different, each dated as its record states';
/** The NIK levels of two NIKs that differ beyond a typo (whatever their dates). */
export const NIK_DIFFERENT_LEVELS = [NIK_DIFFERENT_CORROBORATED, 'different'] as const;

/** The sources, in the order of their pairs' levels. */
export const SOURCE_NAMES = ['dtks', 'regsosek', 'p3ke'] as const;

/**
 * The two records' sources. How many of a pair's kind are matches differs by source pair and by batch: a source
 * holds few duplicates of its own persons (a DTKS with duplicate registrations more, a P3KE of one family card per
 * family few), while two sources listing one population share most of it. A level per source pair carries that
 * prior: m the share of the source pair among the confident links, u its share among all allowed pairs. Symmetric:
 * (regsosek, dtks) is (dtks, regsosek).
 */
export function sourcesComparison(names: readonly string[] = SOURCE_NAMES): Comparison {
  const pairs = names.flatMap((a, i) => names.slice(i).map((b) => [a, b] as const));
  return {
    name: 'sources',
    columns: ['source'],
    trainedBy: [],
    pairPrior: true,
    description: 'the two records\' sources (a prior per source pair)',
    isNull: 'FALSE',
    levels: pairs.map(([a, b], i) => ({
      label: a === b ? `both ${a}` : `${a} and ${b}`,
      when: i === pairs.length - 1 ? 'TRUE' : `least(l.source, r.source) = '${a < b ? a : b}' AND greatest(l.source, r.source) = '${a < b ? b : a}'`,
      m: 1 / pairs.length,
    })),
  };
}

export const COMPARISONS: readonly Comparison[] = [
  {
    name: 'nik',
    columns: ['nik_status', 'nik_digits', 'birth_date', 'nik_birth_date'],
    trainedBy: ['phonetic_village'],
    description: 'national identity number',
    isNull: `NOT (${NIK_OK('l')} AND ${NIK_OK('r')})`,
    levels: [
      { label: 'exact', when: `l.nik_digits = r.nik_digits`, m: 0.85 },
      // One typed digit in the region code.
      { label: 'one substitution in the region code', when: `hamming(l.nik_digits, r.nik_digits) = 1 AND substr(l.nik_digits, 1, 6) <> substr(r.nik_digits, 1, 6)`, m: 0.02 },
      // One typed digit (or swap) in the date part while the stated birth dates do not differ: a typo, not
      // two persons born on different days (their NIKs differ in the date digits too).
      { label: 'one typo in the date digits', when: `substr(l.nik_digits, 1, 6) = substr(r.nik_digits, 1, 6) AND substr(l.nik_digits, 13, 4) = substr(r.nik_digits, 13, 4)
          AND (hamming(l.nik_digits, r.nik_digits) = 1 OR ${ADJACENT_SWAP})
          AND abs(substr(l.nik_digits, 7, 1)::INT - substr(r.nik_digits, 7, 1)::INT) <> 4
          AND coalesce(l.birth_date = r.birth_date, true)`, m: 0.03 },
      { label: 'adjacent swap', when: `${ADJACENT_SWAP} AND substr(l.nik_digits, 7, 6) = substr(r.nik_digits, 7, 6)`, m: 0.02 },
      // Same region and date, another serial: a typo in the serial, or another person born that day there (twins).
      { label: 'same first 12 digits, serial differs', when: `substr(l.nik_digits, 1, 12) = substr(r.nik_digits, 1, 12)`, m: 0.01 },
      // The day digit differs by 4: the same date for the other sex (a twin brother or sister), or a sex typo.
      { label: 'same date, other sex', when: `substr(l.nik_digits, 1, 6) = substr(r.nik_digits, 1, 6) AND substr(l.nik_digits, 8, 5) = substr(r.nik_digits, 8, 5)
          AND abs(substr(l.nik_digits, 7, 1)::INT - substr(r.nik_digits, 7, 1)::INT) = 4`, m: 0.005 },
      // Two NIKs each carrying its own record's stated birth date: each is that record's own, so they name two
      // persons. A NIK whose date is not its record's (a relative's NIK typed in, a damaged one) says less: a
      // record of the same person often carries such a NIK. The two disagreements are weighed apart.
      { label: NIK_DIFFERENT_CORROBORATED, when: `l.nik_birth_date = l.birth_date AND r.nik_birth_date = r.birth_date`, m: 0.005 },
      { label: 'different', when: 'TRUE', m: 0.06 },
    ],
  },
  {
    name: 'name',
    columns: ['name_norm', 'name_tokens', 'name_phonetic'],
    trainedBy: ['nik', 'dob_district'],
    description: 'normalised full name',
    isNull: `l.name_norm IS NULL OR r.name_norm IS NULL`,
    tfColumn: 'name_norm',
    levels: [
      { label: 'exact', when: `l.name_norm = r.name_norm`, m: 0.7, tf: true },
      // The cheap length tests first: list functions cost far more than a comparison of two integers.
      { label: 'same tokens, other order', when: `length(l.name_norm) = length(r.name_norm) AND list_sort(l.name_tokens) = list_sort(r.name_tokens)`, m: 0.03 },
      { label: 'one token missing', when: `len(l.name_tokens) <> len(r.name_tokens) AND abs(len(l.name_tokens) - len(r.name_tokens)) = 1
          AND (list_has_all(l.name_tokens, r.name_tokens) OR list_has_all(r.name_tokens, l.name_tokens))`, m: 0.05 },
      // Tokens abbreviated to their initial (I K SUDIARTA / I KOMANG SUDIARTA, M RIDWAN / MUHAMMAD RIDWAN): older
      // records keep abbreviations, and a Balinese birth-order name is often written as its letter. Every token
      // agrees or is the initial of the other's, and a token of three letters or more is written out in both.
      {
        label: 'tokens agree, some abbreviated to an initial',
        when: `len(l.name_tokens) = len(r.name_tokens) AND list_has_any(list_filter(l.name_tokens, t -> length(t) >= 3), r.name_tokens)
          AND list_bool_and(list_transform(range(1, len(l.name_tokens) + 1), i -> l.name_tokens[i] = r.name_tokens[i]
            OR (length(l.name_tokens[i]) = 1 AND left(r.name_tokens[i], 1) = l.name_tokens[i])
            OR (length(r.name_tokens[i]) = 1 AND left(l.name_tokens[i], 1) = r.name_tokens[i])))`,
        m: 0.01,
      },
      { label: 'Jaro-Winkler >= 0.95', when: `jaro_winkler_similarity(l.name_norm, r.name_norm) >= 0.95`, m: 0.07 },
      // One typed, missing or extra letter where Jaro-Winkler is weak: short names, or a wrong first letter
      // (NENENG/RENENG, JUSUF/YUSUF); Jaro-Winkler already counts swapped letters. levenshtein runs only where one
      // edit is possible at all: lengths within one, and the first two or the last two letters untouched (true of
      // any single edit from 4 letters on).
      {
        label: 'one typo',
        when: `abs(length(l.name_norm) - length(r.name_norm)) <= 1
          AND (left(l.name_norm, 2) = left(r.name_norm, 2) OR right(l.name_norm, 2) = right(r.name_norm, 2))
          AND levenshtein(l.name_norm, r.name_norm) = 1`,
        m: 0.02,
      },
      { label: 'Jaro-Winkler >= 0.88', when: `jaro_winkler_similarity(l.name_norm, r.name_norm) >= 0.88`, m: 0.06 },
      { label: 'same phonetic key', when: `l.name_phonetic = r.name_phonetic`, m: 0.03 },
      { label: 'initials agree', when: `left(l.name_norm, 1) = left(r.name_norm, 1) AND len(l.name_tokens) = len(r.name_tokens)
          AND list_transform(l.name_tokens, t -> t[1]) = list_transform(r.name_tokens, t -> t[1])
          AND (list_has_any(l.name_tokens, r.name_tokens))`, m: 0.02 },
      { label: 'a token shared', when: `list_has_any(l.name_tokens, r.name_tokens)`, m: 0.02 },
      { label: 'different', when: 'TRUE', m: 0.02 },
    ],
  },
  {
    // Stated birth dates, the NIK-decoded date standing in where a record states none. The NIK-decoded date of
    // one agreeing with the stated date of the other counts only when the NIKs differ (equal NIKs carry equal
    // dates: the NIK comparison has already counted that).
    // Learnt on the pairs of one NIK (their stated dates are free to vary: an equal NIK leaves a missing date
    // missing), not on those of one phonetic name in a village: that rule's keys hold the birth year or the day and
    // month, so its non-matches agree on part of the date far more often than random pairs, and EM took the whole
    // block for matches (m of a different date 0.36 where the true share is 0.003).
    name: 'birth_date',
    columns: ['birth_date', 'nik_birth_date', 'nik_digits', 'nik_status'],
    trainedBy: ['nik'],
    description: 'birth date (stated; decoded from the NIK where none is stated)',
    isNull: `${BD('l')} IS NULL OR ${BD('r')} IS NULL`,
    levels: [
      // A conventional date (1 January, 1 July, 31 December: written for persons without a birth certificate) is
      // shared by many persons of one year: its agreement is its own level, with its own u.
      { label: 'exact', when: `${BD('l')} = ${BD('r')} AND NOT ${CONVENTIONAL(BD('l'))}`, m: 0.8 },
      { label: 'exact, a conventional date', when: `${BD('l')} = ${BD('r')}`, m: 0.05 },
      { label: 'day and month swapped', when: `year(${BD('l')}) = year(${BD('r')}) AND day(${BD('l')}) = month(${BD('r')}) AND month(${BD('l')}) = day(${BD('r')})`, m: 0.02 },
      { label: 'one year apart', when: `month(${BD('l')}) = month(${BD('r')}) AND day(${BD('l')}) = day(${BD('r')}) AND abs(year(${BD('l')}) - year(${BD('r')})) = 1 AND NOT ${CONVENTIONAL(BD('l'))}`, m: 0.02 },
      { label: 'NIK-decoded date agrees', when: `NOT ${NIK_COUNTS_DATE} AND (l.birth_date = r.nik_birth_date OR l.nik_birth_date = r.birth_date)`, m: 0.04 },
      { label: 'same year and month', when: `year(${BD('l')}) = year(${BD('r')}) AND month(${BD('l')}) = month(${BD('r')})`, m: 0.03 },
      // The same person often carries a real date in one source and a conventional one (of an estimated year) in
      // another, or two conventions: such a disagreement is weak evidence, weighed apart from a real one.
      { label: 'a conventional date, within two years', when: `(${CONVENTIONAL(BD('l'))} OR ${CONVENTIONAL(BD('r'))}) AND abs(year(${BD('l')}) - year(${BD('r')})) <= 2`, m: 0.03 },
      { label: 'different', when: 'TRUE', m: 0.03 },
    ],
  },
  {
    name: 'sex',
    columns: ['sex'],
    trainedBy: ['dob_district', 'phonetic_village'],
    description: 'sex',
    isNull: `l.sex IS NULL OR r.sex IS NULL`,
    levels: [
      { label: 'same', when: `l.sex = r.sex`, m: 0.98 },
      { label: 'different', when: 'TRUE', m: 0.02 },
    ],
  },
  {
    // One comparison for where and with whom a person lives: the family card and the address say the same
    // thing ("same household"), so counting them as two independent comparisons would double the evidence.
    name: 'household',
    columns: ['village_code', 'district_code', 'regency_code', 'rt', 'rw', 'no_kk', 'kk_valid'],
    // Learnt on the pairs of one full name and birth date (anywhere): their non-matches are namesakes born the same
    // day, strangers to each other's household. Over every candidate pair, EM took the members of one household
    // (found by the address-keyed rules) for matches: m of 'different' came out 0.28 where the true share is 0.02.
    trainedBy: ['name_date'],
    description: 'family card and place of residence',
    isNull: `(coalesce(l.village_code, l.district_code) IS NULL OR coalesce(r.village_code, r.district_code) IS NULL)
      AND NOT (coalesce(l.kk_valid, false) AND coalesce(r.kk_valid, false))`,
    levels: [
      { label: 'same family card and village', when: `l.no_kk = r.no_kk AND l.village_code = r.village_code`, m: 0.5 },
      { label: 'same village and RT/RW', when: `l.village_code = r.village_code AND l.rt = r.rt AND l.rw = r.rw`, m: 0.2 },
      { label: 'same family card', when: `l.no_kk = r.no_kk`, m: 0.05 },
      { label: 'same village', when: `l.village_code = r.village_code`, m: 0.1 },
      { label: 'same district', when: `l.district_code = r.district_code`, m: 0.05 },
      { label: 'same regency', when: `l.regency_code = r.regency_code`, m: 0.03 },
      { label: 'different', when: 'TRUE', m: 0.07 },
    ],
  },
  sourcesComparison(),
];

/** Household levels: the two records live together (one family card, or one neighbourhood). */
export const HOUSEHOLD_LEVELS = ['same family card and village', 'same village and RT/RW', 'same family card'] as const;
/** Household levels: the two records live in one village. */
export const SAME_VILLAGE_LEVELS = ['same family card and village', 'same village and RT/RW', 'same village'] as const;
/** Household levels: the two records live near each other, not together. */
export const NEARBY_LEVELS = ['same village', 'same district', 'same regency'] as const;

/**
 * Hard negatives the comparisons cannot see one by one: twins share the birth date and the household, their NIKs
 * differ only in the serial or the sex digit, and their names are often near-identical (HASAN/HUSEIN,
 * SAPUTRA/SAPUTRI), which is what one person's mistyped name looks like too. A pair born the same day in one
 * household or one village (an RT is often not recorded, and twins grown up live apart in their village) is never
 * linked, whatever its weight (it keeps its weight, flagged):
 *  - when both NIKs are present and disagree beyond a typo (another serial, the other sex, or another NIK each
 *    carrying its own record's birth date) and the names are not the same tokens: one person's records with a
 *    mistyped NIK and a mistyped name are rarer there than twins;
 *  - when a NIK is missing and the names agree at best phonetically or by initials.
 */
const NAME_SAME_TOKENS = ['exact', 'same tokens, other order'];
const NAME_AT_BEST_PHONETIC = ['same phonetic key', 'initials agree', 'a token shared', 'different'];
// Twins' NIKs share the region and the date digits (another serial, or the other sex digit); two NIKs that differ
// further tell two persons apart only when each carries its own record's birth date: a record of one person that
// carries a relative's NIK, or a damaged one, shows the same pattern otherwise (on generated populations from clean
// to damaged, 14–84 such true pairs against 0–19 twins held apart per 100,000 persons).
export const NIK_BEYOND_TYPO = ['same first 12 digits, serial differs', 'same date, other sex', NIK_DIFFERENT_CORROBORATED];
const levelsIn = (comparison: string, labels: readonly string[]) => labels.map((l) => levelIndex(comparison, l)).join(', ');
/** Birth-date levels of two records born the same day (a real or a conventional date). */
export const SAME_DAY_LEVELS = ['exact', 'exact, a conventional date'] as const;
export const HARD_NEGATIVE_SQL = `(gamma_birth_date IN (${levelsIn('birth_date', SAME_DAY_LEVELS)})
  AND gamma_household IN (${levelsIn('household', [...new Set([...HOUSEHOLD_LEVELS, ...SAME_VILLAGE_LEVELS])])})
  AND (
    (gamma_nik IN (${levelsIn('nik', NIK_BEYOND_TYPO)}) AND gamma_name >= 0 AND gamma_name NOT IN (${levelsIn('name', NAME_SAME_TOKENS)}))
    OR (gamma_nik = -1 AND gamma_name IN (${levelsIn('name', NAME_AT_BEST_PHONETIC)}))
  ))`;

export function levelIndex(comparison: string, label: string): number {
  const i = COMPARISONS.find((c) => c.name === comparison)?.levels.findIndex((l) => l.label === label) ?? -1;
  if (i < 0) throw new Error(`no level '${label}' in comparison ${comparison}`);
  return i;
}
