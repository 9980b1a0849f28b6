/**
 * The register's state from the previous batch: its output folder's dtsen.duckdb, attached read-only once and
 * copied into temporary tables of this batch's connection (reg_prev_*: the register stage reads them and drops them
 * when it ends; a resumed batch runs the stage again from the start, so nothing of them is kept in the database).
 * A previous batch written before the register kept a history is taken as the register's first batch: every
 * person and family of it active, issued by batch 1.
 */
import { existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../engine/db.ts';
import { lit } from '../engine/db.ts';
import { InputError } from '../engine/errors.ts';

export interface PreviousState {
  /** the previous batch's folder, followed (a version folder) */
  dir: string;
  /** the register batch number of the previous batch */
  seq: number;
}

/** Empty previous-state tables: the first batch of a register. */
export const EMPTY_PREVIOUS_SQL = `
CREATE OR REPLACE TEMP TABLE reg_prev_record (source VARCHAR, source_record_id VARCHAR, dtsen_id VARCHAR, last_batch INTEGER);
CREATE OR REPLACE TEMP TABLE reg_prev_history (id VARCHAR, kind VARCHAR, status VARCHAR, successors VARCHAR[], split_from VARCHAR, first_batch INTEGER, last_batch INTEGER, status_batch INTEGER);
CREATE OR REPLACE TEMP TABLE reg_prev_person (dtsen_id VARCHAR, nik VARCHAR, name VARCHAR, birth_date DATE, sex VARCHAR, village_code VARCHAR, province_code VARCHAR, family_id VARCHAR, decile INTEGER, programmes VARCHAR);
CREATE OR REPLACE TEMP TABLE reg_prev_family (family_id VARCHAR, province_code VARCHAR);
CREATE OR REPLACE TEMP TABLE reg_prev_batch (batch_seq INTEGER, batch VARCHAR, snapshot_id VARCHAR, snapshot_date DATE);
`;

/** The programme flags and list of a golden record as one comparable text (the change log's `programmes`). */
export const PROGRAMMES_TEXT = `concat_ws(',', CASE WHEN pkh THEN 'pkh' END, CASE WHEN bpnt THEN 'bpnt' END, CASE WHEN pbi_jkn THEN 'pbi_jkn' END) || ' [' || array_to_string(programmes, ',') || ']'`;

async function prevHas(db: Db, table: string): Promise<boolean> {
  return (await db.count(`SELECT count(*) FROM duckdb_tables() WHERE database_name = 'reg_prev' AND table_name = ${lit(table)}`)) > 0;
}

/** Copies the previous batch's register state into reg_prev_*; returns where it came from and its batch number. */
export async function loadPrevious(db: Db, folder: string): Promise<PreviousState> {
  if (!existsSync(folder)) throw new InputError('previous batch folder not found', { file: folder, expected: 'the output folder of a finished `dtsen run` (--previous)' });
  const dir = await realpath(folder);
  const dbPath = join(dir, 'dtsen.duckdb');
  if (!existsSync(dbPath) || !existsSync(join(dir, 'report.json'))) {
    throw new InputError('the previous folder holds no finished batch (dtsen.duckdb and report.json)', { file: dir, expected: 'the output folder of a finished `dtsen run` (--previous)' });
  }
  await db.run(`ATTACH ${lit(dbPath)} AS reg_prev (READ_ONLY)`);
  try {
    for (const t of ['dtsen_person', 'dtsen_link', 'dtsen_family']) {
      if (!(await prevHas(db, t))) throw new InputError(`the previous batch has no ${t} table`, { file: dbPath, expected: 'a batch written by `dtsen run`' });
    }
    await db.run(EMPTY_PREVIOUS_SQL);
    const kept = await prevHas(db, 'dtsen_id_history');
    const seq = kept ? await db.count(`SELECT coalesce(max(batch_seq), 1) FROM reg_prev.dtsen_register_batch`) : 1;
    await db.run(`
      INSERT INTO reg_prev_person
      SELECT dtsen_id, nik, name, birth_date, sex, village_code, province_code, family_id, decile, ${PROGRAMMES_TEXT} FROM reg_prev.dtsen_person;
      INSERT INTO reg_prev_family SELECT family_id, province_code FROM reg_prev.dtsen_family;`);
    if (kept) {
      await db.run(`
        INSERT INTO reg_prev_record SELECT source, source_record_id, dtsen_id, last_batch FROM reg_prev.dtsen_record_history;
        INSERT INTO reg_prev_history SELECT id, kind, status, successors, split_from, first_batch, last_batch, status_batch FROM reg_prev.dtsen_id_history;
        INSERT INTO reg_prev_batch SELECT batch_seq, batch, snapshot_id, snapshot_date FROM reg_prev.dtsen_register_batch;`);
    } else {
      const info = (await prevHas(db, 'batch_info'))
        ? await db.one<{ batch: string | null; snapshot_id: string | null; snapshot_date: string | null }>(
            `SELECT config->>'batch' AS batch, config->>'snapshot_id' AS snapshot_id, config->>'snapshot_date' AS snapshot_date FROM reg_prev.batch_info`)
        : undefined;
      await db.run(`
        INSERT INTO reg_prev_record SELECT source, source_record_id, dtsen_id, 1 FROM reg_prev.dtsen_link;
        INSERT INTO reg_prev_history SELECT dtsen_id, 'person', 'active', [], NULL, 1, 1, 1 FROM reg_prev.dtsen_person;
        INSERT INTO reg_prev_history SELECT family_id, 'family', 'active', [], NULL, 1, 1, 1 FROM reg_prev.dtsen_family;
        INSERT INTO reg_prev_batch VALUES (1, ${lit(info?.batch ?? 'previous')}, ${lit(info?.snapshot_id ?? 'previous')}, ${info?.snapshot_date ? `${lit(info.snapshot_date)}::DATE` : 'NULL'});`);
    }
    return { dir, seq };
  } finally {
    await db.run(`DETACH reg_prev`);
  }
}
