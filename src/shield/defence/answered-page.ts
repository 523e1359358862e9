import type { RequestContext } from '../context.js';
import { ANY_PAGE, type PageVisits } from './page-visits.js';
import { readVisitId, visitKeyOf } from './visit-cookie.js';

/**
 * "This browser was answered a page lately": what a page's own stylesheet, script or image follows
 * (filters/request/clearance.ts). A flood that only claims to be one (Fetch Metadata `no-cors`,
 * `same-origin`) loads none.
 *
 * Keyed by the browser's page-visit cookie *and* the address the page went to. The cookie is an
 * unsigned random id (defence/visit-cookie.ts): alone, one page loaded by one bot would name a page
 * for every bot that copies its cookie. Behind a carrier NAT the cookie still tells its customers
 * apart. A browser that keeps no cookie has no no-JavaScript cookie either, and nothing to pass with.
 */
const keyOf = (visitId: string, clientKey: string): string => `${visitKeyOf(visitId)} ${clientKey}`;

/** Records that the browser named `visitId`, at `clientKey`, is being answered a page (at the answer's head). */
export function noteAnsweredPage(visits: PageVisits, visitId: string, clientKey: string, now: number): void {
  visits.loaded(keyOf(visitId, clientKey), ANY_PAGE, now);
}

/** Whether the browser sending this request was answered a page from its address within the page visits' `ttlMs`. */
export function answeredPage(ctx: RequestContext, visits: PageVisits, now: number): boolean {
  const id = readVisitId(ctx.req.headers.cookie);
  return id !== undefined && visits.hasLoaded(keyOf(id, ctx.clientKey), ANY_PAGE, now);
}
