/**
 * Admission to one upstream: at most `maxInFlight` requests at once (its connection pool), a
 * bounded wait queue, and a queue timeout — like HAProxy's per-server `maxconn` + `timeout queue`,
 * never an unbounded backlog inside the proxy.
 *
 * Route classes share the slots by weight (stride scheduling), not by strict priority: critical
 * gets the largest share, but a flood aimed at one class (a login POST flood hits a critical
 * route) cannot starve the others — each class keeps its share, and unused shares are borrowed.
 * When the queue is full, the class most over its share loses its newest waiter.
 *
 * Pure: no timers, no I/O; the caller passes `now` and runs `expire` on a ticker.
 */

/** Why a waiting request was turned away. */
export type AdmissionRejection = 'queue-full' | 'queue-timeout' | 'pushed-out';

/** A request waiting for an upstream slot. */
export interface Waiter {
  /** 0 = critical, 1 = high, 2 = normal, 3 = low. */
  readonly rank: number;
  enqueuedAt: number;
  /** Managed by the queue. */
  state: 'new' | 'queued' | 'started' | 'rejected' | 'cancelled';
  start(): void;
  reject(why: AdmissionRejection): void;
}

export interface AdmissionParams {
  maxInFlight: number;
  maxQueue: number;
  queueTimeoutMs: number;
  /** Shares of the slots under contention by rank (critical, high, normal, low); default CLASS_WEIGHTS. */
  weights?: readonly number[];
}

/** The admission state of one upstream. */
export interface AdmissionQueue {
  /** Starts the waiter now, queues it, or rejects it; returns which. */
  admit(w: Waiter, now: number): 'started' | 'queued' | 'rejected';
  /** A started request finished: frees its slot and starts the next waiter, if any. */
  release(now: number): void;
  /** A queued waiter's client left: it gives up its place. */
  cancel(w: Waiter): void;
  /** Rejects waiters that waited longer than the queue timeout; returns how many. */
  expire(now: number): number;
  readonly inFlight: number;
  readonly queued: number;
  params: AdmissionParams;
}

/** Default shares of the upstream's slots under contention, by rank (critical, high, normal, low). */
export const CLASS_WEIGHTS: readonly number[] = Object.freeze([8, 4, 2, 1]);
const RANKS = CLASS_WEIGHTS.length;

/** Creates the admission queue of one upstream. */
export function createAdmissionQueue(params: AdmissionParams): AdmissionQueue {
  // One FIFO per rank; heads are the oldest. Arrays with a moving head index avoid O(n) shift().
  const queues: Waiter[][] = Array.from({ length: RANKS }, () => []);
  const heads: number[] = new Array<number>(RANKS).fill(0);
  const counts: number[] = new Array<number>(RANKS).fill(0); // live waiters per rank
  // Stride scheduling: each start advances its class's pass by 1/weight; the lowest pass goes next.
  const pass: number[] = new Array<number>(RANKS).fill(0);
  let virtualTime = 0;
  let inFlight = 0;
  let queued = 0;

  const rankOf = (w: Waiter): number => Math.min(RANKS - 1, Math.max(0, w.rank));
  const weights = params.weights ?? CLASS_WEIGHTS;
  const weight = (r: number): number => weights[r] as number;

  const compact = (r: number): void => {
    const q = queues[r] as Waiter[];
    const h = heads[r] as number;
    if (h > 1024 && h * 2 > q.length) { queues[r] = q.slice(h); heads[r] = 0; }
  };

  const leave = (w: Waiter, state: Waiter['state']): void => {
    w.state = state;
    queued--;
    const r = rankOf(w);
    counts[r] = (counts[r] as number) - 1;
  };

  /** Oldest live waiter of rank r, removed from its queue. */
  const shift = (r: number): Waiter | undefined => {
    const q = queues[r] as Waiter[];
    while ((heads[r] as number) < q.length) {
      const w = q[heads[r] as number] as Waiter;
      heads[r] = (heads[r] as number) + 1;
      if (w.state === 'queued') { compact(r); return w; }
    }
    compact(r);
    return undefined;
  };

  const next = (): Waiter | undefined => {
    let best = -1;
    for (let r = 0; r < RANKS; r++) {
      if ((counts[r] as number) > 0 && (best === -1 || (pass[r] as number) < (pass[best] as number))) best = r;
    }
    if (best === -1) return undefined;
    const w = shift(best);
    if (!w) return undefined;
    virtualTime = pass[best] as number;
    pass[best] = (pass[best] as number) + 1 / weight(best);
    return w;
  };

  /** The class most over its share of the queue, if the arriving rank is under it. */
  const victimFor = (rank: number): Waiter | undefined => {
    let worst = -1;
    let worstLoad = ((counts[rank] as number) + 1) / weight(rank);
    for (let r = 0; r < RANKS; r++) {
      const load = (counts[r] as number) / weight(r);
      if (r !== rank && load > worstLoad) { worst = r; worstLoad = load; }
    }
    if (worst === -1) return undefined;
    const q = queues[worst] as Waiter[];
    while (q.length > (heads[worst] as number)) {
      const w = q.pop() as Waiter;
      if (w.state === 'queued') return w; // newest first: it has waited least
    }
    return undefined;
  };

  const self: AdmissionQueue = {
    params,
    admit(w, now) {
      if (inFlight < self.params.maxInFlight && queued === 0) {
        inFlight++;
        w.state = 'started';
        w.start();
        return 'started';
      }
      const r = rankOf(w);
      if (queued >= self.params.maxQueue) {
        const victim = victimFor(r);
        if (!victim) { w.state = 'rejected'; w.reject('queue-full'); return 'rejected'; }
        leave(victim, 'rejected');
        victim.reject('pushed-out');
      }
      // A class that was idle does not bank credit for the time it had nothing to send.
      if (counts[r] === 0) pass[r] = Math.max(pass[r] as number, virtualTime);
      w.state = 'queued';
      w.enqueuedAt = now;
      (queues[r] as Waiter[]).push(w);
      queued++;
      counts[r] = (counts[r] as number) + 1;
      return 'queued';
    },
    release(now) {
      inFlight--;
      self.expire(now);
      while (inFlight < self.params.maxInFlight) {
        const w = next();
        if (!w) return;
        leave(w, 'started');
        inFlight++;
        w.start();
      }
    },
    cancel(w) {
      if (w.state === 'queued') leave(w, 'cancelled');
    },
    expire(now) {
      let n = 0;
      const limit = now - self.params.queueTimeoutMs;
      for (let r = 0; r < RANKS; r++) {
        const q = queues[r] as Waiter[];
        while ((heads[r] as number) < q.length) {
          const w = q[heads[r] as number] as Waiter;
          if (w.state === 'queued' && w.enqueuedAt > limit) break;
          heads[r] = (heads[r] as number) + 1;
          if (w.state !== 'queued') continue;
          leave(w, 'rejected');
          n++;
          w.reject('queue-timeout');
        }
        compact(r);
      }
      return n;
    },
    get inFlight() { return inFlight; },
    get queued() { return queued; },
  };
  return self;
}
