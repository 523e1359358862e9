import { named, type UpstreamResponseFilter } from '../../pipeline/phases.js';
import type { CachedResponse } from '../../cache/store.js';
import type { RequestContext } from '../../context.js';
import type { RandomBytes } from '../../reputation/token.js';
import { systemClock, type Clock } from '../../../core/clock.js';
import { isPageLoad, type PageVisits } from '../../defence/page-visits.js';
import { readVisitId, VISIT_ID_BYTES, visitCookie } from '../../defence/visit-cookie.js';
import { noteAnsweredPage } from '../../defence/answered-page.js';
import { appendCookie, keepsShieldCookiesOff, pooledRandomBytes } from './reputation-cookie.js';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { clientUsedTls } from '../../client-tls.js';

/**
 * Names the browser a page answer (2xx, 304) goes to: the page-visit id its cookie carries, or a
 * new one. Returns the Set-Cookie line that gives the new one, if any; `ctx.visitId` is set either
 * way for the page-visit logging filter.
 */
export type VisitIdGiver = (ctx: RequestContext, status: number, headers: IncomingHttpHeaders | OutgoingHttpHeaders) => string | undefined;

export function createVisitIdGiver(d: { randomBytes: RandomBytes; visits?: PageVisits; ticker?: Clock; clock?: Clock }): VisitIdGiver {
  const randomBytes = pooledRandomBytes(d.randomBytes);
  // The page's answer starts: its browser may fetch the page's stylesheet before its last byte
  // (a browser's preload scanner reads <link> in the head), so it is recorded now, not at the end.
  const started = (ctx: RequestContext, visitId: string): void => {
    if (d.visits !== undefined && d.ticker !== undefined) noteAnsweredPage(d.visits, visitId, ctx.clientKey, d.ticker.now());
  };
  return (ctx, status, headers) => {
    if (status < 200 || (status >= 300 && status !== 304)) return undefined;
    const h = ctx.req.headers;
    if (!isPageLoad(ctx.req.method, h)) return undefined;
    const known = ctx.visitId = readVisitId(h.cookie);
    if (known !== undefined) { started(ctx, known); return undefined; }
    if (keepsShieldCookiesOff(ctx.conn, status, headers, (d.clock ?? systemClock).now())) return undefined;
    const id = ctx.visitId = randomBytes(VISIT_ID_BYTES).toString('base64url');
    started(ctx, id);
    return visitCookie(id, clientUsedTls(ctx.conn, ctx.req.headers));
  };
}

/**
 * A page the origin answers (2xx, 304) to a browser without a page-visit cookie gives it one, in
 * normal times and under attack alike: the page is then recorded as that browser's, and its form
 * posts are checked against its own page loads (defence/visit-cookie.ts). Runs after cache-store:
 * the cookie is never cached. A page answered from the cache gets one the same way
 * (`visitCookieOnCacheHit`).
 */
export function createVisitCookieFilter(give: VisitIdGiver): UpstreamResponseFilter {
  return named('visit-cookie', (ctx: RequestContext, res) => {
    const cookie = give(ctx, res.status, res.headers);
    if (cookie !== undefined) appendCookie(res, cookie);
    return undefined;
  });
}

/**
 * The same for a page answered from the cache (the cache lookup's `onHit`): the cookie goes on
 * this exchange's answer, never on the stored copy (which holds no Set-Cookie: cache/policy.ts).
 */
export function visitCookieOnCacheHit(give: VisitIdGiver): (ctx: RequestContext, entry: CachedResponse) => void {
  return (ctx, entry) => {
    const cookie = give(ctx, entry.status, entry.headers);
    if (cookie !== undefined) ctx.res.appendHeader('set-cookie', cookie);
  };
}
