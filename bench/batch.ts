/** One benchmark batch in its own process, so its peak RSS is its own. Prints a JSON line on stdout. */
import { loadConfig } from '../src/engine/config.ts';
import { createLogger } from '../src/engine/log.ts';
import { runBatch } from '../src/pipeline.ts';
import { terminalProgress } from '../src/cli/progress.ts';

const [configPath, outDir, threads, memoryLimit] = process.argv.slice(2);
const loaded = await loadConfig(configPath, {
  out: outDir,
  threads: threads ? Number(threads) : undefined,
  memoryLimit: memoryLimit || undefined,
});
const t0 = performance.now();
const result = await runBatch(loaded, { log: createLogger({ level: 'warn', pretty: false }), progress: terminalProgress() });
const wall = (performance.now() - t0) / 1000;
const peakRssBytes = process.resourceUsage().maxRSS * 1024;
process.stdout.write(`${JSON.stringify({ wall, peakRssBytes, timings: result.timings, figures: result.figures })}\n`);
