/** Synthetic families: members, ages, names, NIKs and family-card numbers, decile, village and address. */
import type { Rng } from './rng.ts';
import { cumulate } from './rng.ts';
import type { Village } from './regions.ts';
import { familyNameFor, givenName, styleFor, twinName, type Style } from './names.ts';
import type { Profile } from './profiles.ts';

export interface Person {
  pid: string;
  name: string;
  sex: 'L' | 'P';
  /** YYYY-MM-DD: the real birth date */
  dob: string;
  /** YYYY-MM-DD: the registered birth date (the one in the NIK): a conventional date for persons without a
   *  birth certificate, else the real one */
  regDob: string;
  /** the registered date is a conventional one */
  conventional?: boolean;
  nik: string;
  /** 1 head, 2 spouse, 3 child, 4 child-in-law, 5 grandchild, 6 parent/in-law, 7 help, 8 other */
  relation: number;
  /** index of the member whose NIK a clerk may copy by mistake (the head for others, the spouse for the head) */
  motherName: string;
  birthPlace: string;
  /** hard negatives, counted in the manifest */
  twin?: boolean;
  junior?: boolean;
}

export interface Family {
  fid: string;
  seq: number;
  kk: string;
  village: Village;
  rt: number;
  rw: number;
  street: string;
  decile: number;
  style: Style;
  members: Person[];
}

const STREET_FORMS = ['JL.', 'JLN.', 'JALAN', 'GG.', 'GANG', 'KP.', 'KAMPUNG', 'DUSUN', 'DSN.', 'PERUM', 'KOMPLEK'];
const STREET_NAMES = ['MAWAR', 'MELATI', 'MERDEKA', 'SUKAMAJU', 'SUKAJADI', 'KENANGA', 'FLAMBOYAN', 'PAHLAWAN', 'KARTINI', 'DIPONEGORO', 'SUDIRMAN', 'CEMPAKA', 'ANGGREK', 'MANGGA', 'DURIAN', 'RAYA', 'PASAR', 'MASJID', 'SEKOLAH', 'KRAJAN', 'TENGAH', 'BARAT', 'TIMUR', 'BARU'];
/** deciles: poorer families more common among the ones the programmes see */
const DECILE_CUM = cumulate([12, 12, 11, 11, 10, 10, 9, 9, 8, 8]);

const ENUMERATION_YEAR = 2022;

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

function isoDate(y: number, m: number, d: number): string {
  return `${y}-${pad(m, 2)}-${pad(d, 2)}`;
}

/** A conventional birth date for a person born in `year`: the estimated year is often off by one or two. */
export function conventionalDate(rng: Rng, year: number): [number, number, number] {
  const y = Math.min(ENUMERATION_YEAR, year + (rng.chance(0.5) ? 0 : rng.pick([-2, -1, 1, 2])));
  return rng.pick([[y, 1, 1], [y, 1, 1], [y, 7, 1], [y, 12, 31]] as [number, number, number][]);
}

function randomDate(rng: Rng, year: number): [number, number, number] {
  const m = rng.int(1, 12);
  const days = new Date(Date.UTC(year, m, 0)).getUTCDate();
  return [year, m, rng.int(1, days)];
}

/**
 * The next serial number of an id prefix (district, then date): one map per district, as a single map of every
 * prefix passes the 2^24 entries a JavaScript Map holds at about 20 million persons.
 */
class Serials {
  private readonly byDistrict = new Map<string, Map<string, number>>();

  next(district: string, rest: string): number {
    let m = this.byDistrict.get(district);
    if (!m) this.byDistrict.set(district, (m = new Map()));
    const serial = (m.get(rest) ?? 0) + 1;
    m.set(rest, serial);
    return serial;
  }
}

export class PopulationBuilder {
  private readonly nikSerial = new Serials();
  private readonly kkSerial = new Serials();
  private personSeq = 0;
  private familySeq = 0;
  private readonly districts: string[];

  constructor(
    private readonly rng: Rng,
    private readonly villages: Village[],
    private readonly profile: Profile,
  ) {
    this.districts = [...new Set(villages.map((v) => v.district))];
  }

  nik(district: string, sex: 'L' | 'P', y: number, m: number, d: number): string {
    const dd = sex === 'P' ? d + 40 : d;
    const date = `${pad(dd, 2)}${pad(m, 2)}${pad(y % 100, 2)}`;
    return `${district}${date}${pad(this.nikSerial.next(district, date), 4)}`;
  }

  /** A new family-card number issued in `district`. */
  kk(district: string): string {
    const [y, m, d] = randomDate(this.rng, this.rng.int(2005, 2022));
    const date = `${pad(d, 2)}${pad(m, 2)}${pad(y % 100, 2)}`;
    return `${district}${date}${pad(this.kkSerial.next(district, date), 4)}`;
  }

  private person(fam: Omit<Family, 'members'>, sex: 'L' | 'P', birthYear: number, relation: number, name: string, motherName: string): Person {
    const [y, m, d] = randomDate(this.rng, birthYear);
    // The NIK records the district of first registration: usually the family's, sometimes elsewhere (people move).
    const district = this.rng.chance(1 - this.profile.nikElsewhere) ? fam.village.district : this.rng.pick(this.districts);
    this.personSeq++;
    // Without a birth certificate a conventional date is registered: 1 January, 1 July or 31 December of an
    // estimated year; it is the date the NIK carries.
    const conventional = this.rng.chance(birthYear < 1970 ? this.profile.conventional.old : this.profile.conventional.young);
    const [ry, rm, rd] = conventional ? conventionalDate(this.rng, y) : [y, m, d];
    return {
      pid: `P${pad(this.personSeq, 9)}`,
      name,
      sex,
      dob: isoDate(y, m, d),
      regDob: isoDate(ry, rm, rd),
      ...(conventional ? { conventional } : {}),
      nik: this.nik(district, sex, ry, rm, rd),
      relation,
      motherName,
      birthPlace: fam.village.regencyName.replace(/^(KABUPATEN|KOTA) /, ''),
    };
  }

  /** One family of about `size` persons. */
  family(): Family {
    const rng = this.rng;
    this.familySeq++;
    const village = rng.pick(this.villages);
    const style = styleFor(rng, village.province);
    const skew = this.profile.nameSkew;
    const base = {
      fid: `F${pad(this.familySeq, 9)}`,
      seq: this.familySeq,
      kk: this.kk(village.district),
      village,
      rt: rng.int(1, 15),
      rw: rng.int(1, 12),
      street: `${rng.pick(STREET_FORMS)} ${rng.pick(STREET_NAMES)}${rng.chance(0.5) ? ` NO. ${rng.int(1, 120)}` : ''}`,
      decile: rng.weighted(DECILE_CUM) + 1,
      style,
    };
    const familyName = familyNameFor(rng, style, skew);
    const members: Person[] = [];
    const headYear = ENUMERATION_YEAR - rng.int(22, 78);
    const headSex: 'L' | 'P' = rng.chance(0.85) ? 'L' : 'P';
    const mk = (sex: 'L' | 'P', year: number, order: number, fname?: string) => givenName(rng, { style, sex, birthYear: year, order, familyName: fname, skew });
    const head = this.person(base, headSex, headYear, 1, mk(headSex, headYear, rng.int(1, 4), familyName), mk('P', headYear - 25, 1));
    members.push(head);
    let mother: Person | undefined = headSex === 'P' ? head : undefined;
    if (headSex === 'L' && rng.chance(0.82)) {
      const y = Math.min(headYear + rng.int(-3, 8), ENUMERATION_YEAR - 17);
      mother = this.person(base, 'P', y, 2, mk('P', y, rng.int(1, 4)), mk('P', y - 25, 1));
      members.push(mother);
    }
    const motherYear = Number((mother ?? head).dob.slice(0, 4));
    const nChildren = ENUMERATION_YEAR - motherYear < 20 ? 0 : rng.weighted(cumulate([12, 18, 26, 20, 12, 7, 5]));
    let year = motherYear + rng.int(19, 26);
    for (let i = 0; i < nChildren && year <= ENUMERATION_YEAR; i++) {
      const sex: 'L' | 'P' = rng.chance(0.51) ? 'L' : 'P';
      let name = mk(sex, year, i + 1, familyName);
      const junior = sex === 'L' && headSex === 'L' && i === 0 && rng.chance(this.profile.juniors);
      if (junior) name = head.name;
      const child = this.person(base, sex, year, 3, name, (mother ?? head).name);
      if (junior) child.junior = true;
      members.push(child);
      // Twins: same birth date, same family, often near-identical names.
      if (rng.chance(this.profile.twins)) {
        const tsex: 'L' | 'P' = rng.chance(0.6) ? sex : sex === 'L' ? 'P' : 'L';
        const twin = this.person(base, tsex, year, 3, twinName(rng, name, { style, sex: tsex, birthYear: year, order: i + 2, familyName, skew }), (mother ?? head).name);
        twin.dob = child.dob;
        twin.regDob = child.regDob;
        twin.conventional = child.conventional;
        const [ry, rm, rd] = child.regDob.split('-').map(Number);
        twin.nik = this.nik(twin.nik.slice(0, 6), tsex, ry, rm, rd);
        twin.twin = child.twin = true;
        members.push(twin);
        i++;
      }
      year += rng.int(1, 5);
    }
    // A grandparent, or grandchildren in older families.
    if (rng.chance(0.08) && headYear > 1955) {
      const y = headYear - rng.int(22, 32);
      const sex: 'L' | 'P' = rng.chance(0.35) ? 'L' : 'P';
      members.push(this.person(base, sex, y, 6, mk(sex, y, rng.int(1, 4)), mk('P', y - 25, 1)));
    }
    if (headYear < 1970 && rng.chance(0.3)) {
      for (let g = rng.int(1, 3); g > 0; g--) {
        const y = Math.min(ENUMERATION_YEAR, headYear + rng.int(42, 58));
        const sex: 'L' | 'P' = rng.chance(0.5) ? 'L' : 'P';
        members.push(this.person(base, sex, y, 5, mk(sex, y, g, familyName), mk('P', y - 25, 1)));
      }
    }
    return { ...base, members };
  }
}
