/**
 * Returning customers for `bench ddos --known-customers`: each user of the population before the
 * crowd holds the reputation cookie Rempart would have given it on a visit a week earlier.
 *
 * Why: reputation exists so that clients known before an attack go first during it, and a bank's
 * or a carrier's customers come back week after week. A 20 s cell has no such customer — every
 * reputation in it is seconds old, as young as those of bots that browsed just before flooding
 * (browse-then-flood) — so the default bench measures a site whose whole clientele arrived during
 * the last minute. This option measures the site the feature is for. The cookie is minted with the
 * key the bench gives the shield (`detection.secret`), bound as the shield binds it (the address's
 * /24 or /48 and a digest of the User-Agent); the other targets receive the same cookie and ignore it.
 */
import { randomBytes } from 'node:crypto';
import { mintReputationCookie } from '../../shield/index.js';

/** How long before the run the customers' reputations were issued. */
export const KNOWN_CUSTOMER_AGE_S = 7 * 86_400;

/** A fresh secret for one bench run (the shield's `detection.secret`). */
export function benchSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** The cookie a returning customer at `address` with `userAgent` holds: a reputation first issued `ageS` ago. */
export function knownCustomerCookie(secret: string, now: () => number = Date.now, ageS = KNOWN_CUSTOMER_AGE_S): (address: string, userAgent: string) => readonly [string, string] {
  return (address, userAgent) => mintReputationCookie(secret, { address, userAgent }, now() - ageS * 1000);
}
