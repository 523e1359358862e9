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
import { clientBindingKey } from '../../shield/defence/binding.js';
import { COOKIE_NAMES } from '../../shield/reputation/cookie.js';
import { addressPrefix } from '../../shield/reputation/prefix.js';
import { createKeyring, signToken, toTokenTime } from '../../shield/reputation/token.js';

/** How long before the run the customers' reputations were issued. */
export const KNOWN_CUSTOMER_AGE_S = 7 * 86_400;
const REPUTATION_TTL_S = 30 * 86_400;

/** A fresh secret for one bench run (the shield's `detection.secret`). */
export function benchSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The cookie a returning customer at `address` with `userAgent` holds: a reputation issued
 * `ageS` ago, re-signed a day ago (as the shield refreshes a cookie in use), valid 30 days.
 */
export function knownCustomerCookie(secret: string, now: () => number = Date.now, ageS = KNOWN_CUSTOMER_AGE_S): (address: string, userAgent: string) => readonly [string, string] {
  const keys = createKeyring(Buffer.from(secret));
  return (address, userAgent) => {
    const nowS = toTokenTime(now());
    const token = signToken({
      k: 'rep', iat: nowS - ageS, exp: nowS - 86_400 + REPUTATION_TTL_S, p: addressPrefix(address),
      f: clientBindingKey(userAgent), id: randomBytes(9).toString('base64url'),
    }, keys);
    return [COOKIE_NAMES.rep, token];
  };
}
