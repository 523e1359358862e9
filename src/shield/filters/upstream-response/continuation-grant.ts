import type { Clock } from '../../../core/clock.js';
import { named, type UpstreamResponse, type UpstreamResponseFilter } from '../../pipeline/phases.js';
import type { RequestContext } from '../../context.js';
import { sameSiteTarget, type Continuations } from '../../defence/continuations.js';

// RFC 9110 §15.4: the redirects a browser follows on its own (300 and 304 are not).
const FOLLOWED = new Set([301, 302, 303, 307, 308]);

/**
 * A critical request answered with a redirect on the same site lends its class to the request
 * that follows it (filters/request/continuation.ts, defence/continuations.ts). Granted to the
 * identity that request will carry: the session the answer set when it set one (a login's 303 —
 * the account page comes with the new session, whose identity is the session's, not the
 * login's cookies'), else the critical request's own. Runs after the session-issue filter.
 */
export function createContinuationGrantFilter(continuations: Continuations, ticker: Clock): UpstreamResponseFilter {
  return named('continuation-grant', (ctx: RequestContext, res: UpstreamResponse) => {
    if (!FOLLOWED.has(res.status) || (ctx.admissionClass ?? ctx.routeClass) !== 'critical') return undefined;
    const location = res.headers.location;
    if (typeof location !== 'string') return undefined;
    const target = sameSiteTarget(location, ctx.path, ctx.req.headers.host);
    if (target !== undefined) continuations.grant(ctx.issuedSessionKey ?? ctx.paceKey ?? ctx.clientKey, target, ticker.now(), ctx.traits?.pace ?? 0);
    return undefined;
  });
}
