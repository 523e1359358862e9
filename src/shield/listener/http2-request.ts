import type { Http2ServerRequest } from 'node:http2';
import { noteFramedBody } from '../http-message.js';

/**
 * An HTTP/2 request (Node's compatibility API) as the pipeline reads an HTTP/1.1 one, so that every
 * filter, the fingerprint and the forwarder see one shape whatever the client spoke:
 * - `rawHeaders` without the pseudo-header fields (RFC 9113 §8.3), `host` first from `:authority`
 *   when the client sent no Host (§8.3.1: an intermediary forwarding to HTTP/1.1 makes Host from it);
 * - Cookie field lines joined with "; " (§8.2.3 lets a client split one Cookie into several; an
 *   HTTP/1.1 origin expects one, RFC 6265 §5.4);
 * - `headers.host` set from `:authority` the same way (a Host that disagrees with `:authority` is
 *   left for the validate filter to refuse, §8.3.1);
 * - `url` and `method` as own properties: a CONNECT (no `:path`) gets an empty target, refused later;
 * - a body announced by its framing (no END_STREAM on HEADERS) and no Content-Length: noted, so the
 *   pipeline reads and forwards it (http-message.ts `hasRequestBody`).
 * The pseudo-header fields stay in `headers` (Node's own getters read them).
 */
export function adaptHttp2Request(req: Http2ServerRequest): void {
  const headers = req.headers;
  const authority = headers[':authority'];
  const raw = req.rawHeaders;
  const out: string[] = [];
  let cookieAt = -1;
  let hasHost = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.charCodeAt(0) === 58 /* : */) continue;
    const value = raw[i + 1] as string;
    if (name === 'cookie') {
      if (cookieAt >= 0) { out[cookieAt + 1] = `${out[cookieAt + 1]}; ${value}`; continue; }
      cookieAt = out.length;
    } else if (name === 'host') hasHost = true;
    out.push(name, value);
  }
  if (!hasHost && typeof authority === 'string') {
    out.unshift('host', authority);
    headers.host = authority;
  }
  const method = headers[':method'];
  const path = headers[':path'];
  Object.defineProperty(req, 'rawHeaders', { value: out, writable: true, configurable: true });
  Object.defineProperty(req, 'method', { value: typeof method === 'string' ? method : '', writable: true, configurable: true });
  Object.defineProperty(req, 'url', { value: typeof path === 'string' ? path : '', writable: true, configurable: true });
  if (!req.stream.endAfterHeaders && headers['content-length'] === undefined) noteFramedBody(req);
}
