import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { isEventStream } from '../upstream/event-stream.js';
import { varyRule } from './vary.js';

/** A route's cache settings, compiled once. */
export interface CachePolicy {
  readonly ttlS: number;
  readonly staleS: number;
  /** Query parameters that are part of the key, sorted; every other parameter is ignored. */
  readonly query: readonly string[];
  /** The upstream's Cache-Control is not read: stored for `ttlS` (config `cache.override`). */
  readonly override?: boolean;
}

/**
 * The cache key: the route (its namespace), method (HEAD shares GET's entry), path and only the
 * listed query parameters, sorted. Random parameters added to defeat caches do not create new
 * keys — nor does a random Host header: like nginx's default key ($proxy_host, not $host), the
 * client's Host is not part of it; a route matching one `host` is its own namespace.
 */
export function cacheKey(method: string, namespace: string, target: string, policy: CachePolicy): string {
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  let key = `${namespace} ${method === 'HEAD' ? 'GET' : method} ${path}`;
  if (q !== -1 && policy.query.length > 0) {
    const params = new URLSearchParams(target.slice(q + 1));
    for (const name of policy.query) {
      for (const v of params.getAll(name)) key += `&${encodeURIComponent(name)}=${encodeURIComponent(v)}`;
    }
  }
  return key;
}

/**
 * RFC 9111 §3: we only store answers to GET/HEAD without credentials (§3.5: Authorization). What a
 * request accepts does not matter: `Accept: text/event-stream` on any URL would otherwise pass the
 * cache as a random query parameter would. An event stream is never stored (below), so a request
 * coalesced behind one waits only for its head.
 */
export function isCacheableRequest(method: string, headers: IncomingHttpHeaders): boolean {
  return (method === 'GET' || method === 'HEAD') && headers.authorization === undefined;
}

const CACHEABLE_STATUS = new Set([200, 203, 204, 300, 301, 404, 410]); // RFC 9110 §15.1 heuristically cacheable

/**
 * Freshness lifetime in seconds for a response, or undefined if it must not be stored: a personal
 * answer (Set-Cookie, private, a Vary by Cookie or Authorization), no-store/no-cache, `Vary: *`, or
 * an event stream. Any other Vary is stored as a variant (cache/vary.ts).
 * The route's ttlS is an upper bound; the upstream's s-maxage/max-age can only shorten it — unless
 * the route overrides what the upstream says of caching (`override`: only Set-Cookie, Vary by
 * Cookie or *, an event stream and the status keep an answer out then).
 */
export function storableLifetimeS(status: number, headers: IncomingHttpHeaders | OutgoingHttpHeaders, policy: CachePolicy): number | undefined {
  if (!CACHEABLE_STATUS.has(status)) return undefined;
  if (headers['set-cookie'] !== undefined || varyRule(headers.vary, headers['content-encoding']) === 'unstorable') return undefined;
  // An event stream never ends: stored, the requests coalesced behind it would wait for good.
  if (isEventStream(headers['content-type'] as string | undefined)) return undefined;
  if (policy.override === true) return policy.ttlS;
  const cc = String(headers['cache-control'] ?? '').toLowerCase();
  if (/(^|[\s,])(no-store|private|no-cache)([\s,=]|$)/.test(cc)) return undefined;
  const m = /(?:^|[\s,])s-maxage=(\d+)/.exec(cc) ?? /(?:^|[\s,])max-age=(\d+)/.exec(cc);
  const upstream = m ? Number(m[1]) : Infinity;
  const lifetime = Math.min(policy.ttlS, upstream);
  return lifetime > 0 ? lifetime : undefined;
}
