/** `dtsen init`: a starting batch config and mappings from the snapshots' headers (the work is in src/init/). */
import type { Command } from 'commander';
import { relative } from 'node:path';
import { InputError } from '../engine/errors.ts';
import { printTable } from '../engine/text-table.ts';

interface InitFlags {
  dtks: string;
  regsosek: string;
  p3ke: string;
  out?: string;
  configDir?: string;
  batch?: string;
  force?: boolean;
}

const shown = (p: string) => {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith('..') ? r : p;
};

export function addInitCommand(program: Command, out: NodeJS.WritableStream): void {
  program
    .command('init')
    .description("write a starting batch config and one mapping per source from the snapshots' column names (reads the headers only)")
    .requiredOption('--dtks <path>', 'DTKS snapshot: a file or a folder of files of one format')
    .requiredOption('--regsosek <path>', 'Regsosek snapshot: a file or a folder')
    .requiredOption('--p3ke <path>', 'P3KE snapshot: a file or a folder')
    .option('-o, --out <dir>', "the batch's output folder, written into the config", 'out')
    .option('--config-dir <dir>', 'where batch.json and sources/<source>.json are written', '.')
    .option('--batch <name>', "the batch name (default: the output folder's name)")
    .option('--force', 'overwrite the files if they exist')
    .action(async (f: InitFlags) => {
      // Imported here: it loads zod and, for Parquet files, DuckDB.
      const { initBatch } = await import('../init/index.ts');
      const r = await initBatch({ paths: { dtks: f.dtks, regsosek: f.regsosek, p3ke: f.p3ke }, out: f.out, configDir: f.configDir, batch: f.batch, force: f.force });
      for (const s of r.sources) {
        const sep = s.header.delimiter === undefined ? '' : `, separator ${s.header.delimiter === '\t' ? 'TAB' : `'${s.header.delimiter}'`}`;
        out.write(`\n${s.source}: ${shown(s.path)} (${s.header.files.length} file${s.header.files.length > 1 ? 's' : ''}, ${s.header.columns.length} columns${sep}) → ${shown(s.mappingPath)}\n`);
        printTable(
          out,
          s.matches.map((m) => ({ field: m.field, column: m.column, matched: m.how === 'name' ? 'by name' : `closest to ${m.known}: check it` })),
          ['field', 'column', 'matched'],
        );
        if (s.dateFormats.length) out.write(`  date format guessed from the first values: ${s.dateFormats.map((d) => `"${d}"`).join(', ')} (date_formats)\n`);
        if (s.header.partial.length) out.write(`  columns only some files have (optional_columns where mapped): ${s.header.partial.join(', ')}\n`);
        if (s.unmatched.length) out.write(`  columns not used: ${s.unmatched.join(', ')}\n`);
      }
      out.write(`\nWrote ${r.files.map(shown).join(', ')}\n`);
      if (r.problems.length) throw new InputError(`the mappings need an edit before validate:\n  ${r.problems.join('\n  ')}`);
      out.write(`Next: check the mappings, then\n  dtsen validate --config ${shown(r.configPath)}\n  dtsen run --config ${shown(r.configPath)}\n`);
    });
}
