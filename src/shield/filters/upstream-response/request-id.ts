import { named, type UpstreamResponse, type UpstreamResponseFilter } from '../../pipeline/phases.js';
import type { RequestContext } from '../../context.js';

/** Like Cloudflare's cf-ray: the id a customer can quote, also in the access log (an upstream's own id wins). */
export function createRequestIdFilter(): UpstreamResponseFilter {
  return named('request-id', (ctx: RequestContext, res: UpstreamResponse) => {
    if (res.headers['x-request-id'] === undefined) res.headers['x-request-id'] = ctx.id;
    return undefined;
  });
}
