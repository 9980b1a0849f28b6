/**
 * A register batch over hand-made persons: the tables survive leaves (dtsen_person with the dictionary's
 * columns, dtsen_link, dtsen_family, dtsen_conflict) and the ones the register reads (clusters, person_clean),
 * built from a list of persons — each a list of records `source:id` and a family — then continueRegister in a
 * database file in its own folder, so that a later batch can take it as --previous.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Db, lit } from '../../src/engine/db.ts';
import { outputTable } from '../../schemas/outputs.ts';
import { continueRegister, type RegisterFigures } from '../../src/register/index.ts';
import { applyDecisionStore } from '../../src/register/decisions.ts';

export interface WorldPerson {
  records: string[];
  family?: string;
  name?: string;
  decile?: number;
}

const md5Id = (prefix: string, key: string) => `${prefix}${createHash('md5').update(key).digest('hex').slice(0, 16).toUpperCase()}`;

/** Writes one batch of `persons` into dir/dtsen.duckdb and continues the register of `previous`. */
export async function worldBatch(dir: string, persons: WorldPerson[], opts: { previous?: string; decisions?: string; batch?: string } = {}): Promise<{ figures: RegisterFigures; db: Db }> {
  mkdirSync(dir, { recursive: true });
  const db = await Db.open({ path: join(dir, 'dtsen.duckdb'), threads: 1 });
  const cols = (t: string) => outputTable(t).columns.filter((c) => c.name !== 'decision_refs').map((c) => `${c.name === 'values' ? '"values"' : c.name} ${c.type}`).join(', ');
  await db.run(`
    CREATE TABLE person_clean (rec_id BIGINT, source VARCHAR, source_record_id VARCHAR);
    CREATE TABLE clusters (rec_id BIGINT, cluster_id BIGINT, best_link_probability DOUBLE, conflicted BOOLEAN);
    CREATE TABLE dtsen_person (${cols('dtsen_person')}, cluster_id BIGINT);
    CREATE TABLE dtsen_link (dtsen_id VARCHAR, source VARCHAR, source_record_id VARCHAR, match_probability DOUBLE, rec_id BIGINT);
    CREATE TABLE dtsen_family (${cols('dtsen_family')});
    CREATE TABLE dtsen_conflict (${cols('dtsen_conflict')});`);
  let rec = 0;
  const families = new Map<string, string[]>();
  for (const [i, p] of persons.entries()) {
    const cluster = rec + 1;
    const keys = [...p.records].sort();
    const pid = md5Id('DT', keys[0]);
    for (const r of p.records) {
      rec++;
      const [source, id] = [r.slice(0, r.indexOf(':')), r.slice(r.indexOf(':') + 1)];
      await db.run(`INSERT INTO person_clean VALUES (${rec}, ${lit(source)}, ${lit(id)}); INSERT INTO clusters VALUES (${rec}, ${cluster}, 1, false);
        INSERT INTO dtsen_link VALUES (${lit(pid)}, ${lit(source)}, ${lit(id)}, 1, ${rec});`);
    }
    const fam = p.family ?? `solo${i}`;
    families.set(fam, [...(families.get(fam) ?? []), pid]);
    await db.run(`INSERT INTO dtsen_person (dtsen_id, cluster_id, name, decile, pkh, bpnt, pbi_jkn, programmes, province_code, source_record_ids)
      VALUES (${lit(pid)}, ${cluster}, ${lit(p.name ?? `PERSON ${keys[0]}`)}, ${p.decile ?? 'NULL'}, false, false, false, [], '32', ${`[${keys.map(lit).join(', ')}]`})`);
  }
  // survive's family ids: FM + md5 of the smallest member id
  for (const [, members] of families) {
    const sorted = [...members].sort();
    const fid = md5Id('FM', sorted[0]);
    await db.run(`UPDATE dtsen_person SET family_id = ${lit(fid)} WHERE dtsen_id IN (${sorted.map(lit).join(', ')});
      INSERT INTO dtsen_family (family_id, head_dtsen_id, head_basis, n_members, members, province_code) VALUES (${lit(fid)}, ${lit(sorted[0])}, 'oldest', ${sorted.length}, [${sorted.map(lit).join(', ')}], '32');`);
  }
  await applyDecisionStore(db, opts.decisions);
  const figures = await continueRegister(db, { previous: opts.previous, batch: opts.batch ?? 'b', snapshotId: opts.batch ?? 'b', snapshotDate: '2026-01-01' });
  writeFileSync(join(dir, 'report.json'), '{}');
  return { figures, db };
}

/** The person id holding a record now. */
export async function idOf(db: Db, record: string): Promise<string> {
  const [source, id] = [record.slice(0, record.indexOf(':')), record.slice(record.indexOf(':') + 1)];
  const row = await db.one<{ dtsen_id: string }>(`SELECT dtsen_id FROM dtsen_link WHERE source = ${lit(source)} AND source_record_id = ${lit(id)}`);
  if (!row) throw new Error(`no record ${record}`);
  return row.dtsen_id;
}

export async function history(db: Db, id: string): Promise<{ status: string; successors: string[]; split_from: string | null; first_batch: number; last_batch: number; status_batch: number }> {
  const row = await db.one<{ status: string; successors: string[]; split_from: string | null; first_batch: number; last_batch: number; status_batch: number }>(
    `SELECT status, successors, split_from, first_batch, last_batch, status_batch FROM dtsen_id_history WHERE id = ${lit(id)}`);
  if (!row) throw new Error(`no history of ${id}`);
  return row;
}
