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

  const fail = (ctx: RequestContext, err: unknown): void => {
    const code = upstreamErrorCode(err);
    ctx.errorCode = code;
    deps.onError(ctx, code, err);
    // A request body we did not finish reading leaves the connection unusable.
    sendError(ctx.res, ctx.id, code, { close: hasRequestBody(ctx.req) && !ctx.req.complete });
  };

  const shed = (ctx: RequestContext, why: AdmissionRejection): void => {
    if (ctx.res.headersSent || ctx.res.destroyed) return;
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
        const out = filterResponseHeaders(upHeaders);
        if (deps.draining()) res.shouldKeepAlive = false;
        // Like Cloudflare's cf-ray: the id a customer can quote, also in the access log.
        if (out['x-request-id'] === undefined) out['x-request-id'] = ctx.id;
        res.writeHead(statusCode, out);
        if (res.writableNeedDrain) pauseUntilDrain(c);
      },
      onResponseData(c, chunk) {
        if (!state.aborted && !res.write(chunk)) pauseUntilDrain(c);
      },
      onResponseEnd() {
        release();
        if (!state.aborted) res.end();
      },
      onResponseError(_c, err) {
        release();
        if (ctx.upstreamMs === undefined) ctx.upstreamMs = performance.now() - t0;
        if (state.aborted) return; // the client left; logged as 499
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
    res.once('close', () => {
      if (res.writableFinished) return;
      state.aborted = true;
      if (waiter.state === 'queued') queue.cancel(waiter);
      state.controller?.abort(new Error('client closed the connection'));
    });
    queue.admit(waiter, clock.now());
  };
}
