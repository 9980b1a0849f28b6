import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { anchorOf, renderReadme, topHeadings } from '../src/readme.ts';
import { CONFIG_KEYS, MAPPING_KEYS, jsonSchemaText, schemaKeys } from '../src/reference.ts';
import { loadConfig } from '../src/engine/config.ts';

const readme = readFileSync('README.md', 'utf8');
const generated = (name: string) => readme.split(`<!-- begin generated: ${name} (make docs) -->`)[1].split(`<!-- end generated: ${name} -->`)[0];

describe('the config and mapping reference: JSON Schemas and README from the zod schemas', () => {
  it('every key of the schemas has a meaning, and every meaning a key', () => {
    for (const [kind, keys] of [['config', CONFIG_KEYS], ['mapping', MAPPING_KEYS]] as const) {
      const paths = schemaKeys(kind).map(([p]) => p);
      expect(paths.filter((p) => !keys[p]), `${kind} keys without a meaning in src/reference.ts`).toEqual([]);
      expect(Object.keys(keys).filter((k) => !paths.includes(k)), `${kind} meanings of no key`).toEqual([]);
    }
  });

  it('the README lists every key with its type, default and meaning, as make docs writes it', () => {
    expect(renderReadme(readme) === readme, 'README is out of date: run make docs').toBe(true);
    for (const [kind, section] of [['config', 'config-keys'], ['mapping', 'mapping-keys']] as const) {
      const text = generated(section);
      for (const [path, node] of schemaKeys(kind)) {
        const row = text.split('\n').find((l) => l.startsWith(`| \`${path}\``));
        expect(row, `${kind} key ${path}`).toBeTruthy();
        expect(row!.split(' | ').length, `${kind} key ${path}: type, default, meaning`).toBe(4);
        if (node.default !== undefined && JSON.stringify(node.default).length <= 60) expect(row).toContain(`\`${JSON.stringify(node.default)}\``);
      }
    }
    for (const key of ['date_formats', 'values', 'optional_columns', 'max_quarantine_share', 'snapshot_date']) expect(readme).toMatch(new RegExp(`\\| \`${key}\``));
    expect(generated('date-formats')).toContain('%d');
  });

  it('the JSON Schemas under schemas/ are what the zod schemas give, and the shipped configs and mappings point to them', async () => {
    for (const kind of ['config', 'mapping'] as const) {
      const file = `schemas/${kind}.schema.json`;
      expect(readFileSync(file, 'utf8') === jsonSchemaText(kind), `${file} is out of date: run make docs`).toBe(true);
      const schema = JSON.parse(readFileSync(file, 'utf8'));
      expect(schema.additionalProperties).toBe(false);
      expect(schema.properties.$schema).toBeTruthy();
    }
    const config = JSON.parse(readFileSync('pipelines/sample.json', 'utf8'));
    expect(resolve('pipelines', config.$schema)).toBe(resolve('schemas/config.schema.json'));
    for (const s of ['dtks', 'regsosek', 'p3ke']) {
      const path = join('pipelines/sources', `${s}.json`);
      const m = JSON.parse(readFileSync(path, 'utf8'));
      expect(existsSync(resolve(dirname(path), m.$schema)), path).toBe(true);
      expect(resolve(dirname(path), m.$schema)).toBe(resolve('schemas/mapping.schema.json'));
    }
    // dtsen itself reads them, $schema and all
    expect((await loadConfig(resolve('pipelines/sample.json'))).sources.map((s) => s.mapping.source)).toEqual(['dtks', 'regsosek', 'p3ke']);
  });

  it('the table of contents at the top lists every ## section, in order, as make docs writes it', () => {
    const toc = generated('toc');
    const headings = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]).filter((h) => topHeadings(readme).includes(h));
    expect(headings.length).toBeGreaterThan(5);
    expect([...toc.matchAll(/^- \[(.+)\]\(#(.+)\)$/gm)].map((m) => [m[1], m[2]])).toEqual(headings.map((h) => [h, anchorOf(h)]));
    expect(readme.indexOf(toc)).toBeLessThan(readme.indexOf('\n## '));
    expect(anchorOf('Explaining a link, querying a batch')).toBe('explaining-a-link-querying-a-batch');
    // a section added without make docs is caught
    expect(renderReadme(`${readme}\n## Another section\n`).includes('- [Another section](#another-section)')).toBe(true);
  });
});
