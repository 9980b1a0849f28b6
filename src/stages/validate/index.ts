/**
 * Validate: source_record → accepted_record + quarantine (with reasons and raw values), and the
 * reconciliation per source: rows read = rows accepted + rows quarantined, checked here, never assumed.
 */
import { defineStage, type TableDeclaration } from '../../engine/context.ts';
import { ingestStage } from '../ingest/index.ts';
import { lit } from '../../engine/db.ts';
import { InputError } from '../../engine/errors.ts';
import { classifyQuery } from './rules.sql.ts';
import { materialise } from '../../engine/sql-pipeline.ts';
import { checkFieldQuality } from './quality.ts';

export interface Reconciliation {
  source: string;
  rows_read: number;
  rows_accepted: number;
  rows_quarantined: number;
  reconciled: boolean;
}

/** What validate produces: the accepted records and the quarantine, which together hold every row read. */
export const VALIDATE_TABLES: readonly TableDeclaration[] = [
  { name: 'accepted_record', description: 'the rows that passed validation', columns: [{ name: 'source', type: 'VARCHAR' }, { name: 'file', type: 'VARCHAR' }, { name: 'row_number' }, { name: 'source_record_id', type: 'VARCHAR' }], grain: [] },
  { name: 'quarantine', description: 'every rejected row with its reason', columns: [{ name: 'source', type: 'VARCHAR' }, { name: 'source_record_id', type: 'VARCHAR' }, { name: 'file', type: 'VARCHAR' }, { name: 'row_number' }, { name: 'reason', type: 'VARCHAR' }, { name: 'raw', type: 'VARCHAR' }], grain: [] },
];

export const validateStage = defineStage({
  name: 'validate',
  reads: [ingestStage],
  produces: VALIDATE_TABLES,
  async run(ctx, prior) {
    const { db } = ctx;
    // The columns validate reads of every source row, read once from the raw tables (source_record is a view over
    // them) into memory: the rules, the reconciliation and the quality gates all read this copy while this runs.
    await using input = await materialise(db, 'validate_input', `
      SELECT rid, source, file, row_number, source_record_id, nik, name, no_kk, birth_date, village_code, relation, sex FROM source_record`);
    // validation_reason(rid, reason) and quarantined_record(source, source_record_id, file, row_number, reason): while this runs
    await using quarantineReasons = await materialise(db, 'validation_reason', classifyQuery(String(input)));
    await using quarantined = await materialise(db, 'quarantined_record', `
      SELECT s.source, s.source_record_id, s.file, s.row_number, v.reason
      FROM (SELECT source, source_record_id, file, row_number, rid FROM ${input}) s JOIN ${quarantineReasons} v USING (rid)`);
    // the accepted rows of the copy (what accepted_record holds, with the columns above)
    const acceptedRows = `(SELECT * FROM ${input} WHERE rid NOT IN (SELECT rid FROM ${quarantineReasons}))`;
    const rawJoin = ctx.sources
      .map(
        (s) => `SELECT v.source, nullif(trim(v.source_record_id), '') AS source_record_id, v.file, v.row_number, v.reason, to_json(r) :: VARCHAR AS raw
                FROM ${quarantined} v JOIN raw_${s.name} r ON r._file = v.file AND r._row = v.row_number
                WHERE v.source = ${lit(s.name)}`,
      )
      .join(' UNION ALL ');
    await db.run(`
      -- accepted_record is a view (every source row not quarantined, with its rid):
      -- the records are not written to the database a second time.
      CREATE OR REPLACE TABLE validation_quarantined AS SELECT rid FROM ${quarantineReasons};
      CREATE OR REPLACE VIEW accepted_record AS
        SELECT s.* FROM source_record s WHERE s.rid NOT IN (SELECT rid FROM validation_quarantined);
      CREATE OR REPLACE TABLE quarantine AS
        SELECT source, NULL::VARCHAR AS source_record_id, file, row_number, reason, raw FROM ingest_rejects
        UNION ALL ${rawJoin}
        ORDER BY source, file, row_number;
    `);
    const ingest = prior.ingest?.sources ?? [];
    const counts = await db.all<{ source: string; accepted: string; quarantined: string }>(`
      SELECT s.source, coalesce(a.n, 0) AS accepted, coalesce(q.n, 0) AS quarantined
      FROM (SELECT unnest(${`[${ctx.sources.map((s) => lit(s.name)).join(', ')}]`}) AS source) s
      LEFT JOIN (SELECT source, count(*) AS n FROM ${acceptedRows} GROUP BY ALL) a USING (source)
      LEFT JOIN (SELECT source, count(*) AS n FROM quarantine GROUP BY ALL) q USING (source)`);
    // in the order of the batch's sources (the join above gives its rows in no set order)
    const order = (source: string) => ctx.sources.findIndex((s) => s.name === source);
    counts.sort((a, b) => order(a.source) - order(b.source));
    const reconciliation: Reconciliation[] = counts.map((c) => {
      const rowsRead = ingest.find((i) => i.source === c.source)?.rows_read ?? Number.NaN;
      const accepted = Number(c.accepted);
      const quarantined = Number(c.quarantined);
      return { source: c.source, rows_read: rowsRead, rows_accepted: accepted, rows_quarantined: quarantined, reconciled: rowsRead === accepted + quarantined };
    });
    const broken = reconciliation.filter((r) => !r.reconciled);
    if (broken.length > 0) {
      throw new Error(`reconciliation failed: ${broken.map((b) => `${b.source} read ${b.rows_read} ≠ accepted ${b.rows_accepted} + quarantined ${b.rows_quarantined}`).join('; ')}`);
    }
    const reasons = await db.all<{ source: string; reason: string; rows: string }>(`
      SELECT source, CASE WHEN reason LIKE 'malformed_line%' THEN split_part(reason, ' (', 1) ELSE reason END AS reason, count(*) AS rows
      FROM quarantine GROUP BY ALL ORDER BY source, rows DESC, reason`);
    for (const r of reconciliation) {
      ctx.log.info({ stage: 'validate', ...r }, 'reconciled');
      const share = r.rows_read > 0 ? r.rows_quarantined / r.rows_read : 0;
      if (share > ctx.config.max_quarantine_share) {
        const first = await db.one<{ file: string; row_number: string; reason: string }>(
          `SELECT file, row_number, reason FROM quarantine WHERE source = ${lit(r.source)} ORDER BY file, row_number LIMIT 1`,
        );
        throw new InputError(
          `${(share * 100).toFixed(1)}% of the ${r.source} rows were quarantined (limit ${ctx.config.max_quarantine_share * 100}%, max_quarantine_share); the first: ${first?.reason}`,
          { file: first?.file, row: first ? Number(first.row_number) : undefined, expected: 'a snapshot in the layout its mapping describes' },
        );
      }
    }
    // Data-quality gates: a field that mostly fails to parse (a wrong format, a wrong column) fails the batch here.
    const quality = await checkFieldQuality(ctx, acceptedRows);
    const accepted = reconciliation.reduce((a, r) => a + r.rows_accepted, 0);
    return {
      rows: accepted,
      figures: {
        reconciliation,
        quarantine_reasons: reasons.map((r) => ({ source: r.source, reason: r.reason, rows: Number(r.rows) })),
        field_quality: quality.field_quality,
        quality_warnings: quality.quality_warnings,
      },
    };
  },
});
