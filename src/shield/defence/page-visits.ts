/**
 * Page visits: which pages each browser loaded lately, so that a form
 * submission can be checked against the page it says it came from.
 *
 * Why: a browser submits only a form it loaded. Its POST names the form's page in `Referer`
 * (same-origin requests carry the full URL under the default `strict-origin-when-cross-origin`
 * policy: Referrer Policy §3, Fetch standard "determine request's referrer"). A bot that copies a
 * browser's headers copies that `Referer` too, without loading the page. In the browse-then-flood
 * drill, bots holding reputations earned by browsing sent their first login POSTs — each a
 * password hash at the origin, three lookups' worth — at a customer's pace in the attack's first
 * second, and customers' logins waited behind them. None had loaded the login page it claimed.
 *
 * What it takes away: nothing is refused. Such a POST on a critical route, carrying a token, counts
 * at a flood's pace in admission (filters/upstream-request/pace.ts): served after every request at a
 * customer's pace, before heavier floods. One with no token is behind every token holder already.
 * A POST with no same-site `Referer` (an app, an API client, a `no-referrer` policy) or one naming
 * the site's root (`Referrer-Policy: origin` sends only that) is not judged. A page loaded from another address or agent than the POST's, or longer ago than
 * `ttlMs` (a form left open overnight), makes its POST count as unbacked: under attack it waits
 * behind light traffic, never more.
 *
 * Keyed by browser, not by token: a browser's token may change between the page and the POST (a
 * challenge answered in between). A browser is its page-visit cookie (defence/visit-cookie.ts), else
 * its source, address and agent (defence/binding.ts). By source alone, customers behind one
 * carrier-NAT address with the same agent backed each other's POSTs — and the bots' behind it.
 * This module only counts; the keys are the caller's.
 *
 * Memory is bounded: at most `maxEntries` (visitor, page) pairs, the least recently loaded forgotten
 * first. Pure: the caller passes `now` (monotonic ms).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { createRecencyMap } from '../../core/recency-map.js';

export interface PageVisitParams {
  /** How long a loaded page backs a submission from it, ms. */
  readonly ttlMs: number;
  /** (visitor, page) pairs held at most. */
  readonly maxEntries: number;
}

export const DEFAULT_PAGE_VISITS: PageVisitParams = Object.freeze({ ttlMs: 30 * 60_000, maxEntries: 100_000 });

export interface PageVisits {
  /** `visitor` (a browser, or a source) loaded `path` (its path, no query) at `now`. */
  loaded(visitor: string, path: string, now: number): void;
  /** Whether `visitor` loaded `path` within the last `ttlMs`. */
  hasLoaded(visitor: string, path: string, now: number): boolean;
  readonly size: number;
}

/** `settings` is read on every call, so a configuration reload applies at once. */
export function createPageVisits(settings: () => Partial<PageVisitParams> = () => DEFAULT_PAGE_VISITS): PageVisits {
  // Read per call without building an object: `loaded` runs for every page answered.
  const ttlMs = (): number => settings().ttlMs ?? DEFAULT_PAGE_VISITS.ttlMs;
  const maxEntries = (): number => settings().maxEntries ?? DEFAULT_PAGE_VISITS.maxEntries;
  const map = createRecencyMap<number>();
  const keyOf = (visitor: string, path: string): string => `${visitor}\n${path}`;
  return {
    loaded(visitor, path, now) {
      const key = keyOf(visitor, path);
      if (map.peek(key) === undefined && map.size >= maxEntries()) { const o = map.oldest(); if (o) map.delete(o[0]); }
      map.set(key, now);
    },
    hasLoaded(visitor, path, now) {
      if (map.size === 0) return false;
      const at = map.peek(keyOf(visitor, path));
      return at !== undefined && now - at <= ttlMs();
    },
    get size() { return map.size; },
  };
}

/**
 * The page a request's `Referer` names on the request's own host, as a path without query; undefined
 * when it names another host or scheme, only the site's root, or does not parse. A partial URI is
 * resolved against the request's host (RFC 9110 §10.1.3 allows one; browsers send absolute URLs).
 */
export function sameSiteRefererPath(referer: string | undefined, host: string | undefined): string | undefined {
  if (referer === undefined || host === undefined) return undefined;
  try {
    const url = new URL(referer, `http://${host}/`);
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.host !== host) return undefined;
    return url.pathname === '/' ? undefined : url.pathname;
  } catch {
    return undefined;
  }
}

/**
 * The path "answered a page" is recorded under (defence/answered-page.ts, at the page answer's
 * head): never a request path (those start with '/'). Those records share `maxEntries` with the
 * pages themselves.
 */
export const ANY_PAGE = '';

/**
 * Whether a GET or HEAD is a page load: a navigation (`Sec-Fetch-Dest` document or frame), or, from
 * a client that sends no `Sec-Fetch-Dest`, one that accepts HTML.
 */
export function isPageLoad(method: string | undefined, headers: IncomingHttpHeaders): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  const dest = headers['sec-fetch-dest'];
  return dest !== undefined ? dest === 'document' || dest === 'iframe' || dest === 'frame' : (headers.accept ?? '').includes('text/html');
}
