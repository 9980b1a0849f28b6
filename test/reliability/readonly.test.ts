/**
 * A finished batch is only read by the commands that read it: `dtsen sql`, `explain`, `evaluate`, `blocking`.
 * The CLI is spawned as a user runs it, with its own HOME and TMPDIR, on one sample batch built once; the batch
 * is reached through a symlink to its folder (a published batch may be one). Every file of the batch is hashed
 * before and after.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { runMain } from '../fixtures/main.ts';
import { tempDir } from '../fixtures/inputs.ts';

const ROOT = resolve('.');
const BIN = join(ROOT, 'bin', 'dtsen.js');
const SAMPLE_TRUTH = join(ROOT, 'data-samples', 'sample', 'truth.csv');

let dir: string;
let real: string;
/** the batch folder as the commands are given it: a symlink to `real` */
let batch: string;
let home: string;
let tmp: string;
let before: Map<string, string>;
let report: { evaluate: { precision: number; recall: number; f1: number; records_evaluated: number }; survive: { persons: number } };

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], input?: string): Promise<Ran> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, HOME: home, TMPDIR: tmp, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

const dtsen = (...args: string[]) => run(process.execPath, [BIN, ...args]);

/** The CLI's main() in this process, its stdout and stderr captured. */
const inProcess = runMain;

/** sha256 of every file under `folder` (followed through a symlinked folder), by relative path. */
function hashes(folder: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(folder, p), createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(folder);
  return out;
}

function expectBatchUnchanged(): void {
  const now = hashes(batch);
  expect([...now.keys()]).toEqual([...before.keys()]);
  for (const [file, sha] of before) expect(now.get(file), file).toBe(sha);
}

/** Runs `jobs` two at a time (the machine has two cores), keeping their order. */
async function twoAtATime<T>(jobs: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}

const ALLOWED = /dtsen sql runs one read statement: SELECT .*DESCRIBE, SHOW, SUMMARIZE.*EXPLAIN/;

beforeAll(async () => {
  dir = tempDir('dtsen-readonly-');
  home = join(dir, 'home');
  tmp = join(dir, 'tmp');
  for (const d of [home, tmp]) mkdirSync(d);
  real = join(dir, 'batch-v1');
  const r = await dtsen('run', '--config', 'pipelines/sample.json', '--out', real, '--truth', SAMPLE_TRUTH, '--log-level', 'silent');
  expect(r.code, r.stderr).toBe(0);
  batch = join(dir, 'batch');
  symlinkSync(real, batch, 'dir');
  before = hashes(batch);
  report = JSON.parse(readFileSync(join(batch, 'report.json'), 'utf8'));
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('dtsen sql is read-only', () => {
  const target = () => join(dir, 'leak.csv');
  /** Spawned one by one, as a user runs them. */
  const REFUSED: [string, () => string][] = [
    ['COPY to the batch\'s own Parquet file', () => `COPY (SELECT * FROM dtsen_person LIMIT 1) TO '${join(batch, 'dtsen_person.parquet')}' (FORMAT parquet)`],
    ['COPY to the batch\'s report.json', () => `COPY (SELECT 1 AS x) TO '${join(batch, 'report.json')}'`],
    ['COPY of NIKs to any path', () => `COPY (SELECT nik FROM dtsen_person) TO '${target()}'`],
    ['EXPLAIN ANALYZE of a COPY', () => `EXPLAIN ANALYZE COPY (SELECT 1) TO '${target()}'`],
    ['ATTACH of the batch file read-write', () => `ATTACH '${join(batch, 'dtsen.duckdb')}' AS rw (READ_WRITE)`],
    ['DETACH', () => 'DETACH dtsen'],
    ['INSTALL', () => 'INSTALL httpfs'],
    ['LOAD', () => 'LOAD httpfs'],
    ['SET of external access', () => 'SET enable_external_access = true'],
    ['SET', () => 'SET threads = 1'],
    ['EXPORT DATABASE', () => `EXPORT DATABASE '${join(dir, 'export')}'`],
    ['IMPORT DATABASE', () => `IMPORT DATABASE '${join(dir, 'export')}'`],
    ['CALL of a file-reading function', () => "CALL sniff_csv('/etc/passwd')"],
    ['CHECKPOINT', () => 'CHECKPOINT'],
    ['CREATE TABLE', () => 'CREATE TABLE x AS SELECT 1 AS a'],
    ['INSERT', () => "INSERT INTO dtsen_link (dtsen_id) VALUES ('x')"],
    ['UPDATE', () => "UPDATE dtsen_person SET name = 'x'"],
    ['DELETE', () => 'DELETE FROM dtsen_link'],
    ['DROP', () => 'DROP TABLE dtsen_person'],
    ['ALTER', () => 'ALTER TABLE dtsen_person RENAME TO p'],
    ['read_csv outside the batch', () => "SELECT * FROM read_csv('/etc/passwd')"],
    ['read_text', () => "SELECT * FROM read_text('/etc/passwd')"],
    ['read_blob', () => "SELECT * FROM read_blob('/etc/passwd')"],
    ['read_parquet of the batch\'s own file', () => `SELECT * FROM read_parquet('${join(batch, 'dtsen_person.parquet')}')`],
    ['read_json', () => "SELECT * FROM read_json('/etc/passwd')"],
    ['glob', () => "SELECT * FROM glob('/etc/*')"],
    ['two statements, the write first', () => `ATTACH '${join(batch, 'dtsen.duckdb')}' AS rw (READ_WRITE); DELETE FROM rw.dtsen_link`],
    ['two reads', () => 'SELECT 1; SELECT 2'],
  ];
  /** More of the same kind, through the CLI's main() in this process (spawning costs a second each). */
  const ALSO_REFUSED: [string, () => string][] = [
    ['ATTACH of a new database', () => `ATTACH '${join(dir, 'new.duckdb')}' AS n`],
    ['RESET', () => 'RESET threads'],
    ['SET VARIABLE', () => 'SET VARIABLE v = 1'],
    ['CALL', () => 'CALL pragma_version()'],
    ['CREATE TEMP TABLE', () => 'CREATE TEMP TABLE x AS SELECT 1 AS a'],
    ['EXPLAIN ANALYZE of a CREATE', () => 'EXPLAIN ANALYZE CREATE TEMP TABLE x AS SELECT 1'],
    ['BEGIN', () => 'BEGIN TRANSACTION'],
    ['VACUUM', () => 'VACUUM'],
    ['a file as a table', () => "SELECT * FROM '/etc/passwd'"],
    ['a temporary table and a read', () => 'CREATE TEMP TABLE t AS SELECT 1 AS a; SELECT * FROM t'],
  ];
  const results = new Map<string, Ran>();

  beforeAll(async () => {
    const ran = await twoAtATime(REFUSED.map(([, sql]) => () => dtsen('sql', '--out', batch, sql())));
    REFUSED.forEach(([name], i) => results.set(name, ran[i]));
  }, 300_000);

  it.each(REFUSED.map(([name]) => [name]))('refuses %s with exit 2 and says what is allowed', (name) => {
    const r = results.get(name)!;
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(ALLOWED);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(r.stdout).toBe('');
  });

  it.each(ALSO_REFUSED.map(([name]) => [name]))('refuses %s too (in process)', async (name) => {
    const r = await inProcess(['sql', '--out', batch, ALSO_REFUSED.find(([n]) => n === name)![1]()]);
    expect(r.code, r.stderr).toBe(2);
    // a file named as a table is no table once external access is off
    expect(r.stderr).toMatch(name === 'a file as a table' ? /Table with name \/etc\/passwd does not exist/ : ALLOWED);
    expect(r.stdout).toBe('');
  });

  it('names the statement refused and the number of statements given', () => {
    expect(results.get('DELETE')!.stderr).toContain('DELETE is not allowed');
    expect(results.get('INSTALL')!.stderr).toContain('INSTALL or LOAD is not allowed');
    expect(results.get('two reads')!.stderr).toContain('holds 2 statements: one per call');
    expect(results.get('read_csv outside the batch')!.stderr).toContain('file system operations are disabled');
  });

  it('leaves every file of the batch as it was, creates no file at a COPY target and no ~/.duckdb', () => {
    expectBatchUnchanged();
    expect(existsSync(target())).toBe(false);
    expect(existsSync(join(dir, 'new.duckdb'))).toBe(false);
    expect(existsSync(join(dir, 'export'))).toBe(false);
    expect(existsSync(join(home, '.duckdb'))).toBe(false);
    // the spill folder of each command is removed when it ends
    expect(readdirSync(tmp).filter((f) => f.startsWith('dtsen-read-'))).toEqual([]);
  });

  it('still runs plain reads', async () => {
    const reads: [string, (r: Ran) => void][] = [
      ['SELECT count(*) AS n FROM dtsen_person', (r) => expect(JSON.parse(r.stdout)).toEqual([{ n: String(report.survive.persons) }])],
      ['WITH s AS (SELECT DISTINCT source FROM dtsen_link) SELECT count(*)::INT AS n FROM s', (r) => expect(JSON.parse(r.stdout)).toEqual([{ n: 3 }])],
      ['VALUES (1, 2)', (r) => expect(JSON.parse(r.stdout)).toEqual([{ col0: 1, col1: 2 }])],
      ['FROM dtsen_link SELECT count(*) > 0 AS some', (r) => expect(JSON.parse(r.stdout)).toEqual([{ some: true }])],
      ['DESCRIBE dtsen_person', (r) => expect(JSON.parse(r.stdout)[0]).toMatchObject({ column_name: 'dtsen_id' })],
      ['SHOW TABLES', (r) => expect(JSON.parse(r.stdout).map((x: { name: string }) => x.name)).toContain('dtsen_person')],
      ['SUMMARIZE dtsen_link', (r) => expect(JSON.parse(r.stdout).length).toBe(5)],
      ['PRAGMA table_info(\'dtsen_link\')', (r) => expect(JSON.parse(r.stdout)[0]).toMatchObject({ name: 'dtsen_id' })],
      ['EXPLAIN SELECT count(*) FROM dtsen_person', (r) => expect(JSON.parse(r.stdout)[0]).toHaveProperty('explain_value')],
      ['SELECT table_name FROM duckdb_tables() WHERE table_name IN (\'truth\', \'eval_records\')', (r) => expect(JSON.parse(r.stdout)).toEqual([])],
    ];
    // the first three spawned, the others in this process
    const ran = await twoAtATime(reads.map(([sql], i) => () => (i < 3 ? dtsen : (...a: string[]) => inProcess(a))('sql', '--out', batch, '--json', sql)));
    reads.forEach(([sql, check], i) => {
      expect(ran[i].code, `${sql}: ${ran[i].stderr}`).toBe(0);
      check(ran[i]);
    });
    expectBatchUnchanged();
  });

  it('masks the value a conversion error quotes (it may be a NIK or a name)', async () => {
    const r = await inProcess(['sql', '--out', batch, 'SELECT name::INT FROM dtsen_person']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Could not convert string '…' to INT/);
  });

  it('ends quietly when the reader closes the pipe early (| head -1)', async () => {
    const cmd = `"${process.execPath}" "${BIN}" sql --out "${batch}" --limit 100000 'SELECT * FROM dtsen_link CROSS JOIN range(4)' | head -1; echo "status \${PIPESTATUS[0]}" >&2`;
    const r = await run('bash', ['-c', cmd]);
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stdout).toMatch(/^dtsen_id\s+source/);
    expect(r.stderr).not.toMatch(/EPIPE|Error|\n\s+at /);
    expect(r.stderr.trim()).toBe('status 0');
  });
});

describe('the sealed database refuses by itself (the settings take effect)', () => {
  let raw: { sql: string; ok: boolean; rows?: Record<string, string>[]; error?: string }[];
  const truth3 = () => join(dir, 'truth3-allowed.csv');
  const statements = () => [
    "SELECT name, value FROM duckdb_settings() WHERE name IN ('access_mode', 'enable_external_access', 'lock_configuration', 'autoinstall_known_extensions', 'autoload_known_extensions', 'temp_directory') ORDER BY name",
    `SELECT count(*) AS n FROM read_csv('${truth3()}')`,
    `SELECT count(*) AS n FROM read_csv('${SAMPLE_TRUTH}')`,
    `COPY (SELECT nik FROM dtsen_person) TO '${join(dir, 'raw-leak.csv')}'`,
    `COPY (SELECT 1) TO '${truth3()}'`,
    `ATTACH '${join(batch, 'dtsen.duckdb')}' AS rw (READ_WRITE)`,
    'INSTALL httpfs',
    'LOAD httpfs',
    'SET enable_external_access = true',
    `SET allowed_paths = ['/etc/passwd']`,
    'SET threads = 1',
    'DELETE FROM dtsen_link',
    'CREATE TABLE main.x AS SELECT 1 AS a',
    'CREATE TEMP TABLE t AS SELECT 41 AS a',
    'SELECT a + 1 AS a FROM t',
    'SELECT * FROM checkpoint()',
    `ATTACH '${join(dir, 'raw-new.duckdb')}' AS n`,
  ];

  beforeAll(async () => {
    writeFileSync(truth3(), 'source,source_record_id,person_id\ndtks,x,p\n');
    const r = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'reliability', 'raw-batch.ts'), batch, truth3(), ...statements()]);
    expect(r.code, r.stderr).toBe(0);
    raw = JSON.parse(r.stdout);
  });

  const result = (i: number) => raw[i];

  it('reports the settings: read-only, no external access, configuration locked, no extension install or autoload, spill outside the batch', () => {
    const s = Object.fromEntries(result(0).rows!.map((r) => [r.name, r.value]));
    expect(s).toMatchObject({
      access_mode: 'read_only',
      enable_external_access: 'false',
      lock_configuration: 'true',
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
    });
    expect(s.temp_directory.startsWith(tmp)).toBe(true);
  });

  it('reads the one allowed file and no other', () => {
    expect(result(1)).toMatchObject({ ok: true, rows: [{ n: '1' }] });
    expect(result(2).ok).toBe(false);
    expect(result(2).error).toMatch(/disabled by configuration/);
  });

  it('refuses writes, attaching, extensions and settings', () => {
    const expected: [number, RegExp][] = [
      [3, /disabled by configuration/],
      [4, /disabled by configuration/],
      [5, /disabled by configuration|read-only|already attached/],
      [6, /disabled by configuration/],
      [7, /disabled/],
      [8, /configuration has been locked/],
      [9, /configuration has been locked/],
      [10, /configuration has been locked/],
      [11, /read-only/],
      [12, /read-only/],
      [16, /disabled by configuration/],
    ];
    for (const [i, error] of expected) {
      expect(result(i).ok, result(i).sql).toBe(false);
      expect(result(i).error, result(i).sql).toMatch(error);
    }
  });

  it('keeps temporary tables working, and the batch unchanged', () => {
    expect(result(14)).toMatchObject({ ok: true, rows: [{ a: 42 }] });
    expectBatchUnchanged();
    expect(existsSync(join(dir, 'raw-leak.csv'))).toBe(false);
    expect(existsSync(join(dir, 'raw-new.duckdb'))).toBe(false);
    expect(readFileSync(truth3(), 'utf8')).toBe('source,source_record_id,person_id\ndtks,x,p\n');
    expect(existsSync(join(home, '.duckdb'))).toBe(false);
  });
});

describe('explain, evaluate and blocking only read the batch', () => {
  let truthLines: string[];
  const truthFile = (name: string, lines: string[]) => {
    const p = join(dir, name);
    writeFileSync(p, `${lines.join('\n')}\n`);
    return p;
  };

  beforeAll(() => {
    truthLines = readFileSync(SAMPLE_TRUTH, 'utf8').trim().split('\n');
  });

  it('explain of a pair and of a record, evaluate and blocking leave every file unchanged', async () => {
    const pair = await dtsen('sql', '--out', batch, '--json',
      `SELECT list(source || ':' || source_record_id ORDER BY source, source_record_id)[1:2] AS refs FROM dtsen_link
       WHERE dtsen_id = (SELECT min(dtsen_id) FROM dtsen_person WHERE n_records >= 2)`);
    const refs = JSON.parse(pair.stdout)[0].refs as string[];
    const ran = await twoAtATime([
      () => dtsen('explain', '--out', batch, refs[0], refs[1]),
      () => dtsen('explain', '--out', batch, refs[0]),
      () => dtsen('evaluate', '--out', batch, '--truth', SAMPLE_TRUTH),
      () => dtsen('blocking', '--out', batch),
      () => dtsen('blocking', '--out', batch, '--truth', SAMPLE_TRUTH),
    ]);
    for (const r of ran) expect(r.code, r.stderr).toBe(0);
    expect(ran[0].stdout).toContain(`Pair ${refs[0]} ~ ${refs[1]}`);
    expect(ran[2].stdout).toContain('Quality against the truth file');
    expect(ran[4].stdout).toMatch(/true pairs found by any rule: \d/);
    expectBatchUnchanged();
    const tables = await dtsen('sql', '--out', batch, '--json', `SELECT count(*)::INT AS n FROM duckdb_tables() WHERE table_name IN ('truth', 'eval_records', 'eval_scored')`);
    expect(JSON.parse(tables.stdout)).toEqual([{ n: 0 }]);
  });

  it('evaluate takes the three-column truth file (family_id optional) and gives the run\'s figures', async () => {
    const three = truthFile('truth3.csv', truthLines.map((l) => l.split(',').slice(0, 3).join(',')));
    const r = await dtsen('evaluate', '--out', batch, '--truth', three, '--json');
    expect(r.code, r.stderr).toBe(0);
    const ev = JSON.parse(r.stdout);
    expect({ precision: ev.precision, recall: ev.recall, f1: ev.f1, records_evaluated: ev.records_evaluated }).toEqual({
      precision: report.evaluate.precision,
      recall: report.evaluate.recall,
      f1: report.evaluate.f1,
      records_evaluated: report.evaluate.records_evaluated,
    });
    expect(ev.truth_coverage).toMatchObject({ share: 1, minimum_share: 0.95 });
    expectBatchUnchanged();
  });

  it('refuses quality figures when the truth covers too little of the batch (exit 2), not just under 95%', async () => {
    const [header, ...rows] = truthLines;
    // rows of quarantined records match nothing: drop rows until the covered share is just below / above 0.95
    const accepted = report.evaluate.records_evaluated;
    const few = truthFile('truth-few.csv', [header, ...rows.slice(0, 200)]);
    const under = truthFile('truth-under.csv', [header, ...rows.slice(0, rows.length - Math.ceil(accepted * 0.06))]);
    const over = truthFile('truth-over.csv', [header, ...rows.slice(0, rows.length - Math.floor(accepted * 0.04))]);
    const [a, b, c, d] = await twoAtATime([
      () => dtsen('evaluate', '--out', batch, '--truth', few),
      () => dtsen('evaluate', '--out', batch, '--truth', under, '--json'),
      () => dtsen('evaluate', '--out', batch, '--truth', over, '--json'),
      () => dtsen('blocking', '--out', batch, '--truth', few),
    ]);
    for (const r of [a, b, d]) {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/the truth covers [\d,]+ of the batch's [\d,]+ accepted records \([\d.]+%\), below the 95\.00% needed: precision and recall are not measured/);
      expect(r.stdout).not.toMatch(/precision/);
    }
    expect(a.stderr).toMatch(/the truth covers (200|199) of/);
    expect(c.code, c.stderr).toBe(0);
    expect(JSON.parse(c.stdout).truth_coverage.share).toBeGreaterThanOrEqual(0.95);
    expectBatchUnchanged();
  });

  it('names the line and column of a truth row without a person, or a record given twice', async () => {
    const [header, first, second, ...rest] = truthLines;
    const empty = truthFile('truth-empty.csv', [header, first, second.split(',').map((v, i) => (i === 2 ? '' : v)).join(','), ...rest]);
    const twice = truthFile('truth-twice.csv', [header, first, second, first, ...rest]);
    const [a, b] = await twoAtATime([
      () => dtsen('evaluate', '--out', batch, '--truth', empty),
      () => dtsen('evaluate', '--out', batch, '--truth', twice),
    ]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain(`file ${empty}, row 3, column person_id: person_id is empty`);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain(`file ${twice}, row 4, column source_record_id: the record of line 2 is given again`);
  });
});

describe('a run whose truth covers too little', () => {
  it('records the coverage, warns and skips the quality figures', async () => {
    const lines = readFileSync(SAMPLE_TRUTH, 'utf8').trim().split('\n').slice(0, 300);
    const small = join(dir, 'truth-run.csv');
    writeFileSync(small, `${lines.join('\n')}\n`);
    const out = join(dir, 'batch-small-truth');
    const r = await dtsen('run', '--config', 'pipelines/sample.json', '--out', out, '--truth', small, '--log-level', 'warn');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('quality not measured');
    expect(r.stdout).toMatch(/Quality not measured: the truth covers \d+ of the batch's [\d,]+ accepted records/);
    const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(json.evaluate.truth_coverage).toMatchObject({ minimum_share: 0.95 });
    expect(json.evaluate.truth_coverage.records_with_truth).toBeGreaterThan(290);
    expect(json.evaluate.truth_coverage.share).toBeLessThan(0.1);
    expect(json.evaluate).not.toHaveProperty('precision');
    expect(json.report.summary.precision).toBeNull();
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toMatch(/Quality not measured: the truth covers \d+ of/);
  }, 180_000);
});
