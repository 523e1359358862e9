import type { OutgoingHttpHeaders } from 'node:http';
import { createRecencyMap } from '../../core/recency-map.js';

/** A stored response. Times are ms on the shield's monotonic clock. */
export interface CachedResponse {
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
  readonly body: Buffer;
  readonly storedAt: number;
  readonly freshUntil: number;
  readonly staleUntil: number;
}

/** A response cache bounded in bytes, least recently used out first. Pure: callers pass `now`. */
export interface CacheStore {
  /** A fresh entry, or undefined. */
  fresh(key: string, now: number): CachedResponse | undefined;
  /** An entry past its freshness but still within its stale window (RFC 5861 stale-if-error). */
  stale(key: string, now: number): CachedResponse | undefined;
  put(key: string, entry: CachedResponse): void;
  readonly bytes: number;
  readonly size: number;
}

const overhead = (key: string): number => 256 + key.length * 2;

/** Creates a store holding at most `maxBytes` (bodies plus a fixed per-entry overhead). */
export function createCacheStore(maxBytes: number): CacheStore {
  const map = createRecencyMap<CachedResponse>();
  let bytes = 0;
  const drop = (key: string, e: CachedResponse): void => { map.delete(key); bytes -= e.body.length + overhead(key); };
  return {
    fresh(key, now) {
      const e = map.peek(key);
      if (!e || now >= e.freshUntil) return undefined;
      map.use(key);
      return e;
    },
    stale(key, now) {
      const e = map.peek(key);
      if (!e) return undefined;
      if (now >= e.staleUntil) { drop(key, e); return undefined; }
      map.use(key);
      return e;
    },
    put(key, entry) {
      const size = entry.body.length + overhead(key);
      if (size > maxBytes) return;
      const old = map.peek(key);
      if (old) drop(key, old);
      for (const [k, e] of map.fromOldest()) {
        if (bytes + size <= maxBytes) break;
        drop(k, e);
      }
      map.set(key, entry);
      bytes += size;
    },
    get bytes() { return bytes; },
    get size() { return map.size; },
  };
}
