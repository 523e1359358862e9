import type { RateParams, RouteClass } from '../../../config/schema.js';
import { deny } from '../../verdict.js';
import { named, type RequestFilter } from '../../pipeline/phases.js';

/** What the rate-limit stage needs from a limiter (GCRA keyed by client and class). */
export interface RateLimiterPort {
  check(key: string, params: RateParams): { allowed: boolean; retryAfterMs: number };
}

/**
 * Per client address and route class GCRA limit; over the limit answers 429 with Retry-After
 * (RFC 6585 §4, RFC 9110 §10.2.3).
 */
export function createRateLimitFilter(limiter: RateLimiterPort, perClass: Readonly<Record<RouteClass, RateParams>>): RequestFilter {
  return named('rate-limit', (ctx) => {
    if (ctx.routeClass === 'none') return undefined;
    const result = limiter.check(ctx.client + ' ' + ctx.routeClass, perClass[ctx.routeClass]);
    if (result.allowed) return undefined;
    return deny('RMP_ERR_RATE_LIMITED', `rate limit for class ${ctx.routeClass}`, {
      retryAfterS: Math.max(1, Math.ceil(result.retryAfterMs / 1000)),
    });
  });
}
