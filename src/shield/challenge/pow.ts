import { createHash } from 'node:crypto';
import { signToken, toTokenTime, verifyToken, type RandomBytes, type TokenKeyring, type TokenPayload, type TokenRejection } from '../reputation/token.js';

/**
 * Stateless SHA-256 proof-of-work. The challenge *is* a signed token (kind 'pow': prefix,
 * fingerprint, issue time, expiry, difficulty, random nonce, return path), so the shield keeps no
 * state per challenge; the answer is a counter such that SHA-256(seed ':' counter) starts with
 * `d` zero bits. Checking an answer is one HMAC and one SHA-256.
 */

/** What a challenge is bound to and asks for. */
export interface PowChallengeInput {
  readonly prefix: string;
  readonly fingerprint?: string;
  /** Leading zero bits required (1-32). */
  readonly difficulty: number;
  /** Origin-form path to return to after solving (browsers only). */
  readonly returnTo?: string;
  readonly now: number;
  readonly ttlS: number;
}

/** Why an answer was refused. */
export type PowRejection = TokenRejection | 'insufficient' | 'bad-counter';

/** The outcome of checkPowSolution. */
export type PowCheck =
  | { readonly ok: true; readonly challenge: TokenPayload }
  | { readonly ok: false; readonly reason: PowRejection; readonly challenge?: TokenPayload };

const MAX_BITS = 32;
// A counter is a decimal integer below 2^53 (what a JavaScript number counts exactly).
const COUNTER = /^(0|[1-9]\d{0,15})$/;

/** Issues a challenge seed (a signed token) for `input`. */
export function issuePowChallenge(input: PowChallengeInput, keys: TokenKeyring, randomBytes: RandomBytes): string {
  if (!(Number.isInteger(input.difficulty) && input.difficulty >= 1 && input.difficulty <= MAX_BITS)) {
    throw new RangeError(`difficulty must be an integer in 1..${MAX_BITS}, got ${input.difficulty}`);
  }
  const iat = toTokenTime(input.now);
  return signToken({
    k: 'pow', iat, exp: iat + input.ttlS, p: input.prefix, d: input.difficulty,
    id: randomBytes(12).toString('base64url'),
    ...(input.fingerprint !== undefined ? { f: input.fingerprint } : {}),
    ...(input.returnTo !== undefined ? { r: input.returnTo } : {}),
  }, keys);
}

/** Number of leading zero bits of a digest. */
export function leadingZeroBits(digest: Uint8Array): number {
  let bits = 0;
  for (const byte of digest) {
    if (byte === 0) { bits += 8; continue; }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/** The work function: SHA-256 of `seed ':' counter` (UTF-8; both are ASCII). */
export function powDigest(seed: string, counter: string | number): Buffer {
  return createHash('sha256').update(`${seed}:${counter}`).digest();
}

/**
 * Checks an answer: the seed must be a challenge this shield signed, unexpired, for this prefix
 * (and fingerprint), and the counter's digest must have the challenge's difficulty.
 * @example
 * const c = checkPowSolution(seed, counter, keys, clock.now(), { prefix, fingerprint });
 * if (c.ok) clearanceId = c.challenge.id;
 */
export function checkPowSolution(seed: string, counter: string, keys: TokenKeyring, now: number,
  expect: { readonly prefix: string; readonly fingerprint?: string }): PowCheck {
  const t = verifyToken(seed, keys, now, { kind: 'pow', prefix: expect.prefix, ...(expect.fingerprint !== undefined ? { fingerprint: expect.fingerprint } : {}) });
  if (!t.ok) return t.payload ? { ok: false, reason: t.reason, challenge: t.payload } : { ok: false, reason: t.reason };
  if (!COUNTER.test(counter)) return { ok: false, reason: 'bad-counter', challenge: t.payload };
  if (leadingZeroBits(powDigest(seed, counter)) < (t.payload.d ?? MAX_BITS)) return { ok: false, reason: 'insufficient', challenge: t.payload };
  return { ok: true, challenge: t.payload };
}

/** Bounds of the difficulty adapted to an attack. */
export interface DifficultyRange {
  readonly minBits: number;
  readonly maxBits: number;
}

/** Default bounds: 14 bits (~16k hashes, well under a second everywhere) to 20 bits (~1M hashes); see docs/challenge.md for solve times. */
export const DEFAULT_DIFFICULTY: DifficultyRange = { minBits: 14, maxBits: 20 };

/**
 * Difficulty for an attack whose traffic is `overload` times what the protected upstream can
 * serve: one more bit (twice the work per clearance) for each doubling of the overload, from
 * `minBits` at overload ≤ 1 to `maxBits`.
 * @example
 * difficultyFor(1) // 14
 * difficultyFor(12) // 18 (14 + ceil(log2 12))
 */
export function difficultyFor(overload: number, range: DifficultyRange = DEFAULT_DIFFICULTY): number {
  const extra = overload > 1 && Number.isFinite(overload) ? Math.ceil(Math.log2(overload)) : overload === Infinity ? range.maxBits : 0;
  return Math.max(range.minBits, Math.min(range.maxBits, range.minBits + extra));
}

/**
 * The ladder level and difficulty for a challenge rung of the mitigation planner
 * (src/shield/detect/escalation.ts: rung 0 the no-JS check, 1 and up proof-of-work): no rung is
 * level 0; rung 0 is level 1 (API clients get `minBits`); rung r ≥ 1 is level 2 at
 * `minBits + 2(r − 1)` bits, at most `maxBits`.
 * @example
 * policyForRung(challenge?.difficulty) // rung 3 → { level: 2, difficulty: 18 }
 */
export function policyForRung(rung: number | undefined, range: DifficultyRange = DEFAULT_DIFFICULTY): { level: 0 | 1 | 2; difficulty: number } {
  if (rung === undefined || !(rung >= 0)) return { level: 0, difficulty: range.minBits };
  if (rung < 1) return { level: 1, difficulty: range.minBits };
  return { level: 2, difficulty: Math.min(range.maxBits, range.minBits + 2 * (Math.floor(rung) - 1)) };
}
