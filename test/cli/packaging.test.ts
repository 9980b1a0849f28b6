/**
 * The package as installed: the compiled code (dist/, built by the suite's globalSetup) behind bin/dtsen.js, run
 * with the production dependencies only, starting without loading the heavy modules.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  files: string[];
  dependencies: Record<string, string>;
};
const dtsen = (...args: string[]) => spawnSync(process.execPath, [join(root, pkg.bin.dtsen), ...args], { encoding: 'utf8', cwd: root });

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? jsFiles(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []));
}

/** Module specifiers of a compiled file: static imports and re-exports, and dynamic imports of a literal. */
function specifiers(file: string): { spec: string; dynamic: boolean }[] {
  const text = readFileSync(file, 'utf8');
  const out: { spec: string; dynamic: boolean }[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm)) out.push({ spec: m[1] ?? m[2], dynamic: false });
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push({ spec: m[1], dynamic: true });
  for (const m of text.matchAll(/\b(?:require|require\.resolve)\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push({ spec: m[1], dynamic: true });
  return out;
}

const packageName = (spec: string) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
const isBuiltin = (spec: string) => spec.startsWith('node:') || builtinModules.includes(spec);

describe('the packaged CLI', () => {
  it('--version prints the version of package.json', () => {
    const r = dtsen('--version');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('--help runs the compiled code and lists the commands and the display options', () => {
    expect(readFileSync(join(root, pkg.bin.dtsen), 'utf8')).toContain('../dist/src/cli/main.js');
    expect(readFileSync(join(root, pkg.bin.dtsen), 'utf8')).not.toMatch(/\btsx\b/);
    const r = dtsen('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/-V, --version/);
    for (const c of ['run', 'validate', 'init', 'generate', 'evaluate', 'blocking', 'explain', 'sql']) expect(r.stdout).toMatch(new RegExp(`^\\s+${c}\\b`, 'm'));
    const run = dtsen('run', '--help');
    expect(run.stdout).toMatch(/--log-file <file>/);
    expect(run.stdout).toMatch(/--log-level <level>/);
  });

  it('every module the compiled code imports is a built-in, a file of the package or a production dependency', () => {
    const files = [...jsFiles(join(root, 'dist')), join(root, pkg.bin.dtsen)];
    expect(files.length).toBeGreaterThan(30);
    const problems: string[] = [];
    for (const file of files) {
      for (const { spec } of specifiers(file)) {
        if (isBuiltin(spec)) continue;
        if (spec.startsWith('.')) {
          if (spec.endsWith('.ts')) problems.push(`${file}: imports TypeScript ${spec}`);
          else if (!existsSync(resolve(dirname(file), spec))) problems.push(`${file}: ${spec} does not exist`);
        } else if (!(packageName(spec) in pkg.dependencies)) {
          problems.push(`${file}: ${spec} is not in dependencies`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('the package ships the compiled code, the pipelines and the sample data', () => {
    for (const f of ['bin/', 'dist/', 'pipelines/', 'data-samples/']) expect(pkg.files).toContain(f);
    const sample = JSON.parse(readFileSync(join(root, 'pipelines/sample.json'), 'utf8')) as { sources: Record<string, { path: string }> };
    for (const s of Object.values(sample.sources)) expect(resolve(root, 'pipelines', s.path).startsWith(join(root, 'data-samples'))).toBe(true);
  });

  it('start-up loads none of the heavy modules: they are imported by the commands that use them', () => {
    const heavy = ['@duckdb/node-api', 'vega', 'vega-lite', 'apache-arrow', 'parquet-wasm', 'zod'];
    const seen = new Set<string>();
    const reached: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const { spec, dynamic } of specifiers(file)) {
        if (dynamic || isBuiltin(spec)) continue;
        if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
        else reached.push(packageName(spec));
      }
    };
    visit(join(root, 'dist/src/cli/main.js'));
    expect(seen.has(join(root, 'dist/src/generate/index.js'))).toBe(false);
    expect(seen.has(join(root, 'dist/src/pipeline.js'))).toBe(false);
    expect(seen.has(join(root, 'dist/src/init/index.js'))).toBe(false);
    expect(reached.filter((p) => heavy.includes(p))).toEqual([]);
    expect(reached).toContain('commander');
  });
});
