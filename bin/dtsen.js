#!/usr/bin/env node
// Entry point of the installed command: runs the compiled CLI (dist/, built by `npm run build`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('dtsen: the compiled code is missing (dist/); run `npm run build` in the checkout first\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
