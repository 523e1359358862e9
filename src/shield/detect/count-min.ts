/**
 * Count-min sketch (Cormode & Muthukrishnan, "An Improved Data Stream Summary: The Count-Min
 * Sketch and its Applications", J. Algorithms 2005) with conservative update (Estan & Varghese,
 * SIGCOMM 2002): per-key counts over an unbounded key space in fixed memory. An estimate never
 * under-counts; with width w and depth d it over-counts by more than ε·N (ε = e/w, N = total
 * weight) with probability at most δ = e^−d.
 */
import { fmix32, fnv1a32 } from './fnv.js';

/** Sketch dimensions; `width` is rounded up to a power of two. */
export interface CountMinParams {
  readonly width: number;
  readonly depth: number;
  readonly seed?: number;
}

/** A count-min sketch over string keys. */
export interface CountMin {
  /** Adds `weight` (default 1) to `key` and returns the key's new estimate. */
  add(key: string, weight?: number): number;
  estimate(key: string): number;
  /** Multiplies every counter and the total by `factor` in [0, 1]. */
  decay(factor: number): void;
  reset(): void;
  readonly total: number;
  readonly width: number;
  readonly depth: number;
  /** ε·N: the over-count bound that holds with probability 1 − δ. */
  errorBound(): number;
  /** δ = e^−depth. */
  readonly failureProbability: number;
  readonly bytes: number;
}

/** A count-min sketch; memory is `8 · width · depth` bytes whatever the number of keys. */
export function createCountMin(params: CountMinParams): CountMin {
  const { depth, seed = 0x9e3779b9 } = params;
  if (!(Number.isInteger(depth) && depth >= 1 && depth <= 16)) throw new RangeError(`depth must be 1-16, got ${depth}`);
  if (!(params.width >= 2 && params.width <= 2 ** 24)) throw new RangeError(`width must be 2-2^24, got ${params.width}`);
  const width = 2 ** Math.ceil(Math.log2(params.width));
  const mask = width - 1;
  const cells = new Float64Array(width * depth); // doubles: decay keeps fractions, no rounding down
  const cols = new Int32Array(depth); // scratch: the key's column in each row
  let total = 0;

  // Kirsch–Mitzenmacher double hashing: row i uses h1 + i·h2, as good as d independent hashes.
  // One FNV pass over the key, then two murmur3 finalizers (fmix32) for the two hashes.
  const seed2 = Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1);
  const locate = (key: string): number => {
    const h = fnv1a32(key);
    const h1 = fmix32(h ^ seed);
    const h2 = fmix32(h ^ seed2) | 1;
    let min = Infinity;
    for (let i = 0; i < depth; i++) {
      const c = i * width + ((h1 + Math.imul(i, h2)) & mask);
      cols[i] = c;
      const v = cells[c] as number;
      if (v < min) min = v;
    }
    return min;
  };

  return {
    add(key, weight = 1) {
      if (!(weight > 0)) return locate(key);
      total += weight;
      // Conservative update: raise each row only as far as the new minimum, never past it.
      const next = locate(key) + weight;
      for (let i = 0; i < depth; i++) {
        const c = cols[i] as number;
        if ((cells[c] as number) < next) cells[c] = next;
      }
      return next;
    },
    estimate: (key) => locate(key),
    decay(factor) {
      if (!(factor >= 0 && factor <= 1)) throw new RangeError(`decay factor must be in [0, 1], got ${factor}`);
      for (let i = 0; i < cells.length; i++) cells[i] = (cells[i] as number) * factor;
      total *= factor;
    },
    reset() { cells.fill(0); total = 0; },
    get total() { return total; },
    width,
    depth,
    errorBound: () => (Math.E / width) * total,
    failureProbability: Math.exp(-depth),
    bytes: cells.byteLength,
  };
}

