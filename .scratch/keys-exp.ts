import { Db } from '../src/engine/db.ts';
import { BLOCKING_RULES } from '../src/linkage/blocking-rules.ts';
import { ruleKeysSql } from '../src/linkage/blocking.ts';
import { copyFileSync } from 'node:fs';
const src = process.argv[2];
copyFileSync(src, '/tmp/kexp.duckdb');
const db = await Db.open({ path: '/tmp/kexp.duckdb', threads: 2 });
const t = () => performance.now();
let tot = 0;
await db.run(`CREATE TABLE blocking_keys (rule_id UTINYINT, key UBIGINT, rec_id BIGINT, src UTINYINT, aux UBIGINT, probe BOOLEAN)`);
for (const [i, r] of BLOCKING_RULES.entries()) {
  const a = t();
  await db.run(`CREATE OR REPLACE TEMP TABLE k AS ${ruleKeysSql(r)}`);
  const b = t();
  const n = await db.count(`SELECT count(*) FROM k`);
  await db.run(`INSERT INTO blocking_keys SELECT ${i}, key, rec_id, src, aux, probe FROM k`);
  const c = t();
  tot += b - a;
  console.log(r.name, n, 'compute', ((b - a) / 1000).toFixed(2), 'insert', ((c - b) / 1000).toFixed(2));
}
let a = t(); await db.run('CHECKPOINT'); console.log('checkpoint', ((t() - a) / 1000).toFixed(2), 'compute total', (tot/1000).toFixed(2));
// semi join against a random 1% of keys per rule
a = t();
await db.run(`CREATE OR REPLACE TEMP TABLE wanted AS SELECT DISTINCT rule_id, key FROM blocking_keys USING SAMPLE 2%`);
console.log('wanted', await db.count('SELECT count(*) FROM wanted'), ((t() - a) / 1000).toFixed(2));
a = t();
await db.run(`CREATE OR REPLACE TEMP TABLE got AS SELECT k.* FROM blocking_keys k SEMI JOIN wanted w ON w.rule_id = k.rule_id AND w.key = k.key`);
console.log('semi all rules', await db.count('SELECT count(*) FROM got'), ((t() - a) / 1000).toFixed(2));
for (const i of [0, 1]) { a = t(); await db.run(`CREATE OR REPLACE TEMP TABLE got AS SELECT k.* FROM blocking_keys k SEMI JOIN (SELECT key FROM wanted WHERE rule_id = ${i}) w ON w.key = k.key WHERE k.rule_id = ${i}`); console.log('semi rule', i, ((t() - a) / 1000).toFixed(2)); }
console.log((await db.all(`SELECT database_size, total_blocks FROM pragma_database_size()`)));
