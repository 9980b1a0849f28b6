/** The errors real snapshots carry (domain.md): NIK, name, date and address corruptions, counted. */
import type { Rng } from './rng.ts';

export type Counts = Record<string, number>;

export function bump(c: Counts, key: string): void {
  c[key] = (c[key] ?? 0) + 1;
}

const TITLES_BEFORE = ['H.', 'HJ.', 'DRS.', 'DRA.', 'IR.', 'DR.', 'BAPAK', 'IBU', 'SDR.', 'R.', 'HAJI'];
const TITLES_AFTER = [', S.PD', ', S.E.', ', S.H.', ', S.KOM', ', A.MD', ', M.PD', ', S.AG', ', S.SOS', ', S.T'];
const MUHAMMAD_VARIANTS = ['M.', 'MOH.', 'MOCH.', 'MUH.', 'MOHAMMAD', 'MOHAMAD', 'MUHAMAD', 'MOCHAMAD', 'MHD', 'MUCHAMMAD'];
const ABDUL_VARIANTS = ['ABD.', 'ABDOEL', 'ABD'];
const AHMAD_VARIANTS = ['ACHMAD', 'AKHMAD', 'AHMAT'];

/** Modern spelling back to pre-1972 spelling (for older persons' records). */
export function oldSpelling(name: string): string {
  return name
    .replace(/NY/g, 'NJ')
    .replace(/SY/g, 'SJ')
    .replace(/KH/g, 'CH')
    .replace(/C/g, 'TJ')
    .replace(/J(?=[AEIOU])/g, 'DJ')
    .replace(/Y(?=[AEIOU])/g, 'J')
    .replace(/U/g, 'OE');
}

function typo(rng: Rng, s: string): string {
  const letters = [...s].map((ch, i) => [ch, i] as const).filter(([ch]) => /[A-Z]/.test(ch));
  if (!letters.length) return s;
  const [, i] = rng.pick(letters);
  const kind = rng.int(0, 2);
  if (kind === 0) return s.slice(0, i) + String.fromCharCode(65 + rng.int(0, 25)) + s.slice(i + 1); // substitution
  if (kind === 1 && s.length > 3) return s.slice(0, i) + s.slice(i + 1); // deletion
  return s.slice(0, i) + s[i] + s.slice(i); // doubling
}

/** The name as one source wrote it. `rate` scales every corruption probability. */
export function corruptName(rng: Rng, name: string, birthYear: number, rate: number, c: Counts): string {
  let tokens = name.split(' ');
  if (tokens.includes('MUHAMMAD') && rng.chance(0.5)) {
    tokens = tokens.map((t) => (t === 'MUHAMMAD' ? rng.pick(MUHAMMAD_VARIANTS) : t));
    bump(c, 'name_muhammad_variant');
  }
  if (tokens.includes('ABDUL') && rng.chance(0.4)) {
    tokens = tokens.map((t) => (t === 'ABDUL' ? rng.pick(ABDUL_VARIANTS) : t));
    bump(c, 'name_abdul_variant');
  }
  if (tokens.includes('AHMAD') && rng.chance(0.3)) {
    tokens = tokens.map((t) => (t === 'AHMAD' ? rng.pick(AHMAD_VARIANTS) : t));
    bump(c, 'name_ahmad_variant');
  }
  if (tokens.length >= 3 && rng.chance(0.03 * rate)) {
    const i = rng.int(1, tokens.length - 2);
    tokens[i] = `${tokens[i][0]}.`;
    bump(c, 'name_initial');
  }
  if (tokens.length >= 2 && rng.chance(0.025 * rate)) {
    tokens.splice(rng.chance(0.5) ? tokens.length - 1 : 0, 1);
    bump(c, 'name_token_dropped');
  }
  if (tokens.length >= 2 && rng.chance(0.012 * rate)) {
    tokens = [...tokens.slice(1), tokens[0]];
    bump(c, 'name_token_order');
  }
  let s = tokens.join(' ');
  if (birthYear < 1965 && rng.chance(0.25 * rate)) {
    const old = oldSpelling(s);
    if (old !== s) bump(c, 'name_old_spelling');
    s = old;
  }
  if (rng.chance(0.035 * rate)) {
    s = typo(rng, s);
    bump(c, 'name_typo');
  }
  if (rng.chance(0.03 * rate)) {
    s = `${rng.pick(TITLES_BEFORE)} ${s}`;
    bump(c, 'name_title');
  }
  if (rng.chance(0.012 * rate)) {
    s = `${s}${rng.pick(TITLES_AFTER)}`;
    bump(c, 'name_degree');
  }
  if (rng.chance(0.015 * rate)) {
    s = rng.chance(0.5) ? `  ${s.replace(' ', '  ')} ` : s.replace(' ', '. ');
    bump(c, 'name_spacing');
  }
  return s;
}

export interface NikContext {
  nik: string;
  kk: string;
  /** a relative's NIK (the head's, or the spouse's for the head) */
  relativeNik?: string;
  /** probability the NIK is missing entirely */
  missing: number;
  /** rate multiplier of typed digits, swaps, placeholders, family-card and relatives' NIKs */
  rate: number;
  /** probability of spreadsheet damage: scientific notation (60%) or the last digit turned to 0 */
  spreadsheet: number;
}

export function corruptNik(rng: Rng, x: NikContext, c: Counts): string {
  if (rng.chance(x.missing)) {
    bump(c, 'nik_missing');
    return rng.pick(['', '', '-']);
  }
  if (rng.chance(x.spreadsheet)) {
    if (rng.chance(0.6)) {
      bump(c, 'nik_scientific');
      return `${x.nik[0]}.${x.nik.slice(1, 6)}E+15`;
    }
    bump(c, 'nik_last_digit_zero');
    return x.nik.endsWith('0') ? `${x.nik.slice(0, 14)}00` : `${x.nik.slice(0, 15)}0`;
  }
  const r = rng.next() / Math.max(x.rate, 1e-9);
  let acc = 0;
  const step = (p: number) => (acc += p) > r;
  if (step(0.008)) {
    bump(c, 'nik_placeholder');
    return rng.pick(['0000000000000000', '1234567890123456', '9999999999999999']);
  }
  if (step(0.02)) {
    bump(c, 'nik_typo');
    const i = rng.int(0, 15);
    const digit = String((Number(x.nik[i]) + rng.int(1, 9)) % 10);
    return x.nik.slice(0, i) + digit + x.nik.slice(i + 1);
  }
  if (step(0.01)) {
    const i = rng.int(0, 14);
    if (x.nik[i] !== x.nik[i + 1]) {
      bump(c, 'nik_swap');
      return x.nik.slice(0, i) + x.nik[i + 1] + x.nik[i] + x.nik.slice(i + 2);
    }
    return x.nik;
  }
  if (step(0.004)) {
    bump(c, 'nik_is_kk');
    return x.kk;
  }
  if (step(0.004) && x.relativeNik) {
    bump(c, 'nik_relative');
    return x.relativeNik;
  }
  return x.nik;
}

/**
 * The date a source starts from: the registered one, except for a person with a conventional date, whose
 * records often state another convention, another estimated year, or a real date remembered (domain.md).
 */
export function statedDate(rng: Rng, p: { dob: string; regDob: string; conventional?: boolean }, variation: number, c: Counts): string {
  if (!p.conventional) return p.regDob;
  if (!rng.chance(variation)) {
    bump(c, 'date_conventional');
    return p.regDob;
  }
  if (rng.chance(0.4)) {
    bump(c, 'date_real_not_registered');
    return p.dob;
  }
  const [y] = p.regDob.split('-').map(Number);
  const ny = y + rng.pick([0, 0, -1, 1]);
  const [m, d] = rng.pick([[1, 1], [7, 1], [12, 31]] as [number, number][]);
  bump(c, 'date_conventional_other');
  return `${ny}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/** A birth date as one source wrote it: [y, m, d] or undefined (missing). */
export function corruptDate(rng: Rng, iso: string, rate: number, missing: number, c: Counts): [number, number, number] | undefined {
  if (rng.chance(missing)) {
    bump(c, 'date_missing');
    return undefined;
  }
  let [y, m, d] = iso.split('-').map(Number);
  const r = rng.next() / rate;
  if (r < 0.015 && d <= 12 && d !== m) {
    [m, d] = [d, m];
    bump(c, 'date_day_month_swapped');
  } else if (r < 0.035) {
    y += rng.chance(0.5) ? 1 : -1;
    bump(c, 'date_year_off_by_one');
  } else if (r < 0.045) {
    d = Math.min(28, Math.max(1, (d + rng.int(1, 8) * 10) % 29 || 1));
    bump(c, 'date_digit_typo');
  }
  return [y, m, d];
}

export function rtRw(rng: Rng, rt: number, rw: number): string {
  const p = (n: number, w: number) => String(n).padStart(w, '0');
  switch (rng.int(0, 5)) {
    case 0: return `RT ${p(rt, 3)}/RW ${p(rw, 3)}`;
    case 1: return `RT ${rt} RW ${rw}`;
    case 2: return `${p(rt, 3)}/${p(rw, 3)}`;
    case 3: return `RT.${p(rt, 2)}/${p(rw, 2)}`;
    case 4: return `RT ${p(rt, 2)} RW ${p(rw, 2)}`;
    default: return rng.chance(0.3) ? 'RT 000/RW 000' : `RT.${p(rt, 2)}/RW.${p(rw, 2)}`;
  }
}
