/**
 * A bounded-capacity gate for the demo origin: a fixed number of requests in flight, a bounded
 * FIFO queue, and "full" beyond it — so overload shows as 503s and queueing delay, as on a real
 * application server with a fixed worker pool.
 */
export interface CapacityGate {
  /** Resolves with a release function once a slot is free, or with null when the queue is full. */
  acquire(): Promise<(() => void) | null>;
  readonly inFlight: number;
  readonly queued: number;
}

/** Builds a gate admitting `maxInFlight` at once and queueing up to `maxQueue` more. */
export function createCapacityGate(maxInFlight: number, maxQueue: number): CapacityGate {
  let inFlight = 0;
  const waiters: Array<(release: () => void) => void> = [];
  const release = (): void => {
    const next = waiters.shift();
    if (next) next(makeRelease());
    else inFlight--;
  };
  const makeRelease = (): (() => void) => {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      release();
    };
  };
  return {
    acquire() {
      if (inFlight < maxInFlight) {
        inFlight++;
        return Promise.resolve(makeRelease());
      }
      if (waiters.length >= maxQueue) return Promise.resolve(null);
      return new Promise((resolve) => waiters.push(resolve));
    },
    get inFlight() { return inFlight; },
    get queued() { return waiters.length; },
  };
}
