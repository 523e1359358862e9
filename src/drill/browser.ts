import { Pool } from 'undici';
import { WebSocket } from 'ws';
import type { ChallengeResponse, ChallengeSolver } from './challenge.js';
import { connectorFrom, drillLocalPorts } from './local-ports.js';
import { DRILL_TLS_OPTIONS } from './tls-target.js';
import { browserHeaders, websocketHeaders, type BrowserIdentity, type ResourceKind } from './headers.js';

/** Options of one simulated browser. */
export interface BrowserOptions {
  /** Target origin, e.g. http://127.0.0.1:8080. */
  origin: string;
  /** Source address every socket binds to (several browsers may share one: CGNAT). */
  localAddress?: string;
  identity: BrowserIdentity;
  /** Keep-alive connections to the origin, 6 like browsers per host. */
  connections?: number;
  solver?: ChallengeSolver;
  /** Redirects followed before giving up (browsers allow ~20; 5 is plenty here). */
  maxRedirects?: number;
  /** Response bodies larger than this are cut (bounded memory). */
  maxBodyBytes?: number;
  /** Cookies the browser already holds (a returning customer's, set on an earlier visit). */
  cookies?: Iterable<readonly [string, string]>;
  /**
   * Offer HTTP/2 (an https:// target): where it is chosen, one connection carrying every request
   * of the page at once, as browsers do (RFC 9113 §9.1.1: a client should keep one connection per
   * origin); where it is not, HTTP/1.1 over `connections`.
   */
  h2?: boolean;
}

/** Concurrent streams a browser uses on its one HTTP/2 connection (Chromium allows 100 or the server's SETTINGS). */
const H2_STREAMS = 100;

export interface FetchInit {
  kind?: ResourceKind;
  body?: string;
  contentType?: string;
  referer?: string;
  signal?: AbortSignal;
  /** Whole attempt budget including redirects and challenge, ms. */
  timeoutMs?: number;
}

export interface BrowserResponse extends ChallengeResponse {
  redirects: number;
  challenged: boolean;
}

/** How a WebSocket handshake ended: 101 with the open socket, or the refusal's status (0: no answer). */
export interface WebSocketOpening {
  status: number;
  socket?: WebSocket;
  /** Why no status came: 'timeout' (no answer in time), 'aborted', or 'error'. */
  failure?: 'timeout' | 'aborted' | 'error';
}

/** A cookie-keeping, redirect-following HTTP client bound to one source address. */
export interface Browser {
  fetch(method: string, path: string, init?: FetchInit): Promise<BrowserResponse>;
  /**
   * Opens a WebSocket on `path` as the page's script would: the browser's cookies and identity, its
   * source address; no redirect or challenge is followed (a browser's WebSocket cannot).
   */
  openWebSocket(path: string, init: { timeoutMs: number; signal?: AbortSignal }): Promise<WebSocketOpening>;
  readonly cookies: ReadonlyMap<string, string>;
  close(): Promise<void>;
}

/** Applies Set-Cookie headers to a jar (name=value; Max-Age<=0 or a past Expires deletes). */
export function applySetCookie(jar: Map<string, string>, header: string | string[] | undefined): void {
  if (!header) return;
  for (const line of Array.isArray(header) ? header : [header]) {
    const [pair = '', ...attrs] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const expired = attrs.some((a) => {
      const [k = '', v = ''] = a.split('=');
      const key = k.trim().toLowerCase();
      if (key === 'max-age') return Number(v) <= 0;
      if (key === 'expires') return Date.parse(v) < Date.now();
      return false;
    });
    if (expired) jar.delete(name);
    else jar.set(name, value);
  }
}

const cookieHeader = (jar: Map<string, string>): string | undefined =>
  jar.size ? [...jar].map(([k, v]) => `${k}=${v}`).join('; ') : undefined;

/** Creates a browser: one undici Pool (up to 6 keep-alive connections) bound to its address. */
export function createBrowser(opts: BrowserOptions): Browser {
  const h2 = opts.h2 === true;
  const pool = new Pool(opts.origin, {
    // HTTP/2: one connection, many streams (undici counts them as `pipelining`); the requests of
    // a page no longer wait for one of six connections. An HTTP/1.1 target would be pipelined to:
    // `h2` is for targets that offer h2.
    connections: h2 ? 1 : opts.connections ?? 6,
    pipelining: h2 ? H2_STREAMS : 1,
    ...(h2 ? { allowH2: true, maxConcurrentStreams: H2_STREAMS } : {}),
    keepAliveTimeout: 30_000,
    // The source address, each connection on a port the drill picks (drill/local-ports.ts).
    connect: opts.localAddress ? connectorFrom(opts.localAddress, undefined, undefined, h2) : { ...DRILL_TLS_OPTIONS, ...(h2 ? { allowH2: true } : {}) },
  });
  const jar = new Map<string, string>(opts.cookies ?? []);
  const origin = new URL(opts.origin);
  const maxBody = opts.maxBodyBytes ?? 256 * 1024;

  async function once(method: string, path: string, init: FetchInit, signal: AbortSignal | undefined, timeoutMs: number): Promise<ChallengeResponse> {
    const headers = browserHeaders(opts.identity, init.kind ?? 'document', init.referer);
    const cookie = cookieHeader(jar);
    if (cookie) headers.cookie = cookie;
    if (init.body !== undefined) headers['content-type'] = init.contentType ?? 'application/x-www-form-urlencoded';
    if (init.kind === 'form' || init.kind === 'json-post') headers.origin = opts.origin;
    const res = await pool.request({
      path, method, headers, body: init.body, signal,
      headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
    });
    applySetCookie(jar, res.headers['set-cookie']);
    let body = '';
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size <= maxBody) body += chunk.toString('utf8');
    }
    return { status: res.statusCode, headers: res.headers, body, url: origin.origin + path };
  }

  async function follow(method: string, path: string, init: FetchInit, signal: AbortSignal | undefined, timeoutMs: number): Promise<BrowserResponse> {
    let res = await once(method, path, init, signal, timeoutMs);
    let redirects = 0;
    let m = method;
    let p = path;
    let i = init;
    // RFC 9110 §15.4: 301/302/303 turn into GET; 307/308 keep method and body.
    while (res.status >= 300 && res.status < 400 && res.status !== 304 && redirects < (opts.maxRedirects ?? 5)) {
      const loc = res.headers.location;
      const next = typeof loc === 'string' ? new URL(loc, res.url) : null;
      if (!next || next.origin !== origin.origin) break; // never follow off the target
      if (res.status !== 307 && res.status !== 308) { m = 'GET'; i = { ...i, body: undefined, kind: 'document' }; }
      p = next.pathname + next.search;
      res = await once(m, p, { ...i, referer: res.url }, signal, timeoutMs);
      redirects++;
    }
    return { ...res, redirects, challenged: false };
  }

  return {
    cookies: jar,
    async fetch(method, path, init = {}) {
      const timeoutMs = init.timeoutMs ?? 10_000;
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
      const res = await follow(method, path, init, signal, timeoutMs);
      // A browser answers a challenge for a page (the interstitial's script) or for a fetch() of a
      // script that speaks the protocol; a <link> stylesheet or a <script> tag has no script of its
      // own to solve one: refused, the page goes without it.
      if (init.kind === 'css' || init.kind === 'script' || !opts.solver?.detect(res)) return res;
      const http = { request: (mm: string, pp: string, ii: { body?: string; contentType?: string } = {}) =>
        follow(mm, pp, { ...ii, kind: ii.body !== undefined ? 'json-post' : 'json' }, signal, timeoutMs) };
      const solved = await opts.solver.solve(res, http, signal);
      if (!solved) return { ...res, challenged: true };
      const retry = await follow(method, path, init, signal, timeoutMs);
      return { ...retry, challenged: true };
    },
    openWebSocket(path, init) {
      const headers = websocketHeaders(opts.identity, opts.origin);
      const cookie = cookieHeader(jar);
      if (cookie) headers.cookie = cookie;
      const address = opts.localAddress;
      const ws = new WebSocket(`${origin.origin.replace(/^http/, 'ws')}${path}`, {
        headers, handshakeTimeout: init.timeoutMs, perMessageDeflate: false, ...DRILL_TLS_OPTIONS,
        // The source address on a port the drill picks (drill/local-ports.ts); ws hands these to net.connect.
        ...(address ? { localAddress: address, localPort: drillLocalPorts.next(address) } : {}),
      });
      return new Promise<WebSocketOpening>((resolve) => {
        let settled = false;
        const settle = (o: WebSocketOpening): void => {
          if (settled) return;
          settled = true;
          init.signal?.removeEventListener('abort', onAbort);
          if (o.socket === undefined) ws.terminate();
          resolve(o);
        };
        const onAbort = (): void => settle({ status: 0, failure: 'aborted' });
        if (init.signal?.aborted) { onAbort(); return; }
        init.signal?.addEventListener('abort', onAbort, { once: true });
        ws.once('open', () => settle({ status: 101, socket: ws }));
        ws.once('unexpected-response', (_req, res) => { res.resume(); settle({ status: res.statusCode ?? 0 }); });
        ws.on('error', (err: Error) => settle({ status: 0, failure: /timed out|timeout/i.test(err.message) ? 'timeout' : 'error' }));
      });
    },
    close: () => pool.destroy(),
  };
}
