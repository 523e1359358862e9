import type { Clock } from '../../../core/clock.js';
import { named, type RequestFilter } from '../../pipeline/phases.js';
import type { RequestContext } from '../../context.js';
import type { Continuations } from '../../defence/continuations.js';

/**
 * The request that follows a critical request's redirect (Post/Redirect/Get: the account page after
 * a login, the status page after a payment) waits in the critical class's queue, once per redirect
 * (defence/continuations.ts). Runs after the clearance filter: the client is its pace key (its
 * token, or its address and agent), the one its critical request was answered under.
 */
export function createContinuationFilter(continuations: Continuations, ticker: Clock): RequestFilter {
  return named('continuation', (ctx: RequestContext) => {
    if (ctx.routeClass === 'critical' || ctx.routeClass === 'none') return undefined;
    const pace = continuations.take(ctx.paceKey ?? ctx.clientKey, ctx.target, ticker.now());
    if (pace === undefined) return undefined;
    ctx.admissionClass = 'critical';
    // Its tier is set from this level by the pace filter (filters/upstream-request/pace.ts).
    ctx.continuationPace = pace;
    return undefined;
  });
}
