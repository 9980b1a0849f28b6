/**
 * The model file (model.json): written by training, read back by `dtsen run --model`, `explain` and the report.
 * Every comparison and level carries a fingerprint of its SQL, so a model describes what it was trained on: a
 * model whose comparisons differ from the code's (another version of dtsen, a comparison added or changed) is
 * refused with the first difference named, never scored silently wrong.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { InputError } from '../engine/errors.ts';
import { formatZodError } from '../engine/config.ts';
import { writeFileAtomic } from '../engine/files.ts';
import { MODEL_VERSION, Model } from '../../schemas/model.ts';
import { COMPARISONS, type Comparison } from './comparisons.ts';
import { gammaSql, type LevelProbabilities } from './comparison-sql.ts';

/** 16 hex digits of the SHA-256 of the SQL, its white space collapsed (layout and indentation do not count). */
export function sqlFingerprint(sql: string): string {
  return createHash('sha256').update(sql.replace(/\s+/g, ' ').trim()).digest('hex').slice(0, 16);
}

/** One comparison of a model: the code's comparison with trained m and u per level, and the fingerprints of its SQL. */
export function modelComparison(c: Comparison, levels: readonly LevelProbabilities[]): Model['comparisons'][number] {
  return {
    name: c.name,
    description: c.description,
    tf_column: c.tfColumn,
    sql_fingerprint: sqlFingerprint(gammaSql(c)),
    levels: c.levels.map((lv, g) => ({
      label: lv.label,
      m: levels[g].m,
      u: levels[g].u,
      ...(lv.tf ? { tf: true } : {}),
      sql_fingerprint: sqlFingerprint(lv.when),
    })),
  };
}

/** The first difference between the model's comparisons and the code's, in words; undefined when they agree. */
export function modelMismatch(model: Pick<Model, 'comparisons'>, comparisons: readonly Comparison[] = COMPARISONS): string | undefined {
  const names = (cs: readonly { name: string }[]) => cs.map((c) => c.name).join(', ');
  if (model.comparisons.length !== comparisons.length || model.comparisons.some((mc, i) => mc.name !== comparisons[i].name)) {
    return `its comparisons are ${names(model.comparisons)}; this version of dtsen compares ${names(comparisons)}`;
  }
  for (const [i, c] of comparisons.entries()) {
    const mc = model.comparisons[i];
    const labels = (ls: readonly { label: string }[]) => ls.map((l) => `'${l.label}'`).join(', ');
    if (mc.levels.length !== c.levels.length || mc.levels.some((lv, g) => lv.label !== c.levels[g].label)) {
      return `comparison '${c.name}' has the levels ${labels(mc.levels)}; here it has ${labels(c.levels)}`;
    }
    for (const [g, lv] of c.levels.entries()) {
      if (mc.levels[g].sql_fingerprint !== sqlFingerprint(lv.when)) return `the SQL of level '${lv.label}' of comparison '${c.name}' differs from this version's`;
      if (Boolean(mc.levels[g].tf) !== Boolean(lv.tf)) return `level '${lv.label}' of comparison '${c.name}' ${lv.tf ? 'is' : 'is not'} adjusted for term frequency here`;
    }
    if (mc.sql_fingerprint !== sqlFingerprint(gammaSql(c))) return `the SQL of comparison '${c.name}' (its null condition) differs from this version's`;
    if ((mc.tf_column ?? null) !== (c.tfColumn ?? null)) return `comparison '${c.name}' takes its term frequencies from ${mc.tf_column ?? 'no column'}; here from ${c.tfColumn ?? 'no column'}`;
  }
  return undefined;
}

/** Throws an InputError (exit 2) naming the first difference when the model does not fit the code's comparisons. */
export function assertModelFits(model: Pick<Model, 'comparisons'>, file?: string, comparisons: readonly Comparison[] = COMPARISONS): void {
  const mismatch = modelMismatch(model, comparisons);
  if (mismatch) {
    throw new InputError(`the model was trained on other comparisons than this version of dtsen's: ${mismatch}`, {
      file,
      expected: 'a model.json written by this version (run the batch without --model to train one)',
    });
  }
}

/** A model from its parsed JSON: the version, the schema and the fit to the code's comparisons checked. */
export function parseModel(json: unknown, file?: string): Model {
  const version = (json as { version?: unknown } | null)?.version;
  if (typeof json === 'object' && json !== null && version !== MODEL_VERSION) {
    throw new InputError(`model version ${JSON.stringify(version ?? null)} is not read by this version of dtsen`, {
      file,
      expected: `version ${MODEL_VERSION} (a model that records the fingerprint of its comparisons' SQL; run the batch without --model to train one)`,
    });
  }
  const parsed = Model.safeParse(json);
  if (!parsed.success) throw new InputError(`invalid model:\n  ${formatZodError(parsed.error)}`, { file });
  assertModelFits(parsed.data, file);
  return parsed.data;
}

export async function readModelFile(path: string): Promise<Model> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new InputError(`model file cannot be read as JSON (${(e as Error).message})`, { file: path });
  }
  return parseModel(json, path);
}

export async function writeModelFile(path: string, model: Model): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(model, null, 2)}\n`);
}
