/** `dtsen review`: the clerical review app over a finished batch (the work is in src/review/). */
import { Option, type Command } from 'commander';
import type { Logger } from '../engine/log.ts';
import { InputError } from '../engine/errors.ts';

interface ReviewFlags {
  out: string;
  decisions?: string;
  audit?: string;
  host: string;
  port: number;
  reviewer?: string;
  band: number;
  logLevel: string;
}

const port = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InputError(`--port must be 0..65535, got ${JSON.stringify(v)}`);
  return n;
};
const bits = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 60) throw new InputError(`--band must be a number of bits in (0, 60], got ${JSON.stringify(v)}`);
  return n;
};

export function addReviewCommand(program: Command, out: NodeJS.WritableStream, log: (level: string) => Logger): void {
  program
    .command('review')
    .description('start the clerical review app over a finished batch: a local web server whose decisions go to the decisions store')
    .requiredOption('-o, --out <dir>', 'the batch output folder (holds dtsen.duckdb); only read')
    .option('--decisions <file>', "the decisions store decisions are appended to (default: the one the batch's config names; created when missing)")
    .option('--audit <file>', 'the audit log of reveals of personal values (default: review-audit.jsonl beside the store)')
    .option('--host <address>', 'the address to listen on', '127.0.0.1')
    .option('--port <n>', 'the port (0: any free port)', port, 0)
    .option('--reviewer <name>', 'who reviews (otherwise the app asks once)')
    .option('--band <bits>', 'the uncertain band: pairs whose match weight is within this many bits of the threshold', bits, 4)
    .addOption(new Option('--log-level <level>', 'log level; given, the JSON logs go to stderr').choices(['debug', 'info', 'warn', 'error', 'silent']).default('info'))
    .option('--log-file <file>', 'write the JSON logs to this file')
    .action(async (f: ReviewFlags) => {
      const { startReview } = await import('../review/index.ts');
      const logger = log(f.logLevel);
      const review = await startReview({ out: f.out, decisions: f.decisions, audit: f.audit, host: f.host, port: f.port, reviewer: f.reviewer, band: f.band, log: logger });
      const counts = (await review.session.state()).queues.map((q) => `${q.queue} ${q.items - q.done}`).join(', ');
      out.write(`dtsen review: open ${review.url}\n  to review: ${counts}\n  decisions go to ${review.store}; reveals to ${review.audit}\n  ready in ${review.startSeconds.toFixed(2)} s; Ctrl-C stops it\n`);
      // until SIGINT or SIGTERM: then the server and the database are closed, and the command ends (exit 0)
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        const on = (s: NodeJS.Signals) => {
          process.removeListener('SIGINT', on);
          process.removeListener('SIGTERM', on);
          resolve(s);
        };
        process.on('SIGINT', on);
        process.on('SIGTERM', on);
      });
      await review.stop();
      const written = (await import('../review/session.ts')).writtenThisSession(review.session);
      out.write(`dtsen review: stopped by ${signal}; ${written} decisions written this session\n`);
    });
}
