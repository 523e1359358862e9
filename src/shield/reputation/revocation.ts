import type { Clock } from '../../core/clock.js';

/** Token ids revoked until a time: a reputation or clearance whose holder misbehaved. */
export interface RevocationList {
  /** Revokes `id` until `untilMs` (set it to the token's expiry: later it is refused anyway). */
  revoke(id: string, untilMs: number): void;
  isRevoked(id: string): boolean;
  readonly size: number;
}

/**
 * Creates a bounded revocation list: at most `maxEntries` ids, the earliest revoked forgotten
 * first when full (a flood of revocations cannot grow memory). Stateless tokens cannot be
 * recalled, so this is the only state the shield keeps about them.
 * @example
 * const revoked = createRevocationList({ maxEntries: 100_000, clock: systemClock });
 * if (limiter.check(pass.rateKey, params).allowed === false) revoked.revoke(pass.tokenId, pass.expiresAt);
 */
export function createRevocationList(opts: { readonly maxEntries: number; readonly clock: Clock }): RevocationList {
  const until = new Map<string, number>();
  return {
    revoke(id, untilMs) {
      until.delete(id);
      if (until.size >= opts.maxEntries) {
        const oldest = until.keys().next();
        if (!oldest.done) until.delete(oldest.value);
      }
      until.set(id, untilMs);
    },
    isRevoked(id) {
      const t = until.get(id);
      if (t === undefined) return false;
      if (t > opts.clock.now()) return true;
      until.delete(id);
      return false;
    },
    get size() { return until.size; },
  };
}
