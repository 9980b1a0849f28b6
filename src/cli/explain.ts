/** `dtsen explain` and `dtsen sql`: reading a finished batch (its database opened read-only). */
import type { Command } from 'commander';
import { InputError } from '../engine/errors.ts';
import { READ_STATEMENTS } from '../explain/read-statements.ts';
import { printTable } from '../engine/text-table.ts';
import { positiveInt } from './args.ts';

export function addExplainCommands(program: Command, out: NodeJS.WritableStream): void {
  program
    .command('explain')
    .description('explain a pair of records (match-weight waterfall) or one record (its person and the links holding it)')
    .argument('<records...>', 'one or two records as SOURCE:ID (dtks, regsosek or p3ke, and the source\'s own record id)')
    .requiredOption('-o, --out <dir>', 'the batch output folder (holds dtsen.duckdb)')
    .option('--show-values', 'show NIKs, names and the other compared values (personal data; masked by default)')
    .option('--json', 'print JSON')
    .action(async (records: string[], f: { out: string; showValues?: boolean; json?: boolean }) => {
      if (records.length > 2) throw new InputError(`explain takes one or two records, got ${records.length}`);
      // Imported here, not at the top: they load DuckDB, which --help and the other commands need not wait for.
      const { batchModel, openBatch, parseRecordRef, resolveRecords } = await import('../explain/batch.ts');
      const { explainPair } = await import('../explain/pair.ts');
      const { explainRecord } = await import('../explain/record.ts');
      const { renderPair, renderRecord } = await import('../explain/render.ts');
      const refs = records.map(parseRecordRef);
      const batch = await openBatch(f.out);
      try {
        const resolved = await resolveRecords(batch, refs);
        const opts = { showValues: f.showValues === true };
        if (resolved.length === 2) {
          if (resolved[0].recId === resolved[1].recId) throw new InputError('the two records are the same record');
          const e = await explainPair(batch, await batchModel(batch), resolved[0], resolved[1], opts);
          if (f.json) out.write(`${JSON.stringify(e, null, 2)}\n`);
          else renderPair(out, e);
          if (e.stored && e.stored.differing.length) {
            throw new Error(`explain disagrees with scored_pairs on ${e.stored.differing.join(', ')}: the batch was scored by another version of the comparisons or model`);
          }
        } else {
          const e = await explainRecord(batch, resolved[0], opts);
          if (f.json) out.write(`${JSON.stringify(e, null, 2)}\n`);
          else renderRecord(out, e);
        }
      } finally {
        await batch.close();
      }
    });

  program
    .command('sql')
    .description(`run ${READ_STATEMENTS} on a finished batch's database (read-only) and print the result`)
    .argument('<query>', 'SQL: exactly one read statement; files outside the database cannot be read')
    .requiredOption('-o, --out <dir>', 'the batch output folder (holds dtsen.duckdb)')
    .option('--csv', 'print CSV')
    .option('--json', 'print JSON (an array of row objects)')
    .option('--limit <n>', 'print at most this many rows', positiveInt, 1000)
    .action(async (query: string, f: { out: string; csv?: boolean; json?: boolean; limit: number }) => {
      if (f.csv && f.json) throw new InputError('--csv and --json exclude each other');
      const { openBatch } = await import('../explain/batch.ts');
      const { cellText, runQuery, toCsv } = await import('../explain/query.ts');
      const batch = await openBatch(f.out);
      try {
        const r = await runQuery(batch.db, query, f.limit);
        if (f.json) out.write(`${JSON.stringify(r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i]]))), null, 2)}\n`);
        else if (f.csv) out.write(toCsv(r));
        else printTable(out, r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, cellText(row[i])]))), r.columns);
        const note = r.truncated ? `only the first ${f.limit} rows shown; the result has more (--limit N)` : '';
        // The note goes to stderr for CSV and JSON, so the output stays machine-readable.
        if (note) (f.csv || f.json ? process.stderr : out).write(`${f.csv || f.json ? 'dtsen: ' : '\n'}${note}\n`);
        else if (!f.csv && !f.json) out.write(`\n${r.rows.length.toLocaleString('en-US')} row${r.rows.length === 1 ? '' : 's'}\n`);
      } finally {
        await batch.close();
      }
    });
}
