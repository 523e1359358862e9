/**
 * Shared addresses: client addresses behind which several distinct customers were seen recently,
 * each with a token of its own (a reputation from normal times or a solved proof-of-work) — a
 * carrier-grade NAT (RFC 6888: thousands of subscribers per public address), a company proxy, a
 * mobile network. Such an address is never blocked at the connection level, nor limited as one
 * client: a bot behind it would take its customers down with it (cgnat-shared drill: 20 customers
 * per address, bots behind the same addresses — 2–5% success while the addresses were blocked).
 * Behind a shared address the per-request defences still separate the bots from the customers:
 * token pace, per-token limits and revocation, challenges for requests without a token.
 *
 * A bot could mint several tokens behind its own address to look shared: a reputation is only
 * issued in normal times and a proof-of-work costs work per token, and what it buys is only that
 * its address is not blocked outright — its tokens are still paced and revoked one by one.
 *
 * Memory is bounded: at most `maxAddresses` addresses (least recently seen forgotten first), at most
 * `minClients` token keys each. Pure: the caller passes `now`.
 */
import { createRecencyMap } from '../../core/recency-map.js';

export interface SharedAddressParams {
  /** Distinct tokens seen behind one address that make it shared. Default 2. */
  readonly minClients: number;
  /** A token counts for this long after it was last seen, ms. Default 10 minutes. */
  readonly windowMs: number;
  /** Addresses tracked at most. Default 100,000. */
  readonly maxAddresses: number;
}

export const DEFAULT_SHARED_ADDRESSES: SharedAddressParams = Object.freeze({ minClients: 2, windowMs: 10 * 60_000, maxAddresses: 100_000 });

export interface SharedAddresses {
  /** A request from `address` carried the personal token `clientKey`. */
  see(address: string, clientKey: string, now: number): void;
  /** Whether `minClients` distinct tokens were seen behind `address` within the window. */
  isShared(address: string, now: number): boolean;
  readonly size: number;
}

export function createSharedAddresses(overrides: Partial<SharedAddressParams> = {}): SharedAddresses {
  const p: SharedAddressParams = { ...DEFAULT_SHARED_ADDRESSES, ...overrides };
  // Per address: token key → last seen (a handful at most).
  const map = createRecencyMap<Map<string, number>>();
  const live = (keys: Map<string, number>, now: number): number => {
    let n = 0;
    for (const [k, at] of keys) { if (now - at <= p.windowMs) n++; else keys.delete(k); }
    return n;
  };
  return {
    see(address, clientKey, now) {
      let keys = map.use(address);
      if (keys === undefined) {
        if (map.size >= p.maxAddresses) { const o = map.oldest(); if (o) map.delete(o[0]); }
        keys = new Map();
        map.set(address, keys);
      }
      if (keys.has(clientKey)) { keys.set(clientKey, now); return; }
      if (keys.size >= p.minClients && live(keys, now) >= p.minClients) return; // already shared: no need to hold more
      keys.set(clientKey, now);
    },
    isShared(address, now) {
      const keys = map.peek(address);
      return keys !== undefined && live(keys, now) >= p.minClients;
    },
    get size() { return map.size; },
  };
}
