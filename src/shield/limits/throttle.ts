import type { GcraParams } from './gcra.js';

/** The outcome of one throttled read: the TAT to store and how long to stop reading. */
export interface ThrottleResult {
  readonly tat: number;
  /** 0 while within the burst; otherwise how long the reader stops before reading again, ms. */
  readonly pauseMs: number;
}

/**
 * GCRA (limits/gcra.ts) for data already read: `cost` units (bytes, frames) arrived at `now` and
 * were passed on; the theoretical arrival time moves `cost` emission intervals on, and the reader
 * pauses for as long as that runs ahead of the burst tolerance. Nothing is refused or buffered:
 * the sender meets its own TCP window while the reader is paused — nginx's `proxy_upload_rate`
 * (stream module) throttles a TCP client the same way.
 * @example
 * const r = throttleStep(tat, now, chunk.length, { ratePerS: 1 << 20, burst: 4 << 20 });
 * tat = r.tat; if (r.pauseMs > 0) { socket.pause(); setTimeout(() => socket.resume(), r.pauseMs); }
 */
export function throttleStep(tat: number | undefined, now: number, cost: number, params: GcraParams): ThrottleResult {
  const { ratePerS, burst } = params;
  if (!(ratePerS > 0 && ratePerS < Infinity && burst >= 0 && burst < Infinity) || !(cost >= 0)) {
    throw new RangeError(`throttle needs a finite ratePerS > 0, burst >= 0 and cost >= 0, got ${ratePerS}, ${burst} and ${cost}`);
  }
  const interval = 1000 / ratePerS;
  const start = tat !== undefined && tat > now ? tat : now;
  const next = start + cost * interval;
  const ahead = next - now - burst * interval;
  return { tat: next, pauseMs: ahead > 0 ? ahead : 0 };
}
