/**
 * Identity pace: how many requests one identity (a reputation or clearance token) sent in the
 * last few seconds, as a level on a doubling scale — the lighter, the sooner it is served when
 * requests must wait.
 *
 * Why: a bot that browsed like a customer, kept its cookies or solved a challenge holds the same
 * token a customer holds; nothing in one request separates them. What separates them is pace: a
 * person reads a page before the next one, a flooding bot does not. Serving the lightest
 * identities first within a standing is least-attained-service scheduling, the idea behind the
 * sparse-flow priority of FQ-CoDel (RFC 8290 §4.1, new flows before old): it needs no learned or
 * hand-set threshold — under saturation the heaviest identities wait and are pushed out first,
 * whatever their absolute rate, and with spare capacity nothing changes.
 *
 * The count is at least the identity's requests still open (sent and not answered): a bot
 * holding 16 connections that each wait in our queue sends only as fast as it is answered, so the
 * longer it waits the lighter its rate looks — but it always has 16 requests open, a person one or
 * two (by Little's law, open requests = rate × wait: under queueing they show the offered load the
 * completed rate hides). Requests the client pipelined behind the one being counted are open too
 * (`ahead`): served one at a time (listener/pipelining.ts), a connection that wrote 16 requests
 * ahead holds 16 while the shield has seen one (drill pipeline-solver: bots holding 64 requests on
 * 4 connections were at pace 0–1).
 *
 * Two lines on the same doubling scale: `lightRequests` for the windowed count, which the shield
 * raises to what the site's customers were learned to send (pace-profile.ts: a dashboard that
 * fetches ten things at once), and `openLightRequests` for requests open at once, which it does not
 * (a browser holds six connections to a host, whatever the page).
 *
 * Counts are per identity over every route: a flood spread across route classes must not look
 * light on each of them. Window: two buckets of `bucketMs`, a
 * sliding estimate in between (as a sliding-window rate limiter does). Memory is bounded: stale
 * identities are swept once per bucket and at most `maxKeys` are tracked (beyond, new identities
 * count as light — their token is still rate-limited and revocable by the per-token limit).
 *
 * Pure: the caller passes `now` (monotonic ms).
 */

/** Pace levels: 0 = light … LEVELS - 1 = heaviest. */
export const PACE_LEVELS = 5;

export interface PaceParams {
  /** Bucket length; the sliding window is one bucket long, estimated across two. */
  readonly bucketMs: number;
  /** Requests in a window below which an identity is light (level 0); each level doubles it. */
  readonly lightRequests: number;
  /**
   * Requests open at once below which an identity is light, on the same doubling scale; default
   * `lightRequests`. Kept apart because a learned `lightRequests` (pace-profile.ts) follows how many
   * requests the site's pages make, while what a browser holds open at once does not (six
   * connections to a host over HTTP/1.1, however heavy the page).
   */
  readonly openLightRequests?: number;
  /** Identities tracked at most (per tracker, all classes together). */
  readonly maxKeys: number;
}

export const DEFAULT_PACE: PaceParams = Object.freeze({ bucketMs: 5000, lightRequests: 4, maxKeys: 200_000 });

export interface IdentityPace {
  /**
   * Counts one request of `key` at `now`, open until `done`; returns its pace level. `ahead`:
   * requests of the same client already sent that no filter has seen yet (pipelined behind this
   * one on its connection), counted as open for this reading. `learn`: the identity's completed
   * buckets go to the tracker's bucket sink (a reputation from normal times: what customers send).
   * `weight`: the requests this one counts as in the window (detect/request-cost.ts: a search of
   * many terms costs the origin a dozen pages); the sink still learns it as one request sent. The
   * level returned reads this request's own weight as at most the light line (`ownWeight`).
   */
  hit(key: string, now: number, ahead?: number, learn?: boolean, weight?: number): number;
  /** A request counted by `hit` was answered (or abandoned). */
  done(key: string): void;
  /**
   * Adds `delta` (negative: takes it back) to what `key` has open without counting a request sent:
   * messages its client wrote that wait, read and held, behind the one being served (a tunnel's
   * backlog, listener/tunnels.ts). Open, they keep the identity tracked until taken back.
   */
  hold(key: string, delta: number, now: number): void;
  /** Counts `n` more requests of an identity already tracked (a failed login weighs more than a page). */
  charge(key: string, n: number, now: number): void;
  /** Requests of `key` over the sliding window, or those still open if more, without counting one. */
  estimate(key: string, now: number): number;
  /**
   * The pace level of `key` now, without counting a request; `ahead` as for `hit`. `own`: the
   * weight of a request already counted that this reading judges (it waits): read as `hit` reads it.
   */
  level(key: string, now: number, ahead?: number, own?: number): number;
  /** Identities tracked now. */
  readonly size: number;
}

interface Entry {
  epoch: number; cur: number; prev: number; open: number;
  /** Requests of `cur` that `charge` added (a refused login's weight), not requests sent. */
  charged: number;
  /** Completed buckets go to the sink. */
  learn: boolean;
}

/**
 * What a request's own weight counts in the level it is judged at: at most the light line — one
 * costly request makes its sender busy (level 1), never a flood by itself; what it cost counts in
 * full for the sender's next requests. Least attained service orders a job by the service its
 * owner had before it and charges the job after (Nuyens, Wierman 2008): judged at its full weight,
 * a customer's one search typed as a sentence — eight lookups at the origin — ranked with the
 * flood's searches (pace 2, behind every light request and capped under attack: rule 5), and was
 * abandoned behind them (drill `costly-search` and a flash crowd whose customers search in
 * sentences: fiftieth session). A crowd of bots that each send one costly search is still bounded
 * per part and per kind by the cost probe (upstream/cost-probe.ts), not by their pace.
 */
export const ownWeight = (weight: number, lightRequests: number): number => Math.min(weight, Math.max(1, lightRequests));

/** The level of a window count on the doubling scale: < light → 0, < 2·light → 1, < 4·light → 2, else 3. */
export function paceLevel(count: number, lightRequests: number): number {
  let level = 0;
  let bound = lightRequests;
  while (level < PACE_LEVELS - 1 && count >= bound) { level++; bound *= 2; }
  return level;
}

/**
 * `settings` is read on every call, so a configuration reload applies at once. `onBucket` gets the
 * requests a learning identity sent in each of its buckets once the bucket is over (within two
 * buckets of its end: at the identity's next request or at the sweep that drops it).
 */
export function createIdentityPace(settings: () => PaceParams = () => DEFAULT_PACE, onBucket?: (requests: number, now: number) => void): IdentityPace {
  const map = new Map<string, Entry>();
  let sweptEpoch = -1;

  const epochOf = (now: number, bucketMs: number): number => Math.floor(now / bucketMs);

  const report = (e: Entry, now: number): void => {
    const sent = e.cur - e.charged;
    if (e.learn && sent > 0) onBucket?.(sent, now);
  };

  // Drops identities silent for a whole window: they would count 0 anyway. O(n) once per bucket.
  const sweep = (epoch: number, now: number): void => {
    sweptEpoch = epoch;
    for (const [k, e] of map) if (e.epoch < epoch - 1 && e.open === 0) { report(e, now); map.delete(k); }
  };

  const roll = (e: Entry, epoch: number, now: number): void => {
    if (e.epoch === epoch) return;
    report(e, now);
    e.prev = e.epoch === epoch - 1 ? e.cur : 0;
    e.cur = 0;
    e.charged = 0;
    e.epoch = epoch;
  };

  // The previous bucket counts for the share of it still inside the sliding window.
  const windowCount = (prev: number, cur: number, now: number, epoch: number, bucketMs: number): number =>
    prev * (1 - (now - epoch * bucketMs) / bucketMs) + cur;

  // Without counting: an entry last touched in the previous bucket has that bucket as `prev` now.
  const windowOf = (e: Entry, now: number, bucketMs: number): number => {
    const epoch = epochOf(now, bucketMs);
    if (e.epoch === epoch) return windowCount(e.prev, e.cur, now, epoch, bucketMs);
    return e.epoch === epoch - 1 ? windowCount(e.cur, 0, now, epoch, bucketMs) : 0;
  };
  const estimate = (key: string, now: number, bucketMs: number, ahead = 0): number => {
    const e = map.get(key);
    return e === undefined ? ahead : Math.max(windowOf(e, now, bucketMs), e.open + ahead);
  };
  // The heavier of the two readings, each on its own line.
  const levelOf = (window: number, open: number, p: PaceParams): number =>
    Math.max(paceLevel(window, p.lightRequests), paceLevel(open, p.openLightRequests ?? p.lightRequests));

  return {
    get size() { return map.size; },
    hit(key, now, ahead = 0, learn = false, weight = 1) {
      const params = settings();
      const epoch = epochOf(now, params.bucketMs);
      if (epoch !== sweptEpoch) sweep(epoch, now);
      let e = map.get(key);
      if (e === undefined) {
        if (map.size >= params.maxKeys) return levelOf(ownWeight(weight, params.lightRequests), 1 + ahead, params);
        e = { epoch, cur: 0, prev: 0, open: 0, charged: 0, learn };
        map.set(key, e);
      } else {
        roll(e, epoch, now);
        if (learn) e.learn = true;
      }
      e.cur += weight;
      e.charged += weight - 1;
      e.open++;
      const window = windowCount(e.prev, e.cur, now, epoch, params.bucketMs) - weight + ownWeight(weight, params.lightRequests);
      return levelOf(window, e.open + ahead, params);
    },
    done(key) {
      const e = map.get(key);
      if (e !== undefined && e.open > 0) e.open--;
    },
    hold(key, delta, now) {
      let e = map.get(key);
      if (e === undefined) {
        if (delta <= 0 || map.size >= settings().maxKeys) return;
        e = { epoch: epochOf(now, settings().bucketMs), cur: 0, prev: 0, open: 0, charged: 0, learn: false };
        map.set(key, e);
      }
      e.open = Math.max(0, e.open + delta);
    },
    charge(key, n, now) {
      const e = map.get(key);
      if (e === undefined) return;
      roll(e, epochOf(now, settings().bucketMs), now);
      e.cur += n;
      e.charged += n;
    },
    level(key, now, ahead = 0, own = 1) {
      const params = settings();
      const e = map.get(key);
      if (e === undefined) return levelOf(0, ahead, params);
      const counted = windowOf(e, now, params.bucketMs);
      // What the judged request cost may have partly left the window already: never below its own reading.
      const window = own === 1 ? counted : Math.max(0, counted - own) + ownWeight(own, params.lightRequests);
      return levelOf(window, e.open + ahead, params);
    },
    estimate: (key, now) => estimate(key, now, settings().bucketMs),
  };
}
