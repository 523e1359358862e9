import type { RequestContext } from '../context.js';
import { pathTemplate } from '../detect/path-template.js';

/**
 * What kind of request an upstream latency sample is, for the adaptive limit's no-load RTT per
 * kind (detect/concurrency-limit.ts): the route, the method and the path template. A route is a
 * prefix and may hold requests of very different cost — the demo's `/bank/` serves a login page
 * three times as costly as the account page — and keyed on the route alone the costly page read
 * as queueing behind the cheap one: against an origin of 8 workers at 160 ms a lookup the limit
 * sat at its floor of 4 through a flash crowd and the origin did half the work it could (64.6%
 * of the customers' requests succeeded; docs/benchmarks.md, thirty-fifth session). Ids in the
 * path fold into `{id}`, so a lookup per parcel is one kind; the query string is not part of it.
 */
export function latencyKind(ctx: Pick<RequestContext, 'route' | 'req' | 'path' | 'traits'>): string {
  return `${ctx.route?.id ?? ''} ${ctx.req.method ?? ''} ${ctx.traits?.pathTemplate ?? pathTemplate(ctx.path)}`;
}
