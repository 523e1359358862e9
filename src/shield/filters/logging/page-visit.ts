import type { Clock } from '../../../core/clock.js';
import { named, type LoggingFilter } from '../../pipeline/phases.js';
import type { RequestContext } from '../../context.js';
import { clientBindingKey, sourceKeyOf } from '../../defence/binding.js';
import type { PageVisits } from '../../defence/page-visits.js';

/**
 * A page (a navigation, or an HTML answer to a client that sends no `Sec-Fetch-Dest`) answered 2xx
 * or 304 is recorded as loaded by its source, whether the origin or the cache answered it: the form
 * it holds may be submitted next (defence/page-visits.ts).
 */
export function createPageVisitFilter(visits: PageVisits, ticker: Clock): LoggingFilter {
  return named('page-visit', (ctx: RequestContext, o) => {
    const method = ctx.req.method;
    if ((method !== 'GET' && method !== 'HEAD') || o.aborted || !((o.status >= 200 && o.status < 300) || o.status === 304)) return;
    // The page itself, not a challenge or a refusal answered in its place.
    if (ctx.verdict !== undefined && ctx.verdict.kind !== 'allow' && ctx.verdict.kind !== 'cached') return;
    const h = ctx.req.headers;
    const dest = h['sec-fetch-dest'];
    const page = dest !== undefined ? dest === 'document' || dest === 'iframe' || dest === 'frame' : (h.accept ?? '').includes('text/html');
    if (page) visits.loaded(sourceKeyOf(ctx.clientKey, clientBindingKey(h['user-agent'])), ctx.path, ticker.now());
  });
}
