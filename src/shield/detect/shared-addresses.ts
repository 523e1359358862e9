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
 * Behind a shared address a newcomer's no-JavaScript cookie may carry an identity of its own
 * (challenge/responses.ts), unless a token was revoked there for flooding within the window: a bot
 * whose token was revoked would otherwise come back as a fresh, light identity each time (revoke,
 * challenge, new identity, flood), where the address's own identity stays revoked and leads it to
 * proof-of-work (bench layout cgnat-shared, browse-then-flood: 55% with fresh identities after
 * revocations, 100% without).
 *
 * That address's own identity is then shared by everyone behind it who sends the same agent —
 * bots that flooded included — so it proves nothing there: a shared address where a token was
 * revoked within the window is `flooded`, and page loads from it are asked for proof-of-work, a
 * personal clearance, instead (challenge/evaluate.ts, `addressFlooded`). So is any address that went
 * over its own rate limit in the last `overRateMs`: there the address's identity is the flood's
 * whether or not the address is known as shared — a carrier NAT whose customers all arrived during
 * the attack holds no personal token to be recognised by, and its customers whose page loads fell
 * within the address's allowance passed with the flood's identity and pace and waited behind it
 * (bench layout cgnat-shared, browse-then-flood: abandoned lookups).
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
  /** An address over its rate limit is `flooded` for this long after, ms. Default 30 s. */
  readonly overRateMs: number;
}

export const DEFAULT_SHARED_ADDRESSES: SharedAddressParams = Object.freeze({ minClients: 2, windowMs: 10 * 60_000, maxAddresses: 100_000, overRateMs: 30_000 });

export interface SharedAddresses {
  /** A request from `address` carried the personal token `clientKey`. */
  see(address: string, clientKey: string, now: number): void;
  /** Whether `minClients` distinct tokens were seen behind `address` within the window. */
  isShared(address: string, now: number): boolean;
  /** A token used from `address` was revoked (its holder flooded with it). */
  revoked(address: string, now: number): void;
  /** Shared, and no token revoked there within the window: a newcomer may get an identity of its own. */
  personalIdentities(address: string, now: number): boolean;
  /** A client with no token of its own went over `address`'s rate limit. */
  overRate(address: string, now: number): void;
  /**
   * The address's own identity is a flooder's too: shared with a token revoked there within the
   * window, or over its rate limit within `overRateMs`.
   */
  flooded(address: string, now: number): boolean;
  readonly size: number;
}

export function createSharedAddresses(overrides: Partial<SharedAddressParams> = {}): SharedAddresses {
  const p: SharedAddressParams = { ...DEFAULT_SHARED_ADDRESSES, ...overrides };
  // Per address: token key → last seen (a handful at most), when a token was last revoked there,
  // when it last went over its rate.
  interface Entry { readonly keys: Map<string, number>; revokedAt: number | undefined; overRateAt: number | undefined }
  const map = createRecencyMap<Entry>();
  const live = (keys: Map<string, number>, now: number): number => {
    let n = 0;
    for (const [k, at] of keys) { if (now - at <= p.windowMs) n++; else keys.delete(k); }
    return n;
  };
  const entry = (address: string): Entry => {
    let e = map.use(address);
    if (e === undefined) {
      if (map.size >= p.maxAddresses) { const o = map.oldest(); if (o) map.delete(o[0]); }
      e = { keys: new Map(), revokedAt: undefined, overRateAt: undefined };
      map.set(address, e);
    }
    return e;
  };
  const isShared = (address: string, now: number): boolean => {
    const e = map.peek(address);
    return e !== undefined && live(e.keys, now) >= p.minClients;
  };
  const revokedWithin = (address: string, now: number): boolean => {
    const at = map.peek(address)?.revokedAt;
    return at !== undefined && now - at <= p.windowMs;
  };
  return {
    see(address, clientKey, now) {
      const { keys } = entry(address);
      if (keys.has(clientKey)) { keys.set(clientKey, now); return; }
      if (keys.size >= p.minClients && live(keys, now) >= p.minClients) return; // already shared: no need to hold more
      keys.set(clientKey, now);
    },
    isShared,
    revoked(address, now) { entry(address).revokedAt = now; },
    personalIdentities: (address, now) => isShared(address, now) && !revokedWithin(address, now),
    overRate(address, now) { entry(address).overRateAt = now; },
    flooded(address, now) {
      const at = map.peek(address)?.overRateAt;
      return (at !== undefined && now - at <= p.overRateMs) || (isShared(address, now) && revokedWithin(address, now));
    },
    get size() { return map.size; },
  };
}
