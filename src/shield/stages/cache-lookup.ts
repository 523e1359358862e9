import type { Clock } from '../../core/clock.js';
import { namedStage, type Stage } from '../context.js';
import { cacheKey, isCacheableRequest } from '../cache/policy.js';
import type { CacheStore } from '../cache/store.js';

/**
 * For routes with a `cache` setting: computes the key (listed query parameters only, so
 * cache-busting parameters hit the same entry) and answers fresh copies without the upstream.
 */
export function createCacheLookupStage(store: CacheStore, clock: Clock): Stage {
  return namedStage('cache', (ctx) => {
    const policy = ctx.route?.cache;
    const method = ctx.req.method ?? 'GET';
    if (!policy || !isCacheableRequest(method, ctx.req.headers)) return undefined;
    ctx.cacheKey = cacheKey(method, `r${ctx.route?.index}`, ctx.target, policy);
    const entry = store.fresh(ctx.cacheKey, clock.now());
    return entry ? { kind: 'cached', entry } : undefined;
  });
}
