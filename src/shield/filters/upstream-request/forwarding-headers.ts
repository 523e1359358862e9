import { named, type UpstreamRequest, type UpstreamRequestFilter } from '../../pipeline/phases.js';
import type { RequestContext } from '../../context.js';
import { buildUpstreamHeaders } from '../../upstream/headers.js';

/**
 * Builds the upstream header list from the client's: hop-by-hop removed, X-Forwarded-For/-Proto,
 * RFC 7239 Forwarded and X-Request-Id set. A body read whole is sent with its Content-Length
 * (a chunked client request becomes a plain one, as nginx does when it buffers).
 */
export function createForwardingHeadersFilter(formatForwardedNode: (ip: string) => string): UpstreamRequestFilter {
  return named('forwarding-headers', (ctx: RequestContext, up: UpstreamRequest) => {
    const { req } = ctx;
    up.headers = buildUpstreamHeaders(req.rawHeaders, req.headers, {
      peer: ctx.peer,
      peerTrusted: ctx.peerTrusted,
      proto: ctx.conn.tls ? 'https' : 'http',
      requestId: ctx.id,
      // RFC 7239 §5.2: each proxy appends the node it received the request from.
      forwardedNode: formatForwardedNode(ctx.peer),
    });
    if (ctx.body !== undefined && req.headers['content-length'] === undefined) up.headers.push('content-length', String(ctx.body.size));
    return undefined;
  });
}
