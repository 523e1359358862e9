/**
 * App-channel circuit breaker over a sliding window of 1-second buckets: trips when, over some
 * trailing period of at most `windowMs`, at least `minAttempts` attempts failed more than
 * `failureRatio`; after `dwellMs` open it probes; `probeSuccesses` consecutive probe successes
 * close it (fail back).
 */
export interface BreakerParams {
  windowMs: number;
  minAttempts: number;
  failureRatio: number;
  dwellMs: number;
  probeIntervalMs: number;
  probeSuccesses: number;
}

export type BreakerPhase = 'closed' | 'open' | 'probing';

/** The breaker as a value: phase, window buckets, when the phase began, probe successes in a row. */
export interface BreakerState {
  phase: BreakerPhase;
  /** [second, attempts, failures] per bucket, oldest first. */
  buckets: ReadonlyArray<readonly [number, number, number]>;
  since: number;
  probeStreak: number;
}

/** Why the phase changed, for the event and the audit. */
export type BreakerChange = { from: BreakerPhase; to: BreakerPhase; reason: string } | undefined;

/** A closed breaker with an empty window. */
export const initialBreaker = (now: number): BreakerState => ({ phase: 'closed', buckets: [], since: now, probeStreak: 0 });

/** Attempts and failures still inside the window at `now`. */
export function windowCounts(s: BreakerState, now: number, p: BreakerParams): { attempts: number; failures: number } {
  const oldest = Math.floor((now - p.windowMs) / 1000);
  let attempts = 0;
  let failures = 0;
  for (const [sec, a, f] of s.buckets) if (sec > oldest) { attempts += a; failures += f; }
  return { attempts, failures };
}

/** Records one real attempt (push send, app fetch); only a closed breaker counts them. */
export function recordOutcome(s: BreakerState, ok: boolean, now: number, p: BreakerParams): { state: BreakerState; change: BreakerChange } {
  if (s.phase !== 'closed') return { state: s, change: undefined };
  const sec = Math.floor(now / 1000);
  const oldest = Math.floor((now - p.windowMs) / 1000);
  const kept = s.buckets.filter(([b]) => b > oldest);
  const last = kept[kept.length - 1];
  const buckets = last && last[0] === sec
    ? [...kept.slice(0, -1), [sec, last[1] + 1, last[2] + (ok ? 0 : 1)] as const]
    : [...kept, [sec, 1, ok ? 0 : 1] as const];
  const next: BreakerState = { ...s, buckets };
  // Every trailing period (the last 1 s, 2 s, … windowMs) is checked: a sudden outage trips within
  // about a second even after minutes of successes, while low traffic still needs minAttempts.
  let attempts = 0;
  let failures = 0;
  for (let i = buckets.length - 1; i >= 0; i--) {
    const b = buckets[i] as readonly [number, number, number];
    attempts += b[1];
    failures += b[2];
    if (attempts >= p.minAttempts && failures / attempts > p.failureRatio) {
      return {
        state: { phase: 'open', buckets: [], since: now, probeStreak: 0 },
        change: { from: 'closed', to: 'open', reason: `${failures} of ${attempts} app attempts failed in the last ${sec - b[0] + 1} s` },
      };
    }
  }
  return { state: next, change: undefined };
}

/** Moves an open breaker to probing once it has dwelt long enough. */
export function advanceBreaker(s: BreakerState, now: number, p: BreakerParams): { state: BreakerState; change: BreakerChange } {
  if (s.phase === 'open' && now - s.since >= p.dwellMs) {
    return { state: { ...s, phase: 'probing', since: now, probeStreak: 0 }, change: { from: 'open', to: 'probing', reason: `dwell of ${p.dwellMs} ms over` } };
  }
  return { state: s, change: undefined };
}

/** Records a synthetic probe through the whole app path; N successes in a row close the breaker. */
export function recordProbe(s: BreakerState, ok: boolean, now: number, p: BreakerParams): { state: BreakerState; change: BreakerChange } {
  if (s.phase !== 'probing') return { state: s, change: undefined };
  if (!ok) return { state: { ...s, phase: 'open', since: now, probeStreak: 0 }, change: { from: 'probing', to: 'open', reason: 'probe failed' } };
  const probeStreak = s.probeStreak + 1;
  if (probeStreak >= p.probeSuccesses) {
    return {
      state: { phase: 'closed', buckets: [], since: now, probeStreak: 0 },
      change: { from: 'probing', to: 'closed', reason: `${probeStreak} consecutive probes succeeded` },
    };
  }
  return { state: { ...s, probeStreak }, change: undefined };
}

/** What survives a restart: the phase and when it began (the attempt window does not). */
export interface SavedBreaker { phase: BreakerPhase; since: number }

/** The part of the breaker to persist at each phase change. */
export const saveBreaker = (s: BreakerState): SavedBreaker => ({ phase: s.phase, since: s.since });

/**
 * The breaker after a restart. An open breaker stays open and keeps its dwell (a restart during an
 * app-channel outage must not send new authentications to the dead channel); a probing one probes
 * again from the first probe; a closed one starts with an empty window. Anything unreadable is
 * treated as open from `now`: the probes, not a lost record, decide when the app is back.
 */
export function restoreBreaker(saved: unknown, now: number): BreakerState {
  if (saved === undefined) return initialBreaker(now);
  const s = saved as Partial<SavedBreaker> | null;
  const phase = s?.phase;
  const since = typeof s?.since === 'number' && Number.isFinite(s.since) ? Math.min(s.since, now) : now;
  if (phase === 'closed') return initialBreaker(now);
  if (phase === 'probing') return { phase: 'probing', buckets: [], since: now, probeStreak: 0 };
  return { phase: 'open', buckets: [], since: phase === 'open' ? since : now, probeStreak: 0 };
}

/** An operator's forced mode (two approvals, reason and expiry), or automatic. */
export type ChannelMode = 'auto' | 'app' | 'sms';

/** Which channel new authentications take: a live override wins, else the breaker decides. */
export function effectiveChannel(s: BreakerState, override: { mode: ChannelMode; until: number } | undefined, now: number): 'app' | 'sms' {
  if (override && override.mode !== 'auto' && override.until > now) return override.mode;
  return s.phase === 'closed' ? 'app' : 'sms';
}
