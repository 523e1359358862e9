import type { IncomingMessage } from 'node:http';

// HTTP/2 requests whose body is announced by the framing alone (listener/http2-request.ts).
const framedBodies = new WeakSet<object>();

/**
 * Records that `req` carries a body its fields do not announce: an HTTP/2 request whose HEADERS
 * frame did not end the stream and that sent no Content-Length (RFC 9113 §8.1: DATA frames follow).
 */
export function noteFramedBody(req: object): void {
  framedBodies.add(req);
}

/**
 * Whether the request declares a body (RFC 9112 §6.3: Transfer-Encoding or a non-zero
 * Content-Length; over HTTP/2 also DATA frames without a Content-Length: `noteFramedBody`).
 */
export function hasRequestBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0') || framedBodies.has(req);
}

/** Whether the request asks to become a WebSocket (RFC 6455 §4.1: `Upgrade: websocket`, any case). */
export function asksWebSocket(req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  return upgrade !== undefined && upgrade.toLowerCase() === 'websocket';
}

/** The media type of a Content-Type value or an Accept element, lower case, without parameters (RFC 9110 §8.3.1). */
export function mediaType(value: string | undefined): string {
  if (value === undefined) return '';
  const semi = value.indexOf(';');
  return (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
}

/**
 * The weight of an element's parameters (`;q=0.5`), RFC 9110 §12.4.2: 1 when absent, 0 when
 * malformed — refused is the safe reading of a weight that does not parse.
 */
export function qWeight(params: string): number {
  for (const p of params.split(';')) {
    const eq = p.indexOf('=');
    if (eq === -1 || p.slice(0, eq).trim().toLowerCase() !== 'q') continue;
    const n = Number(p.slice(eq + 1).trim());
    return Number.isFinite(n) && n >= 0 && n <= 1 ? n : 0;
  }
  return 1;
}
