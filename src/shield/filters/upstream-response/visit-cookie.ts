import { named, type UpstreamResponseFilter } from '../../pipeline/phases.js';
import type { CachedResponse } from '../../cache/store.js';
import type { RequestContext } from '../../context.js';
import type { RandomBytes } from '../../reputation/token.js';
import { isPageLoad } from '../../defence/page-visits.js';
import { readVisitId, VISIT_ID_BYTES, visitCookie } from '../../defence/visit-cookie.js';
import { appendCookie, pooledRandomBytes } from './reputation-cookie.js';

/**
 * Names the browser a page answer (2xx, 304) goes to: the page-visit id its cookie carries, or a
 * new one. Returns the Set-Cookie line that gives the new one, if any; `ctx.visitId` is set either
 * way for the page-visit logging filter.
 */
export type VisitIdGiver = (ctx: RequestContext, status: number) => string | undefined;

export function createVisitIdGiver(d: { randomBytes: RandomBytes }): VisitIdGiver {
  const randomBytes = pooledRandomBytes(d.randomBytes);
  return (ctx, status) => {
    if (status < 200 || (status >= 300 && status !== 304)) return undefined;
    const h = ctx.req.headers;
    if (!isPageLoad(ctx.req.method, h)) return undefined;
    ctx.visitId = readVisitId(h.cookie);
    if (ctx.visitId !== undefined) return undefined;
    ctx.visitId = randomBytes(VISIT_ID_BYTES).toString('base64url');
    return visitCookie(ctx.visitId, ctx.conn.tls !== undefined);
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
    const cookie = give(ctx, res.status);
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
    const cookie = give(ctx, entry.status);
    if (cookie !== undefined) ctx.res.appendHeader('set-cookie', cookie);
  };
}
