// Rewrites the generated sections of README.md (make docs).
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../src/engine/files.ts';
import { renderReadme } from '../src/readme.ts';

const path = new URL('../README.md', import.meta.url);
await writeFileAtomic(path.pathname, renderReadme(readFileSync(path, 'utf8')));
