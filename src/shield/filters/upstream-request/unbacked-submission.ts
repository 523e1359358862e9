import type { RequestContext } from '../../context.js';
import { clientBindingKey, sourceKeyOf } from '../../defence/binding.js';
import { sameSiteRefererPath, type PageVisits } from '../../defence/page-visits.js';

// Methods that submit nothing (RFC 9110 §9.2.1, safe methods).
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * Whether a request submits to a critical route from a page of this site (its `Referer`) that its
 * source did not load lately: a form sent without its page, as a flood that copies a browser's
 * headers sends it (defence/page-visits.ts). The pace filter counts it at a flood's pace.
 */
export function unbackedSubmission(ctx: RequestContext, visits: PageVisits, now: number): boolean {
  if (ctx.routeClass !== 'critical' || SAFE.has(ctx.req.method ?? 'GET')) return false;
  const page = sameSiteRefererPath(ctx.req.headers.referer, ctx.req.headers.host);
  return page !== undefined && !visits.hasLoaded(sourceKeyOf(ctx.clientKey, clientBindingKey(ctx.req.headers['user-agent'])), page, now);
}
