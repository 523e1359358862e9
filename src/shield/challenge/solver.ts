import { createHash } from 'node:crypto';
import { formatChallengeResponse, parseChallengeHeader } from './header.js';

/**
 * Reference solver for non-browser clients (Node's crypto): reads a Rempart-Challenge header,
 * finds the counter, returns the Rempart-Challenge-Response header value to retry with.
 */

/** Work bound: 2^32 hashes is far beyond any difficulty the shield asks (≤ 22 bits by default). */
const DEFAULT_MAX_TRIES = 2 ** 32;

/**
 * Finds the smallest counter such that SHA-256(`seed:counter`) has `bits` leading zero bits, or
 * undefined after `maxTries`. Expected work: 2^bits hashes.
 */
export function solvePow(seed: string, bits: number, maxTries = DEFAULT_MAX_TRIES): number | undefined {
  const full = bits >> 3;
  const mask = (0xff00 >> (bits & 7)) & 0xff;
  const prefix = `${seed}:`;
  outer: for (let c = 0; c < maxTries; c++) {
    const h = createHash('sha256').update(prefix + c).digest();
    for (let i = 0; i < full; i++) if (h[i] !== 0) continue outer;
    if (mask === 0 || (h[full]! & mask) === 0) return c;
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
