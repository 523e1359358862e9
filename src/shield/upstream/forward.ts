import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import type { Clock } from '../../core/clock.js';
import { isRempartError, type ErrorCode } from '../../core/errors.js';
import type { RouteClass } from '../../config/schema.js';
import { onExchangeEnd, type RequestContext } from '../context.js';
import type { BodyGuards, BodyLimits } from '../body-guard.js';
import { hasRequestBody } from '../http-message.js';
import type { BodyObserver, Failure, UpstreamRequest, UpstreamResponseFilter } from '../pipeline/phases.js';
import type { Verdict } from '../verdict.js';
import { filterResponseHeaders } from './headers.js';
import { upstreamErrorCode } from './error-code.js';
import type { AdmissionQueue, AdmissionRejection, Waiter } from './admission.js';
import type { Upstream } from './pools.js';
import type { ServerHealth } from './health/monitor.js';
import { isReplayable, isRetryableError } from './retry.js';
import type { ResponseSink, ResponseSinks } from './response-sink.js';

/** What the forwarder needs, resolved once per configuration. */
export interface ForwarderDeps {
  upstreams: Map<string, Upstream>;
  admission: Map<string, AdmissionQueue>;
  clock: Clock;
  /** Streams the body of routes with `requestBuffering: false` through the body guard. */
  bodyGuards: BodyGuards;
  bodyLimits: BodyLimits;
  responseFilters: readonly UpstreamResponseFilter[];
  /** Response read-ahead (memory, then spool files) so slow readers do not hold upstream slots. */
  responseSinks: ResponseSinks;
  /**
   * A client that accepted nothing for this long while its response holds an upstream slot is cut
   * when other requests wait for a slot (and after `sendTimeoutMs` in any case).
   */
  stallEvictMs: number;
  sendTimeoutMs: number;
  /** True while the shield shuts down: each response is then its connection's last. */
  draining(): boolean;
  /** One completed exchange's latency to response headers, for an adaptive concurrency limit. */
  onSample?(upstream: string, rttMs: number, inFlight: number, dropped: boolean, kind: string): void;
  /** A request that failed before any response byte goes to another server. */
  onRetry?(upstream: string, from: ServerHealth, to: ServerHealth, code: ErrorCode): void;
}

/** How the proxy step hands back what it does not write itself (one object for the process). */
export interface ForwardCallbacks {
  /** The exchange failed (before or after reaching the upstream): the pipeline answers. */
  fail(ctx: RequestContext, failure: Failure): void;
  /** An upstream-response filter replaced the answer (a stale copy): the edge writes it. */
  answer(ctx: RequestContext, verdict: Verdict): void;
  /** A response filter threw. */
  internal(ctx: RequestContext, err: unknown): void;
}

/** The proxy step: waits for an upstream slot, then streams the exchange. */
export interface Forwarder {
  (ctx: RequestContext, up: UpstreamRequest, cb: ForwardCallbacks): void;
  /** Cuts clients stalled past their limits (called on the runtime's ticker); returns how many. */
  evictStalled(now: number): number;
}

const RANK: Record<RouteClass | 'none', number> = { critical: 0, high: 1, normal: 2, low: 3, none: 3 };

interface ExchangeState { aborted: boolean; responded?: boolean; controller?: Dispatcher.DispatchController }

// RFC 9110 §15.6.4: every server down is a 503 (with Retry-After, added by the edge), answered at once.
const ALL_DOWN: Failure = Object.freeze({ code: 'RMP_ERR_UPSTREAM_DOWN', error: undefined, reachedUpstream: false });

/**
 * Builds the proxy step. A request waits for a slot in its upstream's admission queue (bounded,
 * shared by route class, with a timeout → 503 + Retry-After), then goes through undici's low-level
 * dispatch: no promise, AbortController or stream.pipeline per request. The response is read from
 * the upstream at its own pace up to `responseBuffer.perResponseBytes` ahead of the client (nginx
 * proxy_buffering), so a slow reader frees the upstream's connection; beyond that, backpressure.
 */
export function createForwarder(deps: ForwarderDeps): Forwarder {
  const { upstreams, admission, bodyGuards, bodyLimits, clock, responseFilters, responseSinks } = deps;
  // Exchanges whose upstream is paused for a slow client: checked on a ticker, never a timer each.
  const paused = new Set<{ sink: ResponseSink; queue: AdmissionQueue; evict(): void }>();

  const shed = (ctx: RequestContext, why: AdmissionRejection, cb: ForwardCallbacks): void => {
    if (ctx.res.headersSent || ctx.res.destroyed) return;
    const code: ErrorCode = why === 'queue-timeout' ? 'RMP_ERR_QUEUE_TIMEOUT' : 'RMP_ERR_UPSTREAM_BUSY';
    cb.fail(ctx, { code, error: undefined, reachedUpstream: false });
  };

  /** One attempt on one server; `retry` is the server chosen for the second (and last) attempt. */
  function dispatch(ctx: RequestContext, up: UpstreamRequest, upstream: Upstream, queue: AdmissionQueue, state: ExchangeState, cb: ForwardCallbacks, retry?: ServerHealth): void {
    const { req, res } = ctx;
    let released = false;
    let picked: ServerHealth | undefined;
    const release = (): void => {
      if (released) return;
      released = true;
      if (picked !== undefined) picked.outstanding--;
      queue.release(clock.now());
    };
    if (state.aborted) return release();
    const server = retry ?? upstream.pick(ctx);
    // Every server went down while the request waited for a slot.
    if (server === undefined) { release(); cb.fail(ctx, ALL_DOWN); return; }
    picked = server;
    server.outstanding++;
    if (retry === undefined) upstream.retryBudget?.onRequest(clock.now());
    // A body read whole replays from memory or its spooled file; a streamed one is guarded now
    // (time spent queued is ours, not the client's slowness).
    const body = ctx.body !== undefined ? ctx.body.source() : hasRequestBody(req) ? bodyGuards.guard(req, bodyLimits) : null;
    const t0 = performance.now();
    let observers: BodyObserver[] | undefined;
    let replaced = false;
    // Bytes of this response counted in the global read-ahead budget.
    let sink: ResponseSink | undefined;
    let headersWritten = false;
    let started = false;
    let watch: { sink: ResponseSink; queue: AdmissionQueue; evict(): void } | undefined;
    const pauseUpstream = (c: Dispatcher.DispatchController, s: ResponseSink): void => {
      c.pause();
      watch ??= { sink: s, queue, evict: () => { res.destroy(); state.controller?.abort(new Error('client too slow')); } };
      paused.add(watch);
      s.onResume = () => { if (watch) paused.delete(watch); c.resume(); };
    };
    (upstream.pools[server.index] as Dispatcher).dispatch({
      origin: server.origin,
      path: up.path,
      method: up.method as Dispatcher.HttpMethod,
      headers: up.headers,
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
        started = true;
        // Passive health (Envoy consecutive_5xx): a 5xx counts toward ejection, anything else resets the run.
        if (statusCode >= 500) upstream.health.onFailure(server.index, clock.now()); else upstream.health.onSuccess(server.index);
        deps.onSample?.(upstream.name, ctx.upstreamMs, queue.inFlight, statusCode === 503, ctx.route?.id ?? '');
        state.responded = true;
        // The client left while the upstream worked on it: its answer is here, the work is done — only now free the slot.
        if (state.aborted) { c.abort(new Error('client closed the connection')); return; }
        const head = { status: statusCode, headers: filterResponseHeaders(upHeaders) };
        try {
          for (const filter of responseFilters) {
            const action = filter(ctx, head);
            if (action === undefined) continue;
            if (action.kind === 'replace') {
              replaced = true;
              cb.answer(ctx, action.verdict);
              return;
            }
            (observers ??= []).push(action.observer);
          }
        } catch (err) {
          replaced = true; // the upstream body is read and dropped
          cb.internal(ctx, err);
          return;
        }
        if (deps.draining()) res.shouldKeepAlive = false;
        res.writeHead(head.status, head.headers);
        headersWritten = true;
      },
      onResponseData(c, chunk) {
        if (replaced) return;
        if (observers) for (const o of observers) o.data(chunk);
        if (state.aborted || !headersWritten) return;
        if (sink) { if (!sink.write(chunk)) pauseUpstream(c, sink); return; }
        // Most responses never meet backpressure: the read-ahead sink exists only once one does.
        if (res.write(chunk)) return;
        const opened = sink = responseSinks.open(res);
        onExchangeEnd(ctx, () => { opened.dispose(); if (watch) paused.delete(watch); });
        if (!opened.backpressured()) pauseUpstream(c, opened);
      },
      onResponseEnd() {
        release();
        if (observers) for (const o of observers) o.end();
        if (state.aborted || replaced || !headersWritten) return;
        if (sink) sink.end(); else res.end();
      },
      onResponseError(_c, err) {
        if (!state.aborted && !isRempartError(err) && !isRempartError((err as { cause?: unknown })?.cause)) {
          upstream.health.onFailure(server.index, clock.now());
          // Failed before any response byte: once, on another server, if the request can be sent twice
          // and the budget allows (retries must not multiply an overloaded origin's load).
          if (!started && retry === undefined && upstream.retryBudget !== undefined && isRetryableError(err) && isReplayable(ctx)) {
            const next = upstream.pick(ctx, server);
            if (next !== undefined && upstream.retryBudget.tryRetry(clock.now())) {
              released = true; // the admission slot passes to the retry
              server.outstanding--;
              deps.onRetry?.(upstream.name, server, next, upstreamErrorCode(err));
              dispatch(ctx, up, upstream, queue, state, cb, next);
              return;
            }
          }
        }
        release();
        if (ctx.upstreamMs === undefined) {
          ctx.upstreamMs = performance.now() - t0;
          if (!state.aborted) deps.onSample?.(upstream.name, ctx.upstreamMs, queue.inFlight, true, ctx.route?.id ?? '');
        }
        if (state.aborted || replaced) return; // the client left (logged as 499), or got a stale copy
        // A body guard verdict (slow POST, too large) travels through undici as the body's error.
        const cause = (err as { cause?: unknown })?.cause;
        const error = isRempartError(err) ? err : isRempartError(cause) ? cause : err;
        cb.fail(ctx, { code: upstreamErrorCode(error), error, reachedUpstream: true });
      },
    });
  }

  const forward = function forward(ctx: RequestContext, up: UpstreamRequest, cb: ForwardCallbacks) {
    const name = (ctx.route as { upstream: string }).upstream;
    const upstream = upstreams.get(name) as Upstream;
    const queue = admission.get(name) as AdmissionQueue;
    if (!upstream.health.anyAvailable) { cb.fail(ctx, ALL_DOWN); return; }
    const state: ExchangeState = { aborted: false };
    const waiter: Waiter = {
      rank: RANK[ctx.routeClass],
      tier: ctx.tier,
      subject: ctx,
      enqueuedAt: 0,
      state: 'new',
      start: () => dispatch(ctx, up, upstream, queue, state, cb),
      reject: (why) => shed(ctx, why, cb),
    };
    ctx.onAbort = () => {
      state.aborted = true;
      if (waiter.state === 'queued') queue.cancel(waiter);
      // Sent but not answered yet: the upstream keeps working on it whatever we do (a closed
      // connection is noticed only when it answers), so the slot stays taken until the answer's
      // head arrives or the upstream timeout — like HAProxy without `option abortonclose`. Freeing it
      // at once would let clients that give up (bots with short timeouts) pile requests up in the
      // upstream's own queue, past the concurrency we promise it.
      if (state.controller !== undefined && state.responded !== true) return;
      state.controller?.abort(new Error('client closed the connection'));
    };
    queue.admit(waiter, clock.now());
  } as Forwarder;
  forward.evictStalled = (now) => {
    let n = 0;
    for (const w of paused) {
      const since = w.sink.pausedSince;
      if (since === undefined) { paused.delete(w); continue; }
      // A slow reader may keep a slot nobody else needs; not one that others are waiting for.
      const limit = w.queue.queued > 0 ? deps.stallEvictMs : deps.sendTimeoutMs;
      if (now - since < limit) continue;
      paused.delete(w);
      w.evict();
      n++;
    }
    return n;
  };
  return forward;
}
