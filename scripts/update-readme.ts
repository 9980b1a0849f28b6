// Rewrites the generated sections of README.md and the JSON Schemas of schemas/ (make docs).
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../src/engine/files.ts';
import { renderReadme } from '../src/readme.ts';
import { jsonSchemaText } from '../src/reference.ts';

const path = new URL('../README.md', import.meta.url);
await writeFileAtomic(path.pathname, renderReadme(readFileSync(path, 'utf8')));
for (const kind of ['config', 'mapping'] as const) {
  await writeFileAtomic(new URL(`../schemas/${kind}.schema.json`, import.meta.url).pathname, jsonSchemaText(kind));
}
