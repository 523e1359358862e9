/**
 * A retry budget (Finagle's RetryBudget, Envoy's retry_budget, Linkerd's retry ratio): retries may
 * add at most `ratio` of the requests seen over a sliding window, plus a small floor so a quiet
 * upstream can still retry its rare failure. Retries then cannot multiply the load on an origin
 * that is failing because it is overloaded. Pure: time comes in as a value.
 */
export interface RetryBudgetParams {
  /** Retries allowed per request seen in the window (0.2: one retry per five requests). */
  ratio: number;
  windowMs: number;
  /** Retries always allowed per window, whatever the request count. */
  minRetries: number;
}

/** The retry budget of one upstream. */
export interface RetryBudget {
  onRequest(now: number): void;
  /** Takes one retry from the budget if it has one; false means "do not retry". */
  tryRetry(now: number): boolean;
  /** Requests and retries in the window, for the state API. */
  snapshot(now: number): { requests: number; retries: number };
}

const BUCKETS = 10;

/** Creates a budget counting over `windowMs` in ten buckets (the window slides by a tenth). */
export function createRetryBudget(p: RetryBudgetParams): RetryBudget {
  const width = p.windowMs / BUCKETS;
  const requests = new Float64Array(BUCKETS);
  const retries = new Float64Array(BUCKETS);
  let slot = -1; // absolute bucket number of the newest bucket
  let reqSum = 0;
  let retrySum = 0;
  const advance = (now: number): number => {
    const target = Math.floor(now / width);
    if (slot === -1) slot = target;
    // Clears at most BUCKETS buckets however long the pause was.
    for (let n = 0; slot < target && n < BUCKETS; n++) {
      slot++;
      const i = slot % BUCKETS;
      reqSum -= requests[i] as number;
      retrySum -= retries[i] as number;
      requests[i] = 0;
      retries[i] = 0;
    }
    slot = Math.max(slot, target);
    return slot % BUCKETS;
  };
  return {
    onRequest(now) {
      const i = advance(now);
      requests[i] = (requests[i] as number) + 1;
      reqSum++;
    },
    tryRetry(now) {
      const i = advance(now);
      if (retrySum + 1 > p.minRetries + p.ratio * reqSum) return false;
      retries[i] = (retries[i] as number) + 1;
      retrySum++;
      return true;
    },
    snapshot(now) { advance(now); return { requests: reqSum, retries: retrySum }; },
  };
}
