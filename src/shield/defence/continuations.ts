/**
 * Continuations of critical requests: the request that completes a critical action keeps its class.
 *
 * Why: a login or a payment form is a POST answered with a redirect (Post/Redirect/Get; RFC 9110
 * §15.4.4: after 303 the browser fetches the Location with a GET). The person waits for the page
 * that follows, not for the 303 — and that page (the account, the payment's status) is usually on a
 * lower class route. Under attack it queued behind that class's load: a customer's login during the
 * challenge-solver drill took 1.3 s, its 303 served at once and the account page waiting its class's
 * bound behind the bots' requests.
 *
 * What it lends: each redirect answered to a critical request lets the same client (its pace key:
 * its token, or its address and agent) fetch that one target once, within `ttlMs`, in the critical
 * class's queue. One continuation per critical answer, never more: a client gets no more critical
 * slots than it already had critical requests served. The route, its upstream, its limits and its
 * challenges are the target's own; only the place in the queue changes.
 *
 * It also lends its pace: the continuation is served at the pace level its critical request was
 * served at, not one level heavier for being one more request of the same action (the login page,
 * the POST, now its redirect: three in a second put a customer at pace 1, 500 ms behind; one
 * account page waited 240–320 ms in browse-then-flood while its POST had waited 20). It still
 * counts in the client's pace, and a flood's POST lends a flood's pace. Over three seeds it did not
 * move the critical p99 beyond the spread (docs/benchmarks.md, eleventh session).
 *
 * Memory is bounded: at most `maxEntries` continuations, the oldest forgotten first. Pure: the
 * caller passes `now`.
 */
import { createRecencyMap } from '../../core/recency-map.js';

export interface ContinuationParams {
  /** How long after the redirect the continuation may be taken, ms. */
  readonly ttlMs: number;
  /** Continuations held at most. */
  readonly maxEntries: number;
}

export const DEFAULT_CONTINUATIONS: ContinuationParams = Object.freeze({ ttlMs: 10_000, maxEntries: 100_000 });

export interface Continuations {
  /** A critical request of `client`, served at pace level `pace`, was answered with a redirect to `target` (origin-form). */
  grant(client: string, target: string, now: number, pace?: number): void;
  /**
   * The pace level a continuation of `client` to `target` is served at (the heaviest of those
   * pending), or undefined when it holds none; one is used up.
   */
  take(client: string, target: string, now: number): number | undefined;
  readonly size: number;
}

export function createContinuations(overrides: Partial<ContinuationParams> = {}): Continuations {
  const p: ContinuationParams = { ...DEFAULT_CONTINUATIONS, ...overrides };
  // Key: client and target; value: when granted, how many redirects to it are not taken yet, and
  // the heaviest pace they were granted at.
  const map = createRecencyMap<{ at: number; count: number; pace: number }>();
  const keyOf = (client: string, target: string): string => `${client}\n${target}`;
  return {
    grant(client, target, now, pace = 0) {
      const key = keyOf(client, target);
      const e = map.peek(key);
      if (e !== undefined && now - e.at <= p.ttlMs) { e.count++; e.at = now; e.pace = Math.max(e.pace, pace); map.set(key, e); return; }
      if (e === undefined && map.size >= p.maxEntries) { const o = map.oldest(); if (o) map.delete(o[0]); }
      map.set(key, { at: now, count: 1, pace });
    },
    take(client, target, now) {
      if (map.size === 0) return undefined;
      const key = keyOf(client, target);
      const e = map.peek(key);
      if (e === undefined) return undefined;
      if (now - e.at > p.ttlMs) { map.delete(key); return undefined; }
      if (--e.count === 0) map.delete(key);
      return e.pace;
    },
    get size() { return map.size; },
  };
}

/**
 * The origin-form target a redirect's Location points to, when it stays on the request's host
 * (RFC 9110 §10.2.2: a relative reference is resolved against the request's target); undefined
 * for another host, another scheme, or a Location that does not parse.
 */
export function sameSiteTarget(location: string, requestPath: string, host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  // Parsed even for a plain path: the browser removes dot segments before it asks (RFC 3986 §5.2.4).
  try {
    const base = new URL(`http://${host}${requestPath}`);
    const url = new URL(location, base);
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.host !== base.host) return undefined;
    return url.pathname + url.search;
  } catch {
    return undefined;
  }
}
