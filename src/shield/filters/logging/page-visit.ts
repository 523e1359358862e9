import type { Clock } from '../../../core/clock.js';
import { named, type LoggingFilter } from '../../pipeline/phases.js';
import type { RequestContext } from '../../context.js';
import { isPageLoad, type PageVisits } from '../../defence/page-visits.js';
import { readVisitId, visitorKey } from '../../defence/visit-cookie.js';

/**
 * A page (a navigation, or an HTML answer to a client that sends no `Sec-Fetch-Dest`) answered 2xx
 * or 304 is recorded as loaded by its browser — the page-visit cookie it sent or was just given,
 * else its source — whether the origin or the cache answered it: the form it holds may be
 * submitted next (defence/page-visits.ts, defence/visit-cookie.ts).
 */
export function createPageVisitFilter(visits: PageVisits, ticker: Clock): LoggingFilter {
  return named('page-visit', (ctx: RequestContext, o) => {
    if (o.aborted || !((o.status >= 200 && o.status < 300) || o.status === 304)) return;
    // The page itself, not a challenge or a refusal answered in its place. `visitId` is set for a
    // page the origin or the cache answered; read here for anything else (the stale copy of a page).
    if (ctx.verdict !== undefined && ctx.verdict.kind !== 'allow' && ctx.verdict.kind !== 'cached') return;
    const h = ctx.req.headers;
    if (!isPageLoad(ctx.req.method, h)) return;
    visits.loaded(visitorKey(ctx.visitId ?? readVisitId(h.cookie), ctx.clientKey, h), ctx.path, ticker.now());
  });
}
