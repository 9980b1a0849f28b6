/**
 * Helpful config and mapping errors: the closest valid name to a wrong one (a key, a column), the valid keys of
 * the object a wrong key sits in, and the line to write instead. Names only: never a value of the data.
 */
import levenshtein from 'fast-levenshtein';
import type { z } from 'zod';

const norm = (s: string) => s.trim().toUpperCase().replace(/[^A-Z0-9]+/g, '');
const words = (s: string) => s.trim().toUpperCase().split(/[^A-Z0-9]+/).filter(Boolean);

/**
 * The candidate closest to `name`: the smallest edit distance between the names with case, spaces and
 * punctuation ignored, or a candidate holding every word of the name (NAMA → NAMA_LENGKAP); undefined when nothing
 * is close (more than a third of the name's letters to change).
 */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  const n = norm(name);
  if (!n) return undefined;
  let best: { c: string; score: number } | undefined;
  for (const c of candidates) {
    const m = norm(c);
    if (!m) continue;
    let score = levenshtein.get(n, m);
    const nw = words(name);
    const cw = words(c);
    // every word of the name is a word of the candidate (or the reverse): a longer or shorter form of one name
    if (score > 0 && (nw.every((w) => cw.includes(w)) || cw.every((w) => nw.includes(w)))) score = Math.min(score, 1 + Math.abs(cw.length - nw.length) * 0.5);
    if (!best || score < best.score || (score === best.score && c.length < best.c.length)) best = { c, score };
  }
  if (!best) return undefined;
  return best.score <= Math.max(1, Math.ceil(n.length / 3)) ? best.c : undefined;
}

type AnyDef = { type: string; innerType?: z.ZodType; in?: z.ZodType; shape?: Record<string, z.ZodType>; keyType?: z.ZodType; valueType?: z.ZodType; element?: z.ZodType; entries?: Record<string, string>; options?: z.ZodType[] };
const def = (s: z.ZodType) => (s as unknown as { _zod: { def: AnyDef } })._zod.def;

/** The schema under its wrappers (default, optional, pipe …). */
export function unwrap(s: z.ZodType): z.ZodType {
  for (;;) {
    const d = def(s);
    if (['default', 'optional', 'nullable', 'prefault', 'readonly', 'catch', 'nonoptional'].includes(d.type) && d.innerType) s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else return s;
  }
}

/** The schema at a path of keys into an object (undefined when the path leaves the known shape). */
export function schemaAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  let s = unwrap(schema);
  for (const k of path) {
    const d = def(s);
    if (d.type === 'object' && d.shape && typeof k === 'string' && d.shape[k]) s = unwrap(d.shape[k]);
    else if (d.type === 'record' && d.valueType) s = unwrap(d.valueType);
    else if (d.type === 'array' && d.element) s = unwrap(d.element);
    else if (d.type === 'union' && d.options) {
      const o = d.options.map(unwrap).find((x) => def(x).type === 'object' || def(x).type === 'record');
      if (!o) return undefined;
      s = o;
      continue;
    } else return undefined;
  }
  return s;
}

/** The keys an object at `path` may hold (an object's properties, a record's enum keys). */
export function validKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] | undefined {
  const s = schemaAt(schema, path);
  if (!s) return undefined;
  const d = def(s);
  if (d.type === 'object' && d.shape) return Object.keys(d.shape);
  if (d.type === 'record' && d.keyType) {
    const k = def(unwrap(d.keyType));
    if (k.type === 'enum' && k.entries) return Object.values(k.entries);
  }
  return undefined;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v = raw;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

const where = (path: readonly PropertyKey[]) => (path.length ? path.join('.') : '(top level)');
const inside = (path: readonly PropertyKey[]) => (path.length ? `inside "${path.join('.')}"` : 'at the top level');

/**
 * One line per problem of a parse, each with its path in the file; a wrong key names the valid keys, the closest
 * one and the line to write instead; a wrong choice of a fixed set names the closest choice.
 */
export function explainZodError(err: z.ZodError, schema: z.ZodType, raw: unknown): string {
  const lines: string[] = [];
  for (const i of err.issues) {
    if (i.code === 'unrecognized_keys') {
      const keys = validKeys(schema, i.path) ?? [];
      for (const key of i.keys) {
        const near = closest(key, keys);
        const value = valueAt(raw, [...i.path, key]);
        const shown = JSON.stringify(value);
        const line = near && shown !== undefined && shown.length <= 80 ? ` — write "${near}": ${shown} ${inside(i.path)}` : near ? ` — did you mean "${near}"?` : '';
        lines.push(`${where(i.path)}: unknown key "${key}"${line}; valid keys: ${keys.join(', ')}`);
      }
      continue;
    }
    if (i.code === 'invalid_value' && Array.isArray(i.values) && i.values.every((v) => typeof v === 'string')) {
      const given = valueAt(raw, i.path);
      const near = typeof given === 'string' ? closest(given, i.values as string[]) : undefined;
      lines.push(`${where(i.path)}: ${i.message}${near ? ` — write ${JSON.stringify(near)}` : ''}`);
      continue;
    }
    lines.push(`${where(i.path)}: ${i.message}`);
  }
  return lines.join('\n  ');
}
