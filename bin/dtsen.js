#!/usr/bin/env node
// Entry point of the installed command: runs the compiled CLI (dist/, built by `npm run build`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('dtsen: the compiled code is missing (dist/); run `npm run build` in the checkout first\n');
  process.exit(1);
}
// Output piped into a command that stops reading early (`dtsen sql … | head`): end quietly, not with a stack.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
