import type { Clock } from '../../../core/clock.js';
import { named, type RequestFilter } from '../../pipeline/phases.js';
import type { RequestContext } from '../../context.js';
import type { Continuations } from '../../defence/continuations.js';
import { STANDING } from '../../upstream/admission.js';

/**
 * The request that follows a critical request's redirect (Post/Redirect/Get: the account page after
 * a login, the status page after a payment) waits in the critical class's queue, once per redirect
 * (defence/continuations.ts). Runs after the clearance filter: the client is its pace key (its
 * token, or its address and agent), the one its critical request was answered under — or the
 * session that request's answer set. A logged-in customer's continuation waits as established.
 */
export function createContinuationFilter(continuations: Continuations, ticker: Clock): RequestFilter {
  return named('continuation', (ctx: RequestContext) => {
    if (ctx.routeClass === 'critical' || ctx.routeClass === 'none') return undefined;
    const pace = continuations.take(ctx.paceKey ?? ctx.clientKey, ctx.target, ticker.now());
    if (pace === undefined) return undefined;
    ctx.admissionClass = 'critical';
    // Its tier is set from this level by the pace filter (filters/upstream-request/pace.ts).
    ctx.continuationPace = pace;
    // A logged-in customer's continuation is part of a critical action, and a session ranks as
    // established on critical routes (request/clearance.ts `authenticated`): its place, not its
    // cookies'. At those, a customer who logged in again (a new session) waited 5.6 s for the
    // account page its 20 ms login redirected to, behind a flood's handshakes
    // (websocket-browse-flood drill, docs/benchmarks.md, twenty-seventh session).
    if (ctx.authenticated === true) {
      ctx.baseTier = STANDING.established;
      ctx.authenticated = false;
    }
    return undefined;
  });
}
