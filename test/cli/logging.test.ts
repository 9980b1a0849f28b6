import { describe, expect, it } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Command } from 'commander';
import { CliLogs, planLogs } from '../../src/cli/logging.ts';
import { terminalProgress } from '../../src/cli/progress.ts';
import { tempDir } from '../fixtures/inputs.ts';

function fakeStderr(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = Object.assign(new Writable({ write(c, _e, cb) { chunks.push(String(c)); cb(); } }), { isTTY, columns: 120, rows: 30 });
  return { stream, text: () => chunks.join('') };
}

/** The options of `dtsen run`, parsed from argv, as the preAction hook sees them. */
function command(argv: string[]): Command {
  const cmd = new Command('run').option('--log-level <level>', 'log level', 'info').option('--log-file <file>', 'log file').exitOverride();
  cmd.parse(argv, { from: 'user' });
  return cmd;
}

describe('where the CLI logs go', () => {
  it('a terminal with no explicit level: the full logs to a file in the temp folder, warnings to the display', () => {
    const p = planLogs({ level: 'info', explicitLevel: false }, true, '/tmp/x', new Date('2026-12-01T01:02:03.456Z'));
    expect(p).toMatchObject({ level: 'info', defaultFile: true, fullToStderr: false, warningsToStderr: 'display' });
    expect(p.file).toBe(`/tmp/x/dtsen-20261201T010203-${process.pid}.log`);
  });

  it('not a terminal, or --log-level given: the full JSON logs to stderr, no file', () => {
    const piped = planLogs({ level: 'info', explicitLevel: false }, false);
    expect(piped).toMatchObject({ fullToStderr: true, warningsToStderr: false });
    expect(piped.file).toBeUndefined();
    const explicit = planLogs({ level: 'debug', explicitLevel: true }, true);
    expect(explicit).toMatchObject({ level: 'debug', fullToStderr: true });
    expect(explicit.file).toBeUndefined();
  });

  it('--log-file: the full logs there, warnings still on stderr; silent: nowhere', () => {
    expect(planLogs({ level: 'info', explicitLevel: false, file: 'a.log' }, false)).toMatchObject({ fullToStderr: false, defaultFile: false, warningsToStderr: 'json' });
    expect(planLogs({ level: 'info', explicitLevel: false, file: 'a.log' }, true)).toMatchObject({ warningsToStderr: 'display' });
    const silent = planLogs({ level: 'silent', explicitLevel: true, file: 'a.log' }, true);
    expect(silent).toMatchObject({ fullToStderr: false, warningsToStderr: false });
    expect(silent.file).toBeUndefined();
  });

  it('on a terminal: info goes to the log file only, a warning is printed above the progress, the file is named at the end', () => {
    const dir = tempDir();
    const file = join(dir, 'batch.log');
    const err = fakeStderr(true);
    const logs = new CliLogs(err.stream);
    logs.configure(command(['--log-file', file]));
    const log = logs.create();
    const progress = terminalProgress(err.stream);
    progress.start('cluster');
    log.info({ stage: 'cluster', rows: 12 }, 'stage detail');
    log.warn({ clusters: 3 }, 'clusters too large');
    progress.done('cluster', 12);
    logs.finish();
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg: string; level: number });
    expect(lines.map((l) => l.msg)).toEqual(['stage detail', 'clusters too large']);
    expect(err.text()).toContain('clusters too large');
    expect(err.text()).not.toContain('stage detail');
    expect(err.text()).not.toContain('"level"');
    // a file given by --log-file is not announced; a default one is
    expect(err.text()).not.toContain('full log in');
  });

  it('--log-level given on a terminal: JSON lines on stderr, above the progress; the default file is announced only when used', () => {
    const err = fakeStderr(true);
    const logs = new CliLogs(err.stream);
    logs.configure(command(['--log-level', 'info']));
    const log = logs.create();
    log.info({ stage: 'ingest', rows: 5 }, 'source read');
    logs.finish();
    const json = /\{"level".*\}/.exec(err.text());
    expect(JSON.parse(json![0])).toMatchObject({ msg: 'source read', rows: 5 });
    expect(err.text()).not.toContain('full log in');

    const err2 = fakeStderr(true);
    const logs2 = new CliLogs(err2.stream);
    logs2.configure(command([]));
    logs2.create().info('hello');
    logs2.finish();
    const announced = /full log in (\S+)/.exec(err2.text());
    expect(announced).not.toBeNull();
    expect(JSON.parse(readFileSync(announced![1], 'utf8'))).toMatchObject({ msg: 'hello' });
    rmSync(announced![1]);
  });
});
