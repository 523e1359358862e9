import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';

/**
 * RTS art. 4(1)-(2): a fresh code from the CSPRNG each time (crypto.randomInt), so no code is
 * derivable from an earlier one; leading zeros kept.
 */
export function generateCode(length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += String(randomInt(10));
  return s;
}

/**
 * RTS art. 22(2)(a) and art. 5(1)(b): only HMAC(key, authId, linkHash, code) is stored; the hash
 * binds the code to this authentication and to its amount and payee.
 */
export function codeDigest(key: Buffer, authId: string, linkHash: string, code: string): string {
  return createHmac('sha256', key).update(`${authId}\n${linkHash}\n${code}`).digest('base64url');
}

/** Constant-time check of a submitted code against the stored digest (art. 22). */
export function verifyCode(key: Buffer, authId: string, linkHash: string, code: string, stored: string): boolean {
  const a = Buffer.from(codeDigest(key, authId, linkHash, code));
  const b = Buffer.from(stored);
  return a.length === b.length && timingSafeEqual(a, b);
}
