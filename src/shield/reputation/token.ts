import { createHash, createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * Signed compact tokens: `base64url(JSON payload) '.' base64url(HMAC-SHA256 truncated to 128 bits)`.
 * One format carries the reputation cookie, the no-JavaScript cookie, the clearance and the
 * proof-of-work challenge itself, so every check on the request path is one HMAC.
 */

/** What a token stands for: reputation, no-JS check passed, clearance after proof-of-work, a proof-of-work challenge. */
export type TokenKind = 'rep' | 'nojs' | 'clr' | 'pow';

/** The signed content. Times are whole seconds since the epoch (shorter cookies than ms). */
export interface TokenPayload {
  /** Format version. */
  readonly v: 1;
  readonly k: TokenKind;
  /** Id of the key that signed it (rotation). */
  readonly kid: string;
  /** Issued at, s. For a refreshed reputation: when the client was first seen. */
  readonly iat: number;
  /** Expires at, s. */
  readonly exp: number;
  /** Client address prefix the token is bound to (IPv4 /24, IPv6 /48). */
  readonly p: string;
  /** Request fingerprint the token is bound to, when the issuer had one. */
  readonly f?: string;
  /** Token id: clearance id for per-clearance rate limiting, reputation id, challenge nonce. */
  readonly id?: string;
  /** Difficulty (leading zero bits) of a challenge, or solved for a clearance. */
  readonly d?: number;
  /** Return path of a challenge (origin-form, starts with a single '/'). */
  readonly r?: string;
  /**
   * 1: a no-JavaScript cookie whose id is its browser's own (drawn at random behind a shared
   * address), not derived from address and agent: it is paced as itself (challenge/responses.ts).
   */
  readonly n?: 1;
}

/** The fields a caller provides; version and key id are added when signing. */
export type TokenClaims = Omit<TokenPayload, 'v' | 'kid'>;

/** A signing key (a KeyObject: HMAC with it costs half of HMAC with a raw Buffer) and its short public id. */
export interface TokenKey {
  readonly id: string;
  readonly key: KeyObject;
}

/** The current key signs; the previous one is still accepted, so rotation never logs anyone out. */
export interface TokenKeyring {
  readonly current: TokenKey;
  readonly previous?: TokenKey;
}

/** Why a token was refused. */
export type TokenRejection =
  | 'malformed' | 'unknown-key' | 'bad-mac' | 'wrong-kind' | 'expired' | 'not-yet-valid'
  | 'wrong-prefix' | 'wrong-fingerprint';

/** The outcome of verifyToken. */
export type TokenCheck =
  | { readonly ok: true; readonly payload: TokenPayload }
  /** `payload` is present when the MAC was good and a later check failed (e.g. expired). */
  | { readonly ok: false; readonly reason: TokenRejection; readonly payload?: TokenPayload };

/** What the verifier expects the token to be bound to. */
export interface TokenExpectation {
  readonly kind: TokenKind;
  readonly prefix: string;
  /** Checked only when the token carries one: a token issued without a fingerprint binds to none. */
  readonly fingerprint?: string;
}

// RFC 2104 §5: truncating the MAC to half the hash output (and >= 80 bits) keeps its strength.
const MAC_BYTES = 16;
const MAC_B64_LENGTH = 22;
// Cookies longer than this are not ours: refused before any parsing.
const MAX_TOKEN_LENGTH = 3_200;
const MAX_FINGERPRINT_LENGTH = 64;
// Tolerated clock difference between shield instances for `iat` in the future, s.
const CLOCK_SKEW_S = 60;

/**
 * Builds a keyring from raw secrets (at least 32 bytes each); the key id is derived from the
 * secret, so every shield instance configured with the same secrets agrees on it.
 * @example
 * const keys = createKeyring(Buffer.from(process.env.REMPART_SECRET!, 'base64'), previousSecret);
 */
export function createKeyring(current: Buffer, previous?: Buffer): TokenKeyring {
  const key = (secret: Buffer): TokenKey => {
    if (secret.length < 32) throw new RangeError(`a token secret needs at least 32 bytes, got ${secret.length}`);
    return { id: createHash('sha256').update(secret).digest('base64url').slice(0, 4), key: createSecretKey(secret) };
  };
  const cur = key(current);
  const prev = previous ? key(previous) : undefined;
  if (prev && prev.id === cur.id) return { current: cur };
  return prev ? { current: cur, previous: prev } : { current: cur };
}

const mac = (key: KeyObject, body: string): Buffer => createHmac('sha256', key).update(body).digest().subarray(0, MAC_BYTES);

/** Signs `claims` with the keyring's current key and returns the compact token. */
export function signToken(claims: TokenClaims, keys: TokenKeyring): string {
  if (claims.f !== undefined && claims.f.length > MAX_FINGERPRINT_LENGTH) {
    throw new RangeError(`a token fingerprint is at most ${MAX_FINGERPRINT_LENGTH} characters (pass a digest)`);
  }
  const payload: TokenPayload = { v: 1, kid: keys.current.id, ...claims };
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${mac(keys.current.key, body).toString('base64url')}`;
}

/**
 * Verifies a token: shape, key id, MAC in constant time, kind, validity window, prefix and
 * fingerprint binding. `now` is in ms. Costs one HMAC-SHA256 and one small JSON parse.
 * @example
 * const c = verifyToken(cookieValue, keys, clock.now(), { kind: 'clr', prefix: '203.0.113', fingerprint });
 * if (c.ok) limiterKey = `clr:${c.payload.id}`;
 */
export function verifyToken(token: string, keys: TokenKeyring, now: number, expect: TokenExpectation): TokenCheck {
  const dot = token.length <= MAX_TOKEN_LENGTH ? token.indexOf('.') : -1;
  if (dot <= 0 || token.length - dot - 1 !== MAC_B64_LENGTH) return { ok: false, reason: 'malformed' };
  const body = token.slice(0, dot);
  let payload: TokenPayload;
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TokenPayload;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!isPayload(payload)) return { ok: false, reason: 'malformed' };
  const key = payload.kid === keys.current.id ? keys.current : payload.kid === keys.previous?.id ? keys.previous : undefined;
  if (!key) return { ok: false, reason: 'unknown-key' };
  // Compared as text, not decoded: base64url's unused low bits would otherwise let several
  // spellings of one MAC pass (a token must have exactly one valid form).
  const given = Buffer.from(token.slice(dot + 1), 'latin1');
  if (!timingSafeEqual(given, Buffer.from(mac(key.key, body).toString('base64url'), 'latin1'))) return { ok: false, reason: 'bad-mac' };
  if (payload.k !== expect.kind) return { ok: false, reason: 'wrong-kind' };
  const nowS = now / 1000;
  if (nowS >= payload.exp) return { ok: false, reason: 'expired', payload };
  if (payload.iat > nowS + CLOCK_SKEW_S) return { ok: false, reason: 'not-yet-valid', payload };
  if (payload.p !== expect.prefix) return { ok: false, reason: 'wrong-prefix', payload };
  if (payload.f !== undefined && payload.f !== expect.fingerprint) return { ok: false, reason: 'wrong-fingerprint', payload };
  return { ok: true, payload };
}

function isPayload(x: unknown): x is TokenPayload {
  if (typeof x !== 'object' || x === null) return false;
  const p = x as Record<string, unknown>;
  return p.v === 1 && typeof p.k === 'string' && typeof p.kid === 'string' && typeof p.p === 'string'
    && Number.isFinite(p.iat) && Number.isFinite(p.exp)
    && (p.f === undefined || typeof p.f === 'string') && (p.id === undefined || typeof p.id === 'string')
    && (p.d === undefined || Number.isInteger(p.d)) && (p.r === undefined || typeof p.r === 'string') && (p.n === undefined || p.n === 1);
}

/** A source of random bytes (node:crypto's randomBytes in production; seeded in tests). */
export type RandomBytes = (size: number) => Buffer;

/** Seconds since the epoch for a ms clock reading, as tokens store times. */
export const toTokenTime = (ms: number): number => Math.floor(ms / 1000);
