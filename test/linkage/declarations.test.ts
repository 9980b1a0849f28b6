import { describe, expect, it } from 'vitest';
import { COMPARISONS, type Comparison } from '../../src/linkage/comparisons.ts';
import { BLOCKING_RULES } from '../../src/linkage/blocking-rules.ts';
import { trainingSessions } from '../../src/linkage/train.ts';
import { compareColumns } from '../../src/linkage/comparison-vectors.ts';
import { gammaSql } from '../../src/linkage/comparison-sql.ts';

describe('linkage declarations', () => {
  it('the training sessions follow from the rules and the comparisons', () => {
    expect(trainingSessions()).toEqual([
      { rule: 'nik', excluded: ['nik', 'sex', 'household', 'sources'], train: ['name', 'birth_date'] },
      { rule: 'dob_district', excluded: ['birth_date', 'household', 'nik', 'sources'], train: ['name', 'sex'] },
      { rule: 'phonetic_village', excluded: ['name', 'household', 'birth_date', 'sources'], train: ['nik', 'sex'] },
      { rule: 'name_date', excluded: ['name', 'birth_date', 'sources'], train: ['household'] },
    ]);
    // A comparison naming every candidate pair adds the session over them, after the rules'.
    const everywhere: Comparison = { name: 'y', description: 'y', isNull: 'false', columns: [], trainedBy: ['all candidate pairs'], levels: [] };
    expect(trainingSessions(BLOCKING_RULES, [...COMPARISONS, everywhere]).at(-1)).toEqual({ rule: null, excluded: ['sources'], train: ['y'] });
  });

  it('a comparison declared with a session learns there, and every comparison is learnt somewhere', () => {
    const extra: Comparison = { name: 'x', description: 'x', isNull: 'false', columns: [], trainedBy: ['dob_district'], levels: [] };
    expect(trainingSessions(BLOCKING_RULES, [...COMPARISONS, extra]).find((s) => s.rule === 'dob_district')!.train).toEqual(['name', 'sex', 'x']);
    const taught = new Set(trainingSessions().flatMap((s) => s.train));
    // every comparison is learnt in a session, except the pair priors (counted among the confident links)
    for (const c of COMPARISONS) expect(taught.has(c.name), c.name).toBe(!c.pairPrior);
    expect(COMPARISONS.filter((c) => c.pairPrior).map((c) => c.name)).toEqual(['sources']);
    const ruleNames = new Set(BLOCKING_RULES.map((r) => r.name));
    for (const r of BLOCKING_RULES) for (const f of r.training?.fixes ?? []) expect(COMPARISONS.map((c) => c.name)).toContain(f);
    for (const c of COMPARISONS) for (const t of c.trainedBy) expect(ruleNames.has(t) || t === 'all candidate pairs', `${c.name}: ${t}`).toBe(true);
  });

  it('every column a comparison reads is declared, so the pair join carries it', () => {
    for (const c of COMPARISONS) {
      const read = new Set([...gammaSql(c).matchAll(/\b[lr]\.([a-z_]+)/g)].map((m) => m[1]));
      expect([...read].filter((col) => !c.columns.includes(col)), c.name).toEqual([]);
    }
    expect(compareColumns().slice(0, 2)).toEqual(['rec_id', 'source']);
  });
});
