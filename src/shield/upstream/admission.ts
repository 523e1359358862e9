/**
 * Admission to one upstream: at most `maxInFlight` requests at once (its connection pool), a
 * bounded wait queue, and a queue timeout — like HAProxy's per-server `maxconn` + `timeout queue`,
 * never an unbounded backlog inside the proxy.
 *
 * Who goes next when a slot frees:
 * 1. **Group** (strict), each at a customer's pace (0–1, see detect/identity-pace.ts) unless said:
 *    a. a reputation from normal times (customers known before the attack);
 *    b. an identity minted during the attack (a proof-of-work, the no-JavaScript cookie);
 *    c. no token at all;
 *    d. heavier paces (2, 3, 4), with or without a token, heaviest last.
 *    Under a flood of ten times the upstream's capacity the queue is always full of the flood, so
 *    only a strict order keeps customers ahead of it: a head start shorter than the queue's
 *    standing wait is lost. That holds between (a) and (b) too: 200 bots that each solved a
 *    challenge, or followed the no-JavaScript redirect, send their first requests at a customer's
 *    pace — ~40 req/s of "light" identities against an origin serving 25 — and the backlog of
 *    such requests grew to seconds, which customers with a reputation then waited behind
 *    (challenge-solver drill: tracking p99 4.5 s with a 750 ms head start, 0.5 s strict).
 *    Floods aimed at one class (a login POST flood hits a critical route) are in a later group
 *    whatever class they aim at.
 * 2. **(a) and (b) share, within a bound, while (b) behaves like people** (`knownFirstMs`): a
 *    flash crowd is taken for an attack too (arrivals 5×); its newcomers get the no-JavaScript
 *    cookie and land in (b). Strictly behind the known users — who, served at once, come back
 *    sooner and take more of the capacity — their pages queued past the 5 s patience:
 *    flash-crowd drill 80–96%, where HAProxy's FIFO (everyone ~3 s) lost nobody. So (a) and (b)
 *    are served together by deadline, except that a known client's request that has waited its
 *    class's bound (critical 0, high 750 ms, normal 3 s, low 3.5 s) goes first: a known
 *    customer never waits more than that behind newcomers, and newcomers are not starved
 *    (flash-crowd drill 99.9–100%). A shorter bound gives the known customers a shorter wait
 *    than the crowd's shared one, and they come back for more sooner: at 2 s for the normal
 *    class the newcomers' pages waited up to 5 s (98.9–99.7%, twenty-ninth session).
 *    A newcomer's request ages too (`MINTED_OVERDUE_MS`): a (b) request that has waited its
 *    class's bound — the normal class's for the critical and high classes — and half a second
 *    more goes first as well, so past both bounds the newcomers wait about half a second longer
 *    than the known customers rather than absorbing the whole of a crowd's excess (flash-crowd
 *    drill 98.1–99.6% → 99.6–100%, thirty-seventh session, at a second; a shield that learned
 *    normal traffic first lost 3 of 8 runs under 99% at a second, none of 5 at half a second,
 *    forty-sixth), and no newcomer's request waits for as long as someone else is overdue
 *    (`MINTED_AGING_RANK`).
 *    It holds only while (b) looks like a crowd of people:
 *    - its requests arrive no faster than 1.5× what the upstream completes (people wait for
 *      their pages; a crowd's newcomers stayed under 1.1×, 200 challenge-solving bots sent 1.5–6.4×
 *      from their first second), and
 *    - at most a fifth of the (b) requests reaching the head turned out to flood (pace 2+ by then),
 *      and
 *    - (b)'s tunnel work waiting (WebSocket handshakes, messages) holds at most 6 s of what the
 *      upstream completes (a burst of handshakes queued at once and left waiting is no crowd once
 *      its arrivals have decayed: MINTED_BACKLOG_MAX_S);
 *    otherwise (a) is strictly first again. Bots at a customer's pace from many addresses, under
 *    1.5× the upstream, can keep the shared mode: they delay known customers by the bound, never
 *    more, and starve no one.
 * 3. **Within a group, the earliest deadline**: arrival plus an offset by class (critical 0,
 *    high 250 ms, normal 500 ms, low 1 s by default) and by what the token proves (established 0,
 *    recent reputation 250 ms; proof-of-work and no-JavaScript cookie 1 s; a pace of 4–7
 *    requests in 5 s 500 ms more, 200 ms for an established reputation or a critical request) — HAProxy's
 *    `set-priority-offset`. Priority is bounded: a payment
 *    overtakes tracking pages that came up to 500 ms before it, never the whole queue. In a flash
 *    crowd weighted class shares served the banking pages' share and timed out the newcomers'
 *    tracking pages (normal class 47–65% success); bounded offsets keep first come, first served
 *    within about a second.
 * 3b. **While (a) goes strictly first** (rule 2's measures say the minted group floods), **group
 *    (b)'s critical requests go before its other classes**, not by a bounded head start. In that
 *    mode (b)'s share is what (a) leaves, and its queue holds each bot's first requests at a
 *    customer's pace — sent the moment the shield answered what they had queued before the first
 *    challenge, ahead of the people arriving in the next seconds. A newcomer's login (a POST on a
 *    critical route) then waited behind that backlog's pages, 1.6–4.0 s (newcomers-under-attack
 *    drill: critical p99 16× the no-attack baseline, docs/benchmarks.md, twenty-eighth session).
 *    Not a lane for floods: a flood on a critical route leaves group (b) within its first requests
 *    (its pace; a form submitted without its page counts as a flood's), and in the shared mode — a
 *    flash crowd — the head starts alone decide, as weighted classes starved its tracking pages.
 * 4. **Requests with no token queued before the first challenge** are answered with the challenge
 *    they would get now (`rechallenge`), once challenges begin: they never had a token to show,
 *    and would otherwise wait behind every token holder until they time out (a flash crowd's
 *    first page loads). A browser follows the no-JavaScript redirect at once; a flood that does
 *    not never comes back.
 *
 * 5. **Flooding paces leave headroom under attack.** While challenges are on, a waiter of groups
 *    (d) (pace 2+) starts only while fewer than half the limit is in flight, even with nobody
 *    better waiting: a scavenger class. Admission alone is work-conserving, and a slot the flood
 *    takes is a slot a customer arriving a moment later waits behind — at the origin, where
 *    standing no longer counts (challenge-solver drill, 45 s: ~11 flood requests/s served all along
 *    and the customers' logins waited behind them, critical p99 2.9× the no-attack baseline).
 *    In normal times a heavy client is only busy, and is served as soon as a slot is free.
 *
 * 6. **Tunnel messages take at most half the limit under attack while requests wait**
 *    (message-admission.ts). A message is placed by its sender's token like a request, but bots
 *    that browsed like customers hold the same standing as the customers who came after them (the
 *    no-JavaScript cookie, once the warm-up itself had put the site under attack), and 200 tunnels
 *    at one message a second each are four times a small origin's capacity while every tunnel is
 *    at a person's pace: per identity nothing sets them apart, and the customers' pages waited
 *    behind their messages until they gave up (websocket-browse-flood drill, docs/benchmarks.md).
 *    An aggregate bound on the kind of work, as on a prefix or a fingerprint that jumped: while
 *    challenges are on and half the limit is held by messages, a waiting request of the same group
 *    or a better one goes before any message; with no request to start, messages take the free
 *    slots (work-conserving). A known customer's tunnel work does not wait behind the minted
 *    group's pages: past the half, its handshakes waited to the 5 s patience behind them
 *    (websocket-browse-flood, thirty-eighth session: 94.0 / 96.2% → 95.5 / 97.6%). Customers'
 *    own messages share that half with the flood's, ordered by tier as before. A WebSocket
 *    handshake is tunnel work too (handshake-admission.ts): it opens a channel, and the bots'
 *    handshakes at the onset were the backlog customers' pages waited behind.
 *
 * 7. **Past a person's patience, group (b) goes newest first** (`patienceMs`, 6 s). People give up
 *    on a page after seconds — they reload or leave, and the browser closes the request, which
 *    leaves the queue (`cancel`). What still waits in (b) after 6 s, in numbers, is clients that
 *    never give up: load tools looping one request per connection (k6 waits 60 s by default), not
 *    the few browsers a crowd keeps waiting for a stylesheet or a login (MINTED_STALE_MASS_S). 600
 *    such bots holding the no-JavaScript cookie or a clearance are 600 (b) requests waiting at all
 *    times, each at a person's pace, arriving as fast as they are answered (a closed loop): rule 2
 *    read them as a crowd, their requests aged past every bound and went before known customers'
 *    overdue pages, and first come, first served put every newcomer behind 7–10 s of them
 *    (closed-loop drill: 75–78% legitimate success). While more (b) requests than the upstream
 *    completes in 2 s have waited that long, and for one queue timeout after, (a) is strictly
 *    first (rule 2) and (b)'s requests go newest first, the class offsets mirrored — adaptive LIFO:
 *    under a wait longer than people stay, the oldest requests are those nobody waits for any more
 *    (90.1 / 90.2%). Tunnel work keeps its order (rules 2 and 6 bound it).
 *
 * 8. **While (b)'s busy identities flood, its pace 0 goes strictly before its pace 1**
 *    (MINTED_BUSY_MAX): when (b)'s requests at pace 1 arrive faster than the upstream completes
 *    and are at least half of (b)'s arrivals. A person is busy for a moment; a crowd busy all the
 *    time is a flood at a customer's pace, and pace 1's head start is lost under its standing
 *    queue (rule 1). Critical requests first still (rule 3b): critical pace 0, critical pace 1,
 *    then the other classes' pace 0, then their pace 1.
 *
 * When the queue is full, the worst group loses its newest waiter (its oldest while served newest
 * first, rule 7), from the class most over its share by `weights` (lowest class first); an arrival
 * of a better group pushes out a worse one, and while rule 8 holds a (b) arrival at pace 0 pushes
 * out a (b) waiter at pace 1 that it would be served before.
 *
 * Pure: no timers, no I/O; the caller passes `now` and runs `expire` on a ticker.
 */

/** Why a waiting request was turned away. */
export type AdmissionRejection = 'queue-full' | 'queue-timeout' | 'pushed-out';

/** A request waiting for an upstream slot. */
export interface Waiter {
  /** 0 = critical, 1 = high, 2 = normal, 3 = low. */
  readonly rank: number;
  /** Standing and pace, see `tierFor` (0 = best); absent = the worst. */
  readonly tier?: number;
  /** Whatever the queue's `retier` hook needs to judge this waiter again (the request context). */
  readonly subject?: unknown;
  /**
   * The waiter's tier now, for one that can tell it itself (a tunnel's message: its sender's pace
   * now, message-admission.ts); read at the head instead of the `retier` hook, when there is one.
   */
  readonly tierNow?: () => number;
  /** Tunnel work — a WebSocket message or handshake — rather than a request (rule 6); its slot is released with `release(now, true)`. */
  readonly message?: boolean;
  /**
   * Typical requests of its kind this one costs the upstream (detect/request-cost.ts), 1 by
   * default: while it is in flight, rule 5 counts it as that many. Released with `release(now, false, cost)`.
   */
  readonly cost?: number;
  enqueuedAt: number;
  /**
   * Asked when the queue is about to start it: true when it steps out instead (the cost probe
   * holds it, upstream/cost-probe.ts), to be admitted again later; its slot goes to the next.
   */
  defer?(now: number): boolean;
  /** Managed by the queue. */
  state: 'new' | 'queued' | 'started' | 'rejected' | 'cancelled';
  /** Managed by the queue: the tier it is filed under once the `retier` hook moved it down. */
  filed?: number;
  start(): void;
  reject(why: AdmissionRejection): void;
  /**
   * Answers this waiter with the challenge its request would get now, and says whether it did (it
   * then leaves the queue). Offered once to requests with no token queued before the first
   * challenge of an attack: they were queued when nobody was asked for anything, and would
   * otherwise wait behind every token holder until they time out.
   */
  rechallenge?(): boolean;
}

export interface AdmissionParams {
  maxInFlight: number;
  maxQueue: number;
  queueTimeoutMs: number;
  /**
   * Deadline offset by rank (critical, high, normal, low), ms: a request is served as if it
   * arrived that much later. Default CLASS_OFFSETS_MS.
   */
  offsetsMs?: readonly number[];
  /** Shares of the queue by rank when it is full (who is pushed out first); default CLASS_WEIGHTS. */
  weights?: readonly number[];
  /**
   * A waiter's standing now (it may have fallen since it was queued: its identity kept flooding).
   * Read when the waiter reaches the head of its queue; a worse tier moves it there.
   */
  retier?: (w: Waiter) => number;
  /**
   * Bounded priority of reputations over identities minted during an attack, ms by rank: group (a)
   * and group (b) are served together by deadline, except that a reputation whose request has waited
   * this long goes first. Absent: (a) strictly before (b).
   */
  knownFirstMs?: readonly number[];
  /**
   * Since when (ms, the queue's clock) clients with no token are challenged; -Infinity when they
   * are not. Waiters with no token queued before then are offered their `rechallenge`.
   */
  challengesSince?: () => number;
  /**
   * Changes whenever the challenge a request would get may have changed (a class's attack phase, a
   * mitigation added or lifted: the detector's `policyVersion`). The waiters queued before the
   * first challenge are offered theirs again then: a class still normal when challenges began
   * elsewhere gave them none, and a second later it is under attack too (a warm shield's arrival
   * rate makes one class suspect a second before saturation makes the others).
   */
  policyVersion?: () => number;
  /**
   * A minted identity's request waiting longer than this has outlived its client's patience (rule
   * 7); default MINTED_STALE_MS. Sites whose customers wait longer for an answer (an app with a 30 s
   * timeout) raise it; at or above `queueTimeoutMs` rule 7 never holds.
   */
  patienceMs?: number;
}

/** The admission state of one upstream. */
export interface AdmissionQueue {
  /**
   * Starts the waiter now, queues it, or rejects it; returns which. `since`: a waiter admitted
   * again (the cost probe let it go) keeps its arrival — its timeout counts from it and it is
   * filed among its queue's waiters by it, not behind those that came while it was held.
   */
  admit(w: Waiter, now: number, since?: number): 'started' | 'queued' | 'rejected';
  /** A started request (or, with `message`, a message) finished: frees its slot and starts the next waiter, if any. `cost`: the waiter's. */
  release(now: number, message?: boolean, cost?: number): void;
  /** A queued waiter's client left: it gives up its place. */
  cancel(w: Waiter): void;
  /** Rejects waiters that waited longer than the queue timeout; returns how many. */
  expire(now: number): number;
  /** How long the oldest waiter has waited, ms (0 when none waits). */
  oldestWaitMs(now: number): number;
  /** How long requests have been waiting without the queue emptying, ms (0 when none waits). */
  standingMs(now: number): number;
  /**
   * Pressure since the previous read (the detector reads once per second), and starts the next
   * interval. Averaged over the interval, not sampled at one instant: a site's own bursts put a
   * small upstream at its limit for a few milliseconds many times a second, and one sample that
   * fell on such an instant read as saturation (a 60 s run with no attack was put under attack).
   */
  readPressure(now: number): UpstreamPressure;
  readonly inFlight: number;
  /** Of `inFlight`, the tunnels' work: messages and handshakes (rule 6). */
  readonly messagesInFlight: number;
  readonly queued: number;
  /**
   * Whether customers known before the attack go strictly first now (rule 2: the minted group
   * floods), rather than sharing with it within `knownFirstMs`. Always true without that bound.
   */
  knownStrict(now: number): boolean;
  /** What rule 2 reads now, and why it holds: for the operator (`admission:mode` events, `GET /api/state`). */
  mode(now: number): AdmissionMode;
  params: AdmissionParams;
}

/**
 * Rule 2's reading of one upstream's queue: whether known customers go strictly first, and the
 * measures it compared. `why` names the first measure over its bound (`shared` when none is).
 */
export interface AdmissionMode {
  readonly strict: boolean;
  readonly why: 'no-bound' | 'flooding' | 'load' | 'backlog' | 'stale' | 'shared';
  /** Of the minted group's requests reaching the head, the share that turned out to flood (bound 0.2). */
  readonly floodingShare: number;
  /** The minted group's arrivals over the upstream's completions (bound 1.5). */
  readonly mintedLoad: number;
  /** The minted group's tunnel work waiting, in seconds of completions (bound 6). */
  readonly backlogS: number;
  /** Rule 7: enough minted requests waited past a person's patience; the group goes newest first. */
  readonly newestFirst: boolean;
}

/** What the admission queue of one upstream measured over an interval. */
export interface UpstreamPressure {
  /** Share of the interval the upstream was at its concurrency limit (a new request would wait), 0–1. */
  readonly saturation: number;
  /**
   * The oldest waiter's wait now, ms, if requests waited throughout the interval (the queue never
   * emptied: a standing queue, RFC 8289 §3); 0 when it emptied at some point — a burst it absorbed.
   */
  readonly queueWaitMs: number;
}

/** A route class's rank in the queue (0 = critical … 3 = low); `none` (no route matched) is low. */
export const CLASS_RANK: Readonly<Record<'critical' | 'high' | 'normal' | 'low' | 'none', number>> = Object.freeze({ critical: 0, high: 1, normal: 2, low: 3, none: 3 });
/** Default shares of a full queue by rank (critical, high, normal, low): the lowest class is pushed out first. */
export const CLASS_WEIGHTS: readonly number[] = Object.freeze([8, 4, 2, 1]);
/** Default deadline offsets by rank (critical, high, normal, low), ms. */
export const CLASS_OFFSETS_MS: readonly number[] = Object.freeze([0, 250, 500, 1000]);
const RANKS = CLASS_WEIGHTS.length;

/** What a request's token proves, best first (set by the clearance filter). */
export const STANDING = Object.freeze({
  /** A reputation from normal times, older than the minimum age: a customer known before the attack. */
  established: 0,
  /** A younger reputation from normal times. */
  recent: 1,
  /** A proof-of-work solved during the attack: it proves work, not history. */
  cleared: 2,
  /** The no-JavaScript cookie: anyone who follows a redirect. */
  checked: 3,
  /** No token at all. */
  anonymous: 4,
});

// Tiers: 0–3 are reputations (established, recent) at pace 0–1 (group 0), 4–7 identities minted
// during the attack (proof-of-work, no-JS cookie) at pace 0–1 (group 1), each with its head start;
// 8 is no token at pace 0–1 (group 2); 9–11 are paces 2, 3, 4 (groups 3–5), with or without a token
// (a request with no token is paced by its source, filters/request/clearance.ts).
// ms behind an established customer. A proof-of-work and the no-JavaScript cookie start level:
// both are minted during the attack and neither proves a person. While the site asks only for the
// no-JavaScript check, a proof-of-work is what a source over its address's rate was asked instead
// (filters/request/clearance.ts): ranking it first put challenge-solving bots before the newcomers
// who had simply followed the redirect (newcomers-under-attack drill: the bots' clearances went
// before newcomers' pages queued at the same time). When the site asks everyone for work, everyone
// new holds one and nothing changes.
const HEAD_START_BY_STANDING = [0, 250, 1000, 1000];
// A token at pace 1 (4–7 requests in 5 s) waits this much more, by standing. An established
// customer's busy moment (a login's page, POST and redirect; a page and its assets) must not put
// it behind reputations minutes old at pace 0 — bots that browsed just before their flood send
// their first requests light, about 300 of them in the flood's first second (browse-then-flood,
// --known-customers: an established customer's account page waited 306 ms behind them at 500):
// among light paces, what a token proves about the past ranks before its pace.
const PACE_ONE_MS_BY_STANDING = [200, 500, 500, 500];
// A critical request at pace 1 waits no more than an established customer's would, whatever its
// standing: within one standing, among light paces, the class an operator declared critical ranks
// before pace. A login is a busy moment by nature (the page, the POST, the redirect) and a payment
// page polls its status about once a second, both pace 1; at 500 ms a login ranked level with
// the pages of the same standing queued beside it and waited for them (browse-then-flood, the
// onset: a login queued 452 ms behind five customers' tracking pages and four bots' first requests).
const CRITICAL_PACE_ONE_MS = 200;
/** Number of distinct tiers. */
export const TIERS = 12;
const GROUP_OF: readonly number[] = [0, 0, 0, 0, 1, 1, 1, 1, 2, 3, 4, 5];
const GROUPS = 6;
/** Head start of a tier within class rank `r` (0 = critical), ms later: its standing's, and its pace-1 cost. */
const headStart = (r: number, t: number): number => {
  if (t >= 8) return 0;
  const paceOne = Math.min(PACE_ONE_MS_BY_STANDING[t >> 1] as number, r === 0 ? CRITICAL_PACE_ONE_MS : Infinity);
  return (HEAD_START_BY_STANDING[t >> 1] as number) + (t & 1) * paceOne;
};
/** Tier 0 … TIERS - 1 of a request by standing (STANDING) and pace level (0–4). */
export function tierFor(standing: number, pace: number): number {
  if (pace <= 1) return standing >= STANDING.anonymous ? ANONYMOUS_TIER : Math.max(0, standing) * 2 + Math.max(0, pace);
  return Math.min(TIERS - 1, 7 + pace);
}
/** A tier of group 0: a reputation from before the attack, at a customer's pace. */
export const reputationTier = (t: number): boolean => t >= 0 && GROUP_OF[t] === 0;
/** The tier of a request with no token (and of every request when detection is off). */
export const ANONYMOUS_TIER = 8;
/** The pace level a tier was filed at (0–1 for tiers up to the anonymous one, 2–4 above). */
export const paceOfTier = (t: number): number => (t > ANONYMOUS_TIER ? t - 7 : t === ANONYMOUS_TIER ? 0 : t & 1);
/**
 * The tier a logged-in customer's request (a session the origin issued, on a route that is not
 * critical: reputation/sessions.ts) waits at: its cookies' own tier while newcomers share the
 * upstream like a crowd, an established customer's at the same pace while the minted group floods
 * and known customers go strictly first (`knownStrict`). Established in both, the customers who
 * logged in during a flash crowd took its capacity (flash-crowd drill: 97.9% on seed 1); in neither,
 * their account pages waited seconds behind bots holding the same no-JavaScript standing
 * (websocket-browse-flood drill: high p99 ~8.5 s against ~0.9 s).
 */
export const sessionTier = (tier: number, strict: boolean): number => (strict ? tierFor(STANDING.established, paceOfTier(tier)) : tier);
/** The worst tier: a token just revoked for flooding. */
export const WORST_TIER = TIERS - 1;

/** A full queue's token holders are judged again at most this often (`refile`). */
const REFILE_MS = 100;
/** Group (b)'s tiers at pace 1, the one with the latest head start first (rule 8). */
const BUSY_MINTED_TIERS: readonly number[] = Object.freeze([7, 5]);
/** The first group of flooding paces (tiers 9+): capped under attack (rule 5). */
const FLOOD_GROUP = 3;
/** Under attack, flooding paces start only while fewer than this share of the limit is in flight. */
const FLOOD_HEADROOM = 0.5;
/** Under attack, messages take at most this share of the limit while requests wait (rule 6). */
const MESSAGE_SHARE = 0.5;
/**
 * In the shared mode (rule 2), how much longer than a reputation's bound a minted identity's
 * request waits before it goes first too. Without it, the bound made the newcomers absorb the
 * whole of a crowd's excess: known customers were capped at their bound and the newcomers' pages
 * queued at the crowd's peak reached the 5 s patience (flash-crowd drill, thirty-seventh session:
 * 9 tracking pages queued within 0.2 s of the peak, at 4.95–5.0 s; HAProxy's FIFO ~3.4 s for
 * everyone). Priority aging: past both bounds, a newcomer waits at most this much longer than a
 * known customer.
 *
 * Half a second, not a second: on a shield that learned normal traffic first, every customer of
 * the 40 s before the crowd is known, the known group's overdue pages fill the queue at the
 * crowd's peak, and a second more put the newcomers' pages queued there past 5 s (flash crowd,
 * `--duration 60 --lead 40`: 97.8–100%, 3 of 8 runs under 99%, 0–18 pages abandoned at 4.9–5.0 s;
 * at 500 ms 100% on each of 5 seeds, none abandoned; at 0 the same). The queue is at the edge of
 * a person's patience for everyone then, and a newcomer's page is a person's page too.
 * Under attack, where bots at a person's pace keep the shared mode, no worse over four seeds:
 * closed-loop 88.4 → 88.0% (mean), newcomers-under-attack 96.2 → 96.8% (forty-sixth session).
 */
export const MINTED_OVERDUE_MS = 500;
/** The shortest interval `readPressure` judges (the detector reads once a second). */
const MIN_PRESSURE_SPAN_MS = 250;
/**
 * The class whose bound a minted identity's request never ages later than (2: normal): a
 * newcomer's login or banking page ages with its tracking pages, not sooner and never not at all.
 * Sooner cost the crowd's tracking pages, which wait at the edge of a person's patience in a flash
 * crowd: critical at 0 / 1 / 2 s, flash-crowd drill 97.2–98.8% against 99.4–100% (thirty-eighth
 * session); critical and high at 1 s and 1.75 s, 94.6–96.0% (thirty-seventh). Never, a newcomer's
 * account page waited for as long as someone else was overdue — under a standing overload, to
 * its 10 s timeout (newcomers-under-attack at 40 req/s; the flash crowd lost 1–4 of them a run).
 */
const MINTED_AGING_RANK = 2;
/** Past this share of (b) heads found flooding, (a) goes strictly first again. */
const MINTED_FLOODING_MAX = 0.2;
/** Past this ratio of (b) arrivals to upstream completions, (a) goes strictly first again. */
const MINTED_LOAD_MAX = 1.5;
/**
 * Below this decayed count of (b) arrivals (about 3.5 requests/s), no ratio makes them a flood;
 * below this many (b) tunnel waiters, no backlog does (and there may be no completion yet).
 */
const MINTED_LOAD_MIN = 10;
/**
 * Past this backlog of (b)'s tunnel work, in seconds of what the upstream completes, (a) goes
 * strictly first again. 600 WebSocket handshakes opened in a second by 200 bots that had browsed
 * like customers held 10–12 s, and once their arrivals had decayed the load ratio read them as
 * people — served by age with the known customers, whose live-tracking handshakes then waited to
 * their patience behind them (websocket-browse-flood, thirty-ninth session). A person's live page
 * opens one tunnel and sends one message at a time. Pages are not counted: a crowd's backlog of
 * pages is people waiting for what they asked, and past five times the usual users it grows past
 * any bound — counted, the strict mode it set off cost a flash crowd of eight and ten times 5 and
 * 9 points (74.7 / 57.1% → 67.9 / 47.0%, seed 1).
 */
const MINTED_BACKLOG_MAX_S = 6;
/**
 * A (b) request older than this has outlived a person's patience (rule 7): people give up on a
 * page after a few seconds — they reload or leave, and either way the browser closes the request,
 * which leaves the queue (`cancel`). What still waits past it is a client that never gives up: a
 * load tool looping one request per connection (k6, wrk, most botnet HTTP tools wait for their
 * answer, k6 up to 60 s) — or a patient person's login, a stylesheet a browser keeps waiting for.
 */
const MINTED_STALE_MS = 6000; // default of AdmissionParams.patienceMs (detection.patienceMs)
/**
 * Rule 7 holds while more (b) requests than the upstream completes in this long (and at least
 * MINTED_LOAD_MIN) have waited past the patience (`patienceMs`). One stale request is not enough: in a flash
 * crowd of eight times the usual users, a few logins and stylesheets whose browsers wait longer
 * than people read waited past 6 s, and the strict mode and newest-first order they set off cost
 * the crowd ten points (74.7 → 64.4%, seed 1). 600 tools held 300–600 stale requests, 8–15 s of
 * the upstream's work.
 */
const MINTED_STALE_MASS_S = 2;
/**
 * Rule 8: past this ratio of group (b)'s pace-1 arrivals (busy identities: a customer's pace, busy)
 * to what the upstream completes — and while they are at least half of (b)'s arrivals — (b)'s
 * pace 0 goes strictly before its pace 1. A person is busy for a moment: a login's page, POST and
 * redirect; a page and its data. A crowd of identities busy all the time, sending more than the
 * upstream serves, is a flood at a customer's pace. A learned pace line (detect/pace-profile.ts)
 * puts a flood of 1–2 requests a second per source at pace 1 where the default line puts it at
 * pace 2 — and pace 1's head start (500 ms) is lost under a standing queue: the newcomers at pace 0
 * were served only once they had waited the flood's own wait less 500 ms, ~4.9 s against their
 * 5 s patience (newcomers-under-attack on a shield that had learned 40 s of traffic: 89.8%, the
 * same run on a new shield 99.2%, where the bots were at pace 2). A flash crowd's newcomers are
 * mostly at pace 0 and arrive under 1.1× the upstream's completions all told: never this.
 */
const MINTED_BUSY_MAX = 1;
/** An exponentially decayed count: `value` is about rate × halfLife / ln 2. */
function createDecayed(halfLifeMs: number): { add(now: number): void; value(now: number): number } {
  let v = 0;
  let at = 0;
  const decay = (now: number): void => { if (now > at) { v *= Math.pow(0.5, (now - at) / halfLifeMs); at = now; } };
  return { add(now) { decay(now); v += 1; }, value(now) { decay(now); return v; } };
}

/** Creates the admission queue of one upstream. */
export function createAdmissionQueue(params: AdmissionParams): AdmissionQueue {
  // One FIFO per (kind, rank, tier), requests then messages (rule 6); heads are the oldest. Arrays
  // with a moving head index avoid O(n) shift().
  const Q = RANKS * TIERS;
  const QK = 2 * Q;
  const queues: Waiter[][] = Array.from({ length: QK }, () => []);
  const heads: number[] = new Array<number>(QK).fill(0);
  const live: number[] = new Array<number>(QK).fill(0); // live waiters per (kind, rank, tier)
  const offered: number[] = new Array<number>(QK).fill(0); // index up to which `rechallenge` was offered
  let offeredAt = Number.NaN; // the policy version those offers were made under
  let versionSeenAt = -Infinity; // when (queue clock) this queue first saw that version
  const liveGroup: number[] = new Array<number>(RANKS * GROUPS).fill(0); // per (rank, group)
  const counts: number[] = new Array<number>(RANKS).fill(0); // live waiters per rank
  let inFlight = 0;
  let messagesInFlight = 0;
  // What the requests in flight cost beyond one each (Waiter.cost), for rule 5.
  let costBeyond = 0;
  let queued = 0;
  // Pressure meter (readPressure): time at the limit since the last read, and whether the queue
  // emptied in that time. Updated on every change of inFlight or queued (`meter`).
  let lastNow = 0;
  let meterFrom: number | undefined;
  let atLimitSince: number | undefined;
  let atLimitMs = 0;
  let emptied = true;
  let standingSince: number | undefined; // since when the queue has not emptied
  const meter = (now: number): void => {
    if (now > lastNow) lastNow = now;
    meterFrom ??= now;
    const atLimit = inFlight >= self.params.maxInFlight;
    if (atLimit && atLimitSince === undefined) atLimitSince = now;
    else if (!atLimit && atLimitSince !== undefined) { atLimitMs += Math.max(0, now - atLimitSince); atLimitSince = undefined; }
    if (queued === 0) { emptied = true; standingSince = undefined; } else standingSince ??= now;
  };
  // Of the group-(b) waiters that reached the head, those whose pace had climbed past a customer's
  // by then (identities minted during the attack that turn out to flood), decayed over 5 s.
  const mintedHeads = createDecayed(5000);
  const mintedFlooding = createDecayed(5000);
  const floodingShare = (now: number): number => {
    const heads = mintedHeads.value(now);
    return heads < 1 ? 0 : mintedFlooding.value(now) / heads;
  };
  const mintedArrivals = createDecayed(2000);
  const mintedBusy = createDecayed(2000); // (b) arrivals at pace 1 (rule 8)
  const completions = createDecayed(2000);
  // The (b) tunnel work waiting (kept by addLive) over the upstream's completions per second (the
  // decayed count × ln 2 / its 2 s half-life).
  let mintedTunnelWork = 0;
  const mintedBacklogS = (now: number): number =>
    mintedTunnelWork < MINTED_LOAD_MIN ? 0 : mintedTunnelWork / Math.max(1, (completions.value(now) * Math.LN2) / 2);
  // A handful of minted requests is no flood whatever the ratio (and there may be no completion yet).
  const mintedLoad = (now: number): number => {
    const arrivals = mintedArrivals.value(now);
    return arrivals < MINTED_LOAD_MIN ? 0 : arrivals / Math.max(1, completions.value(now));
  };
  // Rule 8: (b)'s busy identities flood — its pace 0 goes strictly before its pace 1.
  const mintedBusyFloods = (now: number): boolean => {
    const busy = mintedBusy.value(now);
    return busy >= MINTED_LOAD_MIN && busy * 2 >= mintedArrivals.value(now) && busy / Math.max(1, completions.value(now)) > MINTED_BUSY_MAX;
  };

  // Rule 5: flooding paces wait for headroom while challenges are on. A costly request in flight
  // counts as the requests it costs: one 8-term search holds a worker as long as eight pages, and
  // counted as one, flooding paces filled the headroom with them (drill costly-search).
  const underAttack = (): boolean => (self.params.challengesSince?.() ?? -Infinity) !== -Infinity;
  const floodCapped = (): boolean =>
    inFlight + costBeyond >= Math.max(1, Math.floor(self.params.maxInFlight * FLOOD_HEADROOM)) && underAttack();
  const started = (w: Waiter): void => {
    inFlight++;
    if (w.message === true) messagesInFlight++;
    if (w.cost !== undefined && w.cost > 1) costBeyond += w.cost - 1;
  };
  // Rule 6: messages wait for requests once they hold their share under attack.
  const messagesCapped = (): boolean =>
    messagesInFlight >= Math.max(1, Math.floor(self.params.maxInFlight * MESSAGE_SHARE)) && underAttack();
  const rankOf = (w: Waiter): number => Math.min(RANKS - 1, Math.max(0, w.rank));
  const tierOf = (w: Waiter): number => Math.min(TIERS - 1, Math.max(0, w.tier ?? TIERS - 1));
  const qOf = (w: Waiter): number => (w.message === true ? Q : 0) + rankOf(w) * TIERS + (w.filed ?? tierOf(w));
  const weight = (r: number): number => (self.params.weights ?? CLASS_WEIGHTS)[r] as number;
  // Deadline offset of each queue (rank × tier), fixed for the queue's life: the class's offset
  // plus the tier's head start.
  const offsets = Float64Array.from({ length: RANKS * TIERS }, (_, i) =>
    ((params.offsetsMs ?? CLASS_OFFSETS_MS)[Math.floor(i / TIERS)] as number) + headStart(Math.floor(i / TIERS), i % TIERS));
  const addLive = (i: number, n: number): void => {
    live[i] = (live[i] as number) + n;
    const g = Math.floor((i % Q) / TIERS) * GROUPS + (GROUP_OF[i % TIERS] as number);
    liveGroup[g] = (liveGroup[g] as number) + n;
    if (i >= Q && GROUP_OF[i % TIERS] === 1) mintedTunnelWork += n;
  };

  const compact = (i: number): void => {
    const q = queues[i] as Waiter[];
    const h = heads[i] as number;
    if (h > 1024 && h * 2 > q.length) { queues[i] = q.slice(h); heads[i] = 0; offered[i] = Math.max(0, (offered[i] as number) - h); }
  };

  const leave = (w: Waiter, state: Waiter['state']): void => {
    w.state = state;
    queued--;
    const r = rankOf(w);
    counts[r] = (counts[r] as number) - 1;
    addLive(qOf(w), -1);
  };

  /** Oldest live waiter of queue i, left in place (dead entries before it are dropped). */
  const peek = (i: number): Waiter | undefined => {
    const q = queues[i] as Waiter[];
    while ((heads[i] as number) < q.length) {
      const w = q[heads[i] as number] as Waiter;
      if (w.state === 'queued') return w;
      heads[i] = (heads[i] as number) + 1;
    }
    compact(i);
    return undefined;
  };

  /** Newest live waiter of queue i, left in place (dead entries after it are dropped). */
  const peekNewest = (i: number): Waiter | undefined => {
    const q = queues[i] as Waiter[];
    while (q.length > (heads[i] as number)) {
      const w = q[q.length - 1] as Waiter;
      if (w.state === 'queued') return w;
      q.pop();
      offered[i] = Math.min(offered[i] as number, q.length);
    }
    return undefined;
  };

  // Rule 7: while (b) holds a request past a person's patience, its requests go newest first.
  let newestFirst = false;
  const lifo = (i: number): boolean => newestFirst && i < Q && GROUP_OF[i % TIERS] === 1;
  /** The waiter of queue i that goes next from it: its oldest, or its newest under rule 7. */
  const front = (i: number): Waiter | undefined => (lifo(i) ? peekNewest(i) : peek(i));
  /**
   * Whether enough (b) requests have waited past a person's patience (MINTED_STALE_MASS_S). Each
   * queue is in arrival order, so the count walks from its head and stops at the first younger
   * entry, and once it has found enough: bounded by the threshold, not by the queue.
   */
  let staleUntil = -Infinity;
  const mintedStale = (now: number): boolean => {
    if (now < staleUntil) return true;
    if (queued === 0) return false;
    const patienceMs = self.params.patienceMs ?? MINTED_STALE_MS;
    const need = Math.max(MINTED_LOAD_MIN, (MINTED_STALE_MASS_S * completions.value(now) * Math.LN2) / 2);
    let stale = 0;
    for (let r = 0; r < RANKS; r++) {
      if ((liveGroup[r * GROUPS + 1] as number) === 0) continue;
      for (let t = 0; t < TIERS; t++) {
        const i = r * TIERS + t;
        if (GROUP_OF[t] !== 1 || (live[i] as number) === 0) continue;
        if (peek(i) === undefined) continue; // drops the dead entries at its head
        const q = queues[i] as Waiter[];
        for (let j = heads[i] as number; j < q.length; j++) {
          const w = q[j] as Waiter;
          if (now - w.enqueuedAt <= patienceMs) break;
          if (w.state === 'queued' && ++stale >= need) {
            // Held for one queue timeout: the tools' requests refused at it come back younger than
            // 6 s (the refusal charges their pace for a while, then they are light again), and in
            // that gap the shared mode aged their pages before the newcomers' logins (closed-loop:
            // logins waited 2.4–2.5 s, critical p99 8.5×).
            staleUntil = now + self.params.queueTimeoutMs;
            return true;
          }
        }
      }
    }
    return false;
  };

  /**
   * Oldest live waiter of queue i, removed from it: who gives way in a queue served newest first
   * (rule 7), where the oldest is the one least likely to be served, and least likely to be wanted.
   */
  const popOldest = (i: number): Waiter | undefined => {
    const w = peek(i);
    if (w !== undefined) heads[i] = (heads[i] as number) + 1;
    return w;
  };

  /** Newest live waiter of queue i, removed from it. */
  const popQueue = (i: number): Waiter | undefined => {
    const q = queues[i] as Waiter[];
    while (q.length > (heads[i] as number)) {
      const w = q.pop() as Waiter;
      // The rechallenge cursor never points past the end: a waiter pushed later into the freed
      // index would sit behind it and never be offered its challenge (in a later attack).
      offered[i] = Math.min(offered[i] as number, q.length);
      if (w.state === 'queued') return w; // newest first: it has waited least
    }
    return undefined;
  };

  /**
   * The next waiter to start. With a `retier` hook, the chosen head is judged again first: a head
   * whose standing fell since it was queued (requests a flood queued in its first second, before
   * its pace showed) moves to the back of its new tier and the choice is made again. Each waiter
   * only ever moves down, so this ends; the bound is a safety net.
   */
  const next = (now: number): Waiter | undefined => {
    if (queued === 0) return undefined; // every release asks: most find nobody waiting
    const retier = self.params.retier;
    newestFirst = mintedStale(now); // when true, the hold makes knownStrict's own reading free
    const within = self.knownStrict(now) ? undefined : self.params.knownFirstMs;
    const groups = floodCapped() ? FLOOD_GROUP : GROUPS;
    const capped = messagesCapped();
    for (let guard = 0; guard <= queued * TIERS + 1; guard++) {
      // Rule 6: past their share, messages start only when no request of their group or a better
      // one can (a known customer's handshake does not wait behind the minted group's pages).
      let chosen = choose(now, within, groups, 0, capped ? 1 : 2);
      if (capped) {
        const t = chosen % TIERS;
        const g = chosen === -1 ? groups : within !== undefined && GROUP_OF[t] === 1 ? 0 : GROUP_OF[t] as number;
        const tunnel = g > 0 ? choose(now, within, g, 1, 2) : -1;
        if (tunnel !== -1) chosen = tunnel;
      }
      if (chosen === -1) return undefined;
      const q = queues[chosen] as Waiter[];
      let w: Waiter;
      if (lifo(chosen)) {
        w = q.pop() as Waiter; // front() left it last
        offered[chosen] = Math.min(offered[chosen] as number, q.length);
      } else {
        w = q[heads[chosen] as number] as Waiter;
        heads[chosen] = (heads[chosen] as number) + 1;
      }
      const from = chosen % TIERS;
      if (retier !== undefined) {
        const t = Math.min(TIERS - 1, Math.max(0, w.tierNow?.() ?? retier(w)));
        if (GROUP_OF[from] === 1) {
          mintedHeads.add(now);
          if (GROUP_OF[t] !== 1) mintedFlooding.add(now);
        }
        if (t > from) {
          const j = chosen - from + t;
          w.filed = t;
          (queues[j] as Waiter[]).push(w);
          addLive(chosen, -1);
          addLive(j, 1);
          compact(chosen);
          continue;
        }
      }
      compact(chosen);
      if (w.defer?.(now) === true) { leave(w, 'new'); continue; }
      return w;
    }
    return undefined;
  };

  /**
   * The queue of group `g` whose head has the earliest deadline among ranks below `ranks`, kinds
   * `from` ≤ k < `to`, or -1. With `within`, group (b) is scanned as part of group 0.
   */
  const earliest = (g: number, ranks: number, within: readonly number[] | undefined, from: number, to: number, pace?: number): number => {
    let chosen = -1;
    let key = Infinity;
    for (let r = 0; r < ranks; r++) {
      const waiting = (liveGroup[r * GROUPS + g] as number) + (within !== undefined && g === 0 ? liveGroup[r * GROUPS + 1] as number : 0);
      if (waiting === 0) continue;
      for (let t = 0; t < TIERS; t++) {
        const tg = GROUP_OF[t] as number;
        if ((within !== undefined && tg === 1 ? 0 : tg) !== g) continue;
        if (pace !== undefined && (t & 1) !== pace) continue; // rule 8 (group (b) only: tiers 4–7, pace = t & 1)
        for (let k = from; k < to; k++) {
          const i = k * Q + r * TIERS + t;
          if ((live[i] as number) === 0) continue;
          const w = front(i);
          if (w === undefined) continue;
          // Rule 7 mirrors the deadline: newest first, and a class's offset still bounds how much
          // later a lower class must arrive to go first. Only (b) is newest first, and then (a)
          // is strict and scanned apart: the two keys are never compared.
          const d = lifo(i) ? (offsets[i - k * Q] as number) - w.enqueuedAt : w.enqueuedAt + (offsets[i - k * Q] as number);
          if (d < key) { key = d; chosen = i; }
        }
      }
    }
    return chosen;
  };

  /**
   * The queue whose head goes next among kinds `from` ≤ k < `to` (0: requests, 1: messages), or
   * -1. `within`: the bound of group (a) over (b) when they are served together.
   */
  const choose = (now: number, within: readonly number[] | undefined, groups: number, from: number, to: number): number => {
    let chosen = -1;
    // A reputation overdue by its class's bound goes first (earliest deadline among the overdue),
    // and so does a minted identity's request overdue by that bound — or the normal class's, if
    // later — and MINTED_OVERDUE_MS more, unless the reputation's is a critical request: a known
    // customer's payment never waits behind newcomers.
    if (within !== undefined) {
      let key = Infinity;
      let keyCritical = false;
      let aged = -1;
      let agedKey = Infinity;
      for (let r = 0; r < RANKS; r++) {
        if ((liveGroup[r * GROUPS] as number) + (liveGroup[r * GROUPS + 1] as number) === 0) continue;
        const classOffset = (self.params.offsetsMs ?? CLASS_OFFSETS_MS)[r] as number;
        const knownBound = within[r] ?? 0;
        const mintedBound = Math.max(knownBound, within[MINTED_AGING_RANK] ?? 0) + MINTED_OVERDUE_MS;
        for (let t = 0; t < TIERS && (GROUP_OF[t] as number) <= 1; t++) {
          const minted = GROUP_OF[t] === 1;
          const bound = minted ? mintedBound : knownBound;
          for (let k = from; k < to; k++) {
            const i = k * Q + r * TIERS + t;
            const w = (live[i] as number) === 0 ? undefined : front(i);
            if (w === undefined || now - w.enqueuedAt < bound) continue;
            // By how far past its bound: a payment that just became due goes before a tracking
            // page that has been due for less than their class offsets apart. An aged page by its
            // class offset alone: past its bound, how long it waited counts, not its token.
            if (minted) {
              const d = w.enqueuedAt + bound + classOffset;
              if (d < agedKey) { agedKey = d; aged = i; }
            } else {
              const d = w.enqueuedAt + bound + (offsets[i - k * Q] as number);
              if (d < key) { key = d; chosen = i; keyCritical = r === 0; }
            }
          }
        }
      }
      if (aged !== -1 && !keyCritical && agedKey < key) chosen = aged;
    }
    // Otherwise the earliest deadline among the heads of the first group holding anyone (each
    // queue is in arrival order and has one offset, so its head is its earliest deadline); with
    // a bound, (a) and (b) are one group.
    for (let g = 0; g < groups && chosen === -1; g++) {
      if (within !== undefined && g === 1) continue; // served with group 0
      // Rule 3b: while (a) goes strictly first, group (b)'s critical requests go before its other
      // classes; rule 8: and, while its busy identities flood, its pace 0 before its pace 1.
      if (within === undefined && g === 1) {
        const busy = mintedBusyFloods(now);
        for (let pass = 0; pass < 4 && chosen === -1; pass++) {
          const ranks = pass < 2 ? 1 : RANKS;
          if (ranks === 1 && (liveGroup[1] as number) === 0) continue;
          if (!busy && (pass & 1) === 1) continue;
          chosen = earliest(g, ranks, undefined, from, to, busy ? pass & 1 : undefined);
        }
      } else chosen = earliest(g, RANKS, within, from, to);
    }
    return chosen;
  };
  // (A moved waiter keeps its arrival time, so it may sit behind younger ones in its new queue:
  // `expire` then reaches it a little after its timeout. It is of a worse standing there anyway.)

  /** Newest waiter of rank r in group g, from its tier with the latest head start. */
  const popGroup = (r: number, g: number): Waiter | undefined => {
    for (let t = TIERS - 1; t >= 0; t--) {
      if (GROUP_OF[t] !== g) continue;
      const w = popTier(r, t);
      if (w) return w;
    }
    return undefined;
  };

  /** The waiter of rank r and tier t that gives way: a message first (pushed out, it asks again, message-admission.ts; a request is refused), its newest (oldest under rule 7). */
  const popTier = (r: number, t: number): Waiter | undefined => {
    for (let k = 1; k >= 0; k--) {
      const i = k * Q + r * TIERS + t;
      const w = (live[i] as number) === 0 ? undefined : lifo(i) ? popOldest(i) : popQueue(i);
      if (w) return w;
    }
    return undefined;
  };

  /**
   * A full queue's token holders judged again (the `retier` hook, or the waiter's own `tierNow`),
   * at most once per REFILE_MS: each waiter of groups (a) and (b) whose tier fell since it was
   * filed moves to its new tier's queue, keeping its arrival. At the head a waiter is judged again
   * before it starts (`next`), but who leaves a full queue is chosen by the tiers waiters were
   * filed at: a flood's first requests, filed at pace 0 before its bots' pace showed, held the
   * whole queue for seconds after they were busy or flooding, and customers arriving at pace 0 were
   * refused as the newest of the same tier (browse-then-flood from 2,000 sources, at 2 req/s each:
   * 4 requests in 5 s before a bot is busy, 8 before it floods). Bounded: one pass over the queue,
   * worst tier first, so a waiter moved down lands in a queue already judged and is read once.
   */
  let refiledAt = -Infinity;
  const refile = (now: number): void => {
    const retier = self.params.retier;
    if (retier === undefined || now - refiledAt < REFILE_MS) return;
    refiledAt = now;
    for (let k = 0; k < 2; k++) {
      for (let r = 0; r < RANKS; r++) {
        for (let t = ANONYMOUS_TIER - 1; t >= 0; t--) {
          const i = k * Q + r * TIERS + t;
          if ((live[i] as number) === 0) continue;
          const q = queues[i] as Waiter[];
          const h = heads[i] as number;
          const kept: Waiter[] = [];
          let offeredKept = 0;
          for (let j = h; j < q.length; j++) {
            const w = q[j] as Waiter;
            if (w.state !== 'queued') continue;
            const to = Math.min(TIERS - 1, Math.max(0, w.tierNow?.() ?? retier(w)));
            if (to > t) {
              w.filed = to;
              (queues[i - t + to] as Waiter[]).push(w);
              addLive(i, -1);
              addLive(i - t + to, 1);
            } else {
              kept.push(w);
              if (j < (offered[i] as number)) offeredKept++;
            }
          }
          if (kept.length === q.length - h) continue; // nothing moved (and no dead entry): left as it was
          queues[i] = kept;
          heads[i] = 0;
          offered[i] = offeredKept;
        }
      }
    }
  };

  /**
   * Rule 8 on a full queue: the newest of group (b)'s pace-1 waiters that a pace-0 arrival of
   * class `rank` is served before (every class's but the critical one's, which goes before the
   * other classes' pace 0 — unless the arrival is critical too), from the class most over its
   * share among those holding one.
   */
  const popBusy = (rank: number): Waiter | undefined => {
    let pick = -1;
    let pickLoad = -1;
    for (let r = rank === 0 ? 0 : 1; r < RANKS; r++) {
      let busy = 0;
      for (const t of BUSY_MINTED_TIERS) busy += (live[r * TIERS + t] as number) + (live[Q + r * TIERS + t] as number);
      if (busy === 0) continue;
      const load = (counts[r] as number) / weight(r);
      if (load > pickLoad) { pick = r; pickLoad = load; }
    }
    if (pick === -1) return undefined;
    for (const t of BUSY_MINTED_TIERS) {
      const w = popTier(pick, t);
      if (w) return w;
    }
    return undefined;
  };

  /**
   * Who leaves a full queue for an arriving waiter: first a waiter of a worse group than the
   * arrival (from the class most over its share among those holding one); then, while group (b)'s
   * busy identities flood (rule 8), a (b) pace-1 waiter for a (b) arrival at pace 0; else — same
   * group — the newest of the class most over its share, if the arriving class is under it.
   */
  const victimFor = (rank: number, tier: number, now: number): Waiter | undefined => {
    const group = GROUP_OF[tier] as number;
    for (let g = GROUPS - 1; g > group; g--) {
      let pick = -1;
      let pickLoad = -1;
      for (let r = 0; r < RANKS; r++) {
        if ((liveGroup[r * GROUPS + g] as number) === 0) continue;
        const load = (counts[r] as number) / weight(r);
        if (load > pickLoad) { pick = r; pickLoad = load; }
      }
      if (pick !== -1) {
        const w = popGroup(pick, g);
        if (w) return w;
      }
    }
    // Pushed out in the order it is served: a pace-0 request of (b) goes before every pace-1 one
    // of its class and the classes after it, so refusing it kept the waiter least likely to be
    // served. At a flood's onset its bots are at pace 0-1 for their first seconds (4 requests in
    // 5 s each before they are busy), the queue is full of them, and customers of the same
    // standing arriving at pace 0 were refused at once (browse-then-flood from 2,000 sources:
    // pages refused in 0.1 ms while the queue held the bots' pace-1 requests).
    // (The decayed counts first: rule 2's reading may walk the queue.)
    if (group === 1 && (tier & 1) === 0 && mintedBusyFloods(now) && self.knownStrict(now)) {
      const w = popBusy(rank);
      if (w) return w;
    }
    let worst = -1;
    let worstLoad = ((counts[rank] as number) + 1) / weight(rank);
    for (let r = 0; r < RANKS; r++) {
      const load = (counts[r] as number) / weight(r);
      if (r !== rank && load > worstLoad && (liveGroup[r * GROUPS + group] as number) > 0) { worst = r; worstLoad = load; }
    }
    return worst === -1 ? undefined : popGroup(worst, group);
  };

  /** Starts waiters while slots are free and someone may take one. */
  const pump = (now: number): void => {
    while (inFlight < self.params.maxInFlight) {
      const w = next(now);
      if (!w) break;
      leave(w, 'started');
      started(w);
      w.start();
    }
  };

  /** Rule 2: the first measure that puts known customers strictly first, or `shared` (read in order, the walk of rule 7 last). */
  const strictWhy = (now: number): AdmissionMode['why'] => (self.params.knownFirstMs === undefined ? 'no-bound'
    : floodingShare(now) > MINTED_FLOODING_MAX ? 'flooding' : mintedLoad(now) > MINTED_LOAD_MAX ? 'load'
      : mintedBacklogS(now) > MINTED_BACKLOG_MAX_S ? 'backlog' : mintedStale(now) ? 'stale' : 'shared');

  const self: AdmissionQueue = {
    params,
    admit(w, now, since) {
      // A waiter admitted again was counted as an arrival the first time.
      if (GROUP_OF[tierOf(w)] === 1 && since === undefined) {
        mintedArrivals.add(now);
        if ((tierOf(w) & 1) === 1) mintedBusy.add(now);
      }
      if (inFlight < self.params.maxInFlight && queued === 0 && !((GROUP_OF[tierOf(w)] as number) >= FLOOD_GROUP && floodCapped())) {
        if (w.defer?.(now) === true) { w.state = 'new'; return 'queued'; }
        started(w);
        meter(now);
        w.state = 'started';
        w.start();
        return 'started';
      }
      const r = rankOf(w);
      if (queued >= self.params.maxQueue) {
        refile(now);
        newestFirst = mintedStale(now);
        const victim = victimFor(r, tierOf(w), now);
        if (!victim) { meter(now); w.state = 'rejected'; w.reject('queue-full'); return 'rejected'; }
        leave(victim, 'rejected');
        victim.reject('pushed-out');
      }
      w.state = 'queued';
      w.enqueuedAt = since ?? now;
      const i = qOf(w);
      const q = queues[i] as Waiter[];
      if (since === undefined) q.push(w);
      else {
        // Filed by its arrival: pushed at the back, a search the cost probe held for a moment
        // waited behind every page that came meanwhile and was abandoned in a flash crowd
        // (fiftieth session: three of three customers' searches lost in a run were held first).
        let j = q.length;
        // Entries before the head were taken already, and before the cursor offered their challenge (rule 4).
        const head = Math.max(heads[i] as number, offered[i] as number);
        while (j > head && (q[j - 1] as Waiter).enqueuedAt > since) j--;
        q.splice(j, 0, w);
      }
      addLive(i, 1);
      queued++;
      counts[r] = (counts[r] as number) + 1;
      // Free slots with waiters held back by rule 5: this arrival may be one that can start.
      if (inFlight < self.params.maxInFlight) pump(now);
      meter(now);
      return (w.state as Waiter['state']) === 'started' ? 'started' : 'queued';
    },
    release(now, message, cost) {
      inFlight--;
      if (message === true) messagesInFlight--;
      if (cost !== undefined && cost > 1) costBeyond = Math.max(0, costBeyond - (cost - 1));
      completions.add(now);
      self.expire(now);
      pump(now);
      meter(now);
    },
    cancel(w) {
      if (w.state === 'queued') { leave(w, 'cancelled'); meter(lastNow); }
    },
    knownStrict(now) {
      return strictWhy(now) !== 'shared';
    },
    mode(now) {
      const why = strictWhy(now);
      return { strict: why !== 'shared', why, floodingShare: floodingShare(now), mintedLoad: mintedLoad(now), backlogS: mintedBacklogS(now), newestFirst: mintedStale(now) };
    },
    expire(now) {
      let n = 0;
      const since = self.params.challengesSince?.() ?? -Infinity;
      if (since !== -Infinity) {
        // A new policy: every waiter with no token queued before it is offered its challenge again
        // — those queued before the first challenge, and those the filter passed since while their
        // class was still normal. One queued under the policy in force was judged under it already.
        // At most once a detector tick while signatures are re-sized, a walk over the waiters with
        // no token (few under attack: the filter challenges them on arrival), a policy lookup each.
        const version = self.params.policyVersion?.() ?? 0;
        if (version !== offeredAt) { offeredAt = version; versionSeenAt = now; offered.fill(0); }
        const before = self.params.policyVersion === undefined ? since : Math.max(since, versionSeenAt);
        // Oldest first across classes (a merge of the per-class queues, each in arrival order): the
        // answers go out in one loop, and whoever is answered first comes back first. Class by class,
        // a flood's class-high requests were answered, and returned, before newcomers' pages queued
        // earlier (newcomers-under-attack: 0.1 s ahead, and served first).
        // `offered` is each queue's cursor; no allocation (this runs on every release).
        let left = 0; // entries to walk at most (dead ones included): the loop's bound
        for (let i = ANONYMOUS_TIER; i < Q; i += TIERS) { // each class's queue of requests with no token
          offered[i] = Math.max(heads[i] as number, offered[i] as number);
          left += Math.max(0, (queues[i] as Waiter[]).length - (offered[i] as number));
        }
        for (; left > 0; left--) {
          let pick = -1;
          let oldest = before;
          for (let i = ANONYMOUS_TIER; i < Q; i += TIERS) {
            const w = (queues[i] as Waiter[])[offered[i] as number];
            if (w !== undefined && w.enqueuedAt < oldest) { oldest = w.enqueuedAt; pick = i; }
          }
          if (pick === -1) break;
          const w = (queues[pick] as Waiter[])[offered[pick] as number] as Waiter;
          offered[pick] = (offered[pick] as number) + 1;
          if (w.state === 'queued' && w.filed === undefined && w.rechallenge?.() === true) leave(w, 'rejected');
        }
      }
      const limit = now - self.params.queueTimeoutMs;
      for (let i = 0; i < QK; i++) {
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
      meter(now);
      return n;
    },
    readPressure(now) {
      meter(now); // sets meterFrom on the first call
      // An interval shorter than a quarter of the detector's second is a sample, not an
      // interval: it stays open for the next read. The first interval starts with the first
      // request; a read a few milliseconds after it, while it held a one-slot upstream, would find
      // that upstream saturated for the whole "interval" and could put a new shield in suspect by
      // its own first page (no reputation cookie for its first customers).
      const span = now - (meterFrom as number);
      if (span < MIN_PRESSURE_SPAN_MS) return { saturation: 0, queueWaitMs: 0 };
      const busy = atLimitMs + (atLimitSince !== undefined ? now - atLimitSince : 0);
      const saturation = Math.min(1, busy / span);
      const queueWaitMs = !emptied && queued > 0 ? self.oldestWaitMs(now) : 0;
      meterFrom = now;
      atLimitMs = 0;
      if (atLimitSince !== undefined) atLimitSince = now;
      emptied = queued === 0;
      return { saturation, queueWaitMs };
    },
    standingMs: (now) => (queued === 0 || standingSince === undefined ? 0 : Math.max(0, now - standingSince)),
    oldestWaitMs(now) {
      if (queued === 0) return 0;
      let oldest = now;
      for (let i = 0; i < QK; i++) {
        const w = (live[i] as number) > 0 ? peek(i) : undefined;
        if (w !== undefined && w.enqueuedAt < oldest) oldest = w.enqueuedAt;
      }
      return now - oldest;
    },
    get inFlight() { return inFlight; },
    get messagesInFlight() { return messagesInFlight; },
    get queued() { return queued; },
  };
  return self;
}
