/**
 * `dtsen review`: a local web app over a finished batch where analysts settle uncertain links. It opens the
 * batch read-only (openBatch), builds the queues once, and serves the app; every decision is appended to the
 * decisions store at once, every reveal of personal values to the audit log. See server.ts for the security
 * rules and session.ts for what is written.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { thresholdOf } from '../../schemas/config.ts';
import { openBatch } from '../engine/batch.ts';
import { InputError } from '../engine/errors.ts';
import type { Logger } from '../engine/log.ts';
import { batchModel } from '../explain/batch.ts';
import { ReviewSession } from './session.ts';
import { startServer, type ReviewServer } from './server.ts';

export interface ReviewOptions {
  out: string;
  /** the decisions store; default: the one the batch's config names */
  decisions?: string;
  /** the audit log; default: review-audit.jsonl beside the store */
  audit?: string;
  host?: string;
  port?: number;
  reviewer?: string;
  /** half-width of the uncertain band, in bits of match weight around the threshold */
  band?: number;
  log: Logger;
  /** a fixed token (tests); default: a random one */
  token?: string;
}

export interface RunningReview extends ReviewServer {
  session: ReviewSession;
  store: string;
  audit: string;
  /** seconds to open the batch and build the queues */
  startSeconds: number;
  /** closes the server, waits for the writes in flight, closes the batch */
  stop(): Promise<void>;
}

export async function startReview(o: ReviewOptions): Promise<RunningReview> {
  const t0 = performance.now();
  const batch = await openBatch(o.out);
  try {
    const named = o.decisions ?? (typeof batch.config.decisions === 'string' ? batch.config.decisions : undefined);
    if (!named) throw new InputError('no decisions store: give --decisions FILE (it is created when missing), or run the batch with one (`decisions` in its config)');
    const store = resolve(named);
    if (!existsSync(dirname(store)) || !statSync(dirname(store)).isDirectory()) throw new InputError('the folder of the decisions store does not exist', { file: store });
    if (existsSync(store) && !statSync(store).isFile()) throw new InputError('the decisions store is not a file', { file: store });
    const audit = resolve(o.audit ?? join(dirname(store), 'review-audit.jsonl'));
    if (!existsSync(dirname(audit))) throw new InputError('the folder of the audit log does not exist', { file: audit });
    const session = new ReviewSession({
      batch,
      model: await batchModel(batch),
      threshold: thresholdOf(batch.linkage),
      store,
      audit,
      reviewer: o.reviewer?.trim() || undefined,
      band: o.band ?? 4,
    });
    await session.start();
    if (session.reviewer) await session.auditLine({ action: 'session', store });
    const server = await startServer(session, { host: o.host ?? '127.0.0.1', port: o.port ?? 0, log: o.log, token: o.token });
    const startSeconds = (performance.now() - t0) / 1000;
    o.log.info({ port: server.port, seconds: Number(startSeconds.toFixed(3)) }, 'review app listening');
    let stopped: Promise<void> | undefined;
    return {
      ...server,
      session,
      store,
      audit,
      startSeconds,
      stop: () =>
        (stopped ??= (async () => {
          await server.close();
          await session.idle();
          await batch.close();
        })()),
    };
  } catch (e) {
    await batch.close();
    throw e;
  }
}
