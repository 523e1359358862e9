/**
 * The edge: the one module that writes responses Rempart makes itself (errors, refusals, cached
 * copies, challenges, parse errors). The proxied upstream response is the only other writer.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ERRORS, type ErrorCode } from '../../core/errors.js';
import type { CachedResponse } from '../cache/store.js';
import type { PreparedResponse, Verdict } from '../verdict.js';

/**
 * Writes a short error answer: status, a one-line body with the request id (which also appears in
 * the log), Retry-After when known (RFC 9110 §10.2.3), and Connection: close when the rest of the
 * connection cannot be trusted.
 */
export function sendError(res: ServerResponse, requestId: string, code: ErrorCode, opts: { retryAfterS?: number; close?: boolean } = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { status, message } = ERRORS[code];
  const body = `${status} ${message}\nrequest id: ${requestId}\n`;
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-request-id': requestId,
    'x-rempart-error': code,
  };
  if (opts.retryAfterS !== undefined) headers['retry-after'] = opts.retryAfterS;
  if (opts.close) {
    headers.connection = 'close';
    res.shouldKeepAlive = false;
  }
  res.writeHead(status, headers);
  res.end(body);
}

/** Writes a stored response: Age (RFC 9111 §5.1) and X-Rempart-Cache say how old and why. */
export function sendCached(res: ServerResponse, requestId: string, entry: CachedResponse, state: 'HIT' | 'STALE', now: number, head: boolean): void {
  if (res.headersSent) { res.destroy(); return; }
  res.writeHead(entry.status, {
    ...entry.headers,
    age: String(Math.max(0, Math.floor((now - entry.storedAt) / 1000))),
    'x-rempart-cache': state,
    'x-request-id': requestId,
  });
  res.end(head ? undefined : entry.body);
}

/** Writes a response a policy prepared (challenge pages and their API form). */
export function sendPrepared(res: ServerResponse, requestId: string, p: PreparedResponse, opts: { close?: boolean; head?: boolean } = {}): void {
  if (res.headersSent) { res.destroy(); return; }
  const headers: Record<string, string | number | readonly string[]> = { ...p.headers, 'x-request-id': requestId };
  headers['content-length'] = Buffer.byteLength(p.body);
  if (opts.close) { headers.connection = 'close'; res.shouldKeepAlive = false; }
  res.writeHead(p.status, headers as Record<string, string | number | string[]>);
  res.end(opts.head ? undefined : p.body);
}

/**
 * Answers a verdict that stopped the request. `unreadBody`: the request announced a body we will
 * not read, which makes the connection unusable for a next request.
 */
export function sendVerdict(res: ServerResponse, requestId: string, v: Verdict, o: { now: number; head: boolean; unreadBody: boolean }): void {
  switch (v.kind) {
    case 'cached':
      sendCached(res, requestId, v.entry, v.state, o.now, o.head);
      return;
    case 'deny':
      sendError(res, requestId, v.code, { close: v.close === true || o.unreadBody, ...(v.retryAfterS !== undefined ? { retryAfterS: v.retryAfterS } : {}) });
      return;
    case 'shed':
      // RFC 9110 §15.6.4: load shedding is a 503 with Retry-After, not a per-client 429.
      sendError(res, requestId, 'RMP_ERR_SHED', { retryAfterS: v.retryAfterS, close: o.unreadBody });
      return;
    case 'challenge':
    case 'local':
      sendPrepared(res, requestId, v.response, { close: o.unreadBody, head: o.head });
      return;
    case 'allow':
      throw new Error('an allow verdict has no response of its own');
  }
}

/** The raw answer to a request the HTTP parser refused (no ServerResponse exists for it). */
export function sendParseError(socket: Socket, requestId: string, code: ErrorCode): void {
  const { status, message } = ERRORS[code];
  const body = `${status} ${message}\nrequest id: ${requestId}\n`;
  socket.end(`HTTP/1.1 ${status} ${message}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n`
    + `Cache-Control: no-store\r\nConnection: close\r\nX-Request-Id: ${requestId}\r\nX-Rempart-Error: ${code}\r\n\r\n${body}`);
}

/** Answers CONNECT: a reverse proxy has nothing to tunnel to. */
export function sendConnectRefused(socket: Socket): void {
  socket.end('HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
}
