/**
 * Blocking rules: each gives every record zero or more keys; records sharing a key under a rule become a
 * candidate pair. Rules are data (name + SQL key expression over person_clean), so a model can list them.
 *
 * A key expression returns a list (a record may have several keys: NIK variants, one per name token …);
 * NULL keys are ignored.
 */
import { usableNikSql } from './nik.ts';

export interface BlockingRule {
  name: string;
  description: string;
  /** SQL over person_clean (alias p) returning a list of keys (VARCHAR[], or UBIGINT[] of hashes) */
  keys: string;
  /** SQL over p: pairs whose two values are equal are left to another rule (they would come many times here) */
  distinctOn?: string;
  /** a cap tighter than linkage.max_block_size for this rule */
  maxBlockSize?: number;
  /**
   * Records that cannot carry the rule's keys (an undated record, when the keys hold a birth date) would never be
   * paired by it. Such a record is a probe: it pairs with every record sharing its coarse key (the keys without
   * the missing part), while records that both carry keys pair only through those. SQL over p: `when` a boolean,
   * `key` the coarse key of every record (NULL: none).
   */
  probe?: { when: string; key: string };
  /**
   * A training session learns m by EM on this rule's pairs (train.ts), leaving out the comparisons listed: they
   * agree by construction on its pairs, or are shared by its non-matching pairs (members of one household share
   * the address; a NIK carries the sex). The comparisons it teaches name it (Comparison.trainedBy).
   */
  training?: { fixes: readonly string[] };
}

/** A conventional birth date: 1 January, 1 July or 31 December (domain.md); NULL for no date. */
export const CONVENTIONAL_DATE = (d: string) => `coalesce(strftime(${d}, '%m%d') IN ('0101', '0701', '1231'), false)`;
/** How far (years) a conventional date's estimated year may lie from the person's other dates: the birth-date
 *  comparison's level "a conventional date, within two years" and the blocking of such records agree on it. */
export const CONVENTIONAL_YEARS = 2;

/** Digits usable for NIK blocking: the recovered 16 digits, not a placeholder nor a family-card number. */
const NIK_DIGITS = `CASE WHEN ${usableNikSql('p')} THEN p.nik_digits END`;

export const BLOCKING_RULES: readonly BlockingRule[] = [
  {
    name: 'nik',
    // a NIK carries the sex; the stated birth dates of its pairs are free to vary (the birth date's m is learnt here)
    training: { fixes: ['nik', 'sex', 'household'] },
    description: 'same cleaned NIK',
    keys: `[${NIK_DIGITS}]`,
  },
  {
    name: 'nik_variant',
    description: 'NIKs equal once one of eight 3-digit windows is masked (one typed digit or one adjacent swap), names with the same first and last initials',
    // Windows 1-3, 3-5, …, 13-15, 14-16 overlap, so any two adjacent positions fall in one of them: a typed digit
    // or a swap of neighbours leaves the NIKs equal outside a window. (A 2-digit window at each of the 15
    // positions made 214 million keys at 10M persons.) Persons born days apart in one district with the low
    // serials of a birth date (0001) carry NIKs one date digit apart: the initials of the first and last name
    // tokens keep those neighbours out (a NIK typo and a wrong initial together are rare). At 10M persons, with
    // the last initial only, the pairs only this rule found were 19.7 million, holding 505 true links and 3,461
    // wrong ones; the first initial keeps 4.8 million of them, 461 true links and 2,494 wrong ones.
    // Hashed here already (the masked strings are never needed, only their equality).
    keys: `CASE WHEN ${NIK_DIGITS} IS NOT NULL THEN
             list_transform([1, 3, 5, 7, 9, 11, 13, 14], i -> hash(i, substr(p.nik_digits, 1, i - 1), substr(p.nik_digits, i + 3), coalesce(left(p.name_first, 1), ''), coalesce(left(p.name_last, 1), '')))
           END`,
    // Equal NIKs share all eight keys; the 'nik' rule already pairs them.
    distinctOn: 'p.nik_digits',
  },
  {
    name: 'dob_district',
    training: { fixes: ['birth_date', 'household', 'nik'] },
    description: 'same birth date (stated or decoded from the NIK) in the same district',
    keys: `list_distinct(list_filter([
             strftime(p.birth_date, '%Y%m%d') || ':' || coalesce(p.district_code, p.nik_region),
             strftime(p.nik_birth_date, '%Y%m%d') || ':' || coalesce(p.district_code, p.nik_region),
             strftime(p.birth_date, '%Y%m%d') || ':' || p.nik_region
           ], k -> k IS NOT NULL))`,
  },
  {
    name: 'phonetic_village',
    // its keys hold the birth year or the day and month: the birth date is left out of its training session
    training: { fixes: ['name', 'household', 'birth_date'] },
    description: 'same phonetic name key in the same village, born the same year or on the same day and month (an undated record: any date)',
    // A village holds thousands of people and short names share a phonetic key (SITI, SRI): the key alone grows
    // with the square of the village. The birth year (a day or month typed wrong) or the day and month (a year
    // typed wrong) keeps it to the same person; a record with no date at all is compared with the whole key.
    // A conventional date (1 January, 1 July, 31 December) is written for a person without a birth certificate, of
    // an estimated year: the same person's other records carry a real date or another convention a year or two
    // away. Such a record takes the years around its own too (a record with a real date keeps to its year).
    keys: `CASE WHEN p.name_phonetic IS NOT NULL AND p.village_code IS NOT NULL THEN
             list_distinct(list_filter(flatten([
               ['y' || year(p.birth_date)::VARCHAR, 'y' || year(p.nik_birth_date)::VARCHAR,
                'd' || strftime(p.birth_date, '%m%d'), 'd' || strftime(p.nik_birth_date, '%m%d')],
               CASE WHEN ${CONVENTIONAL_DATE('p.birth_date')} THEN list_transform(range(-${CONVENTIONAL_YEARS}, ${CONVENTIONAL_YEARS} + 1), k -> 'y' || (year(p.birth_date) + k)::VARCHAR) END,
               CASE WHEN ${CONVENTIONAL_DATE('p.nik_birth_date')} THEN list_transform(range(-${CONVENTIONAL_YEARS}, ${CONVENTIONAL_YEARS} + 1), k -> 'y' || (year(p.nik_birth_date) + k)::VARCHAR) END
             ]), k -> k IS NOT NULL).list_transform(k -> k || ':' || p.name_phonetic || ':' || p.village_code))
           END`,
    probe: {
      when: 'p.birth_date IS NULL AND p.nik_birth_date IS NULL',
      key: `p.name_phonetic || ':' || p.village_code`,
    },
  },
  {
    name: 'token_year',
    description: 'a shared name token (3+ letters), the same birth year and sex, in the same village',
    // Localised to the village (of residence, else the district of NIK registration): a name token and a year
    // alone make national blocks of thousands; the sex (rarely wrong) halves the strangers sharing a common token.
    // Wider places cost more than they found: at 1M persons, in the regency, 3 million pairs only this rule
    // found held 173 true links and 409 wrong ones; at 10M, in the district, 23 million held 1,038 true links and
    // 1,900 wrong ones, of which pairs in two villages held 94 true and 1,233 wrong.
    keys: `list_transform(list_filter(list_distinct(p.name_tokens), t -> length(t) >= 3),
             t -> t || ':' || coalesce(p.birth_year, year(p.nik_birth_date))::VARCHAR || ':' || coalesce(p.sex, '') || ':' || coalesce(p.village_code, p.nik_region))`,
    // A common token in a village-year (SITI, 1980) can still be a block of many strangers: capped tight.
    maxBlockSize: 60,
  },
  {
    name: 'name_date',
    // Its non-matches are namesakes born the same day anywhere in the country: the household is free to vary (the
    // household's m is learnt here).
    training: { fixes: ['name', 'birth_date'] },
    description: 'same normalised full name and birth date (stated or from the NIK), anywhere',
    // People move between snapshots (another village, regency or province) and a NIK can be missing or damaged:
    // a full name with a birth date is specific nationwide, except a common name on a conventional date.
    keys: `list_distinct(list_filter([
             CASE WHEN p.name_norm IS NOT NULL AND p.birth_date IS NOT NULL THEN p.name_norm || ':' || strftime(p.birth_date, '%Y%m%d') END,
             CASE WHEN p.name_norm IS NOT NULL AND p.nik_birth_date IS NOT NULL THEN p.name_norm || ':' || strftime(p.nik_birth_date, '%Y%m%d') END
           ], k -> k IS NOT NULL))`,
    maxBlockSize: 40,
  },
  {
    name: 'kk_first_name',
    description: 'same family-card number and the same first name token',
    keys: `CASE WHEN p.kk_valid THEN [p.no_kk || ':' || p.name_first] END`,
  },
];
