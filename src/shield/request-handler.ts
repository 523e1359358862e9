import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import type { RequestContext } from './context.js';
import { connectionInfo } from './connection/gate.js';
import type { ShieldBus } from './events.js';
import type { Runtime } from './runtime.js';
import { sendError } from './respond.js';
import { hasRequestBody } from './http-message.js';
import { sendCached } from './cache/respond-cached.js';

/** Request ids: a per-process prefix plus a counter — unique, cheap, and sortable in logs. */
export function createRequestIds(): () => string {
  const prefix = randomBytes(4).toString('hex');
  let n = 0;
  return () => `${prefix}-${(++n).toString(36)}`;
}

/**
 * The request path: runs the current runtime's stages in order; the first verdict other than
 * "continue" is answered at the edge, otherwise the request is forwarded. The runtime is read per
 * request, so a reload swaps the whole pipeline atomically between two requests.
 */
export function createRequestHandler(current: () => Runtime, bus: ShieldBus, draining: () => boolean = () => false):
  (req: IncomingMessage, res: ServerResponse) => void {
  const nextId = createRequestIds();
  return function handleRequest(req, res) {
    const rt = current();
    // While shutting down, each response is the connection's last (RFC 9112 §9.6).
    if (draining()) res.shouldKeepAlive = false;
    const info = connectionInfo(req.socket);
    const peer = info?.address ?? req.socket.remoteAddress ?? '';
    const trusted = info?.trusted ?? false;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const ctx: RequestContext = {
      id: nextId(),
      req,
      res,
      startedAt: performance.now(),
      peer,
      peerTrusted: trusted,
      client: trusted ? rt.resolveClient(peer, req.headers['x-forwarded-for']) : peer,
      target: url,
      path: q === -1 ? url : url.slice(0, q),
      route: undefined,
      routeClass: 'none',
      verdict: undefined,
      upstreamMs: undefined,
      errorCode: undefined,
      cacheKey: undefined,
      cacheState: undefined,
      onAbort: undefined,
    };
    // One listener per request serves both the forwarder's cancellation and telemetry.
    res.once('close', () => {
      const aborted = !res.writableFinished;
      if (aborted) ctx.onAbort?.();
      bus.emit('request:end', { ctx, status: res.statusCode, durationMs: performance.now() - ctx.startedAt, aborted });
    });
    for (const stage of rt.stages) {
      const verdict = stage(ctx);
      if (verdict === undefined) continue;
      ctx.verdict = verdict;
      if (verdict.kind === 'allow') break;
      if (verdict.kind === 'cached') {
        ctx.cacheState = 'HIT';
        sendCached(res, ctx.id, verdict.entry, 'HIT', rt.now(), req.method === 'HEAD');
        return;
      }
      if (verdict.kind === 'deny') {
        // A body we will not read makes the connection unusable for the next request.
        const close = verdict.close === true || hasRequestBody(req);
        sendError(res, ctx.id, verdict.code, { close, ...(verdict.retryAfterS !== undefined ? { retryAfterS: verdict.retryAfterS } : {}) });
      } else {
        // RFC 9110 §15.6.4: load shedding is a 503 with Retry-After, not a per-client 429.
        sendError(res, ctx.id, 'RMP_ERR_SHED', { retryAfterS: verdict.retryAfterS, close: hasRequestBody(req) });
      }
      return;
    }
    rt.forward(ctx);
  };
}
