/**
 * The data dictionary, produced from schemas/outputs.ts: the README's section and the COMMENT ON TABLE/COLUMN
 * statements of dtsen.duckdb. A test checks that both agree with the schema.
 */
import { ident, lit } from '../../engine/db.ts';
import { OUTPUT_TABLES } from '../../../schemas/outputs.ts';

const cell = (s: string) => s.replaceAll('|', '\\|');

/** Markdown: one table per exported table, every column with its type and meaning. */
export function dataDictionaryMarkdown(): string {
  const parts: string[] = [];
  for (const t of OUTPUT_TABLES) {
    const where = [`\`${t.file}\``, t.byProvince && `\`${t.byProvince}/\``, `table \`${t.table}\``].filter(Boolean).join(', ');
    parts.push(`#### ${t.table}\n\n${t.description} (${where}).\n`);
    parts.push('| column | type | meaning |\n| --- | --- | --- |');
    for (const c of t.columns) parts.push(`| \`${c.name}\` | ${cell(c.type)} | ${cell(c.description)}${c.pseudonym ? ' (pseudonymised)' : ''} |`);
    parts.push('');
  }
  return parts.join('\n');
}

/** Markdown table of rules (field → rule). */
export function rulesMarkdown(rules: readonly { field: string; rule: string }[]): string {
  return ['| field | rule |', '| --- | --- |', ...rules.map((r) => `| \`${r.field}\` | ${cell(r.rule)} |`), ''].join('\n');
}

/** COMMENT ON TABLE/COLUMN for every exported table present in the database. */
export function commentSql(present: ReadonlySet<string>): string {
  return OUTPUT_TABLES.filter((t) => present.has(t.table))
    .flatMap((t) => [
      `COMMENT ON TABLE ${ident(t.table)} IS ${lit(t.description)};`,
      ...t.columns.map((c) => `COMMENT ON COLUMN ${ident(t.table)}.${ident(c.name)} IS ${lit(c.description)};`),
    ])
    .join('\n');
}
