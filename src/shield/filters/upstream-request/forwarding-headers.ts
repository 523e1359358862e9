import { named, type UpstreamRequest, type UpstreamRequestFilter } from '../../pipeline/phases.js';
import type { RequestContext } from '../../context.js';
import { buildUpstreamHeaders } from '../../upstream/headers.js';
import { rangeRefusal } from '../../upstream/range.js';
import { clientUsedTls } from '../../client-tls.js';

/**
 * Builds the upstream header list from the client's: hop-by-hop removed, X-Forwarded-For/-Proto,
 * RFC 7239 Forwarded and X-Request-Id set. A body read whole is sent with its Content-Length
 * (a chunked client request becomes a plain one, as nginx does when it buffers). A Range past
 * `maxRanges` or with overlapping ranges is left out (upstream/range.ts): the origin answers whole.
 * A request the cache keyed goes without its preconditions and Range (cache/conditional.ts).
 */
export function createForwardingHeadersFilter(formatForwardedNode: (ip: string) => string, maxRanges = 16): UpstreamRequestFilter {
  return named('forwarding-headers', (ctx: RequestContext, up: UpstreamRequest) => {
    const { req } = ctx;
    const range = req.headers.range;
    const refused = range === undefined ? undefined : rangeRefusal(range, maxRanges);
    up.headers = buildUpstreamHeaders(req.rawHeaders, req.headers, {
      peer: ctx.peer,
      peerTrusted: ctx.peerTrusted,
      proto: clientUsedTls(ctx.conn, ctx.req.headers) ? 'https' : 'http',
      requestId: ctx.id,
      // RFC 9110 §7.6.3: protocol-version as the protocol names it — "2" for HTTP/2 (RFC 9113 §3).
      receivedVersion: ctx.conn.protocol === 'h2' ? '2' : req.httpVersion,
      ...(req.method === 'OPTIONS' ? { decrementMaxForwards: true } : {}),
      // RFC 7239 §5.2: each proxy appends the node it received the request from.
      forwardedNode: formatForwardedNode(ctx.peer),
      ...(refused !== undefined ? { dropRange: true } : {}),
      // A request the cache keyed may fill it: the whole answer, whatever the client holds.
      ...(ctx.cacheKey !== undefined ? { dropPreconditions: true } : {}),
    });
    if (ctx.body !== undefined && req.headers['content-length'] === undefined) up.headers.push('content-length', String(ctx.body.size));
    return undefined;
  });
}
