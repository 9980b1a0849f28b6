/**
 * Guesses a date format from a few values, only where the built-in formats do not read them: each format is
 * checked in JS against the values (day and month in range), the same formats DuckDB's strptime reads. Only
 * formats that cannot be mistaken for a built-in one are tried (no month-first dates, no two-digit years).
 */
import { DATE_FORMATS } from '../stages/normalise/fields.sql.ts';

/** Formats `dtsen init` may propose for date_formats, in the order tried. */
export const GUESSED_DATE_FORMATS = ['%Y.%m.%d', '%d %b %Y', '%d %B %Y', '%d-%b-%Y', '%d/%b/%Y', '%d %m %Y', '%Y %m %d'];

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const CODES: Record<string, string> = {
  d: '(?<d>\\d{1,2})',
  m: '(?<m>\\d{1,2})',
  Y: '(?<Y>\\d{4})',
  b: '(?<b>[A-Za-z]{3})',
  B: '(?<B>[A-Za-z]{3,9})',
  H: '\\d{1,2}',
  M: '\\d{1,2}',
  S: '\\d{1,2}',
  f: '\\d{1,6}',
  '%': '%',
};
const compiled = new Map<string, RegExp>();

function regexOf(format: string): RegExp {
  let re = compiled.get(format);
  if (!re) {
    const src = format.replace(/%(.)|([^%])/g, (_, code: string | undefined, ch: string | undefined) =>
      code !== undefined ? (CODES[code] ?? '(?!)') : ch!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    );
    re = new RegExp(`^${src}$`);
    compiled.set(format, re);
  }
  return re;
}

/** Whether `value` reads as a date in `format` (strptime codes %d %m %Y %b %B %H %M %S %f). */
export function readsAs(value: string, format: string): boolean {
  const g = regexOf(format).exec(value)?.groups;
  if (!g) return false;
  let month = g.m ? Number(g.m) : 0;
  if (g.b) month = MONTHS.findIndex((m) => m.slice(0, 3) === g.b.toLowerCase()) + 1;
  if (g.B) month = MONTHS.indexOf(g.B.toLowerCase()) + 1;
  if (!g.d || !g.Y) return false;
  const day = Number(g.d);
  const year = Number(g.Y);
  if (month < 1 || month > 12 || day < 1) return false;
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

const readsBuiltIn = (v: string) => DATE_FORMATS.some((f) => readsAs(v, f));

/** The share of the values needed for a guess to stand: the same as the birth-date gate's default floor. */
const MIN_SHARE = 0.9;

/**
 * The extra format `values` need, or undefined: when the built-in formats read at least 90% of them, or when
 * no format of GUESSED_DATE_FORMATS brings the share read to 90%.
 */
export function guessDateFormat(values: readonly string[]): string | undefined {
  const given = values.map((v) => v.trim()).filter((v) => v !== '' && v !== '-');
  if (given.length === 0) return undefined;
  const unread = given.filter((v) => !readsBuiltIn(v));
  if (unread.length <= given.length * (1 - MIN_SHARE)) return undefined;
  let best: { format: string; read: number } | undefined;
  for (const format of GUESSED_DATE_FORMATS) {
    const read = unread.filter((v) => readsAs(v, format)).length;
    if (read > 0 && (!best || read > best.read)) best = { format, read };
  }
  if (!best || given.length - unread.length + best.read < given.length * MIN_SHARE) return undefined;
  return best.format;
}
