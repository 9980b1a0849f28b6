import { describe, expect, it } from 'vitest';
import { Db } from '../../src/engine/db.ts';
import { checkContract, contractViolations } from '../../src/engine/contract.ts';
import { LINK_TABLES } from '../../src/stages/link/index.ts';
import type { FigurePath } from '../../src/stages/report/index.ts';

describe('stage contract', () => {
  it('accepts tables as declared (more columns allowed) and names every difference otherwise', async () => {
    const db = await Db.open();
    try {
      await db.run(`CREATE TABLE candidate_pairs AS SELECT 1::BIGINT AS rec_id_l, 2::BIGINT AS rec_id_r, 0::UTINYINT AS rule_id, 1::UINTEGER AS rules;
        CREATE TABLE scored_pairs AS SELECT *, 3.5::DOUBLE AS match_weight, 0.9::DOUBLE AS match_probability, true AS hard_negative FROM candidate_pairs`);
      expect(await contractViolations(db, LINK_TABLES)).toEqual([]);
      await db.run(`CREATE OR REPLACE TABLE scored_pairs AS SELECT rec_id_l, rec_id_r, rule_id, rules, 3.5::FLOAT AS match_weight FROM candidate_pairs UNION ALL SELECT 1, 2, 0::UTINYINT, 1::UINTEGER, 1::FLOAT`);
      expect(await contractViolations(db, LINK_TABLES)).toEqual([
        'column scored_pairs.match_weight is FLOAT, declared DOUBLE',
        'table scored_pairs lacks column match_probability (DOUBLE)',
        'table scored_pairs: 1 values of its grain (rec_id_l, rec_id_r) name more than one row',
      ]);
      await db.run(`DROP TABLE candidate_pairs`);
      await expect(checkContract(db, 'link', LINK_TABLES)).rejects.toThrow(/stage link broke its contract: table candidate_pairs is missing/);
    } finally {
      db.close();
    }
  });

  it('chart data paths are checked by the compiler', () => {
    const good: FigurePath[] = ['validate.reconciliation', 'report.model_levels', 'evaluate.threshold_curve.points'];
    // @ts-expect-error: no such figure
    const bad: FigurePath = 'validate.reconciliations';
    expect([...good, bad]).toHaveLength(4);
  });
});

describe('docs/architecture.md', () => {
  it('its stage diagram and table list are those the stage declarations give (make docs)', async () => {
    const { readFileSync } = await import('node:fs');
    const { renderArchitecture } = await import('../../src/architecture.ts');
    const { BATCH_STAGES } = await import('../../src/pipeline.ts');
    const doc = readFileSync('docs/architecture.md', 'utf8');
    expect(renderArchitecture(doc, BATCH_STAGES) === doc, 'docs/architecture.md is out of date: run make docs').toBe(true);
    expect(doc).toContain('link -.-> scored_pairs[(scored_pairs)]');
  });
});
