/** Progress on a terminal: one status line on stderr (stage, rows, elapsed). Silent when stderr is not a TTY. */
import type { Progress } from '../engine/context.ts';

export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return { start() {}, update() {}, done() {} };
  const t0 = performance.now();
  let stageStart = t0;
  const fmt = (n: number) => n.toLocaleString('en-US');
  const line = (text: string) => stream.write(`\r\x1b[2K${text}`);
  const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)}s`;
  return {
    start(stage) {
      stageStart = performance.now();
      line(`[${elapsed()}] ${stage} …`);
    },
    update(stage, rows, note) {
      line(`[${elapsed()}] ${stage} ${fmt(rows)} rows${note ? ` (${note})` : ''}`);
    },
    done(stage, rows) {
      line(`[${elapsed()}] ${stage} ${fmt(rows)} rows in ${((performance.now() - stageStart) / 1000).toFixed(1)}s\n`);
    },
  };
}
