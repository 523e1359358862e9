import { ROUTE_CLASSES, type RouteClass } from '../config/schema.js';

/** What the console's "requests/s by verdict" chart shows, one series each. */
export const VERDICT_BUCKETS = ['allowed', 'challenged', 'rateLimited', 'blocked', 'shed', 'stale'] as const;
export type VerdictBucket = (typeof VERDICT_BUCKETS)[number];

/** The facts of a finished exchange the bucket depends on (a subset of the request context). */
export interface OutcomeFacts {
  readonly verdict: { readonly kind: string; readonly code?: string } | undefined;
  readonly cacheState: 'HIT' | 'STALE' | 'MISS' | undefined;
  readonly errorCode: string | undefined;
}

/**
 * Which chart series one exchange counts in. Shed covers both the admission queue's refusals
 * (queue timeout, upstream busy) and shed verdicts: the customer heard "503, retry later" either way.
 */
export function bucketOf(o: OutcomeFacts): VerdictBucket {
  const v = o.verdict;
  if (v) {
    if (v.kind === 'challenge') return 'challenged';
    if (v.kind === 'shed') return 'shed';
    if (v.kind === 'deny') {
      if (v.code === 'RMP_ERR_RATE_LIMITED') return 'rateLimited';
      if (v.code === 'RMP_ERR_BLOCKED') return 'blocked';
    }
  }
  if (o.cacheState === 'STALE') return 'stale';
  if (o.errorCode === 'RMP_ERR_QUEUE_TIMEOUT' || o.errorCode === 'RMP_ERR_UPSTREAM_BUSY') return 'shed';
  return 'allowed';
}

/** One second of traffic as the console charts it. */
export interface RateSample {
  /** Start of the second, ms since the epoch. */
  readonly t: number;
  readonly verdicts: Readonly<Record<VerdictBucket, number>>;
  /** Mean upstream time to response headers per route class, ms (null: nothing forwarded). */
  readonly latencyMs: Readonly<Record<RouteClass, number | null>>;
  /**
   * Mean requests in flight upstream per route class over the second, by Little's law (sum of
   * upstream times of the exchanges that ended in it / 1 s): no per-request start hook needed.
   */
  readonly inFlight: Readonly<Record<RouteClass, number>>;
}

interface Accumulator {
  start: number;
  verdicts: Record<VerdictBucket, number>;
  upstreamMs: Record<RouteClass, number>;
  forwarded: Record<RouteClass, number>;
}

const zeroVerdicts = (): Record<VerdictBucket, number> => ({ allowed: 0, challenged: 0, rateLimited: 0, blocked: 0, shed: 0, stale: 0 });
const zeroClasses = (): Record<RouteClass, number> => ({ critical: 0, high: 0, normal: 0, low: 0 });

/** Per-second aggregation of finished exchanges into samples, the last `keep` seconds kept. */
export interface RateSeries {
  /** Counts one exchange at `now` (ms); O(1), no allocation. */
  record(bucket: VerdictBucket, routeClass: string, upstreamMs: number | undefined, now: number): void;
  /** Counts `n` exchanges refused before parsing (blocked connections). */
  recordRefused(n: number, now: number): void;
  /** Closes every second that ended before `now` and returns the samples kept, oldest first. */
  roll(now: number): readonly RateSample[];
  /** The samples kept, oldest first (without rolling). */
  samples(): readonly RateSample[];
}

/**
 * Creates a rate series; the caller passes the time (pure: no clock, no timer). Seconds with no
 * traffic still produce a zero sample so the chart's x axis stays regular.
 */
export function createRateSeries(opts: { keep: number; start: number }): RateSeries {
  const second = (ms: number): number => Math.floor(ms / 1000) * 1000;
  const kept: RateSample[] = [];
  let acc: Accumulator = { start: second(opts.start), verdicts: zeroVerdicts(), upstreamMs: zeroClasses(), forwarded: zeroClasses() };

  const close = (a: Accumulator): RateSample => {
    const latencyMs = {} as Record<RouteClass, number | null>;
    const inFlight = {} as Record<RouteClass, number>;
    for (const c of ROUTE_CLASSES) {
      latencyMs[c] = a.forwarded[c] > 0 ? Math.round((a.upstreamMs[c] / a.forwarded[c]) * 10) / 10 : null;
      inFlight[c] = Math.round((a.upstreamMs[c] / 1000) * 100) / 100;
    }
    return { t: a.start, verdicts: a.verdicts, latencyMs, inFlight };
  };
  const push = (s: RateSample): void => {
    kept.push(s);
    if (kept.length > opts.keep) kept.splice(0, kept.length - opts.keep);
  };
  const advance = (now: number): void => {
    const s = second(now);
    if (s <= acc.start) return;
    push(close(acc));
    // Idle seconds in between (at most `keep` of them matter) count as zero.
    const gap = Math.min(opts.keep, (s - acc.start) / 1000 - 1);
    for (let i = gap; i >= 1; i--) push(close({ start: s - i * 1000, verdicts: zeroVerdicts(), upstreamMs: zeroClasses(), forwarded: zeroClasses() }));
    acc = { start: s, verdicts: zeroVerdicts(), upstreamMs: zeroClasses(), forwarded: zeroClasses() };
  };

  return {
    record(bucket, routeClass, upstreamMs, now) {
      if (now >= acc.start + 1000) advance(now);
      acc.verdicts[bucket]++;
      if (upstreamMs !== undefined && routeClass in acc.forwarded) {
        acc.upstreamMs[routeClass as RouteClass] += upstreamMs;
        acc.forwarded[routeClass as RouteClass]++;
      }
    },
    recordRefused(n, now) {
      if (now >= acc.start + 1000) advance(now);
      acc.verdicts.blocked += n;
    },
    roll(now) {
      advance(now);
      return kept;
    },
    samples: () => kept,
  };
}
