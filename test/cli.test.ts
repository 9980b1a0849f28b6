import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { main } from '../src/cli/main.ts';
import { DTKS_HEADER, dtksRow, tempDir, write, writeConfig } from './fixtures/inputs.ts';

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  return {
    stream: new Writable({ write(c, _e, cb) { chunks.push(String(c)); cb(); } }),
    text: () => chunks.join(''),
  };
}

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const out = capture();
  const code = await main(['node', 'dtsen', ...args], out.stream);
  return { code, out: out.text() };
}

describe('dtsen CLI exit codes', () => {
  it('2 for a config that does not exist', async () => {
    expect((await cli(['validate', '--log-level', 'silent', '--config', '/nonexistent/batch.json'])).code).toBe(2);
  });

  it('2 for a config that breaks the schema', async () => {
    const dir = tempDir();
    const cfg = write(dir, 'bad.json', JSON.stringify({ batch: 'x y', snapshot_id: 's', sources: {} }));
    expect((await cli(['validate', '--log-level', 'silent', '--config', cfg])).code).toBe(2);
  });

  it('2 for an unknown option', async () => {
    expect((await cli(['run', '--no-such-flag'])).code).toBe(2);
  });

  it('validate prints the reconciliation of a good input and exits 0', async () => {
    const dir = tempDir();
    const file = write(dir, 'dtks.csv', `${DTKS_HEADER}\n${dtksRow('DTKS-1', '3204125708850002', 'SITI')}\n${dtksRow('DTKS-2', '', '')}\n`);
    const r = await cli(['validate', '--log-level', 'silent', '--config', writeConfig(dir, { dtks: file })]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/dtks\s+2\s+1\s+1\s+true/);
    expect(r.out).toMatch(/no_identity/);
  });

  it('the bin entry runs (npx dtsen --help)', () => {
    const r = spawnSync('node', ['bin/dtsen.js', '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/run \[options\]/);
    expect(r.stdout).toMatch(/generate/);
  });
});
