import { formatChallengeResponse, parseChallengeHeader } from './header.js';
import { JS_SHA256_SOURCE } from './interstitial.js';

/**
 * Reference solver for non-browser clients: reads a Rempart-Challenge header, finds the counter,
 * returns the Rempart-Challenge-Response header value to retry with. It runs the interstitial's
 * own SHA-256 (seed state computed once, the counter's last block or two per try): twice to five
 * times node:crypto's speed here, where a createHash call costs more than the hashing itself, so
 * a non-browser client pays what a browser pays. The shield verifies with node:crypto.
 */

type PrefixHasher = (prefix: Uint8Array) => (digits: string) => Int32Array;
// The same source the browser's workers run (a constant of this package, never user input).
const prefixHasher = new Function(`${JS_SHA256_SOURCE}; return prefixHasher;`)() as PrefixHasher;

/** Work bound: 2^32 hashes is far beyond any difficulty the shield asks (≤ 22 bits by default). */
const DEFAULT_MAX_TRIES = 2 ** 32;

/**
 * Finds the smallest counter such that SHA-256(`seed:counter`) has `bits` leading zero bits, or
 * undefined after `maxTries`. Expected work: 2^bits hashes.
 */
export function solvePow(seed: string, bits: number, maxTries = DEFAULT_MAX_TRIES): number | undefined {
  const hash = prefixHasher(new TextEncoder().encode(`${seed}:`));
  const words = bits >> 5;
  const spare = 32 - (bits & 31);
  outer: for (let c = 0; c < maxTries; c++) {
    const h = hash(String(c));
    for (let i = 0; i < words; i++) if (h[i] !== 0) continue outer;
    if (spare === 32 || (h[words]! >>> spare) === 0) return c;
  }
  return undefined;
}

/**
 * Solves the challenge in a Rempart-Challenge header value and returns the value of the
 * Rempart-Challenge-Response header to send on the retry.
 * @example
 * const res = await fetch(url);
 * if (res.status === 429 && res.headers.has('rempart-challenge')) {
 *   const answer = solveChallenge(res.headers.get('rempart-challenge')!);
 *   const retry = await fetch(url, { headers: { 'rempart-challenge-response': answer } });
 *   const clearance = retry.headers.get('rempart-clearance'); // send back as a request header
 * }
 */
export function solveChallenge(headerValue: string, maxTries?: number): string {
  const c = parseChallengeHeader(headerValue);
  if (!c) throw new Error('not a Rempart-Challenge v=1 alg=sha256 header');
  const counter = solvePow(c.seed, c.bits, maxTries);
  if (counter === undefined) throw new Error(`no answer within ${maxTries ?? DEFAULT_MAX_TRIES} tries`);
  return formatChallengeResponse(c.seed, counter);
}
