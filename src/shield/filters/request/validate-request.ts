import { deny, type Verdict } from '../../verdict.js';

/** What the shield answers as an OPTIONS request's final recipient: the methods it forwards. */
const OPTIONS_ANSWER: Verdict = Object.freeze({
  kind: 'local', reason: 'OPTIONS answered by the shield',
  response: Object.freeze({ status: 200, headers: Object.freeze({ allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS', 'content-length': '0' }), body: '' }),
});
import { named, type RequestFilter } from '../../pipeline/phases.js';
import type { RequestContext } from '../../context.js';

/**
 * Strict framing checks that llhttp (Node's parser, strict mode) leaves to us. llhttp already
 * rejects: Content-Length with Transfer-Encoding, conflicting Content-Length, a final coding that
 * is not chunked, invalid chunk sizes and extensions, obs-fold, bad header names and values —
 * those never reach this stage (they answer 400 from the clientError handler).
 * Here: repeated Host, repeated Content-Length or Transfer-Encoding lines, codings other than
 * plain "chunked", Transfer-Encoding on HTTP/1.0, and request targets that are not origin-form
 * (or an absolute-form that disagrees with Host). Anything ambiguous is refused, never forwarded:
 * a disagreement between us and the upstream on where a request ends is request smuggling.
 * And more header lines than `maxHeaderCount`: 431 (RFC 6585 §5), never a request cut short.
 * TRACE: 405, never forwarded. An HTTP/2 request's framing is its codec's; its head is checked by
 * `checkHttp2Head`, its target like any other.
 */
export function createValidateFilter(maxHeaderCount = 100): RequestFilter {
  return named('validate', (ctx) => {
    const { req } = ctx;
    const head = ctx.conn.protocol === 'h2' ? checkHttp2Head(req, maxHeaderCount) : checkHttp1Head(req, maxHeaderCount);
    if (typeof head !== 'number') return head;
    const maxForwards = head;
    // RFC 9110 §9.3.8: TRACE echoes the request it received — its cookies and every field the
    // proxies on the way added — back to whoever sent it (cross-site tracing); nginx answers it
    // 405, and so does the shield, never the origin.
    if (req.method === 'TRACE') return deny('RMP_ERR_METHOD', 'TRACE is not forwarded');
    const url = req.url ?? '';
    if (req.method === 'OPTIONS') {
      // RFC 9110 §7.6.2: a recipient of OPTIONS with Max-Forwards 0 answers as the final
      // recipient, never forwards; above 0 it forwards with the value less one (upstream/headers.ts).
      const field = req.headers['max-forwards'];
      if (field !== undefined) {
        const mf = Array.isArray(field) ? field.join(',') : field;
        if (maxForwards > 1 || !/^\d{1,9}$/.test(mf.trim())) return deny('RMP_ERR_BAD_REQUEST', 'Max-Forwards is not one number', { close: true });
        if (Number(mf) === 0) return OPTIONS_ANSWER;
      }
      // RFC 9110 §9.3.7: OPTIONS * asks about the server itself — this one — not a resource of the origin.
      if (url === '*') return OPTIONS_ANSWER;
    }
    if (url.charCodeAt(0) === 47 /* / */) {
      if (url.includes('#')) return deny('RMP_ERR_BAD_REQUEST', 'fragment in request target', { close: true });
      if (hasDotSegment(ctx.path)) return deny('RMP_ERR_BAD_REQUEST', 'dot-segment in request path', { close: true });
      return undefined;
    }
    if (url === '*') {
      // RFC 9112 §3.2.4: asterisk-form only for OPTIONS.
      if (req.method === 'OPTIONS') return undefined;
      return deny('RMP_ERR_BAD_REQUEST', 'asterisk-form target outside OPTIONS', { close: true });
    }
    if (/^https?:\/\//i.test(url)) {
      // RFC 9112 §3.2.2: absolute-form must be accepted; its authority must agree with Host.
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        return deny('RMP_ERR_BAD_REQUEST', 'invalid absolute-form target', { close: true });
      }
      const host = (req.headers.host ?? '').toLowerCase();
      if (parsed.host.toLowerCase() !== host || parsed.username || parsed.password || parsed.hash) {
        return deny('RMP_ERR_BAD_REQUEST', 'absolute-form target disagrees with Host', { close: true });
      }
      // URL() already removed dot-segments here, so routes see the path the upstream will see.
      ctx.target = parsed.pathname + parsed.search;
      ctx.path = parsed.pathname;
      return undefined;
    }
    return deny('RMP_ERR_BAD_REQUEST', 'invalid request target', { close: true });
  });
}

/**
 * HTTP/1.1 framing (RFC 9112): one Host, one Content-Length, only plain chunked. Returns the
 * refusal, or the number of Max-Forwards lines (Node keeps the first of several in `headers`).
 */
function checkHttp1Head(req: RequestContext['req'], maxHeaderCount: number): Verdict | number {
  // RFC 9112 §2.3: only HTTP/1.x is parsed here.
  if (req.httpVersionMajor !== 1) return deny('RMP_ERR_VERSION', 'unsupported HTTP version', { close: true });
  const raw = req.rawHeaders;
  if (raw.length > maxHeaderCount * 2) return deny('RMP_ERR_HEADERS_TOO_LARGE', `more than ${maxHeaderCount} header fields`, { close: true });
  let hosts = 0;
  let lengths = 0;
  let codings = 0;
  let coding = '';
  let maxForwards = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    // Compare cheaply by length first; most headers are neither.
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') hosts++;
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') lengths++;
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') { codings++; coding = raw[i + 1] as string; }
        break;
      case 12:
        if (name.toLowerCase() === 'max-forwards') maxForwards++;
        break;
    }
  }
  // RFC 9112 §3.2: 400 to any request with more than one Host field line.
  if (hosts > 1) return deny('RMP_ERR_BAD_REQUEST', 'more than one Host header', { close: true });
  if (hosts === 0 && req.httpVersionMinor >= 1) return deny('RMP_ERR_BAD_REQUEST', 'missing Host header', { close: true });
  // RFC 9112 §6.3: repeated Content-Length is at best redundant, at worst a smuggling attempt.
  if (lengths > 1) return deny('RMP_ERR_BAD_REQUEST', 'repeated Content-Length', { close: true });
  if (codings > 0) {
    // RFC 9112 §6.1: HTTP/1.0 messages with Transfer-Encoding have faulty framing.
    if (req.httpVersionMinor === 0) return deny('RMP_ERR_BAD_REQUEST', 'Transfer-Encoding in HTTP/1.0', { close: true });
    if (codings > 1 || coding.trim().toLowerCase() !== 'chunked') {
      return deny('RMP_ERR_BAD_REQUEST', 'unsupported Transfer-Encoding', { close: true });
    }
  }
  return maxForwards;
}

/**
 * An HTTP/2 request head (RFC 9113 §8.3), adapted by listener/http2-request.ts. The codec (nghttp2)
 * already refused connection-specific fields, upper-case names, a Content-Length the DATA frames
 * contradict and missing pseudo-header fields. Here: an authority (`:authority` or Host, §8.3.1),
 * a Host that disagrees with `:authority` (§8.3.1: malformed — which of the two the origin reads
 * is a routing ambiguity), CONNECT (no `:path`: 405, as over HTTP/1.1), the header count.
 */
function checkHttp2Head(req: RequestContext['req'], maxHeaderCount: number): Verdict | number {
  const raw = req.rawHeaders;
  if (raw.length > maxHeaderCount * 2) return deny('RMP_ERR_HEADERS_TOO_LARGE', `more than ${maxHeaderCount} header fields`);
  if (req.method === 'CONNECT') return deny('RMP_ERR_METHOD', 'CONNECT is not forwarded');
  const authority = req.headers[':authority'];
  const host = req.headers.host;
  if (host === undefined || host === '') return deny('RMP_ERR_BAD_REQUEST', 'no :authority or Host');
  if (typeof authority === 'string' && authority.toLowerCase() !== host.toLowerCase()) return deny('RMP_ERR_BAD_REQUEST', 'Host disagrees with :authority');
  let maxForwards = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i] === 'max-forwards') maxForwards++;
  return maxForwards;
}

/**
 * True when the path has a "." or ".." segment, literally or percent-encoded. Browsers remove dot
 * segments before sending (RFC 3986 §5.2.4), so only a crafted request has them — and it could be
 * routed here by prefix (/track/../pay/) while the upstream normalizes it into another route.
 */
export function hasDotSegment(path: string): boolean {
  if (!path.includes('/.') && !/%2e/i.test(path)) return false;
  for (const seg of path.split('/')) {
    const s = seg.length <= 6 ? seg.replace(/%2e/gi, '.') : seg;
    if (s === '.' || s === '..') return true;
  }
  return false;
}
