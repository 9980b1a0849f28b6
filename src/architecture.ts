/**
 * The stage diagram of docs/architecture.md, drawn from the stage declarations (reads, produces): the document
 * cannot drift from the code (`make docs` rewrites it; a test checks it is current).
 */
import type { AnyStage } from './engine/context.ts';

const BEGIN = '<!-- stages:begin (generated from the stage declarations: make docs) -->';
const END = '<!-- stages:end -->';

/** A Mermaid flowchart: the stages in order, the tables each produces, the figures a stage reads from another. */
export function stageDiagram(stages: readonly AnyStage[]): string {
  const lines = ['```mermaid', 'flowchart LR'];
  stages.forEach((s, i) => {
    lines.push(`  ${s.name}([${s.name}])`);
    if (i > 0) lines.push(`  ${stages[i - 1].name} --> ${s.name}`);
    for (const t of s.produces) lines.push(`  ${s.name} -.-> ${t.name}[(${t.name})]`);
    for (const r of s.reads) lines.push(`  ${r.name} -. figures .-> ${s.name}`);
  });
  lines.push('```');
  return lines.join('\n');
}

/** A table of every declared table: the stage producing it, its grain and the columns later stages rely on. */
export function tableList(stages: readonly AnyStage[]): string {
  const rows = stages.flatMap((s) =>
    s.produces.map((t) => `| \`${t.name}\` | ${s.name} | ${t.grain.length ? t.grain.map((g) => `\`${g}\``).join(', ') : '—'} | ${t.description} | ${t.columns.map((c) => `\`${c.name}\``).join(', ')} |`),
  );
  return ['| table | produced by | grain | what it holds | columns declared |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}

/** The document with its generated section rewritten. */
export function renderArchitecture(doc: string, stages: readonly AnyStage[]): string {
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error('docs/architecture.md lacks the generated stages section markers');
  return `${doc.slice(0, start + BEGIN.length)}\n${stageDiagram(stages)}\n\n${tableList(stages)}\n${doc.slice(end)}`;
}
