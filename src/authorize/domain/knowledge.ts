import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** scrypt cost parameters for the knowledge factor. */
export interface ScryptParams { scryptN: number; scryptR: number; scryptP: number }

function derive(secret: string, salt: Buffer, p: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret.normalize('NFKC'), salt, 32, { N: p.scryptN, r: p.scryptR, p: p.scryptP, maxmem: 256 * p.scryptN * p.scryptR },
      (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** RTS art. 22(2)(a): the knowledge factor is kept only as a salted, slow hash `scrypt$N$r$p$salt$hash`. */
export async function hashKnowledge(secret: string, p: ScryptParams): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(secret, salt, p);
  return `scrypt$${p.scryptN}$${p.scryptR}$${p.scryptP}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Checks a knowledge factor against its stored hash in constant time; false for a malformed hash. */
export async function verifyKnowledge(secret: string, stored: string): Promise<boolean> {
  const [tag, n, r, p, salt, hash] = stored.split('$');
  if (tag !== 'scrypt' || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const got = await derive(secret, Buffer.from(salt, 'base64url'), { scryptN: Number(n), scryptR: Number(r), scryptP: Number(p) });
  return got.length === expected.length && timingSafeEqual(got, expected);
}
