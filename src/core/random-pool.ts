import { randomFillSync } from 'node:crypto';

/**
 * Random bytes from node:crypto's CSPRNG, drawn a pool at a time: each small call (a challenge's
 * 12-byte nonce, a 9-byte identity) otherwise pays the whole call into OpenSSL — 9% of the
 * shield's time while it answered a flood of API requests with proof-of-work challenges
 * (bench:refusal). Node's own randomUUID() keeps such a cache. A pool is never refilled in place:
 * each returned slice is its caller's for good, and a spent pool is dropped for a new one.
 * Requests larger than a quarter of the pool are drawn directly.
 * @example
 * const randomBytes = createRandomPool();
 * const nonce = randomBytes(12).toString('base64url');
 */
export function createRandomPool(poolBytes = 4096): (size: number) => Buffer {
  if (!Number.isInteger(poolBytes) || poolBytes < 64) throw new RangeError(`poolBytes must be an integer >= 64, got ${poolBytes}`);
  let pool = Buffer.alloc(0);
  let at = 0;
  return (size) => {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`size must be an integer >= 0, got ${size}`);
    if (size > poolBytes / 4) return randomFillSync(Buffer.allocUnsafe(size));
    if (at + size > pool.length) { pool = randomFillSync(Buffer.allocUnsafeSlow(poolBytes)); at = 0; }
    const out = pool.subarray(at, at + size);
    at += size;
    return out;
  };
}
