import type { ServerResponse } from 'node:http';
import { ERRORS, type ErrorCode } from '../core/errors.js';

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
