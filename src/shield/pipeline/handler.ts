import { ANONYMOUS_TIER } from '../upstream/admission.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import type { ErrorCode } from '../../core/errors.js';
import type { RequestContext } from '../context.js';
import type { ConnectionFacts } from '../listener/connection-facts.js';
import { hasRequestBody } from '../http-message.js';
import { sendError, sendVerdict } from '../edge/respond.js';
import type { Verdict } from '../verdict.js';
import type { Failure, Phases, UpstreamRequest } from './phases.js';
import { isPromise, runFilters } from './run.js';
import type { Forwarder } from '../upstream/forward.js';

/** Request ids: a per-process prefix plus a counter — unique, cheap, and sortable in logs. */
export function createRequestIds(): () => string {
  const prefix = randomBytes(4).toString('hex');
  let n = 0;
  return () => `${prefix}-${(++n).toString(36)}`;
}

/** One configuration's pipeline, as the handler needs it (swapped whole on reload). */
export interface Pipeline {
  readonly phases: Phases;
  readonly forward: Forwarder;
  /** Monotonic ms (cache ages). */
  now(): number;
  resolveClient(peer: string, xForwardedFor: string | string[] | undefined): string;
  /** The key per-client accounting counts a client address under (shield/client-key.ts). */
  clientKey(address: string): string;
}

/** What the handler reports besides the response itself. */
export interface HandlerHooks {
  draining(): boolean;
  /** A filter or the forwarder threw: logged (throttled) by the caller. */
  onInternalError(ctx: RequestContext, err: unknown): void;
  /** Upstream failures, for the (throttled) warning log. */
  onFailure(ctx: RequestContext, failure: Failure): void;
}

/**
 * The exchange driver: request filters → upstream-request filters → proxy, with failure filters
 * and the edge answering anything that is not proxied, logging filters at the end, and an error
 * boundary around it all — a filter that throws answers 500 RMP_ERR_INTERNAL and the connection
 * (and the process) go on. The pipeline is read per request, so a reload swaps it atomically.
 */
export function createExchangeHandler(current: () => Pipeline, hooks: HandlerHooks):
  (req: IncomingMessage, res: ServerResponse, conn: ConnectionFacts) => void {
  const nextId = createRequestIds();

  const unreadBody = (ctx: RequestContext): boolean => hasRequestBody(ctx.req) && !ctx.req.complete;

  const answer = (ctx: RequestContext, v: Verdict): void => {
    ctx.verdict = v;
    if (v.kind === 'cached') ctx.cacheState = v.state;
    if (hooks.draining()) ctx.res.shouldKeepAlive = false;
    sendVerdict(ctx.res, ctx.id, v, { now: current().now(), head: ctx.req.method === 'HEAD', unreadBody: unreadBody(ctx), request: ctx.req.headers });
  };

  const internal = (ctx: RequestContext, err: unknown): void => {
    ctx.errorCode = 'RMP_ERR_INTERNAL';
    hooks.onInternalError(ctx, err);
    if (ctx.res.headersSent) { ctx.res.destroy(); return; }
    sendError(ctx.res, ctx.id, 'RMP_ERR_INTERNAL', { close: unreadBody(ctx) });
  };

  const fail = (ctx: RequestContext, failure: Failure): void => {
    ctx.errorCode = failure.code;
    if (failure.reachedUpstream) hooks.onFailure(ctx, failure);
    if (ctx.res.headersSent) {
      // Mid-body failure: the status is gone, so the only honest signal left is a cut connection.
      ctx.res.destroy();
      return;
    }
    try {
      for (const f of current().phases.failure) {
        const v = f(ctx, failure);
        if (v !== undefined) { ctx.errorCode = undefined; answer(ctx, v); return; }
      }
    } catch (err) {
      internal(ctx, err);
      return;
    }
    if (hooks.draining()) ctx.res.shouldKeepAlive = false;
    const code: ErrorCode = failure.code;
    const shedding = code === 'RMP_ERR_QUEUE_TIMEOUT' || code === 'RMP_ERR_UPSTREAM_BUSY' || code === 'RMP_ERR_UPSTREAM_DOWN';
    // RFC 9110 §15.6.4: 503 with Retry-After while the upstream is saturated.
    // An event stream refused at its cap: the pages holding the others may close within seconds.
    const retryAfterS = shedding ? 1 : code === 'RMP_ERR_STREAM_LIMIT' ? 5 : undefined;
    sendError(ctx.res, ctx.id, code, { close: unreadBody(ctx), ...(retryAfterS !== undefined ? { retryAfterS } : {}) });
  };

  const callbacks = { fail: (ctx: RequestContext, f: Failure) => fail(ctx, f), answer: (ctx: RequestContext, v: Verdict) => answer(ctx, v), internal: (ctx: RequestContext, e: unknown) => internal(ctx, e) };

  const proxy = (ctx: RequestContext, p: Pipeline): void => {
    const up: UpstreamRequest = { method: ctx.req.method ?? 'GET', path: ctx.target, headers: [] };
    const r = runFilters(p.phases.upstreamRequest, ctx, up);
    if (r === undefined) { p.forward(ctx, up, callbacks); return; }
    if (!isPromise<Verdict | undefined>(r)) { stop(ctx, r); return; }
    r.then((v) => {
      if (ctx.res.destroyed || ctx.res.writableEnded) return;
      if (v === undefined) p.forward(ctx, up, callbacks); else stop(ctx, v);
    }).catch((err) => internal(ctx, err));
  };

  const stop = (ctx: RequestContext, v: Verdict): void => {
    if (v.kind === 'allow') { ctx.verdict = v; return; }
    if (v.kind === 'deny' && v.code.startsWith('RMP_ERR_BODY')) ctx.errorCode = v.code;
    answer(ctx, v);
  };

  const afterRequestFilters = (ctx: RequestContext, p: Pipeline, v: Verdict | undefined): void => {
    if (v === undefined || v.kind === 'allow') {
      if (v) ctx.verdict = v;
      proxy(ctx, p);
      return;
    }
    answer(ctx, v);
  };

  return function handleExchange(req, res, conn) {
    const p = current();
    // While shutting down, each response is the connection's last (RFC 9112 §9.6).
    if (hooks.draining()) res.shouldKeepAlive = false;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const client = conn.trusted ? p.resolveClient(conn.peer, req.headers['x-forwarded-for']) : conn.peer;
    const ctx: RequestContext = {
      id: nextId(),
      req,
      res,
      conn,
      startedAt: performance.now(),
      peer: conn.peer,
      peerTrusted: conn.trusted,
      client,
      clientKey: p.clientKey(client),
      target: url,
      path: q === -1 ? url : url.slice(0, q),
      route: undefined,
      routeClass: 'none',
      admissionClass: undefined,
      verdict: undefined,
      upstreamMs: undefined,
      queueMs: undefined,
      heldMs: undefined,
      upstreamStallMs: undefined,
      admittedTier: undefined,
      errorCode: undefined,
      cacheKey: undefined,
      cacheState: undefined,
      body: undefined,
      traits: undefined,
      tier: ANONYMOUS_TIER,
      paceKey: undefined,
      sourceKey: undefined,
      baseTier: undefined,
      reputation: undefined,
      setHeaders: undefined,
      onAbort: undefined,
      cleanup: undefined,
    };
    // One listener per request serves cancellation, cleanup and the logging phase. A response
    // emits 'close' exactly once (finished or cut), so `on` — `once` would wrap it for nothing.
    res.on('close', () => {
      const aborted = !res.writableFinished;
      if (aborted) ctx.onAbort?.();
      if (ctx.cleanup) for (const fn of ctx.cleanup) fn();
      const outcome = { status: res.statusCode, durationMs: performance.now() - ctx.startedAt, aborted };
      for (const log of p.phases.logging) log(ctx, outcome);
    });
    try {
      const r = runFilters(p.phases.request, ctx, undefined as unknown as UpstreamRequest);
      if (!isPromise<Verdict | undefined>(r)) { afterRequestFilters(ctx, p, r); return; }
      r.then((v) => {
        if (res.destroyed || res.writableEnded) return;
        afterRequestFilters(ctx, p, v);
      }).catch((err) => internal(ctx, err));
    } catch (err) {
      internal(ctx, err);
    }
  };
}

export type { Failure };
