import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/engine/errors.ts';
import { COMPARISONS } from '../../src/linkage/comparisons.ts';
import { modelComparison, modelMismatch, parseModel, sqlFingerprint } from '../../src/linkage/model.ts';
import { MODEL_VERSION } from '../../schemas/model.ts';

/** A model as training writes it: every comparison of the code, m and u spread evenly. */
function modelJson() {
  return {
    version: MODEL_VERSION,
    lambda: 0.01,
    comparisons: COMPARISONS.map((c) => modelComparison(c, c.levels.map(() => ({ m: 1 / c.levels.length, u: 1 / c.levels.length })))),
  };
}

function refusal(json: unknown): string {
  try {
    parseModel(json, 'model.json');
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error('the model was accepted');
}

describe('model file', () => {
  it('a model written for the code fits it and keeps each level fingerprint', () => {
    const model = parseModel(modelJson(), 'model.json');
    expect(modelMismatch(model)).toBeUndefined();
    expect(model.comparisons[0].levels[0].sql_fingerprint).toBe(sqlFingerprint(COMPARISONS[0].levels[0].when));
    expect(model.comparisons[0].levels[0].sql_fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  it('the fingerprint ignores layout, not content', () => {
    expect(sqlFingerprint('l.a = r.a\n   AND l.b = r.b')).toBe(sqlFingerprint('l.a = r.a AND l.b = r.b'));
    expect(sqlFingerprint('l.a = r.a AND l.b = r.b')).not.toBe(sqlFingerprint('l.a = r.a AND l.b <> r.b'));
  });

  it('refuses a level whose SQL differs, naming the level and the comparison', () => {
    const json = modelJson();
    const name = json.comparisons.findIndex((c) => c.name === 'name');
    json.comparisons[name].levels[3].sql_fingerprint = sqlFingerprint('jaro_winkler_similarity(l.name_norm, r.name_norm) >= 0.9');
    const message = refusal(json);
    expect(message).toContain(`level '${COMPARISONS[name].levels[3].label}' of comparison 'name'`);
    expect(message).toContain('file model.json');
    expect(message).toContain('without --model');
  });

  it('refuses other comparisons, other levels, another term-frequency column and an older version', () => {
    const reordered = modelJson();
    reordered.comparisons.reverse();
    expect(refusal(reordered)).toMatch(/its comparisons are sources, household, sex, .*this version of dtsen compares nik, name/);

    const fewer = modelJson();
    const sex = fewer.comparisons.find((c) => c.name === 'sex')!;
    sex.levels = [sex.levels[1], sex.levels[0]];
    expect(refusal(fewer)).toContain(`comparison 'sex' has the levels 'different', 'same'`);

    const tf = modelJson();
    tf.comparisons.find((c) => c.name === 'name')!.tf_column = 'name_phonetic';
    expect(refusal(tf)).toContain('term frequencies from name_phonetic');

    expect(refusal({ ...modelJson(), version: 2 })).toMatch(/model version 2 is not read by this version/);
  });
});
