import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Db, statementLabel } from '../../src/engine/db.ts';
import { startProfile, summariseProfile } from '../../src/engine/profile.ts';

describe('statement profiles (--profile)', () => {
  it('labels a statement by what it makes, never by a value', () => {
    expect(statementLabel(`-- a comment\nCREATE OR REPLACE TEMP TABLE surv_member AS SELECT 1`)).toBe('create-surv_member');
    expect(statementLabel(`INSERT INTO dtsen_link SELECT 'x'`)).toBe('insert-dtsen_link');
    expect(statementLabel(`COPY (SELECT 1) TO '/tmp/a/dtsen_person.parquet' (FORMAT parquet)`)).toBe('copy-dtsen_person.parquet');
    expect(statementLabel(`SELECT count(*) FROM person_clean WHERE nik = '3201'`)).toBe('select');
  });

  it('keeps one profile per statement, named by stage and step, and a summary slowest first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtsen-profile-'));
    try {
      writeFileSync(join(dir, '00009-old-select.json'), '{}');
      const db = await Db.open();
      try {
        await startProfile(db, dir);
        db.profileStage('normalise');
        await db.run(`CREATE TABLE t AS SELECT range AS i FROM range(200000); CREATE TABLE u AS SELECT i % 7 AS k, count(*) AS n FROM t GROUP BY 1`);
        db.profileStage('survive');
        expect(await db.count(`SELECT sum(n) FROM u`)).toBe(200000);
        const fork = await db.fork();
        await fork.run(`CREATE TABLE v AS SELECT * FROM u`);
        await fork.close();
      } finally {
        await db.close();
      }
      const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
      expect(files).toEqual(['00001-normalise-create-t.json', '00002-normalise-create-u.json', '00003-survive-select.json', '00004-survive-create-v.json']);
      expect(JSON.parse(readFileSync(join(dir, files[1]!), 'utf8')).query_name).toContain('GROUP BY');
      const rows = await summariseProfile(dir);
      expect(rows.map((r) => r.stage)).toEqual(['normalise', 'normalise', 'survive', 'survive']);
      const summary = readFileSync(join(dir, 'summary.tsv'), 'utf8').trim().split('\n');
      expect(summary[0]).toMatch(/^seconds\tcpu_seconds/);
      const seconds = summary.slice(1).map((l) => Number(l.split('\t')[0]));
      expect(seconds).toEqual([...seconds].sort((a, b) => b - a));
      expect(readFileSync(join(dir, 'stages.tsv'), 'utf8')).toMatch(/^normalise\t2\t/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
