/**
 * Admission to one upstream: at most `maxInFlight` requests at once (its connection pool), a
 * bounded wait queue ordered by route class, and a queue timeout — like HAProxy's per-server
 * `maxconn` + `timeout queue`, never an unbounded backlog inside the proxy. Pure: no timers, no
 * I/O; the caller passes `now` and runs `expire` on a ticker.
 */

/** Why a waiting request was turned away. */
export type AdmissionRejection = 'queue-full' | 'queue-timeout' | 'pushed-out';

/** A request waiting for an upstream slot. */
export interface Waiter {
  /** 0 = most important (critical) … 3 = least (low). */
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
}

/** The admission state of one upstream. */
export interface AdmissionQueue {
  /** Starts the waiter now, queues it, or rejects it; returns which. */
  admit(w: Waiter, now: number): 'started' | 'queued' | 'rejected';
  /** A started request finished: frees its slot and starts the best waiter, if any. */
  release(now: number): void;
  /** A queued waiter's client left: it gives up its place. */
  cancel(w: Waiter): void;
  /** Rejects waiters that waited longer than the queue timeout; returns how many. */
  expire(now: number): number;
  readonly inFlight: number;
  readonly queued: number;
  params: AdmissionParams;
}

const RANKS = 4;

/** Creates the admission queue of one upstream. */
export function createAdmissionQueue(params: AdmissionParams): AdmissionQueue {
  // One FIFO per rank; heads are the oldest. Arrays with a moving head index avoid O(n) shift().
  const queues: Waiter[][] = Array.from({ length: RANKS }, () => []);
  const heads: number[] = new Array<number>(RANKS).fill(0);
  let inFlight = 0;
  let queued = 0;

  const compact = (r: number): void => {
    const q = queues[r] as Waiter[];
    const h = heads[r] as number;
    if (h > 1024 && h * 2 > q.length) { queues[r] = q.slice(h); heads[r] = 0; }
  };

  const popBest = (): Waiter | undefined => {
    for (let r = 0; r < RANKS; r++) {
      const q = queues[r] as Waiter[];
      while ((heads[r] as number) < q.length) {
        const w = q[heads[r] as number] as Waiter;
        heads[r] = (heads[r] as number) + 1;
        if (w.state !== 'queued') continue;
        queued--;
        compact(r);
        return w;
      }
    }
    return undefined;
  };

  /** The newest waiter of the least important rank below `rank`, removed from the queue. */
  const popWorseThan = (rank: number): Waiter | undefined => {
    for (let r = RANKS - 1; r > rank; r--) {
      const q = queues[r] as Waiter[];
      while (q.length > (heads[r] as number)) {
        const w = q.pop() as Waiter;
        if (w.state !== 'queued') continue;
        queued--;
        return w;
      }
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
      if (queued >= self.params.maxQueue) {
        // Full: a more important request pushes out the newest of a less important class.
        const victim = popWorseThan(w.rank);
        if (!victim) { w.state = 'rejected'; w.reject('queue-full'); return 'rejected'; }
        victim.state = 'rejected';
        victim.reject('pushed-out');
      }
      w.state = 'queued';
      w.enqueuedAt = now;
      (queues[Math.min(RANKS - 1, Math.max(0, w.rank))] as Waiter[]).push(w);
      queued++;
      return 'queued';
    },
    release(now) {
      inFlight--;
      self.expire(now);
      while (inFlight < self.params.maxInFlight) {
        const next = popBest();
        if (!next) return;
        inFlight++;
        next.state = 'started';
        next.start();
      }
    },
    cancel(w) {
      if (w.state !== 'queued') return;
      w.state = 'cancelled';
      queued--;
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
          queued--;
          n++;
          w.state = 'rejected';
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
