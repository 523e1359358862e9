/**
 * What the operator sees of woken reputations (reputation/roster.ts): how many the shield judged
 * woken in the attack under way, since when, and why — one event when an attack's wake-up is
 * first seen, not one per reputation, so the event log stays readable during the flood.
 *
 * Why: a woken reputation passes but waits with the token-less requests; in the access log that
 * is a request at tier 8 whose standing says `cleared`. Without a count, an operator cannot tell a
 * farm of reputations waking with the attack from returning customers pushed back, nor see the
 * price the rule is charging (issue #10 item 9: every mitigation observable).
 */
import type { WakeReason } from './roster.js';

/** One attack's wake-up: `attackStartedAt` and `firstAt` on the wall clock (ms). */
export interface WakeUp {
  readonly attackStartedAt: number;
  readonly firstAt: number;
  /** Distinct reputations judged woken in this attack. */
  reputations: number;
  /** Requests that waited in group (c) for it (a dry run: that would have). */
  requests: number;
  readonly dryRun: boolean;
  /** The judgement of the first reputation found woken. */
  readonly reason: WakeReason;
}

/** The event the watch publishes once per attack. */
export interface WakeEvent {
  readonly wakeUp: Readonly<WakeUp>;
}

/** The operator's view: times as seconds ago, rates rounded. */
export interface WakeState {
  readonly totalReputations: number;
  readonly totalWakeUps: number;
  readonly last: {
    attackStartedAgoS: number; firstAgoS: number; reputations: number; requests: number; dryRun: boolean;
    reason: { kind: WakeReason['kind']; firstSightings: number; spanS: number; observedPerS: number; baselinePerS: number };
  } | null;
}

export interface WakeWatch {
  /**
   * Notes a request whose reputation was judged woken in the attack whose first suspicion was
   * `attackFrom` (monotonic ms), `distinct` when the reputation had not been counted in it yet.
   */
  woken(attackFrom: number, distinct: boolean, reason: () => WakeReason | undefined, dryRun: boolean): void;
  /** Reputations judged woken since the start, each once per attack. */
  readonly totalReputations: number;
  /** What the operator reads (`GET /api/state`): the current (or last) attack's wake-up, and totals. */
  state(): WakeState;
}

export interface WakeWatchDeps {
  /** Wall clock, for what the operator reads. */
  now(): number;
  /** Monotonic clock of `attackFrom`. */
  tick(): number;
  emit(e: WakeEvent): void;
}

/** Creates the watch. `reason` is asked only for an attack's first woken request. */
export function createWakeWatch(d: WakeWatchDeps): WakeWatch {
  let current: WakeUp | undefined;
  let currentFrom = Number.NaN;
  let totalReputations = 0;
  let totalWakeUps = 0;
  const count = (w: WakeUp, distinct: boolean): void => {
    w.requests++;
    if (distinct) { w.reputations++; totalReputations++; }
  };
  return {
    woken(attackFrom, distinct, reason, dryRun) {
      if (attackFrom !== currentFrom) {
        const why = reason();
        if (why === undefined) return;
        const now = d.now();
        currentFrom = attackFrom;
        current = { attackStartedAt: now - (d.tick() - attackFrom), firstAt: now, reputations: 0, requests: 0, dryRun, reason: why };
        totalWakeUps++;
        count(current, distinct);
        d.emit({ wakeUp: { ...current } });
        return;
      }
      count(current as WakeUp, distinct);
    },
    get totalReputations() { return totalReputations; },
    state() {
      const now = d.now();
      const r = current?.reason;
      return {
        totalReputations, totalWakeUps,
        last: current === undefined || r === undefined ? null : {
          attackStartedAgoS: Math.round((now - current.attackStartedAt) / 1000), firstAgoS: Math.round((now - current.firstAt) / 1000),
          reputations: current.reputations, requests: current.requests, dryRun: current.dryRun,
          reason: { kind: r.kind, firstSightings: r.firstSightings, spanS: round(r.spanMs / 1000), observedPerS: round(r.observedPerS), baselinePerS: round(r.baselinePerS) },
        },
      };
    },
  };
}

const round = (n: number): number => Math.round(n * 100) / 100;
