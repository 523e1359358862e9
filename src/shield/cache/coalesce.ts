/**
 * Request coalescing (nginx `proxy_cache_lock`, Varnish request collapsing): while one request for
 * a cache key is on its way upstream, others for the same key wait for its answer instead of all
 * going upstream — a thundering herd of misses becomes one upstream request.
 */
export interface Coalescer {
  /** True if the caller leads (nobody is fetching this key); false if a leader exists. */
  lead(key: string): boolean;
  /** Waits for the leader of `key` (resolves at once if there is none, or when the wait list is full). */
  wait(key: string): Promise<void>;
  /** The leader is done (stored or not): wakes the waiters. Idempotent. */
  done(key: string): void;
  readonly keys: number;
}

/** Creates a coalescer; at most `maxWaiters` requests wait per key, the rest go upstream. */
export function createCoalescer(maxWaiters = 1000): Coalescer {
  const inFlight = new Map<string, Array<() => void>>();
  return {
    lead(key) {
      if (inFlight.has(key)) return false;
      inFlight.set(key, []);
      return true;
    },
    wait(key) {
      const list = inFlight.get(key);
      if (!list || list.length >= maxWaiters) return Promise.resolve();
      return new Promise<void>((resolve) => { list.push(resolve); });
    },
    done(key) {
      const list = inFlight.get(key);
      if (!list) return;
      inFlight.delete(key);
      for (const wake of list) wake();
    },
    get keys() { return inFlight.size; },
  };
}
