/**
 * Export: the contract's files into the staging folder (published atomically by the pipeline):
 * dtsen_person.parquet, dtsen_link.parquet, quarantine.parquet (zstd) and dtsen_person.arrow (Arrow IPC file).
 */
import { join } from 'node:path';
import type { Ctx, Stage } from '../../engine/context.ts';
import type { Db } from '../../engine/db.ts';
import { lit } from '../../engine/db.ts';
import { parquetToArrowFile } from './arrow.ts';

/** Columns of dtsen_person.parquet / .arrow, in order. */
export const PERSON_EXPORT_COLUMNS = [
  'dtsen_id', 'nik', 'name', 'birth_date', 'sex', 'village_code', 'province_code', 'family_id', 'decile',
  'pkh', 'bpnt', 'pbi_jkn', 'programmes', 'n_records', 'sources', 'in_dtks', 'in_regsosek', 'in_p3ke',
] as const;

export const LINK_EXPORT_COLUMNS = ['dtsen_id', 'source', 'source_record_id', 'match_probability'] as const;
export const QUARANTINE_EXPORT_COLUMNS = ['source', 'source_record_id', 'file', 'row_number', 'reason', 'raw'] as const;

export async function copyToParquet(db: Db, select: string, path: string): Promise<void> {
  await db.run(`COPY (${select}) TO ${lit(path)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`);
}

export async function rowGroups(db: Db, path: string): Promise<number> {
  return db.count(`SELECT count(DISTINCT row_group_id) FROM parquet_metadata(${lit(path)})`);
}

export const exportStage: Stage = {
  name: 'export',
  async run(ctx: Ctx) {
    const { db, stagingDir } = ctx;
    const person = join(stagingDir, 'dtsen_person.parquet');
    await copyToParquet(db, `SELECT ${PERSON_EXPORT_COLUMNS.join(', ')} FROM dtsen_person ORDER BY dtsen_id`, person);
    await copyToParquet(db, `SELECT ${LINK_EXPORT_COLUMNS.join(', ')} FROM dtsen_link ORDER BY dtsen_id, source, source_record_id`, join(stagingDir, 'dtsen_link.parquet'));
    await copyToParquet(db, `SELECT ${QUARANTINE_EXPORT_COLUMNS.join(', ')} FROM quarantine ORDER BY source, file, row_number`, join(stagingDir, 'quarantine.parquet'));
    const arrowRows = await parquetToArrowFile(person, join(stagingDir, 'dtsen_person.arrow'), await rowGroups(db, person));
    const count = (t: string) => db.count(`SELECT count(*) FROM ${t}`);
    const files = {
      'dtsen_person.parquet': await count('dtsen_person'),
      'dtsen_person.arrow': arrowRows,
      'dtsen_link.parquet': await count('dtsen_link'),
      'quarantine.parquet': await count('quarantine'),
    };
    return { rows: files['dtsen_person.parquet'], figures: { files } };
  },
};
