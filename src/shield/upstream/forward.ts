import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import type { Clock } from '../../core/clock.js';
import { isRempartError, type ErrorCode } from '../../core/errors.js';
import type { RouteClass } from '../../config/schema.js';
import type { RequestContext } from '../context.js';
import type { BodyGuards, BodyLimits } from '../body-guard.js';
import { sendError } from '../respond.js';
import { hasRequestBody } from '../http-message.js';
import { buildUpstreamHeaders, filterResponseHeaders } from './headers.js';
import { upstreamErrorCode } from './error-code.js';
import type { AdmissionQueue, AdmissionRejection, Waiter } from './admission.js';
import type { Upstream } from './pools.js';
import type { CacheStore } from '../cache/store.js';
import { storableLifetimeS } from '../cache/policy.js';
import { sendCached } from '../cache/respond-cached.js';

/** What the forwarder needs, resolved once per configuration. */
export interface ForwarderDeps {
  upstreams: Map<string, Upstream>;
  admission: Map<string, AdmissionQueue>;
  clock: Clock;
  bodyGuards: BodyGuards;
  bodyLimits: BodyLimits;
  formatForwardedNode(ip: string): string;
  onError(ctx: RequestContext, code: ErrorCode, err: unknown): void;
  /** True while the shield shuts down: each response is then its connection's last. */
  draining(): boolean;
  cache: CacheStore;
  maxObjectBytes: number;
}

/** Terminal stage: streams the request to its upstream and the response back. */
export type Forwarder = (ctx: RequestContext) => void;

const RANK: Record<RouteClass | 'none', number> = { critical: 0, high: 1, normal: 2, low: 3, none: 3 };

/**
 * Builds the terminal stage. A request waits for a slot in its upstream's admission queue (bounded,
 * ordered by route class, with a timeout → 503 + Retry-After), then streams through undici's
 * low-level dispatch: no promise, AbortController or stream.pipeline per request, and explicit
 * backpressure (the upstream is paused while the client socket is full).
 */
export function createForwarder(deps: ForwarderDeps): Forwarder {
  const { upstreams, admission, bodyGuards, bodyLimits, clock } = deps;

  /** RFC 5861 stale-if-error: a stored copy, even expired, beats a 502/503/504. */
  const serveStale = (ctx: RequestContext): boolean => {
    if (ctx.cacheKey === undefined || ctx.res.headersSent) return false;
    const now = clock.now();
    const entry = deps.cache.stale(ctx.cacheKey, now);
    if (!entry) return false;
    ctx.cacheState = 'STALE';
    ctx.errorCode = undefined;
    if (deps.draining()) ctx.res.shouldKeepAlive = false;
    sendCached(ctx.res, ctx.id, entry, 'STALE', now, ctx.req.method === 'HEAD');
    return true;
  };

  const fail = (ctx: RequestContext, err: unknown): void => {
    const code = upstreamErrorCode(err);
    ctx.errorCode = code;
    deps.onError(ctx, code, err);
    if (serveStale(ctx)) return;
    // A request body we did not finish reading leaves the connection unusable.
    sendError(ctx.res, ctx.id, code, { close: hasRequestBody(ctx.req) && !ctx.req.complete });
  };

  const shed = (ctx: RequestContext, why: AdmissionRejection): void => {
    if (ctx.res.headersSent || ctx.res.destroyed) return;
    if (serveStale(ctx)) return;
    const code: ErrorCode = why === 'queue-timeout' ? 'RMP_ERR_QUEUE_TIMEOUT' : 'RMP_ERR_UPSTREAM_BUSY';
    if (deps.draining()) ctx.res.shouldKeepAlive = false;
    ctx.errorCode = code;
    // RFC 9110 §15.6.4: 503 with Retry-After while the upstream is saturated.
    sendError(ctx.res, ctx.id, code, { retryAfterS: 1, close: hasRequestBody(ctx.req) });
  };

  function dispatch(ctx: RequestContext, upstream: Upstream, queue: AdmissionQueue, state: { aborted: boolean; controller?: Dispatcher.DispatchController }): void {
    const { req, res } = ctx;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      queue.release(clock.now());
    };
    if (state.aborted) return release();
    // The body guard starts only now: time spent queued is ours, not the client's slowness.
    const body = hasRequestBody(req) ? bodyGuards.guard(req, bodyLimits) : null;
    const headers = buildUpstreamHeaders(req.rawHeaders, req.headers, {
      peer: ctx.peer,
      peerTrusted: ctx.peerTrusted,
      proto: 'http',
      requestId: ctx.id,
      // RFC 7239 §5.2: each proxy appends the node it received the request from.
      forwardedNode: deps.formatForwardedNode(ctx.peer),
    });
    const t0 = performance.now();
    // Filled while the response streams, when the route caches and the answer may be stored.
    let store: { chunks: Buffer[]; size: number; lifetimeS: number; status: number; headers: Record<string, string | string[]> } | undefined;
    let replaced = false;
    const pauseUntilDrain = (c: Dispatcher.DispatchController): void => {
      c.pause();
      res.once('drain', () => c.resume());
    };
    upstream.pool.dispatch({
      origin: upstream.origin,
      path: ctx.target,
      method: req.method as Dispatcher.HttpMethod,
      headers,
      body,
      headersTimeout: upstream.timeoutMs,
      bodyTimeout: upstream.timeoutMs,
    }, {
      onRequestStart(c) {
        state.controller = c;
        if (state.aborted) c.abort(new Error('client closed the connection'));
      },
      onResponseStart(c, statusCode, upHeaders) {
        ctx.upstreamMs = performance.now() - t0;
        if (state.aborted) return;
        // RFC 5861 §4: an upstream 500/502/503/504 is an error too; a stored copy answers instead,
        // and the upstream's own error body is read and dropped.
        if (statusCode >= 500 && statusCode <= 504 && serveStale(ctx)) { replaced = true; return; }
        const out = filterResponseHeaders(upHeaders);
        if (deps.draining()) res.shouldKeepAlive = false;
        const policy = ctx.cacheKey !== undefined ? ctx.route?.cache : undefined;
        if (policy) {
          ctx.cacheState = 'MISS';
          const lifetimeS = storableLifetimeS(statusCode, out, policy);
          const declared = Number(out['content-length'] ?? 0);
          if (lifetimeS !== undefined && declared <= deps.maxObjectBytes) {
            store = { chunks: [], size: 0, lifetimeS, status: statusCode, headers: { ...out } };
          }
          out['x-rempart-cache'] = 'MISS';
        }
        // Like Cloudflare's cf-ray: the id a customer can quote, also in the access log.
        if (out['x-request-id'] === undefined) out['x-request-id'] = ctx.id;
        res.writeHead(statusCode, out);
        if (res.writableNeedDrain) pauseUntilDrain(c);
      },
      onResponseData(c, chunk) {
        if (replaced) return;
        if (store) {
          store.size += chunk.length;
          if (store.size > deps.maxObjectBytes) store = undefined;
          else store.chunks.push(chunk);
        }
        if (!state.aborted && !res.write(chunk)) pauseUntilDrain(c);
      },
      onResponseEnd() {
        release();
        const policy = ctx.route?.cache;
        if (store && policy && ctx.cacheKey !== undefined && req.method !== 'HEAD') {
          const now = clock.now();
          const freshUntil = now + store.lifetimeS * 1000;
          deps.cache.put(ctx.cacheKey, {
            status: store.status, headers: store.headers, body: Buffer.concat(store.chunks, store.size),
            storedAt: now, freshUntil, staleUntil: freshUntil + policy.staleS * 1000,
          });
        }
        if (!state.aborted && !replaced) res.end();
      },
      onResponseError(_c, err) {
        release();
        if (ctx.upstreamMs === undefined) ctx.upstreamMs = performance.now() - t0;
        if (state.aborted || replaced) return; // the client left (logged as 499), or got a stale copy
        if (res.headersSent) {
          // Mid-body failure: the status is gone, so the only honest signal left is a cut connection.
          ctx.errorCode = upstreamErrorCode(err);
          deps.onError(ctx, ctx.errorCode as ErrorCode, err);
          res.destroy();
          return;
        }
        // A body guard verdict (slow POST, too large) travels through undici as the body's error.
        const cause = (err as { cause?: unknown })?.cause;
        fail(ctx, isRempartError(err) ? err : isRempartError(cause) ? cause : err);
      },
    });
  }

  return function forward(ctx) {
    const { req, res } = ctx;
    const name = (ctx.route as { upstream: string }).upstream;
    const upstream = upstreams.get(name) as Upstream;
    const queue = admission.get(name) as AdmissionQueue;
    const cl = req.headers['content-length'];
    if (bodyLimits.maxBodyBytes > 0 && cl !== undefined && Number(cl) > bodyLimits.maxBodyBytes) {
      ctx.errorCode = 'RMP_ERR_BODY_TOO_LARGE';
      sendError(res, ctx.id, 'RMP_ERR_BODY_TOO_LARGE', { close: true });
      return;
    }
    const state: { aborted: boolean; controller?: Dispatcher.DispatchController } = { aborted: false };
    const waiter: Waiter = {
      rank: RANK[ctx.routeClass],
      enqueuedAt: 0,
      state: 'new',
      start: () => dispatch(ctx, upstream, queue, state),
      reject: (why) => shed(ctx, why),
    };
    ctx.onAbort = () => {
      state.aborted = true;
      if (waiter.state === 'queued') queue.cancel(waiter);
      state.controller?.abort(new Error('client closed the connection'));
    };
    queue.admit(waiter, clock.now());
  };
}
