// Runs vitest and ends with the plain line CI reads: "N passed, N failed".
// The tests' temporary folders (and those of the batches they spawn) go under one folder of this run (TMPDIR),
// removed when every test passed and kept, with its path printed, when one failed.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'dtsen-vitest-'));
const report = join(dir, 'report.json');
const args = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)];
const temp = join(dir, 'tmp');
mkdirSync(temp);
const r = spawnSync('npx', args, { stdio: 'inherit', env: { ...process.env, TMPDIR: temp } });
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const json = JSON.parse(readFileSync(report, 'utf8'));
  passed = json.numPassedTests ?? 0;
  // a failed test fails its file and describe blocks too: suites count only when no test failed (a file that
  // does not load, a hook that throws)
  failed = json.numFailedTests || (json.numFailedTestSuites ?? 0);
  skipped = (json.numPendingTests ?? 0) + (json.numTodoTests ?? 0);
} catch {
  failed = Math.max(1, failed);
}
// vitest failing outside any test (its global setup, a file that does not load) still counts as a failure
if (r.status !== 0 && failed === 0) failed = 1;
const code = r.status === 0 && failed === 0 && passed > 0 ? 0 : 1;
if (code === 0) rmSync(dir, { recursive: true, force: true });
else {
  rmSync(report, { force: true });
  console.log(`the tests' temporary folders are kept in ${temp}`);
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(code);
