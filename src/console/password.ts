import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** scrypt cost of new hashes: OWASP's minimum for scrypt (N=2^17, r=8, p=1), about 128 MiB and a few hundred ms. */
export const DEFAULT_SCRYPT = { N: 2 ** 17, r: 8, p: 1 } as const;
const KEY_BYTES = 32;

const derive = (password: string, salt: Buffer, N: number, r: number, p: number): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    // maxmem must exceed 128 * N * r or scrypt refuses.
    scrypt(password.normalize('NFC'), salt, KEY_BYTES, { N, r, p, maxmem: 256 * N * r }, (err, key) => (err ? reject(err) : resolve(key)));
  });

/**
 * Hashes a console password for the configuration: `scrypt$N$r$p$salt$hash` (base64url). A slow,
 * salted, memory-hard hash (RFC 7914), so a leaked configuration file does not give passwords away.
 */
export async function hashPassword(password: string, cost: { N: number; r: number; p: number } = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, cost.N, cost.r, cost.p);
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Checks a password against a hash made by hashPassword, in constant time; false for any malformed hash. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(encoded);
  if (!m) return false;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (N < 2 || (N & (N - 1)) !== 0 || N > 2 ** 20 || r < 1 || r > 32 || p < 1 || p > 16) return false;
  const expected = Buffer.from(m[5] as string, 'base64url');
  if (expected.length !== KEY_BYTES) return false;
  const key = await derive(password, Buffer.from(m[4] as string, 'base64url'), N, r, p);
  return timingSafeEqual(key, expected);
}
