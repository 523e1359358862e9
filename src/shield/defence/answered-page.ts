import type { RequestContext } from '../context.js';
import { ANY_PAGE, type PageVisits } from './page-visits.js';
import { readVisitId, visitKeyOf, visitorKey } from './visit-cookie.js';

/**
 * Whether the browser sending this request was answered a page lately (within the page visits'
 * `ttlMs`): under its page-visit cookie, else from its source — address and agent — as a page
 * answered to a browser that had no cookie yet is recorded (defence/visit-cookie.ts). A page's own
 * stylesheet, script or image follows a page; a flood that only claims to be one (Fetch Metadata
 * `no-cors`, `same-origin`) loads none.
 */
export function answeredPage(ctx: RequestContext, visits: PageVisits, now: number): boolean {
  const h = ctx.req.headers;
  const id = readVisitId(h.cookie);
  if (id !== undefined && visits.hasLoaded(visitKeyOf(id), ANY_PAGE, now)) return true;
  return visits.hasLoaded(visitorKey(undefined, ctx.clientKey, h), ANY_PAGE, now);
}
