/**
 * How long the shield's own event loop last held its callbacks back: the lateness of a timer
 * that should fire every `periodMs`.
 *
 * Why: an answer's RTT is read in the callback that receives it, so it includes the time the
 * answer waited for the loop — under a flood that saturates the shield's CPU, tens to hundreds of
 * milliseconds the upstream did not spend. The adaptive concurrency limit
 * (detect/concurrency-limit.ts) read that as queueing at the upstream and stepped down while the
 * upstream stood idle. Node runs timers at the start of each turn of its loop, before the I/O
 * callbacks of that turn (the answers that came in during the turn before), so the timer's
 * lateness in this turn is about how long those answers were held: the turn before's length.
 *
 * An adapter (it owns a timer): started and stopped with the shield's services.
 */
import type { Clock } from '../../core/clock.js';

/** What the limiter reads. */
export interface LoopStall {
  /** The latest lateness of the meter's timer, ms (0 while the loop keeps time). */
  readonly stallMs: number;
}

/** The meter, with its lifecycle. */
export interface LoopStallMeter extends LoopStall {
  start(): void;
  stop(): void;
}

/** Default period: short enough to see a turn of a few tens of ms, too long to cost anything. */
export const LOOP_STALL_PERIOD_MS = 10;

/**
 * The lateness of a timer due at `due` that fired at `now`, ms.
 * @example stallOf(100, 290) // 190: the loop was busy 190 ms past the timer's due time
 */
export const stallOf = (due: number, now: number): number => Math.max(0, now - due);

/** Creates the meter on a monotonic `clock`; nothing runs until `start`. */
export function createLoopStallMeter(clock: Clock, periodMs = LOOP_STALL_PERIOD_MS): LoopStallMeter {
  let timer: NodeJS.Timeout | undefined;
  let due = 0;
  let stall = 0;
  return {
    get stallMs() { return stall; },
    start() {
      if (timer !== undefined) return;
      due = clock.now() + periodMs;
      timer = setInterval(() => {
        const now = clock.now();
        stall = stallOf(due, now);
        // Node schedules an interval's next run from when this one ran, not from when it was due.
        due = now + periodMs;
      }, periodMs);
      timer.unref();
    },
    stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      stall = 0;
    },
  };
}
