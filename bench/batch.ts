/**
 * One benchmark batch in its own process, so its peak RSS is its own. Prints a JSON line on stdout: wall time, CPU
 * seconds (the whole process, and per stage), peak RSS and spill, stage timings and figures.
 * Arguments: config, output folder, threads, memory limit ('' for DuckDB's default), spill folder (watched: its
 * largest size during the batch is reported as peakSpillBytes).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../src/engine/config.ts';
import { createLogger } from '../src/engine/log.ts';
import { runBatch } from '../src/pipeline.ts';
import { terminalProgress } from '../src/cli/progress.ts';

const [configPath, outDir, threads, memoryLimit, spill] = process.argv.slice(2);
const loaded = await loadConfig(configPath, {
  out: outDir,
  threads: threads ? Number(threads) : undefined,
  memoryLimit: memoryLimit || undefined,
  tempDirectory: spill || undefined,
});

/** Bytes on disk under `dir` (allocated blocks: spill files may be sparse). */
function diskBytes(dir: string): number {
  let total = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const n of names) {
    try {
      const s = statSync(join(dir, n));
      total += s.isDirectory() ? diskBytes(join(dir, n)) : s.blocks * 512;
    } catch {
      // removed while listed
    }
  }
  return total;
}
let peakSpillBytes = 0;
const watch = spill ? setInterval(() => (peakSpillBytes = Math.max(peakSpillBytes, diskBytes(spill))), 250) : undefined;

// CPU seconds (user + system, every thread) per stage: on a machine shared with other work the wall time of a stage
// grows with the others' load, its CPU time much less.
const shown = terminalProgress();
const cpu: Record<string, number> = {};
let cpuAtStart = 0;
const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const progress = {
  ...shown,
  start(stage: string, work?: Parameters<typeof shown.start>[1]) {
    cpuAtStart = cpuNow();
    shown.start(stage, work);
  },
  done(stage: string, rows: number) {
    cpu[stage] = cpuNow() - cpuAtStart;
    shown.done(stage, rows);
  },
};
const t0 = performance.now();
const result = await runBatch(loaded, { log: createLogger({ level: 'warn', pretty: false }), progress });
const wall = (performance.now() - t0) / 1000;
if (watch) clearInterval(watch);
const peakRssBytes = process.resourceUsage().maxRSS * 1024;
const cpuSeconds = cpuNow();
process.stdout.write(`${JSON.stringify({ wall, cpuSeconds, stageCpu: cpu, peakRssBytes, peakSpillBytes, timings: result.timings, figures: result.figures })}\n`);
