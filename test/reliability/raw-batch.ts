/**
 * Test helper (spawned by readonly.test.ts): opens a batch through the engine's openBatch and runs each
 * statement given on the command line as it is — past the statement check of `dtsen sql` — so the test sees
 * what the sealed database itself refuses. Prints one JSON array: { sql, ok, rows | error } per statement.
 *
 *   node --import tsx test/reliability/raw-batch.ts BATCH_DIR ALLOWED_PATH_OR_EMPTY SQL...
 */
import { openBatch } from '../../src/engine/batch.ts';

const [dir, allowed, ...statements] = process.argv.slice(2);
const batch = await openBatch(dir, { allowedPaths: allowed ? [allowed] : [] });
const results: { sql: string; ok: boolean; rows?: unknown[]; error?: string }[] = [];
try {
  for (const sql of statements) {
    try {
      results.push({ sql, ok: true, rows: await batch.db.all(sql) });
    } catch (e) {
      results.push({ sql, ok: false, error: (e as Error).message.split('\n')[0] });
    }
  }
} finally {
  await batch.close();
}
process.stdout.write(JSON.stringify(results));
