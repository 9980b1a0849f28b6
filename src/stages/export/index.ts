/**
 * Export: the files of the contract into the staging folder (published atomically by the pipeline) —
 * one Parquet file (zstd) per table of schemas/outputs.ts, dtsen_person.arrow (Arrow IPC file), and the person and
 * family tables partitioned by province in Hive layout — plus, in dtsen.duckdb, the data dictionary as comments
 * and the analysts' views. With `pseudonymise`, NIK and family-card numbers in the files are keyed hashes.
 */
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { defineStage, type TableDeclaration } from '../../engine/context.ts';
import type { Ctx } from '../../engine/context.ts';
import { concurrently, type Db } from '../../engine/db.ts';
import { ident, lit } from '../../engine/db.ts';
import { InputError } from '../../engine/errors.ts';
import type { Mapping } from '../../../schemas/mapping.ts';
import { OUTPUT_TABLES, exportColumns, type OutputTable } from '../../../schemas/outputs.ts';
import { ROW_GROUP_ROWS, parquetToArrowFile } from './arrow.ts';
import { commentSql } from './dictionary.ts';
import { ANALYST_VIEWS } from './views.sql.ts';
import { exportExpr, withPseudonymKey } from './pseudonym.sql.ts';

/** Columns of dtsen_person.parquet / .arrow, in order. */
export const PERSON_EXPORT_COLUMNS = exportColumns('dtsen_person');
export const LINK_EXPORT_COLUMNS = exportColumns('dtsen_link');
export const QUARANTINE_EXPORT_COLUMNS = exportColumns('quarantine');

/**
 * zstd at level 1 (DuckDB's default is 3): measured at 200,000 persons on one thread, the person file costs 5% less
 * CPU (0.437 s instead of 0.462 s) and its province partitions 4% less (0.694 s instead of 0.725 s), for files 0.6%
 * larger (9.94 MB instead of 9.88 MB).
 */
const PARQUET_OPTIONS = `FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, ROW_GROUP_SIZE ${ROW_GROUP_ROWS}`;

/**
 * Tables stored in their export order (CREATE TABLE … ORDER BY the table's `order`: by the survive stage in a first
 * batch, by the register stage in a batch continuing a register): DuckDB
 * keeps insertion order on a scan, so their files are written without sorting them again (a test checks the order).
 * But dtsen_person in a batch continuing a register (`previous`): the register renames its few persons in place
 * instead of writing a million rows again, and its file is sorted here (UNORDERED_WITH_PREVIOUS).
 */
const STORED_IN_ORDER: ReadonlySet<string> = new Set(['dtsen_person', 'dtsen_link', 'dtsen_family', 'dtsen_conflict']);
const UNORDERED_WITH_PREVIOUS: ReadonlySet<string> = new Set(['dtsen_person']);

/** Whether the export sorts `table`'s rows. */
const sortsOnExport = (table: string, previous: boolean) => !STORED_IN_ORDER.has(table) || (previous && UNORDERED_WITH_PREVIOUS.has(table));

export async function copyToParquet(db: Db, select: string, path: string): Promise<void> {
  await db.run(`COPY (${select}) TO ${lit(path)} (${PARQUET_OPTIONS})`);
}

export async function rowGroups(db: Db, path: string): Promise<number> {
  return db.count(`SELECT count(DISTINCT row_group_id) FROM parquet_metadata(${lit(path)})`);
}

/** The SELECT that produces a table's exported rows (`ordered`: sorted by the table's order). */
export function exportSelect(t: OutputTable, pseudonymise: boolean, mappings: readonly Mapping[], ordered = true): string {
  return `SELECT ${t.columns.map((c) => exportExpr(c, pseudonymise, mappings)).join(', ')} FROM ${ident(t.table)}${ordered ? ` ORDER BY ${t.order}` : ''}`;
}

/** The pseudonym key a batch needs: an error (exit 2) when pseudonymise is asked for without one. */
export function checkPseudonymKey(pseudonymise: boolean, key: string | undefined): void {
  if (!pseudonymise) return;
  if (!key) throw new InputError('pseudonymise needs a key: set the environment variable DTSEN_PSEUDONYM_KEY', { expected: 'a secret of at least 16 characters' });
  if (key.length < 16) throw new InputError('the pseudonym key in DTSEN_PSEUDONYM_KEY is too short', { expected: 'a secret of at least 16 characters' });
}

/** A table's single Parquet file. */
async function writeFile(db: Db, t: OutputTable, pseudonymise: boolean, mappings: readonly Mapping[], stagingDir: string, previous: boolean): Promise<void> {
  await copyToParquet(db, exportSelect(t, pseudonymise, mappings, sortsOnExport(t.table, previous)), join(stagingDir, t.file));
}

/**
 * The folder of the rows whose partition key is NULL (an unknown province): Hive's own name for it, which pyarrow,
 * Spark and DuckDB all read back as NULL (a folder `province_code=NULL` reads as the text 'NULL' in pyarrow).
 */
export const NULL_PARTITION = '__HIVE_DEFAULT_PARTITION__';

/**
 * The rows of `select` in Hive layout under `dir`, one folder `<key>=<value>` per value of `key`; the key is in
 * the folder names only, not in the files (Spark and pyarrow refuse a column that is in both). A text key of
 * digits ("32") is read back as text only when the reader is told its type (README "Exports for programmes":
 * DuckDB `hive_types`, pyarrow's `partitioning` schema); an unknown value is the folder NULL_PARTITION.
 */
export async function copyToPartitions(db: Db, select: string, dir: string, key: string): Promise<void> {
  await db.run(`COPY (${select}) TO ${lit(dir)} (${PARQUET_OPTIONS}, PARTITION_BY (${ident(key)}))`);
  // Older DuckDB releases named the NULL folder `<key>=NULL`: the name is pinned here, not left to the version.
  const legacy = join(dir, `${key}=NULL`);
  if (existsSync(legacy)) renameSync(legacy, join(dir, `${key}=${NULL_PARTITION}`));
}

/**
 * A table's province partitions (Hive layout). Their row order within a folder is not defined: DuckDB writes
 * partitions in parallel, so sorting the input would not sort them.
 */
async function writePartitions(db: Db, t: OutputTable, pseudonymise: boolean, mappings: readonly Mapping[], stagingDir: string): Promise<void> {
  if (!t.byProvince) return;
  await copyToPartitions(db, exportSelect(t, pseudonymise, mappings, false), join(stagingDir, t.byProvince), 'province_code');
}

/**
 * The files, on two connections at once (DuckDB's two threads are seldom both busy within one COPY): the person
 * table on one, its Arrow file converted in JS while its partitions are written (on a third); the other tables on the
 * other.
 * The pseudonym key and macro belong to a connection, so each one sets them; so do temporary tables, which is why
 * every exported table is a persistent one.
 */
async function writeFiles(ctx: Ctx, pseudonymise: boolean): Promise<Record<string, number>> {
  const { db, stagingDir } = ctx;
  const previous = Boolean(ctx.config.previous);
  const mappings = ctx.sources.map((s) => s.mapping);
  const tables: OutputTable[] = [];
  for (const t of OUTPUT_TABLES) if (await db.tableExists(t.table)) tables.push(t);
  const files: Record<string, number> = {};
  for (const t of tables) {
    files[t.file] = await db.count(`SELECT count(*) FROM ${ident(t.table)}`);
    if (t.byProvince) files[`${t.byProvince}/`] = files[t.file];
  }
  const keyed = <T>(conn: Db, work: () => Promise<T>) => (pseudonymise ? withPseudonymKey(conn, ctx.pseudonymKey!, work) : work());
  const person = tables.find((t) => t.table === 'dtsen_person');
  const others = tables.filter((t) => t !== person);
  // One group: the first failure (a full disk, say) interrupts and awaits the other branches before it is thrown,
  // so no connection is closed while its query runs.
  await concurrently(
    db,
    [
      async (group) => {
        if (!person) return;
        const conn = await group.fork();
        await keyed(conn, () => writeFile(conn, person, pseudonymise, mappings, stagingDir, previous));
        const path = join(stagingDir, person.file);
        const groups = await rowGroups(conn, path);
        // The Arrow file is converted in JS while the partitions are written, in a group of their own inside this one.
        await concurrently(
          db,
          [
            async (inner) => {
              files['dtsen_person.arrow'] = await parquetToArrowFile(path, join(stagingDir, 'dtsen_person.arrow'), groups, 1, inner.signal);
            },
            async (inner) => {
              const parts = await inner.fork();
              await keyed(parts, () => writePartitions(parts, person, pseudonymise, mappings, stagingDir));
            },
          ],
          group.signal,
        );
      },
      async (group) => {
        const conn = await group.fork();
        await keyed(conn, async () => {
          for (const t of others) {
            await writeFile(conn, t, pseudonymise, mappings, stagingDir, previous);
            await writePartitions(conn, t, pseudonymise, mappings, stagingDir);
          }
        });
      },
    ],
    ctx.signal,
  );
  return files;
}

/** The analyst's views export adds to the database. */
export const EXPORT_TABLES: readonly TableDeclaration[] = [
  { name: 'person_programmes', description: 'one row per person with the programmes received', columns: [{ name: 'dtsen_id', type: 'VARCHAR' }, { name: 'pkh', type: 'BOOLEAN' }, { name: 'bpnt', type: 'BOOLEAN' }, { name: 'pbi_jkn', type: 'BOOLEAN' }, { name: 'programmes', type: 'VARCHAR[]' }], grain: [] },
  { name: 'family_members', description: 'one row per member of a family', columns: [{ name: 'family_id', type: 'VARCHAR' }, { name: 'dtsen_id', type: 'VARCHAR' }, { name: 'is_head', type: 'BOOLEAN' }], grain: [] },
  { name: 'coverage_by_region', description: 'persons and families per regency and source combination', columns: [{ name: 'province_code', type: 'VARCHAR' }, { name: 'regency_code', type: 'VARCHAR' }, { name: 'persons', type: 'BIGINT' }, { name: 'families', type: 'BIGINT' }], grain: [] },
];

export const exportStage = defineStage({
  name: 'export',
  produces: EXPORT_TABLES,
  async run(ctx) {
    const { db } = ctx;
    const pseudonymise = ctx.config.pseudonymise;
    checkPseudonymKey(pseudonymise, ctx.pseudonymKey);
    const files = await writeFiles(ctx, pseudonymise);
    const present = new Set<string>();
    for (const t of OUTPUT_TABLES) if (await db.tableExists(t.table)) present.add(t.table);
    await db.run(commentSql(present));
    for (const v of ANALYST_VIEWS) {
      await db.run(`CREATE OR REPLACE VIEW ${ident(v.name)} AS ${v.sql}; COMMENT ON VIEW ${ident(v.name)} IS ${lit(v.description)};`);
    }
    return { rows: files['dtsen_person.parquet'] ?? 0, figures: { files, pseudonymised: pseudonymise, views: ANALYST_VIEWS.map((v) => v.name) } };
  },
});
