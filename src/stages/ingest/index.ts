/**
 * Ingest: every snapshot file → raw_<source> (its own columns as text + lineage), mapped onto the canonical
 * fields → source_record (a view over the raw tables, with rid); unparseable lines → ingest_rejects. The sources load concurrently (p-queue).
 */
import PQueue from 'p-queue';
import { stat } from 'node:fs/promises';
import { defineStage, type TableDeclaration } from '../../engine/context.ts';
import type { ResolvedSource } from '../../engine/context.ts';
import { TaskGroup, type Db } from '../../engine/db.ts';
import { ident, lit } from '../../engine/db.ts';
import { closest } from '../../engine/suggest.ts';
import { InputError } from '../../engine/errors.ts';
import { CANONICAL_FIELD_NAMES, SOURCES, type CanonicalField } from '../../../schemas/canonical.ts';
import { listSnapshotFiles, type SnapshotFiles } from './files.ts';
import { readSnapshotFile } from './read.ts';
import { TempTables } from '../../engine/sql-pipeline.ts';

export interface SourceIngest {
  /** SQL mapping raw_<source> onto the canonical fields, with lineage (not a figure: dropped from them) */
  recordSql?: string;
  source: string;
  format: string;
  files: { file: string; rows: number; rejected: number; encoding?: string }[];
  rows_read: number;
  rows_parsed: number;
  rows_rejected: number;
}

/** A column the mapping names as optional that a file does not have: its field is NULL for the file's rows. */
export interface MissingOptionalColumn {
  source: string;
  file: string;
  field: CanonicalField;
  column: string;
}

/** Finds the file column a canonical field maps to (case and surrounding spaces ignored). */
function resolveColumns(src: ResolvedSource, file: string, columns: string[], absent: MissingOptionalColumn[]): Map<CanonicalField, string> {
  const byKey = new Map(columns.map((c) => [c.trim().toUpperCase(), c]));
  const out = new Map<CanonicalField, string>();
  const missing: { field: CanonicalField; column: string }[] = [];
  for (const [field, col] of Object.entries(src.mapping.columns) as [CanonicalField, string][]) {
    const found = byKey.get(col.trim().toUpperCase());
    if (found !== undefined) out.set(field, found);
    else if (!src.mapping.optional_columns.includes(field)) missing.push({ field, column: col });
    else absent.push({ source: src.name, file, field, column: col });
  }
  if (missing.length > 0) {
    // The closest column of the file to each missing one, among those no other field takes, and the line to write.
    const taken = new Set(out.values());
    const free = columns.filter((c) => !taken.has(c));
    const fixes = missing.map((m) => {
      const near = closest(m.column, free);
      return `${m.column} (field ${m.field})${near ? `: closest column found ${near} — write "${m.field}": ${JSON.stringify(near)} under "columns"` : ''}`;
    });
    throw new InputError(`missing column${missing.length > 1 ? 's' : ''} ${fixes.join('; ')} in the mapping ${src.mappingPath}`, {
      file,
      column: missing[0].column,
      expected: `the columns named in the mapping ${src.mappingPath} (or the field listed in its optional_columns)`,
      found: `columns ${columns.slice(0, 30).join(', ')}${columns.length > 30 ? ', …' : ''}`,
    });
  }
  return out;
}

async function ingestSource(
  db: Db,
  src: ResolvedSource,
  snapshot: SnapshotFiles,
  snapshotId: string,
  absent: MissingOptionalColumn[],
  onFile?: (file: string, rows: number) => void,
): Promise<SourceIngest> {
  const { format, files } = snapshot;
  const perFile: SourceIngest['files'] = [];
  const recordSelects: string[] = [];
  const rawSelects: string[] = [];
  const rejectSelects: string[] = [];
  // each file's TEMP tables (its lines, its rejects), dropped once the source's tables hold them
  await using fileTables = new TempTables();
  for (const [i, file] of files.entries()) {
    const r = await readSnapshotFile(db, format, file, `ingest_${src.name}_${i}`, src.mapping);
    fileTables.add(r.table);
    fileTables.add(r.rejects);
    perFile.push({ file, rows: r.rows, rejected: r.rejected, encoding: r.encoding });
    onFile?.(file, r.rows + r.rejected);
    const cols = resolveColumns(src, file, r.columns, absent);
    const fields = CANONICAL_FIELD_NAMES.map((f) => {
      const c = cols.get(f);
      return `${c ? `CAST(${ident(c)} AS VARCHAR)` : 'NULL::VARCHAR'} AS ${f}`;
    });
    const lineage = `${lit(src.name)} AS source, ${lit(file)} AS file, _row AS row_number, ${lit(snapshotId)} AS snapshot_id`;
    // rid: the row's identity in source_record (the source's index above the raw table's rowid; raw tables never change)
    const rid = `((${SOURCES.indexOf(src.name)}::BIGINT << 40) | rowid) AS rid`;
    recordSelects.push(`SELECT ${lineage}, ${fields.join(', ')}, ${rid} FROM raw_${src.name}${files.length > 1 ? ` WHERE _file = ${lit(file)}` : ''}`);
    rawSelects.push(`SELECT ${lit(file)} AS _file, *${r.rowFromRowid ? ', rowid + 1 AS _row' : ''} FROM ${r.table}`);
    rejectSelects.push(`SELECT ${lit(src.name)} AS source, ${lit(file)} AS file, row_number, reason, raw FROM ${r.rejects}`);
  }
  await db.run(`
    CREATE OR REPLACE TABLE raw_${src.name} AS ${rawSelects.join(' UNION ALL BY NAME ')};
    CREATE OR REPLACE TABLE ingest_rejects_${src.name} AS ${rejectSelects.join(' UNION ALL ')};
  `);
  await fileTables.drop();
  const parsed = perFile.reduce((a, f) => a + f.rows, 0);
  const rejected = perFile.reduce((a, f) => a + f.rejected, 0);
  return {
    source: src.name,
    recordSql: recordSelects.join(' UNION ALL '),
    format,
    files: perFile,
    rows_read: parsed + rejected,
    rows_parsed: parsed,
    rows_rejected: rejected,
  };
}

/** What ingest produces for validate: every row read, and the rows no reader could take. */
export const INGEST_TABLES: readonly TableDeclaration[] = [
  { name: 'source_record', description: 'every row read, mapped to the canonical columns (text)', columns: [{ name: 'source', type: 'VARCHAR' }, { name: 'file', type: 'VARCHAR' }, { name: 'row_number' }, { name: 'source_record_id', type: 'VARCHAR' }, { name: 'nik', type: 'VARCHAR' }, { name: 'name', type: 'VARCHAR' }], grain: [] },
  { name: 'ingest_rejects', description: 'rows a reader rejected, with the reason', columns: [{ name: 'source', type: 'VARCHAR' }, { name: 'file', type: 'VARCHAR' }, { name: 'row_number' }, { name: 'reason', type: 'VARCHAR' }, { name: 'raw', type: 'VARCHAR' }], grain: [] },
];

export const ingestStage = defineStage({
  name: 'ingest',
  produces: INGEST_TABLES,
  async run(ctx) {
    const absent: MissingOptionalColumn[] = [];
    // Progress: rows read so far, and the bytes of the files read against the bytes of all the snapshot files.
    // Each snapshot is listed once, here, for the sizes and for its reading.
    const snapshots = new Map<ResolvedSource, SnapshotFiles>();
    const sizes = new Map<string, number>();
    for (const src of ctx.sources) {
      const snapshot = await listSnapshotFiles(src.path, src.mapping.format);
      snapshots.set(src, snapshot);
      for (const file of snapshot.files) sizes.set(file, (await stat(file)).size);
    }
    const work = { done: 0, total: [...sizes.values()].reduce((a, b) => a + b, 0), unit: 'bytes' as const };
    let rowsRead = 0;
    const onFile = (src: ResolvedSource) => (file: string, rows: number) => {
      rowsRead += rows;
      work.done += sizes.get(file) ?? 0;
      ctx.progress.update('ingest', rowsRead, src.name, { ...work });
    };
    // The sources load at once, each on its own connection. The first failure cancels the rest: the queue is
    // cleared (no further source starts), the running reads are interrupted and awaited, then that error is thrown.
    const queue = new PQueue({ concurrency: Math.max(1, Math.min(ctx.sources.length, ctx.config.threads ?? 2)) });
    const group = new TaskGroup(ctx.db, ctx.signal);
    group.onCancel(() => queue.clear());
    const pending = ctx.sources.map((src) =>
      queue.add(() =>
        group.run(async () => {
          const conn = await group.fork();
          try {
            const r = await ingestSource(conn, src, snapshots.get(src)!, ctx.config.snapshot_id, absent, onFile(src));
            if (group.cancelled) return r;
            ctx.log.info({ stage: 'ingest', source: src.name, format: r.format, files: r.files.length, rows_read: r.rows_read, rows_rejected: r.rows_rejected }, 'source read');
            return r;
          } finally {
            await conn.close();
          }
        }),
      ),
    );
    // A cleared task never settles: wait for the queue to be idle, not for every task's promise.
    await queue.onIdle();
    await group.wait();
    const results = (await Promise.all(pending)) as SourceIngest[];
    const sources = results.map(({ recordSql, ...figures }) => ({ recordSql: recordSql!, figures }));
    await ctx.db.run(`
      -- a view: the mapping is a projection of the raw tables, and the rows are not written a second time
      CREATE OR REPLACE VIEW source_record AS ${sources.map((s) => s.recordSql).join(' UNION ALL ')};
      CREATE OR REPLACE TABLE ingest_rejects AS ${sources.map((s) => `SELECT * FROM ingest_rejects_${s.figures.source}`).join(' UNION ALL ')};
      ${sources.map((s) => `DROP TABLE ingest_rejects_${s.figures.source};`).join('\n')}
    `);
    const rows = sources.reduce((a, s) => a + s.figures.rows_read, 0);
    // An optional column a file lacks is not an error, but its field is NULL for every row of the file: said, not silent.
    const order = (m: MissingOptionalColumn) => `${SOURCES.indexOf(m.source as (typeof SOURCES)[number])}\0${m.file}\0${m.column}`;
    const missing = absent.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
    for (const m of missing) ctx.log.warn({ stage: 'ingest', ...m }, 'optional column missing: its field is empty for this file');
    return { rows, figures: { sources: sources.map((s) => s.figures), missing_optional_columns: missing } };
  },
});
