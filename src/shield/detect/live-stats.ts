/**
 * Live statistics per second, globally, per route class and per upstream: arrivals, verdicts by
 * kind, upstream latency (mean and p95 from a fixed-bucket histogram), in-flight, queue wait and
 * error ratio. Counters only on the request path; `tick` closes a second once per second.
 */
import type { Clock } from '../../core/clock.js';

/** Verdict kinds counted. */
export const VERDICT_KINDS = ['allow', 'deny', 'challenge', 'shed', 'cached', 'stale'] as const;

/** One counted verdict kind. */
export type VerdictKind = (typeof VERDICT_KINDS)[number];

// Upper bounds (ms) of the latency buckets: ~×1.5 steps from 1 ms to 60 s; the last is open.
const LATENCY_BOUNDS: readonly number[] = (() => {
  const out: number[] = [];
  for (let b = 1; b < 60_000; b *= 1.5) out.push(Math.round(b * 100) / 100);
  out.push(60_000);
  return out;
})();

/** One closed second of one scope. */
export interface LiveCounters {
  readonly arrivals: number;
  readonly verdicts: Readonly<Record<VerdictKind, number>>;
  /** Arrivals without any reputation or clearance cookie. */
  readonly cookieless: number;
  readonly responses: number;
  readonly errors: number;
  /** errors / responses (0 without responses). */
  readonly errorRatio: number;
  /** (shed + deny) / arrivals. */
  readonly refusedRatio: number;
  readonly latencyMeanMs: number;
  /** Upper bound of the bucket holding the 95th percentile (≤ 50% above the true value). */
  readonly latencyP95Ms: number;
  /** Highest in-flight seen in the second and the concurrency limit at that moment. */
  readonly inFlight: number;
  readonly limit: number;
  readonly queueWaitMaxMs: number;
}

/** One closed second: global, per route class, per upstream. */
export interface LiveRow {
  readonly start: number;
  readonly durationMs: number;
  readonly global: LiveCounters;
  readonly routes: Readonly<Record<string, LiveCounters>>;
  readonly upstreams: Readonly<Record<string, LiveCounters>>;
}

/** Per-second counters with a bounded history. */
export interface LiveStats {
  arrival(routeClass: string, upstream: string, cookieless?: boolean): void;
  verdict(routeClass: string, upstream: string, kind: VerdictKind): void;
  /** An upstream answer (or failure) after `latencyMs`; `error` for 5xx, resets and timeouts. */
  response(routeClass: string, upstream: string, latencyMs: number, error: boolean): void;
  /** Admission gauges of an upstream, sampled when they change. */
  admission(upstream: string, inFlight: number, limit: number, queueWaitMs?: number): void;
  /** Closes the open second at `now`, stores it and returns it. */
  tick(now?: number): LiveRow;
  /** Up to `n` closed rows, newest last. */
  history(n: number): LiveRow[];
}

/** History length and how many distinct route classes / upstreams get their own counters. */
export interface LiveStatsParams {
  readonly historySeconds?: number;
  readonly maxScopes?: number;
}

class Acc {
  arrivals = 0;
  cookieless = 0;
  readonly verdicts = new Float64Array(VERDICT_KINDS.length);
  responses = 0;
  errors = 0;
  latencySum = 0;
  readonly hist = new Uint32Array(LATENCY_BOUNDS.length + 1);
  inFlight = 0;
  limit = 0;
  queueWaitMaxMs = 0;

  close(): LiveCounters {
    const verdicts = {} as Record<VerdictKind, number>;
    VERDICT_KINDS.forEach((k, i) => { verdicts[k] = this.verdicts[i] as number; });
    const refused = verdicts.shed + verdicts.deny;
    return {
      arrivals: this.arrivals,
      verdicts,
      cookieless: this.cookieless,
      responses: this.responses,
      errors: this.errors,
      errorRatio: this.responses > 0 ? this.errors / this.responses : 0,
      refusedRatio: this.arrivals > 0 ? refused / this.arrivals : 0,
      latencyMeanMs: this.responses > 0 ? this.latencySum / this.responses : 0,
      latencyP95Ms: quantile(this.hist, this.responses, 0.95),
      inFlight: this.inFlight,
      limit: this.limit,
      queueWaitMaxMs: this.queueWaitMaxMs,
    };
  }

  clear(): void {
    this.arrivals = 0; this.cookieless = 0; this.verdicts.fill(0); this.responses = 0; this.errors = 0;
    this.latencySum = 0; this.hist.fill(0); this.queueWaitMaxMs = 0;
    // In-flight and limit are gauges: they carry over into the next second until re-sampled.
  }
}

function quantile(hist: Uint32Array, n: number, q: number): number {
  if (n === 0) return 0;
  const rank = Math.ceil(q * n);
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i] as number;
    if (seen >= rank) return LATENCY_BOUNDS[i] ?? Infinity;
  }
  return Infinity;
}

function bucketOf(ms: number): number {
  // Binary search over ~30 bounds: a handful of comparisons per response.
  let lo = 0, hi = LATENCY_BOUNDS.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ms <= (LATENCY_BOUNDS[mid] as number)) hi = mid; else lo = mid + 1;
  }
  return lo;
}

function countResponse(acc: Acc, bucket: number, latencyMs: number, error: boolean): void {
  acc.responses++;
  if (error) acc.errors++;
  acc.latencySum += latencyMs;
  acc.hist[bucket] = (acc.hist[bucket] as number) + 1;
}

const OTHER = '(other)';

/**
 * Live per-second statistics (default 300 s of history, 64 scopes of each kind).
 * @example
 * stats.arrival(route.class, upstream.name, !ctx.hasCookie);
 * setInterval(() => publish(stats.tick()), 1000); // in the runtime, not here
 */
export function createLiveStats(clock: Clock, params: LiveStatsParams = {}): LiveStats {
  const historySeconds = params.historySeconds ?? 300;
  const maxScopes = params.maxScopes ?? 64;
  const global = new Acc();
  const routes = new Map<string, Acc>();
  const upstreams = new Map<string, Acc>();
  const rows: LiveRow[] = [];
  let openedAt = clock.now();

  // Route classes and upstreams come from the configuration; the cap guards a caller bug.
  const scope = (map: Map<string, Acc>, name: string): Acc => {
    let acc = map.get(name);
    if (acc === undefined) {
      const key = map.size < maxScopes ? name : OTHER;
      acc = map.get(key) ?? new Acc();
      map.set(key, acc);
    }
    return acc;
  };

  return {
    arrival(routeClass, upstream, cookieless = false) {
      const c = cookieless ? 1 : 0;
      const r = scope(routes, routeClass), u = scope(upstreams, upstream);
      global.arrivals++; r.arrivals++; u.arrivals++;
      global.cookieless += c; r.cookieless += c; u.cookieless += c;
    },
    verdict(routeClass, upstream, kind) {
      const i = VERDICT_KINDS.indexOf(kind);
      const r = scope(routes, routeClass), u = scope(upstreams, upstream);
      global.verdicts[i] = (global.verdicts[i] as number) + 1;
      r.verdicts[i] = (r.verdicts[i] as number) + 1;
      u.verdicts[i] = (u.verdicts[i] as number) + 1;
    },
    response(routeClass, upstream, latencyMs, error) {
      const b = bucketOf(latencyMs);
      countResponse(global, b, latencyMs, error);
      countResponse(scope(routes, routeClass), b, latencyMs, error);
      countResponse(scope(upstreams, upstream), b, latencyMs, error);
    },
    admission(upstream, inFlight, limit, queueWaitMs = 0) {
      // Upstream scope only: gauges of different upstreams do not add up into a global one.
      const acc = scope(upstreams, upstream);
      acc.inFlight = inFlight; acc.limit = limit;
      if (queueWaitMs > acc.queueWaitMaxMs) acc.queueWaitMaxMs = queueWaitMs;
    },
    tick(now = clock.now()) {
      const closeAll = (map: Map<string, Acc>): Record<string, LiveCounters> => {
        const out: Record<string, LiveCounters> = {};
        for (const [name, acc] of map) { out[name] = acc.close(); acc.clear(); }
        return out;
      };
      const row: LiveRow = { start: openedAt, durationMs: now - openedAt, global: global.close(), routes: closeAll(routes), upstreams: closeAll(upstreams) };
      global.clear();
      openedAt = now;
      rows.push(row);
      if (rows.length > historySeconds) rows.splice(0, rows.length - historySeconds);
      return row;
    },
    history: (n) => rows.slice(Math.max(0, rows.length - n)),
  };
}
