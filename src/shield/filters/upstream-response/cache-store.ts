import type { Clock } from '../../../core/clock.js';
import { named, type ResponseAction, type UpstreamResponse, type UpstreamResponseFilter } from '../../pipeline/phases.js';
import type { RequestContext } from '../../context.js';
import type { CacheStore } from '../../cache/store.js';
import type { Coalescer } from '../../cache/coalesce.js';
import { storableLifetimeS } from '../../cache/policy.js';
import { varyRule } from '../../cache/vary.js';

/**
 * For a request the cache filter keyed: marks the answer MISS and, when it may be stored (RFC 9111
 * §3: status, no personal data, lifetime capped by the upstream's max-age), copies the body as it
 * streams and stores it at the end — as the variant this request selects when the answer varies
 * (cache/vary.ts) — then wakes the requests coalesced behind this one.
 */
export function createCacheStoreFilter(store: CacheStore, coalescer: Coalescer, clock: Clock, maxObjectBytes: number): UpstreamResponseFilter {
  return named('cache-store', (ctx: RequestContext, res: UpstreamResponse): ResponseAction | undefined => {
    const policy = ctx.route?.cache;
    const key = ctx.cacheKey;
    if (key === undefined || !policy) return undefined;
    ctx.cacheState = 'MISS';
    const lifetimeS = storableLifetimeS(res.status, res.headers, policy);
    const snapshot = { ...res.headers };
    res.headers['x-rempart-cache'] = 'MISS';
    if (lifetimeS === undefined || Number(res.headers['content-length'] ?? 0) > maxObjectBytes || ctx.req.method === 'HEAD') {
      coalescer.done(key); // nothing will be stored: the requests waiting on this one need not wait longer
      return undefined;
    }
    let chunks: Buffer[] | undefined = [];
    let size = 0;
    return {
      kind: 'observe',
      observer: {
        data(chunk) {
          if (!chunks) return;
          size += chunk.length;
          if (size > maxObjectBytes) chunks = undefined;
          else chunks.push(chunk);
        },
        end() {
          if (chunks) {
            const now = clock.now();
            const freshUntil = now + lifetimeS * 1000;
            const vary = varyRule(snapshot.vary, snapshot['content-encoding']) as readonly string[]; // storable: checked above
            store.put(key, { status: res.status, headers: snapshot, body: Buffer.concat(chunks, size), storedAt: now, freshUntil, staleUntil: freshUntil + policy.staleS * 1000, vary }, ctx.req.headers);
          }
          coalescer.done(key);
        },
      },
    };
  });
}
