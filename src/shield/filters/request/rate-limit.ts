import type { RateParams, RouteClass } from '../../../config/schema.js';
import { deny, type Verdict } from '../../verdict.js';
import { named, type RequestFilter } from '../../pipeline/phases.js';
import type { RequestContext } from '../../context.js';

/** What the rate-limit stage needs from a limiter (GCRA keyed by client and class). */
export interface RateLimiterPort {
  check(key: string, params: RateParams): { allowed: boolean; retryAfterMs: number };
}

/**
 * Per client address and route class GCRA limit; over the limit answers 429 with Retry-After
 * (RFC 6585 §4, RFC 9110 §10.2.3). With detection on it runs after the clearance filter and binds
 * only requests without a personal token (`exempt`): a customer holding a reputation or a solved
 * proof-of-work is limited by its token's own rate, not by the address it shares with others —
 * behind a carrier NAT a bot at the same address would otherwise get its customers refused
 * (and, refused often enough, the address blocked: defence/detector.ts). There `over` answers a
 * client over the address's rate with proof-of-work instead (filters/request/clearance.ts): solved,
 * it is a token of the client's own, limited by its own rate.
 */
export function createRateLimitFilter(
  limiter: RateLimiterPort, perClass: Readonly<Record<RouteClass, RateParams>>, exempt?: (ctx: RequestContext) => boolean,
  /** What to answer instead of 429 (a challenge that earns a token of its own); undefined: the 429. */
  over?: (ctx: RequestContext) => Verdict | undefined,
): RequestFilter {
  return named('rate-limit', (ctx) => {
    if (ctx.routeClass === 'none' || exempt?.(ctx) === true) return undefined;
    const result = limiter.check(ctx.clientKey + ' ' + ctx.routeClass, perClass[ctx.routeClass]);
    if (result.allowed) return undefined;
    const instead = over?.(ctx);
    if (instead !== undefined) return instead;
    return deny('RMP_ERR_RATE_LIMITED', `rate limit for class ${ctx.routeClass}`, {
      retryAfterS: Math.max(1, Math.ceil(result.retryAfterMs / 1000)),
    });
  });
}
