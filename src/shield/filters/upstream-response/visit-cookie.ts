import { named, type UpstreamResponseFilter } from '../../pipeline/phases.js';
import type { RequestContext } from '../../context.js';
import type { RandomBytes } from '../../reputation/token.js';
import { isPageLoad } from '../../defence/page-visits.js';
import { readVisitId, VISIT_ID_BYTES, visitCookie } from '../../defence/visit-cookie.js';
import { appendCookie, pooledRandomBytes } from './reputation-cookie.js';

/**
 * A page the origin answers (2xx, 304) to a browser without a page-visit cookie gives it one, in
 * normal times and under attack alike: the page is then recorded as that browser's, and its form
 * posts are checked against its own page loads (defence/visit-cookie.ts). Runs after cache-store:
 * the cookie is never cached.
 */
export function createVisitCookieFilter(d: { randomBytes: RandomBytes }): UpstreamResponseFilter {
  const randomBytes = pooledRandomBytes(d.randomBytes);
  return named('visit-cookie', (ctx: RequestContext, res) => {
    if (res.status < 200 || (res.status >= 300 && res.status !== 304)) return undefined;
    const h = ctx.req.headers;
    if (!isPageLoad(ctx.req.method, h)) return undefined;
    ctx.visitId = readVisitId(h.cookie);
    if (ctx.visitId !== undefined) return undefined;
    ctx.visitId = randomBytes(VISIT_ID_BYTES).toString('base64url');
    appendCookie(res, visitCookie(ctx.visitId, ctx.conn.tls !== undefined));
    return undefined;
  });
}
