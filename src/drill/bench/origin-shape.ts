/**
 * The bench origin's shape: how many requests it works on at once, how long a lookup takes, how
 * many it queues. The default (2 workers × 40 ms) is one application; a shield whose defaults only
 * suit it would be tuned to the simulator. `--origin workers=8,serviceMs=160` runs the same matrix
 * against another application of the same capacity (slower pages, more concurrency) or of another
 * one, so the defaults' claim — no thresholds to tune — is measured, not assumed.
 */

export interface OriginShape {
  /** Requests the origin works on at once (its worker pool). */
  readonly maxInFlight: number;
  /** Requests it queues beyond those before refusing (503). */
  readonly maxQueue: number;
  /** Milliseconds one lookup (its cheapest dynamic route) takes, on average. */
  readonly serviceMs: number;
  /** How much a request's service time varies around its mean (0–0.9, uniform): see the demo origin's `serviceSpread`. */
  readonly serviceSpread?: number;
}

/** The names `--origin` accepts, and the field each sets. */
const KEYS: Readonly<Record<string, keyof OriginShape>> = { workers: 'maxInFlight', queue: 'maxQueue', serviceMs: 'serviceMs', spreadPct: 'serviceSpread' };
const BOUNDS: Readonly<Record<keyof OriginShape, readonly [number, number]>> = {
  maxInFlight: [1, 1024], maxQueue: [0, 100_000], serviceMs: [1, 10_000], serviceSpread: [0, 90],
};

/**
 * `workers=8,serviceMs=160[,queue=256][,spreadPct=50]`: what to change in the bench's origin. Every key known,
 * every value an integer in range, each at most once; an error naming what is wrong otherwise (a
 * typo must not silently measure the default origin).
 */
export function parseOriginShape(text: string): Partial<OriginShape> {
  const out: Partial<Record<keyof OriginShape, number>> = {};
  const seen = new Set<string>();
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const key = eq > 0 ? part.slice(0, eq) : part;
    const field = KEYS[key];
    if (field === undefined) throw new Error(`--origin: unknown key "${key}" (known: ${Object.keys(KEYS).join(', ')})`);
    if (seen.has(key)) throw new Error(`--origin: "${key}" given twice`);
    seen.add(key);
    const raw = eq > 0 ? part.slice(eq + 1) : '';
    const value = Number(raw);
    const [lo, hi] = BOUNDS[field];
    if (raw === '' || !Number.isInteger(value) || value < lo || value > hi) {
      throw new Error(`--origin: ${key} must be an integer from ${lo} to ${hi}, got "${raw}"`);
    }
    out[field] = field === 'serviceSpread' ? value / 100 : value;
  }
  if (seen.size === 0) throw new Error('--origin: expected key=value pairs, e.g. workers=8,serviceMs=160');
  return out;
}

/** Lookups a second the origin completes: its capacity on its cheapest dynamic route. */
export function originCapacity(shape: OriginShape): number {
  return shape.maxInFlight / (shape.serviceMs / 1000);
}
