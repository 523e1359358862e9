import type { Clock } from '../../../core/clock.js';
import { named, type FailureFilter } from '../../pipeline/phases.js';
import type { RequestContext } from '../../context.js';
import type { CacheStore } from '../../cache/store.js';

/** RFC 5861 stale-if-error: a stored copy, even expired, beats a 502/503/504 (refused, timeout, shed). */
export function createStaleIfErrorFilter(store: CacheStore, clock: Clock): FailureFilter {
  return named('stale-if-error', (ctx: RequestContext) => {
    if (ctx.cacheKey === undefined) return undefined;
    const entry = store.stale(ctx.cacheKey, clock.now(), ctx.req.headers);
    return entry ? { kind: 'cached', entry, state: 'STALE' } : undefined;
  });
}
