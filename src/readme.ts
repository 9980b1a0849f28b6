/**
 * The README sections generated from code (data dictionary, survivorship and family rules), each between
 * `<!-- begin generated: NAME -->` and `<!-- end generated: NAME -->`. `make docs` rewrites them; a test checks
 * that the README holds exactly what the code says.
 */
import { dataDictionaryMarkdown, rulesMarkdown } from './stages/export/dictionary.ts';
import { FAMILY_RULES, SURVIVORSHIP_RULES } from './stages/survive/index.ts';
import { CONFIG_REQUIRED, MAPPING_REQUIRED, dateFormatsMarkdown, keysMarkdown } from './reference.ts';

export const README_SECTIONS: Record<string, () => string> = {
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
    out = `${out.slice(0, a + begin(name).length)}\n\n${make()}\n${out.slice(b)}`;
  }
  return out;
}
