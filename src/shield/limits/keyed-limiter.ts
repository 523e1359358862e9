import { createRecencyMap } from '../../core/recency-map.js';
import { gcraRefund, gcraStep, type GcraParams, type GcraResult } from './gcra.js';

/** Per-key GCRA state in bounded memory. */
export interface KeyedLimiter {
  /** Decides one arrival for `key` at the clock's current time and records it if allowed. */
  check(key: string, params: GcraParams): GcraResult;
  /** Gives back one arrival `check` admitted for `key` (gcra.ts `gcraRefund`). */
  refund(key: string, params: GcraParams): void;
  /** Keys currently tracked. */
  readonly size: number;
  /** Keys dropped while still ahead of schedule because maxKeys was reached (they restart fresh). */
  readonly evictedActive: number;
}

/** Options of createKeyedLimiter. */
export interface KeyedLimiterOptions {
  readonly maxKeys: number;
  readonly clock: { now(): number };
}

// Entries examined per insertion into a full map: keeps each check O(1).
const SCAN_BUDGET = 16;

/**
 * Creates a limiter holding one TAT per key, at most `maxKeys` of them. A key whose TAT is not
 * after now is indistinguishable from an unseen key, so such keys are forgotten first at no cost
 * in accuracy; only when none is found among the least recently admitted entries is the least
 * recently admitted one dropped.
 * @example
 * const limiter = createKeyedLimiter({ maxKeys: 200_000, clock: systemClock });
 * const r = limiter.check(`${client} ${routeClass}`, { ratePerS: 20, burst: 40 });
 */
export function createKeyedLimiter(options: KeyedLimiterOptions): KeyedLimiter {
  const { maxKeys, clock } = options;
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError(`maxKeys must be a positive integer, got ${maxKeys}`);
  // Recency is admission order (a key moves to the back each time it is admitted), so the front
  // holds the least recently admitted keys, the likeliest to be idle: eviction looks there.
  const tats = createRecencyMap<number>();
  let evictedActive = 0;

  const makeRoom = (now: number): void => {
    let examined = 0;
    for (const [key, tat] of tats.fromOldest()) {
      if (tat <= now) tats.delete(key);
      if (++examined === SCAN_BUDGET) break;
    }
    if (tats.size < maxKeys) return;
    const oldest = tats.oldest();
    if (oldest !== undefined) { tats.delete(oldest[0]); evictedActive++; }
  };

  const check = (key: string, params: GcraParams): GcraResult => {
    const now = clock.now();
    const stored = tats.peek(key);
    const result = gcraStep(stored, now, params);
    if (!result.allowed) return result;
    if (stored === undefined && tats.size >= maxKeys) makeRoom(now);
    tats.set(key, result.tat);
    return result;
  };

  const refund = (key: string, params: GcraParams): void => {
    const stored = tats.peek(key);
    if (stored === undefined) return;
    const back = gcraRefund(stored, clock.now(), params);
    if (back === undefined) tats.delete(key);
    else tats.set(key, back);
  };

  return {
    check,
    refund,
    get size() { return tats.size; },
    get evictedActive() { return evictedActive; },
  };
}
