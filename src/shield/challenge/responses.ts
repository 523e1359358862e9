import { createHmac } from 'node:crypto';
import { COOKIE_NAMES, serializeCookie } from '../reputation/cookie.js';
import { signToken, toTokenTime, type TokenPayload } from '../reputation/token.js';
import { CHALLENGE_HEADERS, formatChallengeHeader, type ChallengeDescription } from './header.js';
import { interstitialCsp, renderInterstitial } from './interstitial.js';
import type { PageLanguage } from './language.js';
import { issuePowChallenge } from './pow.js';
import { CHALLENGE_PATHS, type ChallengeSettings } from './settings.js';

/** An HTTP answer as plain values: the edge writes it. */
export interface PlainResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly body: string;
}

/** Whom a token or challenge is bound to. */
export interface ClientBinding {
  readonly prefix: string;
  readonly fingerprint?: string;
  /** The client's own address (the no-JavaScript cookie's identity is derived from it). */
  readonly address?: string;
  readonly secure: boolean;
  readonly now: number;
}

const fp = (b: ClientBinding): { f?: string } => (b.fingerprint !== undefined ? { f: b.fingerprint } : {});

/**
 * The identity a no-JavaScript cookie carries: derived from the client's address and agent (and
 * the cookie's lifetime window), not drawn at random. The cookie proves only that a redirect was
 * followed, so it must not be a way to mint identities: a bot with 16 connections used to get 16
 * cookies from 16 concurrent challenges — 16 identities, each at a customer's pace for its first
 * requests (identity pace, detect/identity-pace.ts). Two customers behind one address share one
 * only if their browsers send the same User-Agent; a reputation or a proof-of-work gives each its own.
 */
export function nojsIdentity(b: ClientBinding, s: ChallengeSettings): string {
  if (b.address === undefined) return s.randomBytes(9).toString('base64url');
  const window = Math.floor(toTokenTime(b.now) / s.nojsTtlS);
  return createHmac('sha256', s.keys.current.key).update(`nojs-id\n${b.address}\n${b.fingerprint ?? ''}\n${window}`).digest('base64url').slice(0, 12);
}

/**
 * Level 1: 307 to `location` (the same URL, marker counted) with a no-JavaScript cookie.
 * `personal`: the cookie carries an identity of its own instead of its address's and agent's.
 * For a shared address only (a carrier NAT, several customers with tokens of their own seen
 * behind it), where the caller bounds how many it issues per address: there, every newcomer
 * with the same User-Agent would otherwise share one identity and one pace, and a flash crowd's
 * newcomers behind one address climbed that pace together (cgnat flash crowd: 98.0%, every lost
 * page load a newcomer's at the shared pace 1–2). The browser keeps its cookie; a bot that drops
 * it to mint identities gets at most the address's budget of them, each paced and rate-limited.
 */
export function nojsRedirect(location: string, b: ClientBinding, s: ChallengeSettings, personal = false): PlainResponse {
  // RFC 9110 §15.4.8: 307 keeps the method and body, so a form POST is replayed with the cookie.
  return {
    status: 307,
    headers: { location, 'set-cookie': nojsCookie(b, s, personal), 'cache-control': 'no-store', 'content-length': '0' },
    body: '',
  };
}

/**
 * The `Set-Cookie` of a no-JavaScript cookie: with `personal`, an identity drawn at random (never
 * the same twice, marked `n: 1`); otherwise the address's, a pure function of address, agent and
 * second, so its token is signed once a second per client.
 */
export function nojsCookie(b: ClientBinding, s: ChallengeSettings, personal: boolean): string {
  const iat = toTokenTime(b.now);
  const sign = (identity: { id: string; n?: 1 }): string => signToken({ k: 'nojs', iat, exp: iat + s.nojsTtlS, p: b.prefix, ...fp(b), ...identity }, s.keys);
  const token = personal || b.address === undefined
    ? sign(personal ? { id: s.randomBytes(9).toString('base64url'), n: 1 } : { id: nojsIdentity(b, s) })
    : s.nojsTokens.get(iat, `${b.address}\n${b.prefix}\n${b.fingerprint ?? ''}\n${s.keys.current.id}`, () => sign({ id: nojsIdentity(b, s) }));
  return serializeCookie(COOKIE_NAMES.nojs, token, { maxAgeS: s.nojsTtlS, secure: b.secure });
}

function describe(b: ClientBinding, s: ChallengeSettings, difficulty: number, returnTo?: string): ChallengeDescription {
  const seed = issuePowChallenge({ prefix: b.prefix, ...(b.fingerprint !== undefined ? { fingerprint: b.fingerprint } : {}), difficulty, now: b.now, ttlS: s.challengeTtlS, ...(returnTo !== undefined ? { returnTo } : {}) }, s.keys, s.randomBytes);
  return { v: 1, alg: 'sha256', bits: difficulty, seed, exp: toTokenTime(b.now) + s.challengeTtlS, verify: CHALLENGE_PATHS.verify };
}

/** Level 2 for browsers: the interstitial page, 503 + no-store + Retry-After (RFC 9110 §10.2.3), never 200. */
export function interstitialResponse(returnTo: string, difficulty: number, b: ClientBinding, s: ChallengeSettings, language: PageLanguage = 'en'): PlainResponse {
  const c = describe(b, s, difficulty, returnTo);
  const nonce = s.randomBytes(12).toString('base64');
  return {
    status: 503,
    headers: {
      'content-type': 'text/html; charset=utf-8', 'content-language': language, 'cache-control': 'no-store', 'retry-after': String(s.retryAfterS),
      'content-security-policy': interstitialCsp(nonce), 'x-content-type-options': 'nosniff', 'referrer-policy': 'same-origin',
      // The same challenge, machine-readable, for clients that would rather not parse a page.
      [CHALLENGE_HEADERS.challenge]: formatChallengeHeader(c),
    },
    body: renderInterstitial({ seed: c.seed, bits: difficulty, verifyPath: CHALLENGE_PATHS.verify, nonce, retryAfterS: s.retryAfterS, language }),
  };
}

/**
 * API clients: 429 (RFC 6585 §4) with the challenge in Rempart-Challenge and a short JSON body.
 * One client (address, prefix, agent) is given the same answer within a second: a flood asks again
 * and again, and each fresh challenge is a signed token, random bytes and a JSON body — a fifth of
 * the shield's time on API refusals (bench:refusal, CPU profile). Sharing it costs nothing: a
 * challenge is bound to the client's prefix and fingerprint whoever holds it, and the clearances
 * minted from one challenge share its rate limit (their id is its nonce).
 */
export function apiChallengeResponse(difficulty: number, b: ClientBinding, s: ChallengeSettings, reason: string): PlainResponse {
  if (b.address === undefined) return freshApiChallenge(difficulty, b, s, reason);
  return s.apiChallenges.get(toTokenTime(b.now), `${b.address}\n${b.prefix}\n${b.fingerprint ?? ''}\n${difficulty}\n${reason}\n${s.keys.current.id}`, () => freshApiChallenge(difficulty, b, s, reason));
}

function freshApiChallenge(difficulty: number, b: ClientBinding, s: ChallengeSettings, reason: string): PlainResponse {
  const c = describe(b, s, difficulty);
  return {
    status: 429,
    headers: { [CHALLENGE_HEADERS.challenge]: formatChallengeHeader(c), 'retry-after': String(s.retryAfterS), 'cache-control': 'no-store', 'content-type': 'application/json' },
    body: JSON.stringify({ error: 'challenge', reason, challenge: c, answer: `retry with header ${CHALLENGE_HEADERS.response}: seed="<seed>", counter=<n>` }),
  };
}

/** A clearance minted from a solved challenge: its id is the challenge's nonce (a replayed answer shares its rate limit). */
export interface Clearance {
  readonly token: string;
  readonly payload: TokenPayload;
  readonly setCookie: string;
}

/** Mints the clearance for a solved challenge. */
export function mintClearance(challenge: TokenPayload, b: ClientBinding, s: ChallengeSettings): Clearance {
  const iat = toTokenTime(b.now);
  const payload = { k: 'clr' as const, iat, exp: iat + s.clearanceTtlS, p: b.prefix, ...fp(b), id: challenge.id ?? '', d: challenge.d ?? 0 };
  const token = signToken(payload, s.keys);
  return { token, payload: { v: 1, kid: s.keys.current.id, ...payload }, setCookie: serializeCookie(COOKIE_NAMES.clr, token, { maxAgeS: s.clearanceTtlS, secure: b.secure }) };
}
