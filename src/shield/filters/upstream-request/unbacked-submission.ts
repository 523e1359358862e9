import type { RequestContext } from '../../context.js';
import { sameSiteRefererPath, type PageVisits } from '../../defence/page-visits.js';
import { readVisitId, visitKeyOf, visitorKey } from '../../defence/visit-cookie.js';

// Methods that submit nothing (RFC 9110 §9.2.1, safe methods).
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * Whether a request submits to a critical route from a page of this site (its `Referer`) that its
 * browser did not load lately: a form sent without its page, as a flood that copies a browser's
 * headers sends it (defence/page-visits.ts). The pace filter counts it at a flood's pace.
 *
 * Its browser: the page loads recorded under its page-visit cookie, and those its source (address
 * and agent) made without one — a page answered from the cache to a browser that had none yet.
 * Page loads of other browsers behind the same address and agent are recorded under their own
 * cookies and back nothing of this one's (defence/visit-cookie.ts).
 */
export function unbackedSubmission(ctx: RequestContext, visits: PageVisits, now: number): boolean {
  if (ctx.routeClass !== 'critical' || SAFE.has(ctx.req.method ?? 'GET')) return false;
  const h = ctx.req.headers;
  const page = sameSiteRefererPath(h.referer, h.host);
  if (page === undefined) return false;
  const id = readVisitId(h.cookie);
  if (id !== undefined && visits.hasLoaded(visitKeyOf(id), page, now)) return false;
  return !visits.hasLoaded(visitorKey(undefined, ctx.clientKey, h), page, now);
}
