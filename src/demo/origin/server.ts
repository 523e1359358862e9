import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createCapacityGate } from './capacity.js';
import { bankAccountPage, bankLoginPage, homePage, searchPage, trackPage } from './pages.js';
import { attachLiveStatus, liveParcelPage, streamLiveStatus } from './live.js';
import { readBodyText } from '../../core/read-body.js';

/** Options of the demo origin; defaults model a small application server. */
export interface OriginOptions {
  host?: string;
  port?: number;
  /** Requests processed at once (the worker pool). */
  maxInFlight?: number;
  /** Requests waiting for a worker; beyond it the origin answers 503 at once. */
  maxQueue?: number;
  /**
   * Base service time of a tracking lookup, ms; search costs 2x per term of its query (a one-word
   * search 2x, up to `MAX_SEARCH_TERMS`), login 3x, static 0.2x.
   */
  serviceMs?: number;
  /**
   * How much each request's service time varies around its mean, 0–0.9 (default 0: every lookup
   * takes exactly `serviceMs`): uniform between (1 − spread) and (1 + spread) times it. A real
   * application's latency varies at no load (a cache hit, a cold row); a shield that judges
   * queueing from latency must not read that variation as load.
   */
  serviceSpread?: number;
  /** Seconds after creation at which a payment authorization is approved by the (simulated) app. */
  approveAfterS?: number;
  /**
   * Size of `/static/app.js`, a cacheable script bundle, bytes (default 16 MiB). A slow reader holds
   * the worker that serves it until the part of it that does not fit in the kernel's socket buffers
   * (about 4 MB per TCP hop on Linux loopback, measured) has been read: see docs/drill.md, slow-read.
   */
  largeAssetBytes?: number;
  /** This instance's name (several origins behind one shield): sent as X-Origin and in live updates. */
  name?: string;
  /**
   * Instances given the same secret accept each other's sessions and payment ids (signed, not
   * remembered), as servers sharing one database would: a customer whose server dies goes on
   * on another one.
   */
  stateSecret?: string;
}

/** Signed ids: `<value>.<mac>`, checked without memory by any instance holding the secret. */
function createSigner(secret: string | undefined): { sign(v: string): string; open(id: string): string | undefined } {
  const mac = (v: string): string => createHmac('sha256', secret ?? '').update(v).digest('base64url').slice(0, 22);
  return {
    sign: (v) => (secret ? `${v}.${mac(v)}` : v),
    open(id) {
      if (!secret) return undefined;
      const dot = id.lastIndexOf('.');
      if (dot < 1) return undefined;
      const v = id.slice(0, dot);
      const a = Buffer.from(id.slice(dot + 1));
      const b = Buffer.from(mac(v));
      return a.length === b.length && timingSafeEqual(a, b) ? v : undefined;
    },
  };
}

/** Path groups counted separately in the origin's statistics. */
export type OriginPathGroup = 'home' | 'track' | 'search' | 'login' | 'account' | 'pay' | 'static' | 'live' | 'other';

export interface OriginStats {
  served: Record<OriginPathGroup, number>;
  /**
   * Per client address (last X-Forwarded-For entry, else the peer), only with `?clients=1`: lets a
   * drill tell how much of each population reached the origin through a proxy.
   */
  clients?: Record<string, { served: number; rejected: number }>;
  rejected: number;
  inFlight: number;
  queued: number;
  maxInFlight: number;
  maxQueue: number;
}

export interface Origin {
  server: Server;
  url: string;
  port: number;
  stats(): OriginStats;
  close(): Promise<void>;
}

/** The demo password every simulated customer knows; random credentials fail. */
export const DEMO_PASSWORD = 'demo-password';

const COST: Record<OriginPathGroup, number> = {
  home: 1, track: 1, search: 2, login: 3, account: 1, pay: 1, static: 0.2, live: 1, other: 1,
};

/** Terms a search runs at most: the application bounds its query, as real search engines do. */
export const MAX_SEARCH_TERMS = 32;

/**
 * Terms of a search query (words separated by spaces or `+`, as a form sends them), 1 at least:
 * a full-text search intersects one posting list per term, so its cost grows with them — what an
 * attacker who looks for the costliest request on a site sends (drill `costly-search`).
 */
export function searchTerms(q: string | null): number {
  const n = (q ?? '').split(/[\s+]+/).filter((w) => w.length > 0).length;
  return Math.min(MAX_SEARCH_TERMS, Math.max(1, n));
}

/**
 * What a search asks for: `q` of the query, or the path's segment after `/search/` — a site may put
 * its search in the path (`/search/colis+suivi`, `/search/colis+suivi/page/2`), where the shield reads the cost from the path
 * (shield/detect/cost-key.ts; drill `--search-in-path`).
 */
export function searchQueryOf(url: URL): string {
  if (url.pathname.startsWith('/search/')) {
    // The segment after `/search/`: what follows it (`/page/2`) is the page of results, not terms.
    const rest = url.pathname.slice('/search/'.length);
    const terms = rest.slice(0, (rest.indexOf('/') + 1 || rest.length + 1) - 1);
    try { return decodeURIComponent(terms); } catch { return terms; }
  }
  return url.searchParams.get('q') ?? '';
}

function groupOf(method: string, path: string): OriginPathGroup {
  if (path === '/' || path === '/index.html') return 'home';
  if (path.startsWith('/track')) return 'track';
  // The search's JSON API for the mobile app (`/api/search?q=`): the same action, a route the web's
  // customers never use (drill `costly-search` with `alias=2`).
  if (path.startsWith('/search') || path.startsWith('/api/search')) return 'search';
  if (path.startsWith('/bank/login')) return 'login';
  if (path.startsWith('/bank/')) return 'account';
  if (path.startsWith('/api/pay/')) return 'pay';
  if (path.startsWith('/static/')) return 'static';
  return method === 'GET' ? 'other' : 'other';
}

// Pages and JSON say `Vary: Accept-Encoding`, as an origin that compresses them does (nginx
// `gzip_vary`, Express's `compression`) whether this answer was compressed or not: what a cache in
// front of a real site has to store (shield/cache/vary.ts).
const VARIES = /^(text\/html|application\/json)/;

function send(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...(VARIES.test(type) ? { vary: 'Accept-Encoding' } : {}), ...extra });
  res.end(body);
}

const json = (res: ServerResponse, status: number, value: unknown, extra: Record<string, string> = {}): void =>
  send(res, status, 'application/json', JSON.stringify(value), extra);

/** A script bundle of `bytes` bytes, built once per origin (repeated lines of plausible JavaScript). */
function buildAsset(bytes: number): Buffer {
  const line = Buffer.from('export function track(id){return fetch("/track/"+encodeURIComponent(id)).then(r=>r.json())}\n');
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += line.length) line.copy(out, i);
  return out;
}

function readBody(req: IncomingMessage, limit = 64 * 1024): Promise<string> {
  return readBodyText(req, limit, () => new Error('body too large'));
}

function parseForm(body: string, type: string | undefined): Record<string, string> {
  if (type?.includes('application/json')) {
    try {
      const v = JSON.parse(body) as unknown;
      return typeof v === 'object' && v !== null ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)])) : {};
    } catch {
      return {};
    }
  }
  return Object.fromEntries(new URLSearchParams(body));
}

/** Starts the demo origin: parcel tracking, search, bank login and a payment-authorization stub API. */
export async function startOrigin(opts: OriginOptions = {}): Promise<Origin> {
  const maxInFlight = opts.maxInFlight ?? 64;
  const maxQueue = opts.maxQueue ?? 256;
  const serviceMs = opts.serviceMs ?? 10;
  const spread = opts.serviceSpread ?? 0;
  if (!(spread >= 0 && spread <= 0.9)) throw new RangeError(`serviceSpread must be from 0 to 0.9, got ${spread}`);
  const serviceTime = (cost: number): number => serviceMs * cost * (spread === 0 ? 1 : 1 - spread + 2 * spread * Math.random());
  const approveAfterMs = (opts.approveAfterS ?? 4) * 1000;
  let asset: { body: Buffer; etag: string } | null = null; // built on first request: most runs never ask
  const getAsset = (): { body: Buffer; etag: string } => {
    if (asset) return asset;
    const body = buildAsset(opts.largeAssetBytes ?? 16 * 1024 * 1024);
    return (asset = { body, etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"` });
  };
  const gate = createCapacityGate(maxInFlight, maxQueue);
  const served = Object.fromEntries(Object.keys(COST).map((k) => [k, 0])) as Record<OriginPathGroup, number>;
  let rejected = 0;
  const sessions = new Set<string>();
  const signer = createSigner(opts.stateSecret);
  const payments = new Map<string, { createdAt: number; amount: string; payee: string }>();
  const clients = new Map<string, { served: number; rejected: number }>();
  const maxClients = 500_000;
  const clientOf = (req: IncomingMessage): { served: number; rejected: number } => {
    const xff = req.headers['x-forwarded-for'];
    const forwarded = (Array.isArray(xff) ? xff.join(',') : xff)?.split(',').pop()?.trim();
    const addr = (forwarded || req.socket.remoteAddress || 'unknown').replace(/^::ffff:/, '');
    const key = clients.has(addr) || clients.size < maxClients ? addr : 'other';
    let c = clients.get(key);
    if (!c) { c = { served: 0, rejected: 0 }; clients.set(key, c); }
    return c;
  };

  const stats = (): OriginStats => ({
    served: { ...served }, rejected, inFlight: gate.inFlight, queued: gate.queued, maxInFlight, maxQueue,
  });

  async function handle(req: IncomingMessage, res: ServerResponse, group: OriginPathGroup, url: URL, search: string): Promise<void> {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    if (group === 'home') return send(res, 200, 'text/html; charset=utf-8', homePage());
    if (group === 'static' && path === '/static/app.js') {
      const a = getAsset();
      res.writeHead(200, { 'content-type': 'text/javascript', 'content-length': a.body.length, 'cache-control': 'public, max-age=3600', etag: a.etag });
      res.end(method === 'HEAD' ? undefined : a.body);
      return;
    }
    if (group === 'static') return send(res, 200, 'text/css', 'body{font-family:sans-serif}', { 'cache-control': 'max-age=3600' });
    if (group === 'track') {
      const id = path.startsWith('/track/') ? decodeURIComponent(path.slice('/track/'.length)) : url.searchParams.get('id') ?? '';
      if (!id) return send(res, 200, 'text/html; charset=utf-8', trackPage());
      const h = createHash('sha256').update(id).digest();
      const steps = ['accepted', 'in transit', 'at sorting centre', 'out for delivery', 'delivered'];
      const n = 1 + ((h[0] ?? 0) % steps.length);
      return json(res, 200, { id, status: steps[n - 1], events: steps.slice(0, n) }, { 'cache-control': 'max-age=30' });
    }
    if (group === 'search') {
      return send(res, 200, 'text/html; charset=utf-8', searchPage(search));
    }
    if (group === 'login') {
      if (method === 'GET') return send(res, 200, 'text/html; charset=utf-8', bankLoginPage());
      if (method !== 'POST') return send(res, 405, 'text/plain', 'method not allowed\n', { allow: 'GET, POST' });
      const form = parseForm(await readBody(req), req.headers['content-type']);
      if (!form.user || form.password !== DEMO_PASSWORD) return json(res, 401, { error: 'invalid credentials' });
      const sid = signer.sign(randomUUID());
      sessions.add(sid);
      return send(res, 303, 'text/plain', 'see /bank/account\n', {
        location: '/bank/account', 'set-cookie': `sid=${sid}; Path=/; HttpOnly; SameSite=Lax`,
      });
    }
    if (group === 'account') {
      const sid = /(?:^|;\s*)sid=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
      const known = sid !== undefined && (sessions.has(sid) || signer.open(sid) !== undefined);
      // The account page's script asks for its data here: private, never cached, 401 (not a
      // redirect to the login page) without a session, as an API answers.
      if (path.startsWith('/bank/api/')) {
        if (!known) return json(res, 401, { error: 'login first' }, { 'cache-control': 'no-store' });
        const name = path.slice('/bank/api/'.length);
        const h = createHash('sha256').update(`${sid}:${name}`).digest();
        return json(res, 200, { name, items: Array.from({ length: 1 + ((h[0] ?? 0) % 5) }, (_, i) => ({ id: i, value: h[i + 1] ?? 0 })) }, { 'cache-control': 'private, no-store' });
      }
      if (!known) return send(res, 302, 'text/plain', 'login first\n', { location: '/bank/login' });
      return send(res, 200, 'text/html; charset=utf-8', bankAccountPage());
    }
    if (group === 'pay') {
      if (method === 'POST' && path === '/api/pay/authorizations') {
        const form = parseForm(await readBody(req), req.headers['content-type']);
        // With a shared secret the id carries its creation time, signed: any instance can answer for it.
        const id = opts.stateSecret ? signer.sign(`${randomUUID()}~${Date.now().toString(36)}`) : randomUUID();
        payments.set(id, { createdAt: Date.now(), amount: form.amount ?? '0', payee: form.payee ?? '' });
        return json(res, 201, { id, status: 'pending' }, { location: `/api/pay/authorizations/${id}` });
      }
      const m = /^\/api\/pay\/authorizations\/([0-9a-f-]{36}(?:~[0-9a-z]{1,12}\.[A-Za-z0-9_-]{22})?)$/.exec(path);
      const signed = m ? signer.open(m[1] ?? '') : undefined;
      const p = m ? payments.get(m[1] ?? '') ?? (signed ? { createdAt: parseInt(signed.split('~')[1] ?? '', 36), amount: '', payee: '' } : undefined) : undefined;
      if (method === 'GET' && p && m) {
        const status = Date.now() - p.createdAt >= approveAfterMs ? 'approved' : 'pending';
        return json(res, 200, { id: m[1], status, amount: p.amount, payee: p.payee }, { 'cache-control': 'no-store' });
      }
      return json(res, 404, { error: 'unknown authorization' });
    }
    if (method === 'POST' && path === '/echo') {
      // Streams the body through a hash so large uploads never sit in memory.
      const hash = createHash('sha256');
      let bytes = 0;
      for await (const chunk of req as AsyncIterable<Buffer>) { bytes += chunk.length; hash.update(chunk); }
      return json(res, 200, { bytes, sha256: hash.digest('hex') });
    }
    return send(res, 404, 'text/plain', 'not found\n');
  }

  // Workers held by each connection's requests, freed if it closes before they answer.
  const workersOf = new WeakMap<Socket, Set<() => void>>();
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://origin.invalid');
    if (opts.name) res.setHeader('x-origin', opts.name);
    // Health check for the shield's active probes: outside the worker pool, like a load balancer's check port.
    if (url.pathname === '/healthz') return send(res, 200, 'text/plain', 'ok\n', { 'cache-control': 'no-store' });
    if (url.pathname.startsWith('/live/parcel/') && req.method === 'GET') {
      return send(res, 200, 'text/html; charset=utf-8', liveParcelPage(decodeURIComponent(url.pathname.slice('/live/parcel/'.length))));
    }
    if (url.pathname === '/__origin/stats') {
      return json(res, 200, url.searchParams.get('clients') === '1' ? { ...stats(), clients: Object.fromEntries(clients) } : stats());
    }
    // Live status as Server-Sent Events: the subscription is a lookup through the workers, as a
    // WebSocket handshake is; the stream then holds a connection, not a worker.
    const live = /^\/live\/events\/([A-Za-z0-9-]{1,40})$/.exec(url.pathname);
    if (live && req.method === 'GET') {
      req.resume();
      if (!(await liveLookup(req))) return send(res, 503, 'text/plain', 'origin overloaded\n', { 'retry-after': '1' });
      if (res.destroyed) return;
      return streamLiveStatus(res, live[1] as string, opts.name ?? 'origin', 2_000);
    }
    const client = clientOf(req);
    const group = groupOf(req.method ?? 'GET', url.pathname);
    const release = await gate.acquire();
    if (!release) {
      rejected++;
      client.rejected++;
      req.resume();
      return send(res, 503, 'text/plain', 'origin overloaded\n', { 'retry-after': '1' });
    }
    // A client that left while queued already closed `res`: its 'close' will not fire again,
    // so release the worker now instead of leaking it.
    const socket = req.socket;
    if (res.closed || res.destroyed || socket.destroyed) { release(); return; }
    // The worker is free once the response is done — or once its connection is gone: a response
    // queued behind an earlier one on a pipelining connection is never given the socket, and Node
    // emits neither 'finish' nor 'close' for it when the client leaves. Tied to 'close' alone, every
    // such request kept a worker for good (a pipeline flood straight at the origin left it with
    // fewer workers for the rest of a bench run).
    let held = workersOf.get(socket);
    if (!held) {
      const set = (held = new Set());
      workersOf.set(socket, set);
      // One listener per connection, however deep it pipelines.
      socket.once('close', () => { for (const free of set) free(); set.clear(); });
    }
    held.add(release);
    const own = held;
    res.once('close', () => { own.delete(release); release(); });
    try {
      // A search form may post its terms (`q`, urlencoded or JSON) rather than put them in the URL.
      const search = group !== 'search' ? '' : req.method === 'POST' ? parseForm(await readBody(req), req.headers['content-type']).q ?? '' : searchQueryOf(url);
      const cost = group === 'search' ? COST.search * searchTerms(search) : COST[group];
      await new Promise((r) => setTimeout(r, serviceTime(cost)));
      await handle(req, res, group, url, search);
      served[group]++;
      client.served++;
    } catch (err) {
      if (!res.headersSent) send(res, 400, 'text/plain', `bad request: ${(err as Error).message}\n`);
      else res.destroy();
    }
  });
  server.keepAliveTimeout = 30_000;
  // A live client's handshake (its session checked) and each of its messages (a status lookup):
  // a worker for a tracking lookup's time, like a page.
  const liveLookup = async (req: IncomingMessage): Promise<boolean> => {
    const client = clientOf(req);
    const release = await gate.acquire();
    if (!release) { rejected++; client.rejected++; return false; }
    try {
      await new Promise((r) => setTimeout(r, serviceTime(COST.live)));
      served.live++;
      client.served++;
      return true;
    } finally {
      release();
    }
  };
  const detachLive = attachLiveStatus(server, opts.name ?? 'origin', 2_000, liveLookup);
  server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    stats,
    close: async () => {
      detachLive();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
