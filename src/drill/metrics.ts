/**
 * Pure accounting of what the drill observed: legitimate samples, percentiles, per-second series.
 * No I/O, no clock: callers pass times relative to the run start.
 */

export const DRILL_CLASSES = ['critical', 'high', 'normal', 'low'] as const;
export type DrillClass = (typeof DRILL_CLASSES)[number];

/**
 * How one legitimate attempt ended. `ok`: final status 2xx/3xx after redirects and challenges.
 * `http_error`: any other status. `timeout`: no answer within the client's patience.
 * `abandoned`: the user reloaded before an answer. `error`: connection refused/reset.
 * `unfinished`: still pending when the run ended (excluded from ratios and percentiles).
 */
export type Outcome = 'ok' | 'http_error' | 'timeout' | 'abandoned' | 'error' | 'unfinished';

/** One legitimate attempt as seen by the simulated user. */
export interface LegitSample {
  /** Start of the attempt, ms since the run started. */
  startMs: number;
  latencyMs: number;
  cls: DrillClass;
  route: string;
  /** Final HTTP status, 0 when none. */
  status: number;
  outcome: Outcome;
  /** The attempt went through a challenge. */
  challenged?: boolean;
}

export interface LatencySummary { p50: number; p95: number; p99: number; max: number }

export interface ClassSummary extends LatencySummary {
  attempts: number;
  ok: number;
  /** ok / attempts; 1 when there were no attempts is misleading, so it is null then. */
  successRatio: number | null;
  unfinished: number;
  statuses: Record<string, number>;
  outcomes: Partial<Record<Outcome, number>>;
}

export interface SeriesPoint { t: number; attempts: number; ok: number; successRatio: number | null; p50: number | null; p99: number | null }

/**
 * Nearest-rank percentile of an ascending array: the smallest value with at least p% of values
 * at or below it. Empty input gives NaN.
 * @example percentile([1, 2, 3, 4], 50) === 2
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] as number;
}

/** p50/p95/p99/max of unsorted latencies (copied and sorted exactly). */
export function latencySummary(values: readonly number[]): LatencySummary {
  const s = [...values].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s.length ? (s[s.length - 1] as number) : Number.NaN };
}

const counted = (o: Outcome): boolean => o !== 'unfinished';

/** Summary of samples whose start falls in [fromMs, toMs). */
export function summarize(samples: readonly LegitSample[], fromMs = 0, toMs = Number.POSITIVE_INFINITY): ClassSummary {
  const lat: number[] = [];
  const statuses: Record<string, number> = {};
  const outcomes: Partial<Record<Outcome, number>> = {};
  let ok = 0;
  let unfinished = 0;
  for (const s of samples) {
    if (s.startMs < fromMs || s.startMs >= toMs) continue;
    outcomes[s.outcome] = (outcomes[s.outcome] ?? 0) + 1;
    if (!counted(s.outcome)) { unfinished++; continue; }
    const key = s.status === 0 ? s.outcome : String(s.status);
    statuses[key] = (statuses[key] ?? 0) + 1;
    lat.push(s.latencyMs);
    if (s.outcome === 'ok') ok++;
  }
  return { attempts: lat.length, ok, successRatio: lat.length ? ok / lat.length : null, unfinished, statuses, outcomes, ...latencySummary(lat) };
}

/** Summaries per route class (classes without attempts are present with zero attempts). */
export function summarizeByClass(samples: readonly LegitSample[], fromMs = 0, toMs = Number.POSITIVE_INFINITY): Record<DrillClass, ClassSummary> {
  const by = Object.fromEntries(DRILL_CLASSES.map((c) => [c, [] as LegitSample[]])) as Record<DrillClass, LegitSample[]>;
  for (const s of samples) by[s.cls].push(s);
  return Object.fromEntries(DRILL_CLASSES.map((c) => [c, summarize(by[c], fromMs, toMs)])) as Record<DrillClass, ClassSummary>;
}

/** One point per second of run time, by attempt start: attempts, success ratio, p50 and p99. */
export function perSecond(samples: readonly LegitSample[], seconds: number): SeriesPoint[] {
  const buckets: number[][] = Array.from({ length: seconds }, () => []);
  const okBy = new Array<number>(seconds).fill(0);
  for (const s of samples) {
    if (!counted(s.outcome)) continue;
    const i = Math.floor(s.startMs / 1000);
    if (i < 0 || i >= seconds) continue;
    buckets[i]!.push(s.latencyMs);
    if (s.outcome === 'ok') okBy[i]!++;
  }
  return buckets.map((lat, t) => {
    const sorted = lat.sort((a, b) => a - b);
    return {
      t, attempts: lat.length, ok: okBy[t]!, successRatio: lat.length ? okBy[t]! / lat.length : null,
      p50: lat.length ? percentile(sorted, 50) : null, p99: lat.length ? percentile(sorted, 99) : null,
    };
  });
}

/** Counts attack traffic of one component per second and by status; `record*` are O(1). */
export interface AttackCounters {
  label: string;
  kind: 'flood' | 'slow';
  /** Requests (or connections, for slow attacks) the scenario asked for so far. */
  requested: number;
  /** Actually written to a socket. */
  sent: number;
  /** Due but not sent: every connection of the chosen source was still waiting (target back-pressure). */
  notSentBusy: number;
  /** Due but not sent: the generator fell behind its schedule (this machine's CPU). */
  notSentBehind: number;
  /** Due but not sent: the source was solving a challenge (bots send nothing meanwhile). */
  notSentSolving: number;
  /** Due but not sent: the source was logging in again after its session was refused (it sends nothing meanwhile). */
  notSentLoggingIn: number;
  statuses: Record<string, number>;
  sentPerSecond: number[];
  answeredPerSecond: number[];
  /** Slow attacks: connections currently held, sampled each second. */
  heldPerSecond: number[];
  /** Seconds during which this component was scheduled to send. */
  activeSeconds: number;
}

/** Creates zeroed counters for a run of `seconds` seconds. */
export function createAttackCounters(label: string, kind: 'flood' | 'slow', seconds: number): AttackCounters {
  return {
    label, kind, requested: 0, sent: 0, notSentBusy: 0, notSentBehind: 0, notSentSolving: 0, notSentLoggingIn: 0, statuses: {},
    sentPerSecond: new Array<number>(seconds).fill(0), answeredPerSecond: new Array<number>(seconds).fill(0),
    heldPerSecond: new Array<number>(seconds).fill(0), activeSeconds: 0,
  };
}

/** Adds one answer (status code or an error name) at run time `ms`. */
export function recordAnswer(c: AttackCounters, ms: number, key: string): void {
  c.statuses[key] = (c.statuses[key] ?? 0) + 1;
  const i = Math.floor(ms / 1000);
  if (i >= 0 && i < c.answeredPerSecond.length) c.answeredPerSecond[i]!++;
}

/** Adds one sent request at run time `ms`. */
export function recordSent(c: AttackCounters, ms: number): void {
  c.sent++;
  const i = Math.floor(ms / 1000);
  if (i >= 0 && i < c.sentPerSecond.length) c.sentPerSecond[i]!++;
}

/** When legitimate success came back for good after the attack began (see `timeToMitigation`). */
export interface Mitigation {
  /** Attack onset, s since the run started. */
  onsetS: number;
  /** Seconds from onset until every later window succeeded >= threshold; null = never within the run. */
  afterS: number | null;
  windowS: number;
  threshold: number;
  /** Lowest success ratio over the windows (null without attempts). */
  worstWindowRatio: number | null;
}

/**
 * Time to effective mitigation: the earliest time T >= onset such that every window [t, t + window)
 * with t >= T (slid by `stepMs`, attempts by start time, unfinished ones left out) that has attempts
 * succeeds at least `threshold`, and at least one such window has attempts. `afterS` = T - onset, 0
 * when success never dropped, null ("never") when the last window with attempts still fails.
 * @example timeToMitigation(samples, 3000, 20000).afterS // 4.25: from 7.25 s on, every 2 s window >= 99%
 */
export function timeToMitigation(samples: readonly LegitSample[], onsetMs: number, endMs: number, opts: { windowMs?: number; stepMs?: number; threshold?: number } = {}): Mitigation {
  const windowMs = opts.windowMs ?? 2000;
  const stepMs = opts.stepMs ?? 250;
  const threshold = opts.threshold ?? 0.99;
  const steps = Math.max(0, Math.floor((endMs - onsetMs - windowMs) / stepMs) + 1);
  // Bucket attempts by step so each window is a sum of windowMs / stepMs buckets.
  const per = Math.max(1, Math.round(windowMs / stepMs));
  const buckets = steps + per;
  const tries = new Array<number>(buckets).fill(0);
  const oks = new Array<number>(buckets).fill(0);
  for (const s of samples) {
    if (!counted(s.outcome) || s.startMs < onsetMs || s.startMs >= endMs) continue;
    const i = Math.floor((s.startMs - onsetMs) / stepMs);
    if (i >= buckets) continue;
    tries[i]!++;
    if (s.outcome === 'ok') oks[i]!++;
  }
  let lastFail = -1;
  let lastWithAttempts = -1;
  let worst: number | null = null;
  for (let w = 0; w < steps; w++) {
    let a = 0;
    let o = 0;
    for (let k = w; k < w + per; k++) { a += tries[k]!; o += oks[k]!; }
    if (a === 0) continue;
    lastWithAttempts = w;
    const r = o / a;
    worst = worst === null ? r : Math.min(worst, r);
    if (r < threshold) lastFail = w;
  }
  const base = { onsetS: onsetMs / 1000, windowS: windowMs / 1000, threshold, worstWindowRatio: worst };
  if (lastWithAttempts < 0 || lastFail === lastWithAttempts) return { ...base, afterS: null };
  return { ...base, afterS: lastFail < 0 ? 0 : ((lastFail + 1) * stepMs) / 1000 };
}
