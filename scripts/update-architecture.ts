// Rewrites the generated section of docs/architecture.md from the stage declarations (make docs).
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../src/engine/files.ts';
import { renderArchitecture } from '../src/architecture.ts';
import { BATCH_STAGES } from '../src/pipeline.ts';

const path = new URL('../docs/architecture.md', import.meta.url);
await writeFileAtomic(path.pathname, renderArchitecture(readFileSync(path, 'utf8'), BATCH_STAGES));
