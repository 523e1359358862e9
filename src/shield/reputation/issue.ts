import { createRandomPool } from '../../core/random-pool.js';
import { clientBindingKey } from '../defence/binding.js';
import { COOKIE_NAMES, serializeCookie } from './cookie.js';
import { addressPrefix } from './prefix.js';
import { createKeyring, signToken, toTokenTime, type RandomBytes, type TokenKeyring, type TokenPayload } from './token.js';

/** What the response filter knows when deciding whether to hand out a reputation cookie. */
export interface ReputationIssueFacts {
  /** The reputation the request carried, already verified for this prefix (undefined when none or invalid). */
  readonly reputation: TokenPayload | undefined;
  readonly prefix: string;
  readonly fingerprint?: string;
  /** Upstream response status: only successful answers earn a reputation. */
  readonly status: number;
  readonly secure: boolean;
  readonly now: number;
}

/** When reputations are issued and how long they last. */
export interface ReputationIssuePolicy {
  /** True only in normal times: a reputation issued during an attack would be handed to the attackers too. */
  readonly issue: boolean;
  readonly keys: TokenKeyring;
  readonly randomBytes: RandomBytes;
  /** Lifetime of a reputation cookie, s (default 30 days). */
  readonly ttlS?: number;
  /** A valid reputation is re-signed (same first-seen time, new expiry) once older than this, s (default 1 day). */
  readonly refreshAfterS?: number;
}

const DEFAULT_TTL_S = 30 * 86_400;
const DEFAULT_REFRESH_S = 86_400;

/**
 * The Set-Cookie value to add to a response, or undefined: a new reputation for a client without
 * one, a refreshed one (keeping its first-seen time, so its age keeps counting) for a client whose
 * cookie is older than the refresh interval. Nothing during an attack or on an error answer.
 * @example
 * // response filter, normal times only
 * const c = planReputationCookie({ reputation: pass.reputation, prefix, fingerprint, status, secure, now }, { issue: state === 'normal', keys, randomBytes });
 * if (c) res.appendHeader('set-cookie', c);
 */
export function planReputationCookie(facts: ReputationIssueFacts, policy: ReputationIssuePolicy): string | undefined {
  if (!policy.issue || facts.status >= 400) return undefined;
  const ttlS = policy.ttlS ?? DEFAULT_TTL_S;
  const nowS = toTokenTime(facts.now);
  const rep = facts.reputation;
  // A reputation's exp - ttl is when it was last signed; one signed by the previous key is
  // re-signed at once, so a key rotation migrates active clients without losing their age.
  if (rep && rep.kid === policy.keys.current.id && nowS - (rep.exp - ttlS) < (policy.refreshAfterS ?? DEFAULT_REFRESH_S)) return undefined;
  const token = reputationToken({ iat: rep ? rep.iat : nowS, exp: nowS + ttlS, prefix: facts.prefix, fingerprint: facts.fingerprint, id: rep?.id }, policy.keys, policy.randomBytes);
  return serializeCookie(COOKIE_NAMES.rep, token, { maxAgeS: ttlS, secure: facts.secure });
}

/** A signed reputation token; a new random id unless it keeps one. */
function reputationToken(c: { iat: number; exp: number; prefix: string; fingerprint: string | undefined; id: string | undefined }, keys: TokenKeyring, randomBytes: RandomBytes): string {
  return signToken({
    k: 'rep', iat: c.iat, exp: c.exp, p: c.prefix, ...(c.fingerprint !== undefined ? { f: c.fingerprint } : {}),
    id: c.id ?? randomBytes(9).toString('base64url'),
  }, keys);
}

/**
 * The reputation cookie (name and value) a shield signing with `secret` (its `detection.secret`)
 * gives a client at `address` with `userAgent` first seen at `firstSeenMs`, bound as the response
 * filter binds it (the address's /24 or /48, a digest of the agent). For clients known before this
 * shield ran — the bench's returning customers (`bench ddos --known-customers`), or customers
 * carried over from a previous deployment's key.
 * @example
 * const [name, value] = mintReputationCookie(secret, { address: '203.0.113.7', userAgent }, Date.now() - 7 * 86_400_000);
 */
export function mintReputationCookie(secret: string, client: { address: string; userAgent: string | undefined }, firstSeenMs: number,
  opts: { ttlS?: number; randomBytes?: RandomBytes } = {}): readonly [string, string] {
  const iat = toTokenTime(firstSeenMs);
  const token = reputationToken({ iat, exp: iat + (opts.ttlS ?? DEFAULT_TTL_S), prefix: addressPrefix(client.address), fingerprint: clientBindingKey(client.userAgent), id: undefined },
    createKeyring(Buffer.from(secret)), opts.randomBytes ?? createRandomPool());
  return [COOKIE_NAMES.rep, token];
}
