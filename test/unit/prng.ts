import { createRng } from '../../src/core/rng.js';

/** A seeded PRNG (mulberry32, the project's one) so a failing property test reproduces; floats in [0, 1). */
export function createPrng(seed: number): () => number {
  return createRng(seed).next;
}

/** A uniformly random unsigned 32-bit integer from a PRNG. */
export function randomUint32(random: () => number): number {
  return Math.floor(random() * 4294967296) >>> 0;
}

/** A uniformly random integer in [min, max]. */
export function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}
