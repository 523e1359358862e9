import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { isRempartError, type ErrorCode } from '../../core/errors.js';
import type { RequestContext } from '../context.js';
import type { BodyGuards, BodyLimits } from '../body-guard.js';
import { sendError } from '../respond.js';
import { hasRequestBody } from '../http-message.js';
import { buildUpstreamHeaders, filterResponseHeaders } from './headers.js';
import type { Upstream } from './pools.js';

/** Maps an undici/socket error to a stable code: refused/reset → 502, timeouts → 504. */
export function upstreamErrorCode(err: unknown): ErrorCode {
  if (isRempartError(err)) return err.code;
  const code = (err as { code?: string } | null)?.code ?? '';
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'ETIMEDOUT':
      return 'RMP_ERR_UPSTREAM_TIMEOUT';
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return 'RMP_ERR_UPSTREAM_REFUSED';
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_CLOSED':
      return 'RMP_ERR_UPSTREAM_RESET';
    default:
      if (code.startsWith('HPE_') || code === 'UND_ERR_INFO' || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return 'RMP_ERR_UPSTREAM_BAD_RESPONSE';
      return 'RMP_ERR_UPSTREAM_RESET';
  }
}

/** What the forwarder needs, resolved once per configuration. */
export interface ForwarderDeps {
  upstreams: Map<string, Upstream>;
  bodyGuards: BodyGuards;
  bodyLimits: BodyLimits;
  formatForwardedNode(ip: string): string;
  onError(ctx: RequestContext, code: ErrorCode, err: unknown): void;
}

/** Terminal stage: streams the request to its upstream and the response back. */
export type Forwarder = (ctx: RequestContext) => void;

/** Builds the terminal stage that proxies allowed requests through undici keep-alive pools. */
export function createForwarder(deps: ForwarderDeps): Forwarder {
  const { upstreams, bodyGuards, bodyLimits } = deps;

  const fail = (ctx: RequestContext, err: unknown, aborted: boolean): void => {
    if (aborted) return; // the client left; nothing to answer (logged as 499 by the access log)
    const code = upstreamErrorCode(err);
    ctx.errorCode = code;
    deps.onError(ctx, code, err);
    // A request body we did not finish reading leaves the connection unusable.
    const bodyUnread = hasRequestBody(ctx.req) && !ctx.req.complete;
    sendError(ctx.res, ctx.id, code, { close: bodyUnread });
  };

  return function forward(ctx) {
    const { req, res } = ctx;
    const upstream = upstreams.get((ctx.route as { upstream: string }).upstream) as Upstream;
    const cl = req.headers['content-length'];
    let body: Dispatcher.DispatchOptions['body'] = null;
    if (hasRequestBody(req)) {
      if (bodyLimits.maxBodyBytes > 0 && cl !== undefined && Number(cl) > bodyLimits.maxBodyBytes) {
        ctx.errorCode = 'RMP_ERR_BODY_TOO_LARGE';
        sendError(res, ctx.id, 'RMP_ERR_BODY_TOO_LARGE', { close: true });
        return;
      }
      body = bodyGuards.guard(req, bodyLimits);
    }
    const headers = buildUpstreamHeaders(req.rawHeaders, req.headers, {
      peer: ctx.peer,
      peerTrusted: ctx.peerTrusted,
      proto: 'http',
      requestId: ctx.id,
      // RFC 7239 §5.2: each proxy appends the node it received the request from.
      forwardedNode: deps.formatForwardedNode(ctx.peer),
    });
    const t0 = performance.now();
    let controller: Dispatcher.DispatchController | undefined;
    let aborted = false;
    res.once('close', () => {
      if (res.writableFinished) return;
      aborted = true;
      controller?.abort(new Error('client closed the connection'));
    });
    // undici's low-level dispatch: no promise, no AbortController, no stream.pipeline per request;
    // backpressure is explicit (pause the upstream when the client socket is full).
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
        controller = c;
        if (aborted) c.abort(new Error('client closed the connection'));
      },
      onResponseStart(c, statusCode, upHeaders) {
        ctx.upstreamMs = performance.now() - t0;
        if (aborted) return;
        res.writeHead(statusCode, filterResponseHeaders(upHeaders));
        if (res.writableNeedDrain) pauseUntilDrain(c);
      },
      onResponseData(c, chunk) {
        if (aborted) return;
        if (!res.write(chunk)) pauseUntilDrain(c);
      },
      onResponseEnd() {
        if (!aborted) res.end();
      },
      onResponseError(_c, err) {
        if (ctx.upstreamMs === undefined) ctx.upstreamMs = performance.now() - t0;
        if (aborted) return;
        if (res.headersSent) {
          // Mid-body failure: the status is gone, so the only honest signal left is a cut connection.
          ctx.errorCode = upstreamErrorCode(err);
          deps.onError(ctx, ctx.errorCode as ErrorCode, err);
          res.destroy();
          return;
        }
        // A body guard verdict (slow POST, too large) travels through undici as the body's error.
        const cause = (err as { cause?: unknown })?.cause;
        fail(ctx, isRempartError(err) ? err : isRempartError(cause) ? cause : err, false);
      },
    });

    function pauseUntilDrain(c: Dispatcher.DispatchController): void {
      c.pause();
      res.once('drain', () => c.resume());
    }
  };
}
