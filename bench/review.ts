/**
 * make bench-review [SIZE=1000000]: generates (cached under bench/cache/) a population of SIZE persons, runs its
 * batch once, starts the review app over it (decisions to a temporary store) and measures in headless Chromium:
 * the app's start (opening the batch, building the queues), the page opening (the token URL to the overview
 * drawn, then to the first pair drawn) and, over DECISIONS decisions made by keyboard, the time from the key to
 * the next pair drawn (median, p95, max; measured by the page itself). Screenshots of each view go to SHOTS.
 */
import { populationSources, runCommand } from './population.ts';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { startReview } from '../src/review/index.ts';
import { silentLogger } from '../src/engine/log.ts';

const { values } = parseArgs({
  options: {
    persons: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '7' },
    threads: { type: 'string', default: '2' },
    decisions: { type: 'string', default: '50' },
    shots: { type: 'string', default: join(tmpdir(), 'review-shots') },
    /** how long the reviewer looks at a pair before deciding (the page fetches the next one meanwhile) */
    think: { type: 'string', default: '1000' },
  },
});
const persons = Number(values.persons);
const root = resolve(import.meta.dirname, '..');
const cache = join(root, 'bench', 'cache', `p${persons}-s${values.seed}`);
const out = join(cache, 'review-out');
const bin = join(root, 'bin', 'dtsen.js');
const fmt = (n: number) => n.toLocaleString('en-US');

if (!existsSync(join(cache, 'manifest.json'))) {
  console.log(`generating ${fmt(persons)} persons into ${cache} …`);
  runCommand('node', [bin, 'generate', '--persons', String(persons), '--seed', values.seed!, '--out', cache]);
}
if (!existsSync(join(out, 'report.json'))) {
  mkdirSync(cache, { recursive: true });
  const config = join(cache, 'review-batch.json');
  writeFileSync(config, JSON.stringify({ batch: `review-${persons}`, snapshot_id: `review-${persons}-s${values.seed}`, out, sources: populationSources(cache), threads: Number(values.threads) }, null, 2));
  console.log(`running the batch of ${fmt(persons)} persons into ${out} …`);
  const t = performance.now();
  runCommand('node', [bin, 'run', '--config', config, '--log-level', 'warn'], { quiet: true });
  console.log(`batch in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}

const work = mkdtempSync(join(tmpdir(), 'dtsen-bench-review-'));
const shots = resolve(values.shots!);
mkdirSync(shots, { recursive: true });
const review = await startReview({ out, decisions: join(work, 'decisions.jsonl'), reviewer: 'bench', log: silentLogger() });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
try {
  const state = await review.session.state();
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const t0 = performance.now();
  await page.goto(review.url);
  await page.waitForSelector('[data-queue-card]');
  const openOverview = performance.now() - t0;
  await page.screenshot({ path: join(shots, 'overview.png'), fullPage: true });
  await page.click('nav a[data-queue=pairs]');
  await page.waitForSelector('#queue-list');
  await page.screenshot({ path: join(shots, 'queue-pairs.png') });
  const t1 = performance.now();
  await page.click('#start');
  await page.waitForSelector('#pair-view');
  const firstPair = performance.now() - t1;
  await page.screenshot({ path: join(shots, 'pair.png'), fullPage: true });

  const n = Number(values.decisions);
  const think = Number(values.think);
  const keys = ['s', 'd', 'u'];
  const timings = () => page.evaluate(() => (window as unknown as { __review: { timings: number[] } }).__review.timings.slice());
  /** n decisions, each `wait` ms after the pair was drawn; the page's own timings and the driver's */
  const play = async (count: number, wait: number) => {
    const outside: number[] = [];
    const already = (await timings()).length;
    for (let i = 0; i < count; i++) {
      if (wait) await page.waitForTimeout(wait);
      const before = await page.getAttribute('#pair-view', 'data-pos');
      const t = performance.now();
      await page.keyboard.press(keys[i % keys.length]);
      await page.waitForFunction((p) => document.querySelector('#pair-view')?.getAttribute('data-pos') !== p, before, { polling: 'raf' });
      outside.push(performance.now() - t);
    }
    return { inside: (await timings()).slice(already), outside };
  };
  const read = await play(n, think);
  const rushed = await play(Math.min(n, 20), 0);
  await page.keyboard.press('v');
  await page.waitForFunction(() => !document.querySelector('#pair-view table.fields thead')?.textContent?.includes('(masked)'));
  await page.screenshot({ path: join(shots, 'pair-revealed.png'), fullPage: true });

  await page.goto(review.url.replace(/\?token=.*$/, '#/q/clusters'));
  await page.waitForSelector('#queue-list');
  const clusterPos = await page.getAttribute('#queue-list tbody tr', 'data-pos');
  if (clusterPos) {
    await page.goto(review.url.replace(/\?token=.*$/, `#/clusters/${clusterPos}`));
    await page.waitForSelector('#cluster-graph');
    const first = await page.$$eval('#cluster-graph circle', (cs) => cs.slice(0, 1).map((c) => c.getAttribute('data-record')!));
    if (first[0]) await page.click(`#cluster-graph circle[data-record="${first[0]}"]`);
    await page.screenshot({ path: join(shots, 'cluster.png'), fullPage: true });
  }
  await page.goto(review.url.replace(/\?token=.*$/, '#/persons/1'));
  await page.waitForSelector('#person-view');
  await page.screenshot({ path: join(shots, 'person.png'), fullPage: true });

  const stats = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const q = (p: number) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
    return `median ${q(0.5).toFixed(1)} ms, p95 ${q(0.95).toFixed(1)} ms, max ${s[s.length - 1].toFixed(1)} ms`;
  };
  console.log(`\ndtsen review benchmark: ${fmt(persons)} persons (${out})`);
  console.log(`queues: ${state.queues.map((q) => `${q.queue} ${fmt(q.items)}`).join(', ')}`);
  console.log(`app start (open the batch, build the queues): ${review.startSeconds.toFixed(2)} s`);
  console.log(`page open (token URL to the overview drawn): ${(openOverview / 1000).toFixed(2)} s; first pair drawn after ${firstPair.toFixed(0)} ms`);
  console.log(`next pair after a decision, ${read.inside.length} decisions ${think} ms after each pair was drawn, key to next pair drawn (in the page): ${stats(read.inside)}`);
  console.log(`  the same seen from the test driver (key press to the new pair in the DOM): ${stats(read.outside)}`);
  console.log(`back to back, ${rushed.inside.length} decisions each at once after the pair was drawn (the next one not fetched yet): ${stats(rushed.inside)}`);
  console.log(`screenshots in ${shots}`);
} finally {
  await browser.close();
  await review.stop();
  rmSync(work, { recursive: true, force: true });
}
