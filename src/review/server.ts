/**
 * The review app's web server (Hono on Node's http server), bound to 127.0.0.1 by default.
 *
 * - Every request carries the session token printed with the URL: `?token=` on the first page load (it is then
 *   set as an HttpOnly, SameSite=Strict cookie and the URL is cleaned), the cookie for pages and files, and the
 *   `x-review-token` header for the API (the page reads it from its own HTML). Without it: 401.
 * - A request whose Host is not this server's address (DNS rebinding), or whose Origin is another site's, is
 *   refused with 403; a request that writes must come from this origin (Origin or Sec-Fetch-Site).
 * - The page, its script and the front-end libraries (Preact, htm) are served from the package: nothing comes
 *   from the network. A Content-Security-Policy allows only this origin.
 * - The server logs method, path (never the query string), status and time (pino, stderr): never a query string, a body, a NIK or a name.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Hono, type Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { serve, type ServerType } from '@hono/node-server';
import type { Logger } from '../engine/log.ts';
import { InputError } from '../engine/errors.ts';
import { QUEUES, type QueueName } from './queues.ts';
import type { ReviewSession } from './session.ts';

const COOKIE = 'dtsen_review';
const UI = join(dirname(fileURLToPath(import.meta.url)), 'ui');

/** The front-end libraries, served from node_modules under /vendor/. */
function vendorFiles(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const preactDir = dirname(require.resolve('preact/package.json'));
  const htmDir = dirname(dirname(require.resolve('htm')));
  return {
    'preact.mjs': join(preactDir, 'dist', 'preact.mjs'),
    'hooks.mjs': join(preactDir, 'hooks', 'dist', 'hooks.mjs'),
    'htm.mjs': join(htmDir, 'dist', 'htm.mjs'),
  };
}

const sameToken = (a: string | undefined, b: string): boolean => {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export interface ReviewServer {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

export function reviewApp(session: ReviewSession, o: { token: string; log: Logger; allowedHosts: () => string[] }) {
  const app = new Hono();
  const files = new Map<string, { body: string; type: string }>();
  const vendor = vendorFiles();
  const read = (name: string, path: string, type: string) => {
    let f = files.get(name);
    if (!f) files.set(name, (f = { body: readFileSync(path, 'utf8'), type }));
    return f;
  };

  // logging: route and status only
  app.use('*', async (c, next) => {
    const t0 = performance.now();
    await next();
    o.log.debug({ method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - t0) }, 'request');
  });

  // host, origin, token
  app.use('*', async (c, next) => {
    const host = c.req.header('host') ?? '';
    const hosts = o.allowedHosts();
    if (!hosts.includes(host)) return c.text('forbidden: unknown host', 403);
    const origin = c.req.header('origin');
    if (origin !== undefined && !hosts.some((h) => origin === `http://${h}`)) return c.text('forbidden: another origin', 403);
    const site = c.req.header('sec-fetch-site');
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      if (origin === undefined && site !== 'same-origin') return c.text('forbidden: a write must come from the app itself', 403);
      if (site !== undefined && site !== 'same-origin' && site !== 'none') return c.text('forbidden: another site', 403);
    }
    const url = new URL(c.req.url);
    const fromQuery = url.searchParams.get('token') ?? undefined;
    if (c.req.path === '/' && sameToken(fromQuery, o.token)) {
      setCookie(c, COOKIE, o.token, { httpOnly: true, sameSite: 'Strict', path: '/' });
      return c.redirect('/', 303);
    }
    const isApi = c.req.path.startsWith('/api/');
    const given = isApi ? c.req.header('x-review-token') : getCookie(c, COOKIE);
    if (!sameToken(given, o.token)) return c.text('unauthorised: open the URL with the token that `dtsen review` printed', 401);
    await next();
    c.header('x-content-type-options', 'nosniff');
    c.header('referrer-policy', 'no-referrer');
    c.header('cache-control', 'no-store');
  });

  app.get('/', (c) => {
    const nonce = randomBytes(16).toString('base64');
    const html = read('index.html', join(UI, 'index.html'), 'text/html').body.replace('{{TOKEN}}', o.token).replaceAll('{{NONCE}}', nonce);
    c.header('content-security-policy', `default-src 'self'; script-src 'self' 'nonce-${nonce}'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'`);
    c.header('x-frame-options', 'DENY');
    return c.html(html);
  });
  app.get('/favicon.ico', (c) => c.body(null, 204));
  app.get('/app.js', (c) => {
    const f = read('app.js', join(UI, 'app.js'), 'text/javascript');
    return c.body(f.body, 200, { 'content-type': 'text/javascript; charset=utf-8' });
  });
  app.get('/app.css', (c) => {
    const f = read('app.css', join(UI, 'app.css'), 'text/css');
    return c.body(f.body, 200, { 'content-type': 'text/css; charset=utf-8' });
  });
  app.get('/vendor/:file', (c) => {
    const path = vendor[c.req.param('file')];
    if (!path) return c.text('not found', 404);
    const f = read(`vendor/${c.req.param('file')}`, path, 'text/javascript');
    return c.body(f.body, 200, { 'content-type': 'text/javascript; charset=utf-8' });
  });

  const queueParam = (c: Context): QueueName => {
    const q = c.req.param('queue') as QueueName;
    if (!QUEUES.includes(q)) throw new InputError(`unknown queue '${q}'`, { expected: QUEUES.join(', ') });
    return q;
  };
  const int = (v: string | undefined, name: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InputError(`${name} must be a whole number`);
    return n;
  };
  const body = async (c: Context): Promise<Record<string, unknown>> => {
    const b = (await c.req.json().catch(() => null)) as unknown;
    if (!b || typeof b !== 'object' || Array.isArray(b)) throw new InputError('the request body must be a JSON object');
    return b as Record<string, unknown>;
  };
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const view = async (q: QueueName, pos: number) =>
    q === 'pairs' ? session.pairAt(pos) : q === 'clusters' ? session.clusterAt(pos) : q === 'persons' ? session.personAt(pos) : session.decisionAt(pos);

  app.get('/api/state', async (c) => c.json(await session.state()));
  app.post('/api/reviewer', async (c) => {
    await session.setReviewer(str((await body(c)).name) ?? '');
    return c.json(await session.state());
  });
  app.get('/api/queue/:queue', async (c) => {
    const q = queueParam(c);
    return c.json(await session.list(q, int(c.req.query('after') ?? '0', 'after'), Math.min(200, int(c.req.query('limit') ?? '100', 'limit'))));
  });
  app.get('/api/queue/:queue/next', async (c) => {
    const q = queueParam(c);
    const pos = await session.next(q, int(c.req.query('after') ?? '0', 'after'));
    return c.json(pos === null ? { pos: null, item: null } : { pos, item: await view(q, pos) });
  });
  app.get('/api/queue/:queue/:pos', async (c) => c.json(await view(queueParam(c), int(c.req.param('pos'), 'pos'))));
  app.get('/api/pair', async (c) => {
    const a = c.req.query('a');
    const b = c.req.query('b');
    if (!a || !b || a === b) throw new InputError('a pair names two different records (a, b)');
    return c.json(await session.pairOf([a, b]));
  });
  app.get('/api/person/:id', async (c) => c.json(await session.person(c.req.param('id'))));
  app.post('/api/search', async (c) => c.json(await session.search(str((await body(c)).q) ?? '')));
  app.post('/api/decide', async (c) => {
    const b = await body(c);
    const records = Array.isArray(b.records) && b.records.length === 2 && b.records.every((r) => typeof r === 'string') ? (b.records as [string, string]) : undefined;
    const queue = str(b.queue) as QueueName | 'search' | undefined;
    const r = await session.decidePair({ kind: str(b.kind) ?? '', pos: typeof b.pos === 'number' ? b.pos : undefined, records, queue, note: str(b.note), reference: str(b.reference) });
    // the next item comes back with the answer (one round trip from the key to the next pair), unless the page
    // has it already (`next: false`: it fetched it while the reviewer looked at this one)
    if ((queue === undefined || queue === 'pairs') && b.next !== false) {
      const after = typeof b.pos === 'number' ? b.pos : 0;
      const pos = await session.next('pairs', after);
      return c.json({ ...r, next: pos === null ? null : await session.pairAt(pos) });
    }
    return c.json({ ...r, next: null });
  });
  app.post('/api/split', async (c) => {
    const b = await body(c);
    const records = Array.isArray(b.records) ? b.records.filter((r): r is string => typeof r === 'string') : [];
    return c.json(await session.split({ pos: typeof b.pos === 'number' ? b.pos : -1, records, note: str(b.note), reference: str(b.reference) }));
  });
  app.post('/api/field', async (c) => {
    const b = await body(c);
    const value = typeof b.value === 'number' || typeof b.value === 'boolean' ? String(b.value) : (str(b.value) ?? '');
    return c.json(await session.fieldValue({ dtsen_id: str(b.dtsen_id) ?? '', field: str(b.field) ?? '', value, reference: str(b.reference), note: str(b.note), queue: (str(b.queue) as QueueName | undefined) ?? 'persons' }));
  });
  app.post('/api/reveal', async (c) => {
    const b = await body(c);
    const records = Array.isArray(b.records) ? b.records.filter((r): r is string => typeof r === 'string') : [];
    return c.json(await session.reveal({ records, dtsen_id: str(b.dtsen_id), view: str(b.view) ?? '' }));
  });

  app.notFound((c) => c.text('not found', 404));
  app.onError((e, c) => {
    if (e instanceof InputError) return c.json({ error: e.message }, 400);
    o.log.error({ err: { name: e.name } }, 'review request failed');
    // the message may quote a value: it goes to the reviewer's page only, never to the log
    return c.json({ error: `internal error: ${e.message}` }, 500);
  });
  return app;
}

/** Starts the server on host:port (port 0: any free port) and resolves once it listens. */
export async function startServer(session: ReviewSession, o: { host: string; port: number; log: Logger; token?: string }): Promise<ReviewServer> {
  const token = o.token ?? randomBytes(24).toString('base64url');
  let port = 0;
  const hostNames = o.host === '127.0.0.1' || o.host === 'localhost' ? ['127.0.0.1', 'localhost'] : [o.host];
  const app = reviewApp(session, { token, log: o.log, allowedHosts: () => hostNames.map((h) => `${h}:${port}`) });
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: o.port, hostname: o.host }, () => resolve(s));
    s.once('error', reject);
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://${o.host}:${port}/?token=${token}`,
    port,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
