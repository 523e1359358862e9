import type { Clock } from '../../../core/clock.js';
import { named, type UpstreamResponse, type UpstreamResponseFilter } from '../../pipeline/phases.js';
import type { RequestContext } from '../../context.js';
import type { IdentityPace } from '../../detect/identity-pace.js';

/**
 * An answer refusing the client's credentials (401, 403: RFC 9110 §15.5.2, §15.5.4) weighs on its
 * identity's pace like a page level's worth of requests (`weight`, the pace's `lightRequests`): a
 * person who mistypes a password once is served half a second later for a few seconds; a bot
 * guessing logins with a reputation it earned browsing — each guess costing the origin a password
 * hash — falls behind customers from its second refusal instead of after a window of floods
 * (browse-then-flood drill: 17 such logins, 3× a page's cost, took the origin's first second of the
 * attack while each bot was still at a customer's pace).
 */
export function createFailedAuthFilter(pace: IdentityPace, ticker: Clock, weight: () => number): UpstreamResponseFilter {
  return named('failed-auth', (ctx: RequestContext, res: UpstreamResponse) => {
    if ((res.status === 401 || res.status === 403) && ctx.paceKey !== undefined) pace.charge(ctx.paceKey, weight(), ticker.now());
    return undefined;
  });
}
