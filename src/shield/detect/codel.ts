/**
 * Admission-queue policy: CoDel's control law (Nichols & Jacobson, "Controlling Queue Delay",
 * ACM Queue 2012; RFC 8289) applied to waiting requests, plus adaptive LIFO (Maurer, "Fail at
 * Scale", ACM Queue 2015). While the queue empties now and then, waiters are served in order and
 * may wait up to `maxWaitMs`. Once it has not been empty for `intervalMs` the shield is overloaded:
 * requests older than `targetMs` are dropped on CoDel's schedule (interval/√count) and the newest
 * waiter is served first, because its client is still there — under a flood a FIFO queue serves
 * only requests whose clients have given up, so everyone sees the worst latency.
 */

/** Queue-policy timings. */
export interface CodelParams {
  /** Acceptable standing delay (RFC 8289 §4.3 uses 5 ms for packets; requests tolerate more). */
  readonly targetMs: number;
  /** How long the delay must stay above target before dropping, and the first drop spacing. */
  readonly intervalMs: number;
  /** Longest wait when not overloaded. */
  readonly maxWaitMs: number;
  /** Serve newest first while overloaded. */
  readonly adaptiveLifo: boolean;
}

/** Defaults: 20 ms target, 100 ms interval, 1 s longest wait, adaptive LIFO on. */
export const DEFAULT_CODEL_PARAMS: CodelParams = Object.freeze({ targetMs: 20, intervalMs: 100, maxWaitMs: 1000, adaptiveLifo: true });

/** CoDel state between dequeues: plain data. */
export interface CodelState {
  readonly firstAboveAt: number | undefined;
  readonly dropping: boolean;
  readonly dropNextAt: number;
  readonly count: number;
  readonly lastCount: number;
  readonly lastEmptyAt: number;
}

/** A queue that was empty at `now`. */
export function initialCodel(now: number): CodelState {
  return { firstAboveAt: undefined, dropping: false, dropNextAt: 0, count: 0, lastCount: 0, lastEmptyAt: now };
}

/** The queue became (or is) empty at `now`. */
export function codelOnEmpty(state: CodelState, now: number): CodelState {
  return { ...state, lastEmptyAt: now, firstAboveAt: undefined, dropping: false };
}

/** How the queue should be served right now. */
export interface QueueMode {
  readonly overloaded: boolean;
  readonly order: 'fifo' | 'lifo';
  /** Waiters older than this are refused without waiting for the control law. */
  readonly maxWaitMs: number;
}

/** FIFO with the long deadline normally; LIFO with a short one once the queue stays non-empty. */
export function queueMode(state: CodelState, now: number, params: CodelParams = DEFAULT_CODEL_PARAMS): QueueMode {
  const overloaded = now - state.lastEmptyAt > params.intervalMs;
  return {
    overloaded,
    order: overloaded && params.adaptiveLifo ? 'lifo' : 'fifo',
    // Fail at Scale: "if the queue has not been empty in the last N ms, the timeout is M ms".
    maxWaitMs: overloaded ? Math.max(params.targetMs, params.intervalMs) : params.maxWaitMs,
  };
}

/** Whether to drop the waiter about to be served, and the state after deciding. */
export interface CodelDecision {
  readonly drop: boolean;
  readonly state: CodelState;
}

/**
 * Decides for the waiter at the head (the one about to get a slot) that waited `sojournMs`.
 * @example
 * const d = codelDecide(codel, now - waiter.enqueuedAt, now); codel = d.state;
 * if (d.drop) waiter.shed(); else waiter.admit();
 */
export function codelDecide(state: CodelState, sojournMs: number, now: number, params: CodelParams = DEFAULT_CODEL_PARAMS): CodelDecision {
  const { targetMs, intervalMs } = params;
  if (sojournMs >= params.maxWaitMs) return { drop: true, state };
  // RFC 8289 §5.3 dodequeue: above target for a whole interval before we may drop.
  let okToDrop = false;
  let firstAboveAt = state.firstAboveAt;
  if (sojournMs < targetMs) firstAboveAt = undefined;
  else if (firstAboveAt === undefined) firstAboveAt = now + intervalMs;
  else if (now >= firstAboveAt) okToDrop = true;
  let s: CodelState = { ...state, firstAboveAt };
  if (s.dropping) {
    if (!okToDrop) return { drop: false, state: { ...s, dropping: false } };
    if (now >= s.dropNextAt) {
      const count = s.count + 1;
      // Control law: drops come closer together as interval/√count (RFC 8289 §5.5).
      return { drop: true, state: { ...s, count, dropNextAt: s.dropNextAt + intervalMs / Math.sqrt(count) } };
    }
    return { drop: false, state: s };
  }
  if (okToDrop) {
    // Resume near the previous drop rate if the last dropping spell was recent (RFC 8289 §5.4).
    const delta = s.count - s.lastCount;
    const count = delta > 1 && now - s.dropNextAt < 16 * intervalMs ? delta : 1;
    s = { ...s, dropping: true, count, lastCount: count, dropNextAt: now + intervalMs / Math.sqrt(count) };
    return { drop: true, state: s };
  }
  return { drop: false, state: s };
}
