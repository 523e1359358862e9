import type { Clock } from '../../../core/clock.js';
import { named, type UpstreamResponse, type UpstreamResponseFilter } from '../../pipeline/phases.js';
import type { RequestContext } from '../../context.js';
import type { CacheStore } from '../../cache/store.js';

/**
 * RFC 5861 §4 stale-if-error: an upstream's own 500/502/503/504 is an error too; a stored copy
 * within its stale window answers instead (the upstream's error body is read and dropped).
 */
export function createStaleOnErrorStatusFilter(store: CacheStore, clock: Clock): UpstreamResponseFilter {
  return named('stale-on-error-status', (ctx: RequestContext, res: UpstreamResponse) => {
    if (ctx.cacheKey === undefined || res.status < 500 || res.status > 504) return undefined;
    const entry = store.stale(ctx.cacheKey, clock.now(), ctx.req.headers);
    return entry ? { kind: 'replace', verdict: { kind: 'cached', entry, state: 'STALE' } } : undefined;
  });
}
