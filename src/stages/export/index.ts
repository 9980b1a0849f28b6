/**
 * Export: the files of the contract into the staging folder (published atomically by the pipeline) —
 * one Parquet file (zstd) per table of schemas/outputs.ts, dtsen_person.arrow (Arrow IPC file), and the person and
 * family tables partitioned by province in Hive layout — plus, in dtsen.duckdb, the data dictionary as comments
 * and the analysts' views. With `pseudonymise`, NIK and family-card numbers in the files are keyed hashes.
 */
import { join } from 'node:path';
import type { Ctx, Stage } from '../../engine/context.ts';
import type { Db } from '../../engine/db.ts';
import { ident, lit } from '../../engine/db.ts';
import { InputError } from '../../engine/errors.ts';
import type { Mapping } from '../../../schemas/mapping.ts';
import { OUTPUT_TABLES, exportColumns, type OutputTable } from '../../../schemas/outputs.ts';
import { parquetToArrowFile } from './arrow.ts';
import { commentSql } from './dictionary.ts';
import { ANALYST_VIEWS } from './views.sql.ts';
import { exportExpr, withPseudonymKey } from './pseudonym.sql.ts';

/** Columns of dtsen_person.parquet / .arrow, in order. */
export const PERSON_EXPORT_COLUMNS = exportColumns('dtsen_person');
export const LINK_EXPORT_COLUMNS = exportColumns('dtsen_link');
export const QUARANTINE_EXPORT_COLUMNS = exportColumns('quarantine');

const PARQUET_OPTIONS = 'FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880';

export async function copyToParquet(db: Db, select: string, path: string): Promise<void> {
  await db.run(`COPY (${select}) TO ${lit(path)} (${PARQUET_OPTIONS})`);
}

export async function rowGroups(db: Db, path: string): Promise<number> {
  return db.count(`SELECT count(DISTINCT row_group_id) FROM parquet_metadata(${lit(path)})`);
}

/** The SELECT that produces a table's exported rows. */
export function exportSelect(t: OutputTable, pseudonymise: boolean, mappings: readonly Mapping[]): string {
  return `SELECT ${t.columns.map((c) => exportExpr(c, pseudonymise, mappings)).join(', ')} FROM ${ident(t.table)} ORDER BY ${t.order}`;
}

/** The pseudonym key a batch needs: an error (exit 2) when pseudonymise is asked for without one. */
export function checkPseudonymKey(pseudonymise: boolean, key: string | undefined): void {
  if (!pseudonymise) return;
  if (!key) throw new InputError('pseudonymise needs a key: set the environment variable DTSEN_PSEUDONYM_KEY', { expected: 'a secret of at least 16 characters' });
  if (key.length < 16) throw new InputError('the pseudonym key in DTSEN_PSEUDONYM_KEY is too short', { expected: 'a secret of at least 16 characters' });
}

async function writeFiles(ctx: Ctx, pseudonymise: boolean): Promise<Record<string, number>> {
  const { db, stagingDir } = ctx;
  const mappings = ctx.sources.map((s) => s.mapping);
  const files: Record<string, number> = {};
  for (const t of OUTPUT_TABLES) {
    if (!(await db.tableExists(t.table))) continue;
    const select = exportSelect(t, pseudonymise, mappings);
    await copyToParquet(db, select, join(stagingDir, t.file));
    files[t.file] = await db.count(`SELECT count(*) FROM ${ident(t.table)}`);
    if (t.byProvince) {
      await db.run(`COPY (${select}) TO ${lit(join(stagingDir, t.byProvince))} (${PARQUET_OPTIONS}, PARTITION_BY (province_code))`);
      files[`${t.byProvince}/`] = files[t.file];
    }
  }
  const person = join(stagingDir, 'dtsen_person.parquet');
  files['dtsen_person.arrow'] = await parquetToArrowFile(person, join(stagingDir, 'dtsen_person.arrow'), await rowGroups(db, person));
  return files;
}

export const exportStage: Stage = {
  name: 'export',
  async run(ctx: Ctx) {
    const { db } = ctx;
    const pseudonymise = ctx.config.pseudonymise;
    checkPseudonymKey(pseudonymise, ctx.pseudonymKey);
    const files = pseudonymise ? await withPseudonymKey(db, ctx.pseudonymKey!, () => writeFiles(ctx, true)) : await writeFiles(ctx, false);
    const present = new Set<string>();
    for (const t of OUTPUT_TABLES) if (await db.tableExists(t.table)) present.add(t.table);
    await db.run(commentSql(present));
    for (const v of ANALYST_VIEWS) {
      await db.run(`CREATE OR REPLACE VIEW ${ident(v.name)} AS ${v.sql}; COMMENT ON VIEW ${ident(v.name)} IS ${lit(v.description)};`);
    }
    return { rows: files['dtsen_person.parquet'] ?? 0, figures: { files, pseudonymised: pseudonymise, views: ANALYST_VIEWS.map((v) => v.name) } };
  },
};
