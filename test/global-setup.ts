/** Builds the compiled CLI (dist/) once before the suites, so tests that spawn bin/dtsen.js run the current code. */
import { spawnSync } from 'node:child_process';

export default function setup(): void {
  const r = spawnSync('npm', ['run', 'build', '--silent'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm run build failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
}
