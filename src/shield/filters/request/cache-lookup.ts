import type { Clock } from '../../../core/clock.js';
import { named, type RequestFilter } from '../../pipeline/phases.js';
import { cacheKey, isCacheableRequest } from '../../cache/policy.js';
import type { CachedResponse, CacheStore } from '../../cache/store.js';
import type { Coalescer } from '../../cache/coalesce.js';
import { onExchangeEnd, type RequestContext } from '../../context.js';
import type { Verdict } from '../../verdict.js';

/**
 * For routes with a `cache` setting: computes the key (the route's stable id plus the listed query
 * parameters only, so cache-busting parameters hit the same entry) and answers fresh copies
 * without the upstream. `onHit` may add headers of the exchange's own to a copy (`ctx.res`: the
 * page-visit cookie), never to what is stored. Concurrent misses of one key wait for the first one's answer — or,
 * when an expired copy is still within the route's stale window, get that copy at once; only that
 * wait makes the filter asynchronous.
 */
export function createCacheLookupFilter(store: CacheStore, coalescer: Coalescer, clock: Clock, onHit?: (ctx: RequestContext, entry: CachedResponse) => void): RequestFilter {
  const hit = (ctx: RequestContext, key: string): Verdict | undefined => {
    const entry = store.fresh(key, clock.now(), ctx.req.headers);
    if (entry === undefined) return undefined;
    onHit?.(ctx, entry);
    return { kind: 'cached', entry, state: 'HIT' };
  };
  return named('cache', (ctx: RequestContext) => {
    const policy = ctx.route?.cache;
    const method = ctx.req.method ?? 'GET';
    if (!policy || !ctx.route || !isCacheableRequest(method, ctx.req.headers)) return undefined;
    const key = cacheKey(method, ctx.route.id, ctx.target, policy);
    ctx.cacheKey = key;
    const fresh = hit(ctx, key);
    if (fresh) return fresh;
    if (coalescer.lead(key)) {
      onExchangeEnd(ctx, () => coalescer.done(key));
      return undefined;
    }
    // A refresh of this key is on its way: a copy within its stale window answers now rather than
    // waiting with it (nginx `proxy_cache_use_stale updating`) — under a flood the refresh waits
    // for an upstream slot, and every customer asking meanwhile waited as long for a page we hold.
    const stale = store.stale(key, clock.now(), ctx.req.headers);
    if (stale !== undefined) { onHit?.(ctx, stale); return { kind: 'cached', entry: stale, state: 'STALE' }; }
    // Not stored (personal, too large, failed): every waiter goes upstream at once, never one by one.
    return coalescer.wait(key).then(() => hit(ctx, key));
  });
}
