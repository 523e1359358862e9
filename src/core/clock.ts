import { performance } from 'node:perf_hooks';

/** A source of time in milliseconds; policies take one so tests can run time forward. */
export interface Clock {
  now(): number;
}

/** Wall-clock time for production use. */
export const systemClock: Clock = { now: () => Date.now() };

/**
 * Monotonic milliseconds (never jumps with NTP or a manual date change): for rate-limit TATs and
 * body-rate timers, where only differences matter.
 */
export const monotonicClock: Clock = { now: () => performance.now() };

/** A clock that only moves when told to, for tests. */
export function createManualClock(start = 0): Clock & { advance(ms: number): void; set(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => { t += ms; }, set: (ms) => { t = ms; } };
}
