/**
 * Matches a file's columns to the canonical fields: first by a known name (KNOWN_COLUMNS, case, spaces and
 * punctuation ignored), then the columns left by the closest known name (src/engine/suggest.ts). A column goes
 * to one field at most; names only, never a value.
 */
import { CANONICAL_FIELD_NAMES, type CanonicalField } from '../../schemas/canonical.ts';
import { closest } from '../engine/suggest.ts';
import { KNOWN_COLUMNS } from './columns.ts';

export const normName = (s: string) => s.trim().toUpperCase().replace(/[^A-Z0-9]+/g, '');

export interface FieldMatch {
  field: CanonicalField;
  column: string;
  /** 'name': a known name of the field; 'closest': the nearest known name (check it) */
  how: 'name' | 'closest';
  /** the known name it was matched by */
  known: string;
}

/** Columns shorter than this (letters and digits) are matched by a known name only: RT, RW, JK are too short to guess. */
const MIN_FUZZY_LENGTH = 4;

export function matchColumns(columns: readonly string[]): FieldMatch[] {
  const byField = new Map<CanonicalField, FieldMatch>();
  const taken = new Set<string>();
  const knownToField = new Map<string, { field: CanonicalField; known: string }>();
  for (const field of CANONICAL_FIELD_NAMES) {
    for (const known of KNOWN_COLUMNS[field]) if (!knownToField.has(normName(known))) knownToField.set(normName(known), { field, known });
  }
  // 1. known names (the first column of a field wins)
  for (const column of columns) {
    const k = knownToField.get(normName(column));
    if (!k || byField.has(k.field)) continue;
    byField.set(k.field, { field: k.field, column, how: 'name', known: k.known });
    taken.add(column);
  }
  // 2. the closest known name, for the columns and fields left
  const freeKnown = [...knownToField.values()].filter((k) => !byField.has(k.field));
  const claims = new Map<CanonicalField, { column: string; known: string }[]>();
  for (const column of columns) {
    if (taken.has(column) || normName(column).length < MIN_FUZZY_LENGTH) continue;
    const near = closest(column, freeKnown.map((k) => k.known));
    if (!near) continue;
    const k = freeKnown.find((x) => x.known === near)!;
    claims.set(k.field, [...(claims.get(k.field) ?? []), { column, known: near }]);
  }
  for (const [field, cs] of claims) {
    // several columns nearest one field: the one nearest its known names
    let pick = cs[0];
    if (cs.length > 1) {
      for (const known of KNOWN_COLUMNS[field]) {
        const c = closest(known, cs.map((x) => x.column));
        if (c) {
          pick = cs.find((x) => x.column === c)!;
          break;
        }
      }
    }
    byField.set(field, { field, column: pick.column, how: 'closest', known: pick.known });
  }
  return CANONICAL_FIELD_NAMES.filter((f) => byField.has(f)).map((f) => byField.get(f)!);
}
