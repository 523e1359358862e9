import type { Clock } from '../../../core/clock.js';
import { named, type RequestFilter } from '../../pipeline/phases.js';
import type { RequestContext } from '../../context.js';
import type { Continuations } from '../../defence/continuations.js';
import { tierFor, WORST_TIER } from '../../upstream/admission.js';

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
    ctx.continuationPace = pace;
    // Read at the clearance with this request counted as one more of the client's: the level its
    // critical request was served at instead (a token revoked meanwhile stays last).
    if (ctx.baseTier !== undefined && ctx.tier !== WORST_TIER) ctx.tier = Math.min(ctx.tier, tierFor(ctx.baseTier, pace));
    return undefined;
  });
}
