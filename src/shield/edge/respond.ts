/**
 * The edge: the one module that writes responses Rempart makes itself (errors, refusals, cached
 * copies, challenges, parse errors). The proxied upstream response is the only other writer.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { notModifiedHeaders, storedAnswer } from '../cache/conditional.js';
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
  if (opts.close) closeAfter(res, headers);
  res.writeHead(status, headers);
  res.end(body);
}

/** An HTTP/2 response (Node's compatibility API): the connection is its stream's, not the answer's. */
export function isHttp2Response(res: ServerResponse): boolean {
  return (res as { stream?: unknown }).stream !== undefined;
}

/**
 * This answer is its connection's last (RFC 9112 §9.6). Over HTTP/2 a stream ends alone and the
 * connection goes on: an unread request body is discarded by the codec (RST_STREAM NO_ERROR,
 * RFC 9113 §8.1), and Connection is a field HTTP/2 forbids (§8.2.2).
 */
function closeAfter(res: ServerResponse, headers: Record<string, unknown>): void {
  if (isHttp2Response(res)) return;
  headers.connection = 'close';
  res.shouldKeepAlive = false;
}

const continued = new WeakSet<ServerResponse>();

/**
 * RFC 9110 §10.1.1: a request that says `Expect: 100-continue` waits for an interim 100 before
 * sending its body (curl past a size, .NET and PHP HTTP clients, many payment integrations). The
 * listener takes the expectation (listener/http1.ts) instead of letting Node answer 100 at once, so
 * a request refused on its head — blocked, limited, challenged, too large, shed — gets its final
 * status before its body crosses the wire (and the connection closes: the body is unread), and the
 * 100 goes out here, once, when the body is about to be read. The upstream never sees the
 * expectation (upstream/headers.ts): the body it gets is on its way already.
 */
export function sendContinue(req: IncomingMessage, res: ServerResponse): void {
  if (continued.has(res) || res.headersSent || req.complete) return;
  const expect = req.headers.expect;
  if (expect === undefined || expect.toLowerCase() !== '100-continue' || (req.httpVersionMajor === 1 && req.httpVersionMinor < 1)) return;
  continued.add(res);
  res.writeContinue();
}

/**
 * RFC 9110 §15.2: a proxy forwards the interim (1xx) answers it did not ask for. 103 Early Hints
 * (RFC 8297) with its Link fields only — what lets a browser fetch a page's stylesheet while the
 * origin still works on the page (Set-Cookie and the like have no effect there); 102 Processing as
 * is. Any other 1xx is dropped (none is in use; Node writes no other interim answer). Never to an
 * HTTP/1.0 client (§15.2), never once the final head is out. An origin sending one used to have
 * its exchange cut: the 103 was taken for the final head and the real one could not be written.
 */
export function relayInformational(req: IncomingMessage, res: ServerResponse, status: number, link: string | string[] | undefined): void {
  if (res.headersSent || res.writableEnded || (req.httpVersionMajor === 1 && req.httpVersionMinor < 1)) return;
  try {
    if (status === 103 && link !== undefined) res.writeEarlyHints({ link: linkValues(link) });
    // HTTP/2's compatibility API has no writeProcessing (102 is deprecated, RFC 9110 §15.2).
    else if (status === 102 && !isHttp2Response(res)) res.writeProcessing();
  } catch {
    // A Link value Node refuses to write (not a valid link): the hint is dropped, the answer goes on.
  }
}

/**
 * The link-values of Link fields (RFC 8288 §3), one each: a field line may list several, separated
 * by commas outside their `<URI>` and quoted parameters — Node writes hints only value by value.
 */
function linkValues(link: string | string[]): string[] {
  const out: string[] = [];
  for (const line of Array.isArray(link) ? link : [link]) {
    let start = 0;
    let inUri = false;
    let inQuote = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (inQuote) { if (c === '\\') i++; else if (c === '"') inQuote = false; continue; }
      if (c === '<') inUri = true;
      else if (c === '>') inUri = false;
      else if (c === '"' && !inUri) inQuote = true;
      else if (c === ',' && !inUri) { out.push(line.slice(start, i).trim()); start = i + 1; }
    }
    out.push(line.slice(start).trim());
  }
  return out.filter((v) => v !== '');
}

/**
 * Writes a stored response: Age (RFC 9111 §5.1) and X-Rempart-Cache say how old and why. The
 * client's own conditions are evaluated against it (cache/conditional.ts): 304 with no body, 412,
 * or the one byte range it asked for (206); otherwise the whole answer.
 */
export function sendCached(res: ServerResponse, requestId: string, entry: CachedResponse, state: 'HIT' | 'STALE', now: number, head: boolean, request?: IncomingHttpHeaders): void {
  if (res.headersSent) { res.destroy(); return; }
  const ours = { age: String(Math.max(0, Math.floor((now - entry.storedAt) / 1000))), 'x-rempart-cache': state, 'x-request-id': requestId };
  const answer = request === undefined ? undefined : storedAnswer(request, entry.status, entry.headers, entry.body.length);
  if (answer?.kind === 'not-modified') { res.writeHead(304, { ...notModifiedHeaders(entry.headers), ...ours }); res.end(); return; }
  if (answer?.kind === 'precondition-failed') { res.writeHead(412, { 'content-length': '0', 'cache-control': 'no-store', ...ours }); res.end(); return; }
  if (answer?.kind === 'range') {
    const { start, end } = answer;
    res.writeHead(206, { ...entry.headers, 'content-length': String(end - start + 1), 'content-range': `bytes ${start}-${end}/${entry.body.length}`, ...ours });
    res.end(head ? undefined : entry.body.subarray(start, end + 1));
    return;
  }
  res.writeHead(entry.status, { ...entry.headers, ...ours });
  res.end(head ? undefined : entry.body);
}

/** Writes a response a policy prepared (challenge pages and their API form). */
export function sendPrepared(res: ServerResponse, requestId: string, p: PreparedResponse, opts: { close?: boolean; head?: boolean } = {}): void {
  if (res.headersSent) { res.destroy(); return; }
  const headers: Record<string, string | number | readonly string[]> = { ...p.headers, 'x-request-id': requestId };
  headers['content-length'] = Buffer.byteLength(p.body);
  if (opts.close) closeAfter(res, headers);
  res.writeHead(p.status, headers as Record<string, string | number | string[]>);
  res.end(opts.head ? undefined : p.body);
}

/**
 * Answers a verdict that stopped the request. `unreadBody`: the request announced a body we will
 * not read, which makes the connection unusable for a next request.
 */
export function sendVerdict(res: ServerResponse, requestId: string, v: Verdict, o: { now: number; head: boolean; unreadBody: boolean; request?: IncomingHttpHeaders }): void {
  switch (v.kind) {
    case 'cached':
      sendCached(res, requestId, v.entry, v.state, o.now, o.head, o.request);
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
