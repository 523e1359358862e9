import type { RandomBytes, TokenKeyring } from '../reputation/token.js';
import { createTickMemo, type TickMemo } from '../../core/tick-memo.js';
import type { PlainResponse } from './responses.js';
import { createRandomPool } from '../../core/random-pool.js';

/** Reserved paths: answered by the shield, never forwarded. */
export const CHALLENGE_PATHS = {
  /** Prefix of every reserved path. */
  prefix: '/.rempart/',
  /** Where an answer is submitted: GET or POST with `seed` and `counter`. */
  verify: '/.rempart/challenge/verify',
} as const;

/** Query parameter counting no-JavaScript redirects; stripped before the request is forwarded. */
export const NOJS_MARKER = 'rempart-nojs';
/** Query keys of the shield's own protocol, not the client's traffic: left out of query shapes. */
export const PROTOCOL_QUERY_KEYS: ReadonlySet<string> = new Set([NOJS_MARKER]);

/** Settings of the challenge ladder, compiled once at start-up (keys, lifetimes, randomness). */
export interface ChallengeSettings {
  readonly keys: TokenKeyring;
  readonly randomBytes: RandomBytes;
  /** Lifetime of the no-JavaScript cookie, s. */
  readonly nojsTtlS: number;
  /** Time to solve a proof-of-work challenge, s. */
  readonly challengeTtlS: number;
  /** Lifetime of a clearance, s. */
  readonly clearanceTtlS: number;
  /** A reputation counts as established when issued this long before the attack started, ms. */
  readonly reputationMinAgeMs: number;
  /** No-JavaScript redirects without the cookie coming back before escalating to proof-of-work. */
  readonly nojsMaxAttempts: number;
  /** Retry-After on challenge answers, s. */
  readonly retryAfterS: number;
  /**
   * No-JavaScript tokens signed this second, by address, agent and prefix (challenge/responses.ts):
   * such a token is a pure function of those and the second, and a flood asks for it again and
   * again — each costs two HMACs (bench:refusal).
   */
  readonly nojsTokens: TickMemo<string>;
  /** API challenge answers given this second, by client, difficulty and reason (challenge/responses.ts `apiChallengeResponse`). */
  readonly apiChallenges: TickMemo<PlainResponse>;
}

/** Distinct clients whose no-JavaScript token (or API challenge) is kept within one second. */
const NOJS_TOKENS_KEPT = 50_000;

/** The defaults (see docs/challenge.md for why). */
export const CHALLENGE_DEFAULTS = {
  nojsTtlS: 1_800,
  challengeTtlS: 300,
  clearanceTtlS: 3_600,
  reputationMinAgeMs: 10 * 60_000,
  nojsMaxAttempts: 1,
  retryAfterS: 5,
} as const;

/**
 * Builds frozen settings from a keyring and optional overrides; randomness defaults to
 * node:crypto's, drawn a pool at a time (core/random-pool.ts; tests pass a seeded source).
 * @example
 * const settings = createChallengeSettings({ keys: createKeyring(secret) });
 */
export function createChallengeSettings(o: { keys: TokenKeyring; randomBytes?: RandomBytes } & Partial<Omit<ChallengeSettings, 'keys' | 'randomBytes' | 'nojsTokens' | 'apiChallenges'>>): ChallengeSettings {
  const s: ChallengeSettings = { ...CHALLENGE_DEFAULTS, randomBytes: createRandomPool(), ...o, nojsTokens: createTickMemo(NOJS_TOKENS_KEPT), apiChallenges: createTickMemo(NOJS_TOKENS_KEPT) };
  for (const k of ['nojsTtlS', 'challengeTtlS', 'clearanceTtlS', 'reputationMinAgeMs', 'retryAfterS'] as const) {
    if (!(s[k] > 0)) throw new RangeError(`challenge setting ${k} must be > 0, got ${s[k]}`);
  }
  if (!(Number.isInteger(s.nojsMaxAttempts) && s.nojsMaxAttempts >= 1)) throw new RangeError(`nojsMaxAttempts must be an integer >= 1, got ${s.nojsMaxAttempts}`);
  return Object.freeze(s);
}
