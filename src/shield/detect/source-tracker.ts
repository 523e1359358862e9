/**
 * The traffic sketch: per-dimension heavy hitters over a sliding window of one-second buckets, plus
 * count-min rates for any single client or prefix, in memory fixed at creation (1,000,000 distinct
 * sources fit in 128 MiB: see bench/detect-memory.ts). Buckets rotate from the injected clock.
 */
import type { Clock } from '../../core/clock.js';
import { createCountMin, type CountMin } from './count-min.js';
import { createSpaceSaving, type SpaceSaving } from './space-saving.js';
import { createTopK, type TopK } from './top-k.js';

/** Cookie state of a request as the reputation stage judged it. */
export type CookieState = 'none' | 'valid' | 'invalid';

/** One request as the detector sees it; all strings are computed by the caller once. */
export interface Observation {
  readonly client: string;
  /** IPv4 /24 or IPv6 /64 (see addressPrefixes). */
  readonly prefix: string;
  /** IPv6 /48; undefined for IPv4. */
  readonly prefix48?: string | undefined;
  readonly fingerprint: string;
  readonly pathTemplate: string;
  readonly userAgent: string;
  readonly queryShape: string;
  readonly cookie: CookieState;
  readonly routeClass: string;
}

/** The dimensions each keep their own heavy-hitter set. */
export const DIMENSIONS = ['client', 'prefix', 'prefix48', 'fingerprint', 'path', 'userAgent', 'queryShape', 'cookie', 'routeClass'] as const;

/** One tracked dimension. */
export type Dimension = (typeof DIMENSIONS)[number];

/** One value of a dimension over the window: counts are upper bounds, `count - error` lower. */
export interface WindowEntry {
  readonly value: string;
  readonly count: number;
  readonly error: number;
  readonly share: number;
  readonly ratePerS: number;
}

/** The window's heavy hitters per dimension. */
export interface TrafficSnapshot {
  readonly at: number;
  /** Seconds of traffic the window actually covers (less than the window right after start). */
  readonly windowS: number;
  readonly total: number;
  readonly ratePerS: number;
  readonly dimensions: Readonly<Record<Dimension, readonly WindowEntry[]>>;
}

/** Sizes of the sketch; the defaults take ~25 MiB whatever the traffic (bench/detect-memory.ts). */
export interface TrafficSketchParams {
  readonly clock: Clock;
  /** Heavy-hitter capacity per dimension per bucket. Default 1024. */
  readonly capacity?: number;
  readonly bucketMs?: number;
  readonly buckets?: number;
  readonly countMinWidth?: number;
  readonly countMinDepth?: number;
}

/** Tracks what the traffic of the last window is made of. */
export interface TrafficSketch {
  /**
   * Counts one request (or `weight` requests, when the caller samples 1 in `weight` under an
   * extreme flood); O(dimensions · log capacity), no allocation beyond new keys.
   */
  observe(obs: Observation, weight?: number): void;
  /** Top `n` values per dimension over the window, with shares and rates. */
  snapshot(n?: number): TrafficSnapshot;
  /** Requests from one client over the window (count-min: never under, rarely over). */
  clientCount(client: string): number;
  /** Requests from one /24 or /64 over the window. */
  prefixCount(prefix: string): number;
  readonly bytes: number;
}

const USER_AGENT_CHARS = 256; // longer agents are cut so random padding cannot grow keys at will

interface Bucket {
  start: number;
  total: number;
  /** Space-Saving per dimension; undefined for client and prefix, counted by count-min + top-k. */
  readonly sets: (SpaceSaving | undefined)[];
  readonly clients: CountMin;
  readonly prefixes: CountMin;
  readonly clientTop: TopK;
  readonly prefixTop: TopK;
}

/** What the window merge needs from one bucket's summary of one dimension. */
interface BucketView {
  forEach(visit: (key: string, count: number, error: number) => void): void;
  has(key: string): boolean;
  readonly floor: number;
  /** The most an absent key can have had in this bucket. */
  absentBound(key: string): number;
}

const ssView = (set: SpaceSaving): BucketView => ({
  forEach: (visit) => set.forEach(visit),
  has: (key) => set.has(key),
  get floor() { return set.floor; },
  absentBound: () => set.floor,
});

// Count-min counts are upper bounds; ε·N of the bucket serves as the (probabilistic) error.
const cmView = (top: TopK, cm: CountMin): BucketView => ({
  forEach: (visit) => { const e = cm.errorBound(); top.forEach((key, count) => visit(key, count, Math.min(count, e))); },
  has: (key) => top.has(key),
  get floor() { return top.floor; },
  absentBound: (key) => Math.min(top.floor, cm.estimate(key)),
});

/**
 * A traffic sketch over `buckets × bucketMs` (default 10 × 1 s).
 * @example
 * const sketch = createTrafficSketch({ clock });
 * sketch.observe({ client, prefix, fingerprint, pathTemplate, userAgent, queryShape, cookie, routeClass });
 * const snap = sketch.snapshot(20); // once per second
 */
export function createTrafficSketch(params: TrafficSketchParams): TrafficSketch {
  const { clock, capacity = 1024, bucketMs = 1000, buckets: count = 10, countMinWidth = 32768, countMinDepth = 4 } = params;
  const ring: Bucket[] = [];
  for (let i = 0; i < count; i++) {
    ring.push({
      start: -Infinity,
      total: 0,
      sets: DIMENSIONS.map((d) => (d === 'client' || d === 'prefix' ? undefined : createSpaceSaving(capacity))),
      clients: createCountMin({ width: countMinWidth, depth: countMinDepth, seed: 0x51ed + i }),
      prefixes: createCountMin({ width: countMinWidth, depth: countMinDepth, seed: 0x7a11 + i }),
      clientTop: createTopK(capacity),
      prefixTop: createTopK(capacity),
    });
  }
  let current = 0;
  let firstStart = -Infinity;

  const bucketFor = (now: number): Bucket => {
    const start = Math.floor(now / bucketMs) * bucketMs;
    let b = ring[current] as Bucket;
    if (b.start === start) return b;
    if (start < b.start) return b; // a clock step backwards: count into the newest bucket
    // Move forward, clearing every bucket skipped over (idle seconds count as empty).
    const steps = b.start === -Infinity ? 1 : Math.min(count, Math.round((start - b.start) / bucketMs));
    for (let s = 0; s < steps; s++) {
      current = (current + 1) % count;
      const next = ring[current] as Bucket;
      next.start = start - (steps - 1 - s) * bucketMs;
      next.total = 0;
      for (const set of next.sets) set?.reset();
      next.clients.reset();
      next.prefixes.reset();
      next.clientTop.reset();
      next.prefixTop.reset();
    }
    if (firstStart === -Infinity) firstStart = start;
    b = ring[current] as Bucket;
    return b;
  };

  const live = (now: number): Bucket[] => {
    const oldest = Math.floor(now / bucketMs) * bucketMs - (count - 1) * bucketMs;
    return ring.filter((b) => b.start >= oldest && b.start <= now);
  };

  return {
    observe(obs, weight = 1) {
      const b = bucketFor(clock.now());
      b.total += weight;
      const sets = b.sets;
      // Clients and prefixes: one count-min update each, and the top-k only when the key qualifies.
      b.clientTop.offer(obs.client, b.clients.add(obs.client, weight));
      b.prefixTop.offer(obs.prefix, b.prefixes.add(obs.prefix, weight));
      if (obs.prefix48 !== undefined) (sets[2] as SpaceSaving).add(obs.prefix48, weight);
      (sets[3] as SpaceSaving).add(obs.fingerprint, weight);
      (sets[4] as SpaceSaving).add(obs.pathTemplate, weight);
      (sets[5] as SpaceSaving).add(obs.userAgent.length > USER_AGENT_CHARS ? obs.userAgent.slice(0, USER_AGENT_CHARS) : obs.userAgent, weight);
      (sets[6] as SpaceSaving).add(obs.queryShape, weight);
      (sets[7] as SpaceSaving).add(obs.cookie, weight);
      (sets[8] as SpaceSaving).add(obs.routeClass, weight);
    },
    snapshot(n = 20) {
      const now = clock.now();
      bucketFor(now);
      const window = live(now);
      let total = 0;
      for (const b of window) total += b.total;
      const oldest = window.reduce((m, b) => Math.min(m, b.start), now);
      const windowS = Math.max(1, Math.min(count * bucketMs, now - Math.max(oldest, firstStart))) / 1000;
      const dimensions = {} as Record<Dimension, WindowEntry[]>;
      DIMENSIONS.forEach((dim, d) => {
        const views = window.map((b): BucketView => {
          if (dim === 'client') return cmView(b.clientTop, b.clients);
          if (dim === 'prefix') return cmView(b.prefixTop, b.prefixes);
          return ssView(b.sets[d] as SpaceSaving);
        });
        dimensions[dim] = mergeTop(views, n, total, windowS);
      });
      return { at: now, windowS, total, ratePerS: total / windowS, dimensions };
    },
    clientCount(client) {
      let sum = 0;
      for (const b of live(clock.now())) sum += b.clients.estimate(client);
      return sum;
    },
    prefixCount(prefix) {
      let sum = 0;
      for (const b of live(clock.now())) sum += b.prefixes.estimate(prefix);
      return sum;
    },
    bytes: count * (ring[0] as Bucket).clients.bytes * 2,
  };
}

/**
 * Merges per-bucket summaries (the mergeable-summaries rule of Agarwal et al., PODS 2012): a key a
 * full bucket did not monitor may still have had up to that bucket's floor, added as error, so
 * merged counts stay upper bounds.
 */
function mergeTop(sets: readonly BucketView[], n: number, total: number, windowS: number): WindowEntry[] {
  const merged = new Map<string, { count: number; error: number }>();
  for (const set of sets) set.forEach((key, count, error) => {
    const m = merged.get(key);
    if (m === undefined) merged.set(key, { count, error });
    else { m.count += count; m.error += error; }
  });
  // Only the leading candidates get the (costly) floor correction: with a million distinct clients
  // the tail is noise whose order does not matter, and what is reported is always corrected.
  const candidates = [...merged].sort((a, b) => b[1].count - a[1].count).slice(0, Math.max(4 * n, 64));
  for (const [key, m] of candidates) {
    for (const set of sets) {
      if (set.floor > 0 && !set.has(key)) { const bound = set.absentBound(key); m.count += bound; m.error += bound; }
    }
  }
  return candidates.sort((a, b) => b[1].count - a[1].count).slice(0, n).map(([value, m]) => ({
    value,
    count: m.count,
    error: m.error,
    share: total > 0 ? Math.min(1, m.count / total) : 0,
    ratePerS: m.count / windowS,
  }));
}
