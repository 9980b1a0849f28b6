/**
 * Population profiles: what the generator's population looks like. A real register's error rates are not
 * known in advance and differ by province, source and year, so the linker is measured on a zoo of populations
 * spanning realistic extremes (domain.md), not on one: missing NIKs by source and age, spreadsheet damage,
 * conventional birth dates, juniors and twins, regional names, moves, duplicates, family-card churn and the
 * coverage of each source. `default` is the generator's own population; `random:SEED` draws every rate from
 * wide ranges.
 */
import { Rng } from './rng.ts';

export type SourceName = 'dtks' | 'regsosek' | 'p3ke';

export interface SourceProfile {
  /** multiplier of the share of families the source lists (by decile; capped at 1) */
  coverage: number;
  /** share of a listed family's members the source lists */
  memberCoverage: number;
  /** share of records without a NIK, for persons 17 and over and for children */
  nikMissingAdult: number;
  nikMissingChild: number;
  /** rate multiplier of NIK errors: a typed digit, a swap, a placeholder, the family card or a relative's NIK */
  nikErrors: number;
  /** share of NIKs damaged by a spreadsheet: scientific notation (3.20412E+15) or the last digit turned to 0 */
  spreadsheet: number;
  /** rate multiplier of name variants and errors */
  nameErrors: number;
  /** rate multiplier of birth-date errors (swaps, a year off, a typed digit) */
  dateErrors: number;
  /** share of records without a birth date */
  dateMissing: number;
  /** share of records listed twice (one person in two rows) */
  duplicates: number;
  /** share of families listed at another village (moved between snapshots) */
  moved: number;
  /** share of families listed with another family-card number (a new card after a move or a split) */
  kkChurn: number;
}

export interface Profile {
  name: string;
  description: string;
  sources: Record<SourceName, SourceProfile>;
  /**
   * Share of persons with no known birth date (no birth certificate), born before 1970 and from 1970: their
   * registered date, the one in the NIK, is a conventional one (1 January, 1 July or 31 December of an
   * estimated year).
   */
  conventional: { old: number; young: number };
  /** for such persons, the share of records stating another date than the registered one (another convention,
   *  another estimated year, or a remembered real date) */
  conventionalVariation: number;
  /** probability that the first son of a father is named after him */
  juniors: number;
  /** probability of twins at each birth */
  twins: number;
  /** share of NIKs registered in another district than the family's */
  nikElsewhere: number;
  /** population weight per province code, replacing the national weights (provinces left out weigh 0.2) */
  provinceWeights?: Record<string, number>;
  /** multiplier of how skewed name frequencies are (above 1: fewer distinct names, commoner ones) */
  nameSkew: number;
  /**
   * Persons per village: how densely the population sits. Unset: about 150 per village, in at most 8,000
   * villages (a sparse spread; denser only from 1.2 million persons). The country's villages hold about 3,300
   * persons each (domain.md: ~83,760 villages), so namesakes of one village, RT and birth year are commoner than
   * the sparse spread shows.
   */
  villagePersons?: number;
}

const src = (p: Partial<SourceProfile> & Pick<SourceProfile, 'nikMissingAdult' | 'nikMissingChild' | 'nikErrors' | 'spreadsheet' | 'nameErrors' | 'dateErrors' | 'dateMissing' | 'duplicates' | 'memberCoverage'>): SourceProfile => ({
  coverage: 1,
  moved: 0.03,
  kkChurn: 0,
  ...p,
});

/** The generator's own population (the one the engine was first built on). */
const DEFAULT: Profile = {
  name: 'default',
  description: "the generator's own population: moderate errors, 15% of DTKS records without a NIK",
  sources: {
    dtks: src({ memberCoverage: 0.95, nikMissingAdult: 0.15, nikMissingChild: 0.15, nikErrors: 1, spreadsheet: 0.02, nameErrors: 1, dateErrors: 1, dateMissing: 0.03, duplicates: 0.02 }),
    regsosek: src({ memberCoverage: 0.97, nikMissingAdult: 0.05, nikMissingChild: 0.4, nikErrors: 0.6, spreadsheet: 0.004, nameErrors: 0.7, dateErrors: 0.6, dateMissing: 0.04, duplicates: 0.003, moved: 0 }),
    p3ke: src({ memberCoverage: 0.96, nikMissingAdult: 0.03, nikMissingChild: 0.03, nikErrors: 0.8, spreadsheet: 0.016, nameErrors: 0.8, dateErrors: 0.8, dateMissing: 0.02, duplicates: 0.015 }),
  },
  conventional: { old: 0.08, young: 0.01 },
  conventionalVariation: 0.3,
  juniors: 0.02,
  twins: 0.015,
  nikElsewhere: 0.15,
  nameSkew: 1,
};

type Patch = Omit<Partial<Profile>, 'sources'> & { sources?: Partial<Record<SourceName, Partial<SourceProfile>>> };

function derive(name: string, description: string, patch: Patch): Profile {
  const sources = Object.fromEntries(
    (Object.keys(DEFAULT.sources) as SourceName[]).map((s) => [s, { ...DEFAULT.sources[s], ...patch.sources?.[s] }]),
  ) as Record<SourceName, SourceProfile>;
  return { ...DEFAULT, ...patch, name, description, sources };
}

const allSources = (p: Partial<SourceProfile>) => ({ dtks: p, regsosek: p, p3ke: p });

export const PROFILES: readonly Profile[] = [
  DEFAULT,
  derive('clean', 'few errors: nearly every record carries its NIK and its real birth date', {
    sources: {
      dtks: { nikMissingAdult: 0.02, nikMissingChild: 0.05, nikErrors: 0.2, spreadsheet: 0.002, nameErrors: 0.3, dateErrors: 0.2, dateMissing: 0.005, duplicates: 0.005, moved: 0.01 },
      regsosek: { nikMissingAdult: 0.01, nikMissingChild: 0.08, nikErrors: 0.2, spreadsheet: 0, nameErrors: 0.3, dateErrors: 0.2, dateMissing: 0.005, duplicates: 0.001 },
      p3ke: { nikMissingAdult: 0.01, nikMissingChild: 0.02, nikErrors: 0.2, spreadsheet: 0.002, nameErrors: 0.3, dateErrors: 0.2, dateMissing: 0.005, duplicates: 0.005, moved: 0.01 },
    },
    conventional: { old: 0.01, young: 0 },
  }),
  derive('dtks2019', 'DTKS as audited in 2019: about 17% of its records without a NIK (more among children), damaged and duplicated NIKs, many missing dates', {
    sources: {
      dtks: { nikMissingAdult: 0.14, nikMissingChild: 0.26, nikErrors: 1.6, spreadsheet: 0.04, nameErrors: 1.4, dateErrors: 1.5, dateMissing: 0.12, duplicates: 0.04, moved: 0.06, kkChurn: 0.15 },
      regsosek: { nikMissingChild: 0.5, dateMissing: 0.06 },
    },
    conventional: { old: 0.25, young: 0.05 },
    conventionalVariation: 0.4,
  }),
  derive('conventional', 'conventional birth dates everywhere: most older and many younger persons have no birth certificate, sources write different conventions', {
    sources: allSources({ dateMissing: 0.05 }),
    conventional: { old: 0.75, young: 0.3 },
    conventionalVariation: 0.5,
  }),
  derive('juniors-twins', 'many sons named after their fathers and many twins', { juniors: 0.3, twins: 0.06 }),
  derive('migration', 'high migration: families listed at other villages, new family cards, NIKs registered elsewhere', {
    sources: { dtks: { moved: 0.25, kkChurn: 0.35 }, regsosek: { moved: 0.1, kkChurn: 0.15 }, p3ke: { moved: 0.3, kkChurn: 0.4 } },
    nikElsewhere: 0.45,
  }),
  derive('bali-batak', 'Bali and North Sumatra: Balinese birth-order names and Batak clan names, few distinct names', {
    provinceWeights: { '51': 45, '12': 45, '13': 5 },
    nameSkew: 1.6,
  }),
  derive('spreadsheet', 'spreadsheet-damaged NIKs: scientific notation and last digits zeroed in DTKS and P3KE', {
    sources: { dtks: { spreadsheet: 0.2 }, p3ke: { spreadsheet: 0.12 }, regsosek: { spreadsheet: 0.02 } },
  }),
  derive('dense', "villages of the country's average size (about 3,300 persons each): namesakes in one village, RT and birth year", {
    villagePersons: 3300,
  }),
  derive('sparse-p3ke', 'sparse P3KE: a quarter of its families, more of them without NIKs and dates', {
    sources: { p3ke: { coverage: 0.25, nikMissingAdult: 0.1, nikMissingChild: 0.2, dateMissing: 0.08 } },
  }),
];

export const PROFILE_NAMES = PROFILES.map((p) => p.name);

/** Every rate drawn from wide ranges with its own seeded generator. */
export function randomProfile(seed: number): Profile {
  const r = new Rng(seed ^ 0x5eed1e55);
  const u = (lo: number, hi: number) => lo + (hi - lo) * r.next();
  const source = (nikChildLo: number): SourceProfile => ({
    coverage: u(0.3, 1.2),
    memberCoverage: u(0.85, 1),
    nikMissingAdult: u(0, 0.2),
    nikMissingChild: u(nikChildLo, 0.6),
    nikErrors: u(0.1, 2.5),
    spreadsheet: r.chance(0.3) ? u(0.05, 0.2) : u(0, 0.03),
    nameErrors: u(0.2, 2),
    dateErrors: u(0.2, 2),
    dateMissing: u(0, 0.12),
    duplicates: u(0, 0.05),
    moved: u(0, 0.3),
    kkChurn: u(0, 0.4),
  });
  const provinces = ['11', '12', '13', '16', '31', '32', '33', '35', '36', '51', '52', '53', '63', '73', '81', '94'];
  const provinceWeights = r.chance(0.5) ? Object.fromEntries(provinces.filter(() => r.chance(0.4)).map((p) => [p, u(1, 50)])) : undefined;
  return {
    name: `random:${seed}`,
    description: `every rate drawn from wide ranges (seed ${seed})`,
    sources: { dtks: source(0), regsosek: source(0.1), p3ke: source(0) },
    conventional: { old: u(0, 0.8), young: u(0, 0.3) },
    conventionalVariation: u(0.1, 0.6),
    juniors: u(0, 0.3),
    twins: u(0.005, 0.06),
    nikElsewhere: u(0.05, 0.5),
    provinceWeights: provinceWeights && Object.keys(provinceWeights).length ? provinceWeights : undefined,
    nameSkew: u(0.7, 1.8),
    // Drawn last, from a generator of its own, so the other rates of a seed stay what they were before it.
    villagePersons: Math.round(Math.exp(new Rng(seed ^ 0xde45e).next() * Math.log(4000 / 150)) * 150),
  };
}

/** A profile by name, or `random:SEED`. */
export function profileByName(name: string): Profile {
  const m = /^random:(\d+)$/.exec(name);
  if (m) return randomProfile(Number(m[1]));
  const p = PROFILES.find((x) => x.name === name);
  if (!p) throw new Error(`unknown profile '${name}': one of ${PROFILE_NAMES.join(', ')}, or random:SEED`);
  return p;
}
