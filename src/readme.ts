/**
 * The README sections generated from code (table of contents, data dictionary, survivorship and family rules), each between
 * `<!-- begin generated: NAME -->` and `<!-- end generated: NAME -->`. `make docs` rewrites them; a test checks
 * that the README holds exactly what the code says.
 */
import { dataDictionaryMarkdown, rulesMarkdown } from './stages/export/dictionary.ts';
import { FAMILY_RULES, SURVIVORSHIP_RULES } from './stages/survive/index.ts';
import { CONFIG_REQUIRED, MAPPING_REQUIRED, dateFormatsMarkdown, keysMarkdown } from './reference.ts';

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes. */
export function anchorOf(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

/** The README's `##` headings, in order (those inside code blocks aside). */
export function topHeadings(readme: string): string[] {
  let fence = false;
  const out: string[] = [];
  for (const line of readme.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fence = !fence;
    else if (!fence && /^## /.test(line)) out.push(line.slice(3).trim());
  }
  return out;
}

/** The table of contents: a link to every `##` section. */
export function tocMarkdown(readme: string): string {
  return topHeadings(readme).map((h) => `- [${h}](#${anchorOf(h)})`).join('\n');
}

export const README_SECTIONS: Record<string, (readme: string) => string> = {
  toc: tocMarkdown,
  survivorship: () => rulesMarkdown(SURVIVORSHIP_RULES),
  families: () => rulesMarkdown(FAMILY_RULES),
  'data-dictionary': () => dataDictionaryMarkdown(),
  'config-keys': () => keysMarkdown('config', CONFIG_REQUIRED),
  'mapping-keys': () => keysMarkdown('mapping', MAPPING_REQUIRED),
  'date-formats': () => dateFormatsMarkdown(),
};

export const begin = (name: string) => `<!-- begin generated: ${name} (make docs) -->`;
export const end = (name: string) => `<!-- end generated: ${name} -->`;

/** The README with every generated section replaced by what the code says now. */
export function renderReadme(readme: string): string {
  let out = readme;
  for (const [name, make] of Object.entries(README_SECTIONS)) {
    const a = out.indexOf(begin(name));
    const b = out.indexOf(end(name));
    if (a < 0 || b < a) throw new Error(`README has no generated section ${name} (${begin(name)} … ${end(name)})`);
    out = `${out.slice(0, a + begin(name).length)}\n\n${make(out)}\n${out.slice(b)}`;
  }
  return out;
}
