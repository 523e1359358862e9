/**
 * Admission to one upstream: at most `maxInFlight` requests at once (its connection pool), a
 * bounded wait queue, and a queue timeout — like HAProxy's per-server `maxconn` + `timeout queue`,
 * never an unbounded backlog inside the proxy.
 *
 * Waiters are served by **standing** first (tier 0 first): clients known before an attack, then
 * clients holding a clearance or keeping cookies, then unknown ones — and a token holder one tier
 * lower per level of its recent pace (see detect/identity-pace.ts), so a token that floods waits
 * behind anonymous first requests. A flood therefore queues behind the customers, whatever class
 * it aimed at, and is the first pushed out when the queue is full.
 *
 * Among waiters of one standing, route classes share the slots by weight (stride scheduling),
 * not by strict priority: critical gets the largest share, but a flood aimed at one class (a
 * login POST flood hits a critical route) cannot starve the others — each class keeps its share,
 * and unused shares are borrowed. When the queue is full, the worst standing loses its newest
 * waiter, from the class most over its share.
 *
 * Pure: no timers, no I/O; the caller passes `now` and runs `expire` on a ticker.
 */

/** Why a waiting request was turned away. */
export type AdmissionRejection = 'queue-full' | 'queue-timeout' | 'pushed-out';

/** A request waiting for an upstream slot. */
export interface Waiter {
  /** 0 = critical, 1 = high, 2 = normal, 3 = low. */
  readonly rank: number;
  /** Standing, 0 = best (see TIERS); absent = the worst. */
  readonly tier?: number;
  /** Whatever the queue's `retier` hook needs to judge this waiter again (the request context). */
  readonly subject?: unknown;
  enqueuedAt: number;
  /** Managed by the queue. */
  state: 'new' | 'queued' | 'started' | 'rejected' | 'cancelled';
  /** Managed by the queue: the tier it is filed under once the `retier` hook moved it down. */
  filed?: number;
  start(): void;
  reject(why: AdmissionRejection): void;
}

export interface AdmissionParams {
  maxInFlight: number;
  maxQueue: number;
  queueTimeoutMs: number;
  /** Shares of the slots under contention by rank (critical, high, normal, low); default CLASS_WEIGHTS. */
  weights?: readonly number[];
  /**
   * A waiter's standing now (it may have fallen since it was queued: its identity kept flooding).
   * Read when the waiter reaches the head of its queue; a worse tier moves it there.
   */
  retier?: (w: Waiter) => number;
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
  /** How long the oldest waiter has waited, ms (0 when none waits). */
  oldestWaitMs(now: number): number;
  readonly inFlight: number;
  readonly queued: number;
  params: AdmissionParams;
}

/** Default shares of the upstream's slots under contention, by rank (critical, high, normal, low). */
export const CLASS_WEIGHTS: readonly number[] = Object.freeze([8, 4, 2, 1]);
const RANKS = CLASS_WEIGHTS.length;
/**
 * Standings: 0 known well before the attack, 1 known shortly before, 2 proof-of-work solved during
 * it, 3 anonymous (or only the no-JavaScript cookie); a token holder moves one tier down per pace
 * level (lighter identities first, see detect/identity-pace.ts), to 7 at most.
 */
export const TIERS = 8;

/** Creates the admission queue of one upstream. */
export function createAdmissionQueue(params: AdmissionParams): AdmissionQueue {
  // One FIFO per (rank, tier); heads are the oldest. Arrays with a moving head index avoid O(n) shift().
  const Q = RANKS * TIERS;
  const queues: Waiter[][] = Array.from({ length: Q }, () => []);
  const heads: number[] = new Array<number>(Q).fill(0);
  const live: number[] = new Array<number>(Q).fill(0); // live waiters per (rank, tier)
  const counts: number[] = new Array<number>(RANKS).fill(0); // live waiters per rank
  // Stride scheduling: each start advances its class's pass by 1/weight; the lowest pass goes next.
  const pass: number[] = new Array<number>(RANKS).fill(0);
  let virtualTime = 0;
  let inFlight = 0;
  let queued = 0;

  const rankOf = (w: Waiter): number => Math.min(RANKS - 1, Math.max(0, w.rank));
  const tierOf = (w: Waiter): number => Math.min(TIERS - 1, Math.max(0, w.tier ?? TIERS - 1));
  const qOf = (w: Waiter): number => rankOf(w) * TIERS + (w.filed ?? tierOf(w));
  const weights = params.weights ?? CLASS_WEIGHTS;
  const weight = (r: number): number => weights[r] as number;

  const compact = (i: number): void => {
    const q = queues[i] as Waiter[];
    const h = heads[i] as number;
    if (h > 1024 && h * 2 > q.length) { queues[i] = q.slice(h); heads[i] = 0; }
  };

  const leave = (w: Waiter, state: Waiter['state']): void => {
    w.state = state;
    queued--;
    const r = rankOf(w);
    counts[r] = (counts[r] as number) - 1;
    const i = qOf(w);
    live[i] = (live[i] as number) - 1;
  };

  /**
   * Oldest live waiter of queue i, removed from it. With a `retier` hook, a head whose standing
   * fell since it was queued moves to the back of its new tier instead: requests a flood queued
   * in its first second, before its pace showed, do not stay ahead of customers who came after.
   * Each waiter only ever moves down, so this ends.
   */
  const shiftQueue = (i: number): Waiter | undefined => {
    const q = queues[i] as Waiter[];
    const retier = self.params.retier;
    while ((heads[i] as number) < q.length) {
      const w = q[heads[i] as number] as Waiter;
      heads[i] = (heads[i] as number) + 1;
      if (w.state !== 'queued') continue;
      if (retier !== undefined) {
        const from = i % TIERS;
        const t = Math.min(TIERS - 1, Math.max(0, retier(w)));
        if (t > from) {
          const j = i - from + t;
          w.filed = t;
          (queues[j] as Waiter[]).push(w);
          live[i] = (live[i] as number) - 1;
          live[j] = (live[j] as number) + 1;
          continue;
        }
      }
      compact(i);
      return w;
    }
    compact(i);
    return undefined;
  };
  // (A moved waiter keeps its arrival time, so it may sit behind younger ones in its new queue:
  // `expire` then reaches it a little after its timeout. It is of the worst standing there anyway.)

  /** Newest live waiter of queue i, removed from it. */
  const popQueue = (i: number): Waiter | undefined => {
    const q = queues[i] as Waiter[];
    while (q.length > (heads[i] as number)) {
      const w = q.pop() as Waiter;
      if (w.state === 'queued') return w; // newest first: it has waited least
    }
    return undefined;
  };

  // Standing first, then class: the best tier waiting anywhere goes next, and classes share the
  // slots by weight among waiters of that tier. An attacker chooses which class to aim at, so
  // class shares alone would hand it the share of whatever class it floods (a login flood takes
  // the critical share, and a token-holding flood on /login must not outrank customers tracking parcels).
  const next = (): Waiter | undefined => {
    for (let t = 0; t < TIERS; t++) {
      let best = -1;
      for (let r = 0; r < RANKS; r++) {
        if ((live[r * TIERS + t] as number) > 0 && (best === -1 || (pass[r] as number) < (pass[best] as number))) best = r;
      }
      if (best === -1) continue;
      const w = shiftQueue(best * TIERS + t);
      if (!w) continue;
      virtualTime = pass[best] as number;
      pass[best] = (pass[best] as number) + 1 / weight(best);
      return w;
    }
    return undefined;
  };

  /**
   * Who leaves a full queue for an arriving waiter: first a waiter of worse standing than the
   * arrival (from the class most over its share among those holding one), else — same standing —
   * the newest of the class most over its share, if the arriving class is under it.
   */
  const victimFor = (rank: number, tier: number): Waiter | undefined => {
    for (let t = TIERS - 1; t > tier; t--) {
      let pick = -1;
      let pickLoad = -1;
      for (let r = 0; r < RANKS; r++) {
        if ((live[r * TIERS + t] as number) === 0) continue;
        const load = (counts[r] as number) / weight(r);
        if (load > pickLoad) { pick = r; pickLoad = load; }
      }
      if (pick !== -1) {
        const w = popQueue(pick * TIERS + t);
        if (w) return w;
      }
    }
    let worst = -1;
    let worstLoad = ((counts[rank] as number) + 1) / weight(rank);
    for (let r = 0; r < RANKS; r++) {
      const load = (counts[r] as number) / weight(r);
      if (r !== rank && load > worstLoad && (live[r * TIERS + tier] as number) > 0) { worst = r; worstLoad = load; }
    }
    return worst === -1 ? undefined : popQueue(worst * TIERS + tier);
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
        const victim = victimFor(r, tierOf(w));
        if (!victim) { w.state = 'rejected'; w.reject('queue-full'); return 'rejected'; }
        leave(victim, 'rejected');
        victim.reject('pushed-out');
      }
      // A class that was idle does not bank credit for the time it had nothing to send.
      if (counts[r] === 0) pass[r] = Math.max(pass[r] as number, virtualTime);
      w.state = 'queued';
      w.enqueuedAt = now;
      const i = qOf(w);
      (queues[i] as Waiter[]).push(w);
      live[i] = (live[i] as number) + 1;
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
      for (let i = 0; i < Q; i++) {
        const q = queues[i] as Waiter[];
        while ((heads[i] as number) < q.length) {
          const w = q[heads[i] as number] as Waiter;
          if (w.state === 'queued' && w.enqueuedAt > limit) break;
          heads[i] = (heads[i] as number) + 1;
          if (w.state !== 'queued') continue;
          leave(w, 'rejected');
          n++;
          w.reject('queue-timeout');
        }
        compact(i);
      }
      return n;
    },
    oldestWaitMs(now) {
      if (queued === 0) return 0;
      let oldest = now;
      for (let i = 0; i < Q; i++) {
        const q = queues[i] as Waiter[];
        for (let j = heads[i] as number; j < q.length; j++) {
          const w = q[j] as Waiter;
          if (w.state !== 'queued') continue;
          if (w.enqueuedAt < oldest) oldest = w.enqueuedAt;
          break;
        }
      }
      return now - oldest;
    },
    get inFlight() { return inFlight; },
    get queued() { return queued; },
  };
  return self;
}
