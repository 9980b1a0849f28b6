/**
 * Follows the README's "Use your own files" section literally: its `sh` blocks are run as written, in order, in a
 * temp folder holding the bundled sample (data-samples/), with `dtsen` the compiled CLI (built by globalSetup).
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  expect(start, `README section "${title}"`).toBeGreaterThan(0);
  const next = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, next < 0 ? undefined : next);
}

const blocks = (text: string, lang: string) => [...text.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]);

describe('README "Use your own files"', () => {
  const text = section('Use your own files');

  it('sits right after the quick start', () => {
    const headings = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    expect(headings.indexOf('Use your own files')).toBe(headings.indexOf('Quick start') + 1);
  });

  it('its commands, run as written, go from renamed-column files to a finished batch', () => {
    const commands = blocks(text, 'sh');
    expect(commands.length).toBeGreaterThanOrEqual(4);
    expect(commands.some((c) => /^dtsen init /m.test(c))).toBe(true);
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'dtsen-own-files-')));
    try {
      symlinkSync(join(root, 'data-samples'), join(dir, 'data-samples'));
      const bin = join(dir, '.bin');
      execFileSync('mkdir', ['-p', bin]);
      writeFileSync(join(bin, 'dtsen'), `#!/bin/sh\nexec "${process.execPath}" "${join(root, 'bin/dtsen.js')}" "$@"\n`);
      chmodSync(join(bin, 'dtsen'), 0o755);
      const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
      const outputs: string[] = [];
      for (const c of commands) outputs.push(execFileSync('sh', ['-e', '-c', c], { cwd: dir, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));

      // the files the section builds have other column names and dates dtsen does not read by default
      expect(readFileSync(join(dir, 'mine/dtks.csv'), 'utf8').split('\n')[0]).toMatch(/^ID_INDIVIDU;.*;NAMA_LENGKAP;.*;TANGGAL_LAHIR;JK;/);
      expect(readFileSync(join(dir, 'mine/p3ke.csv'), 'utf8').split('\n')[1]).toMatch(/"\d{4}\.\d{2}\.\d{2}"/);
      // init printed what the section says it prints
      const init = outputs[commands.findIndex((c) => /^dtsen init /m.test(c))];
      expect(init).toMatch(/address\s+ALAMAT_RUMAH\s+closest to ALAMAT: check it/);
      expect(init).toContain('"%Y.%m.%d"');
      // the mapping holds what the section shows (its "…" aside)
      const shown = JSON.parse(blocks(text, 'json')[0]) as Record<string, unknown>;
      const written = JSON.parse(readFileSync(join(dir, 'mine/pipelines/sources/p3ke.json'), 'utf8')) as Record<string, unknown>;
      for (const [k, v] of Object.entries(shown)) {
        if (k === '$schema') {
          expect(existsSync(resolve(dir, 'mine/pipelines/sources', written.$schema as string))).toBe(true);
        } else if (k === 'columns') {
          for (const [f, c] of Object.entries(v as object)) if (f !== '…') expect((written.columns as Record<string, string>)[f], f).toBe(c);
        } else {
          expect(written[k], k).toEqual(v);
        }
      }
      // the batch finished where the section says
      const report = JSON.parse(readFileSync(join(dir, 'mine/out/report.json'), 'utf8')) as { survive?: { persons?: number } };
      expect(report.survive?.persons ?? 0).toBeGreaterThan(0);
      for (const f of ['dtsen_person.parquet', 'dtsen_link.parquet', 'report.html']) expect(existsSync(join(dir, 'mine/out', f)), f).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
