import type { RequestContext } from '../context.js';
import { hasRequestBody } from '../http-message.js';

// Failures that happen before the upstream sent any byte of a response: the request was either
// never delivered (refused, connect timeout) or cut before the server answered (reset).
const BEFORE_RESPONSE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/** Whether an error of an attempt that got no response head allows another attempt. */
export function isRetryableError(err: unknown): boolean {
  return BEFORE_RESPONSE.has((err as { code?: string } | null)?.code ?? '');
}

/**
 * Whether the request may be sent twice: RFC 9110 §9.2.2 idempotent methods we retry (GET, HEAD,
 * OPTIONS), or one carrying the idempotency key its route declares; and its body, if any, was read
 * whole (a streamed body is gone once sent).
 */
export function isReplayable(ctx: RequestContext): boolean {
  const m = ctx.req.method;
  const idempotent = m === 'GET' || m === 'HEAD' || m === 'OPTIONS'
    || (ctx.route?.idempotencyKey !== undefined && ctx.req.headers[ctx.route.idempotencyKey] !== undefined);
  return idempotent && (ctx.body !== undefined || !hasRequestBody(ctx.req));
}
