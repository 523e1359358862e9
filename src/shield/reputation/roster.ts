/**
 * The reputations this shield has seen presented, and since when: what makes a reputation "known
 * before the attack" is that its holder was around before it — not only that the token was issued
 * then.
 *
 * Why: a reputation is a signed cookie with its issue time. Anyone who gets one answer in normal
 * times holds one, and ten minutes later (`reputationMinAgeS`) it ranks with the customers of
 * years. A botnet that sends one request per bot in the quiet hours before its attack, keeps the
 * cookies and then floods at a person's pace holds what a returning customer holds — group (a) in
 * admission, first in the queue — and the customers share the origin with it in proportion to the
 * requests (drill `sleeper-crowd`: 5.6% legitimate success; 13.0% with returning customers). At
 * the onset, though, those reputations wake up all at once, and the shield never saw them before:
 * the customers the attack found on the site, it did. A reputation first presented as many wake
 * with the attack (`woken`) — or in a surge of first sightings within the hour before it, a farm
 * presenting its reputations once just before its flood — passes, but waits with the requests that
 * hold no token (filters/request/clearance.ts): after the customers known before the attack and the
 * newcomers who proved something during it.
 *
 * Memory is bounded: at most `maxIds` reputations, the least recently presented dropped first, and
 * none kept past `memoryMs` without a sighting. Pure: the caller passes `now`.
 */
import { createRecencyMap } from '../../core/recency-map.js';

export interface RosterParams {
  /** Reputations remembered at most. */
  readonly maxIds: number;
  /** A reputation not presented for this long is forgotten (it counts as first seen when it returns). */
  readonly memoryMs: number;
}

export const DEFAULT_ROSTER: RosterParams = Object.freeze({ maxIds: 200_000, memoryMs: 3_600_000 });

export interface ReputationRoster {
  /**
   * Notes that reputation `id` was presented at `now`; returns when it was first presented, this
   * sighting included (`now` for one never seen, or forgotten). `established`: whether it was
   * established by its issue time when presented. Only those count among the first sightings a
   * wake-up is judged on: a farm's reputations are, and so are returning customers'; a newcomer's,
   * issued seconds before, is not — nor can one be minted to lift the baseline without waiting
   * `reputationMinAgeS` first.
   */
  see(id: string, now: number, established: boolean): number;
  /**
   * Whether a reputation first presented at `first` woke with the attack that began at `attackFrom`
   * (its first suspicion): first presented within WAKE_LEAD_MS before it or later, among first
   * sightings (SURGE_SPAN_MS either side of its own, at least WAKE_MIN) at more than WAKE_LIFT
   * times their usual rate before the onset (the median over SURGE_SPAN_MS bins) — a wake-up of
   * many, not the customers who return during an attack as they did before it; or first presented
   * within the memory before it, in a surge of first sightings at more than WAKE_LIFT times their
   * usual rate over the SURGE_HISTORY_MS or more before the surge — a farm that presented its
   * reputations once just before its flood. First sightings count only of reputations established
   * when first presented (`see`).
   */
  woken(first: number, attackFrom: number, now: number): boolean;
  /** The same judgement as a value: what was counted against what (undefined: not woken). */
  explain(first: number, attackFrom: number, now: number): WakeReason | undefined;
  /**
   * Notes that reputation `id` was judged woken in the attack whose first suspicion was at
   * `attackFrom`; true the first time for that attack (a count of reputations, not of requests).
   * False for one not remembered.
   */
  markWoken(id: string, attackFrom: number): boolean;
  /** When reputation `id` was first presented, if remembered; not a sighting. */
  firstSeen(id: string): number | undefined;
  /** Reputations remembered now. */
  readonly size: number;
}

/**
 * Sightings this close before the first suspicion of an attack belong to its onset: the detector
 * suspects a flood about a second after it begins, and bots at a person's pace present their
 * reputations over the seconds after the onset.
 */
export const WAKE_LEAD_MS = 1000;
/** Fewer first sightings than this since the onset are never a wake-up. */
export const WAKE_MIN = 50;
/**
 * A wake-up: first sightings around a reputation's own at more than this many times their rate in
 * the hour before the onset (what the roster saw of it). Returning customers arrive during an
 * attack about as they did before it; a farm's reputations arrive in the seconds after its onset.
 */
export const WAKE_LIFT = 4;
/** First sightings are counted over this long either side of the one judged. */
export const SURGE_SPAN_MS = 10_000;
/** No surge is judged on less history than this before it. */
export const SURGE_HISTORY_MS = 5 * 60_000;

/**
 * Why a reputation was judged woken: first sightings around its own (`firstSightings` over
 * `spanMs`) against their rate before (`baselinePerS`). `onset`: first presented with the attack;
 * `surge`: within the memory before it, in a surge.
 */
export interface WakeReason {
  readonly kind: 'onset' | 'surge';
  readonly firstSightings: number;
  readonly spanMs: number;
  readonly observedPerS: number;
  readonly baselinePerS: number;
}

/**
 * `woke`: the attack this reputation was last counted woken in, as the roster numbers attacks (0:
 * none) — a small integer, kept in the object as it is, where a time would be one more boxed double.
 */
interface Sighting { first: number; last: number; woke: number }

/**
 * Creates a roster. Entries are kept in order of their last sighting (core/recency-map.ts), so the
 * stale and the least recent are at the front, where each call sweeps a few. The
 * times of first sightings are kept in order too (a ring as large as the roster), so counting
 * those since a moment is a binary search.
 * @example
 * const roster = createReputationRoster();
 * const first = roster.see(token.id, ticker.now(), decision.standing === 'established');
 * if (roster.woken(first, attackFrom, ticker.now())) ctx.baseTier = STANDING.anonymous; // group (c)
 */
export function createReputationRoster(params: RosterParams = DEFAULT_ROSTER): ReputationRoster {
  const seen = createRecencyMap<Sighting>();
  const sweep = (now: number): void => {
    // Bounded work per call: each call adds at most one entry, so two removals keep the bound.
    for (let n = 0; n < 2; n++) {
      const o = seen.oldest();
      if (o === undefined || (seen.size <= params.maxIds && now - o[1].last <= params.memoryMs)) break;
      seen.delete(o[0]);
    }
  };
  // First sightings in time order: a ring of `cap` times, `count` of them held, the oldest at `head`.
  const cap = Math.max(1, params.maxIds);
  const firsts = new Float64Array(cap);
  let head = 0;
  let count = 0;
  const at = (i: number): number => firsts[(head + i) % cap] as number;
  const addFirst = (t: number): void => {
    if (count === cap) { head = (head + 1) % cap; count--; }
    firsts[(head + count) % cap] = t;
    count++;
  };
  /** First sightings at or after `t` held in the ring. */
  const since = (t: number): number => {
    let lo = 0;
    let hi = count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (at(mid) < t) lo = mid + 1; else hi = mid;
    }
    return count - lo;
  };
  /**
   * The usual rate of first sightings (per second) over what the roster saw of the memory before
   * `end`: the median over
   * SURGE_SPAN_MS bins back from `end` (the oldest one partial). A median, not the mean: a burst
   * within the hour before — a restart's whole clientele at once, or an attacker presenting other
   * reputations to lift the baseline its farm is judged against — moves it only if it fills half
   * the bins. Results are kept per `end`: the bins before it no longer change.
   */
  const usual = new Map<number, number>();
  // The attacks markWoken was told of: the last one's start, and its number.
  let attackAt = Number.NaN;
  let attackNo = 0;
  const usualRate = (end: number): number => {
    const known = usual.get(end);
    if (known !== undefined) return known;
    const from = Math.min(end, Math.max(end - params.memoryMs, at(0)));
    const rates: number[] = [];
    let after = since(end);
    for (let b = end; b > from; b -= SURGE_SPAN_MS) {
      const lo = Math.max(from, b - SURGE_SPAN_MS);
      // A sliver of a bin at the roster's start says nothing about a rate once there are whole ones.
      if (b - lo < 1000 && rates.length > 0) break;
      const n = since(lo);
      rates.push(((n - after) * 1000) / Math.max(1000, b - lo));
      after = n;
    }
    rates.sort((x, y) => x - y);
    const m = rates.length;
    const rate = m === 0 ? 0 : m % 2 === 1 ? (rates[(m - 1) / 2] as number) : ((rates[m / 2 - 1] as number) + (rates[m / 2] as number)) / 2;
    if (usual.size >= 64) usual.clear();
    usual.set(end, rate);
    return rate;
  };
  const verdict = (kind: WakeReason['kind'], n: number, spanMs: number, baselinePerS: number): WakeReason | undefined => {
    const observedPerS = (n * 1000) / spanMs;
    return n >= WAKE_MIN && observedPerS > WAKE_LIFT * baselinePerS ? { kind, firstSightings: n, spanMs, observedPerS, baselinePerS } : undefined;
  };
  const judge = (first: number, attackFrom: number, now: number): WakeReason | undefined => {
    if (count === 0) return undefined;
    const onset = attackFrom - WAKE_LEAD_MS;
    if (first >= onset) {
      // First sightings around this one's (SURGE_SPAN_MS either side, from the onset on): judged
      // where it woke, so a reputation that woke in the onset's burst stays woken however long
      // the attack lasts, and one first presented an hour into it, as customers return, is not.
      if (since(onset) < WAKE_MIN) return undefined;
      const w0 = Math.max(onset, first - SURGE_SPAN_MS);
      const w1 = Math.min(now, first + SURGE_SPAN_MS);
      return verdict('onset', since(w0) - since(w1 + 1), Math.max(1000, w1 - w0), usualRate(onset));
    }
    // First presented within the hour before the attack: woken if in a surge of first sightings
    // (a farm presenting its reputations once just before its flood), judged against at least
    // SURGE_HISTORY_MS of what came before the surge — never on a roster too young to know its
    // site's usual rate (a shield restarted under traffic sees its whole clientele first at once).
    if (first < onset - params.memoryMs) return undefined;
    const w0 = first - SURGE_SPAN_MS;
    const w1 = Math.min(onset, first + SURGE_SPAN_MS);
    const from = Math.max(w0 - params.memoryMs, at(0));
    if (w0 - from < SURGE_HISTORY_MS) return undefined;
    // The history ends at a bin boundary before the surge, so judging each of its reputations
    // reuses one baseline.
    const end = Math.floor(w0 / SURGE_SPAN_MS) * SURGE_SPAN_MS;
    return verdict('surge', since(w0) - since(w1), Math.max(1000, w1 - w0), usualRate(end));
  };
  return {
    see(id, now, established) {
      const s = seen.use(id);
      if (s !== undefined && now - s.last <= params.memoryMs) {
        s.last = now;
        return s.first;
      }
      seen.set(id, { first: now, last: now, woke: 0 });
      if (established) addFirst(now);
      sweep(now);
      return now;
    },
    woken: (first, attackFrom, now) => judge(first, attackFrom, now) !== undefined,
    explain: judge,
    markWoken(id, attackFrom) {
      const s = seen.peek(id);
      if (s === undefined) return false;
      if (attackFrom !== attackAt) { attackAt = attackFrom; attackNo++; }
      if (s.woke === attackNo) return false;
      s.woke = attackNo;
      return true;
    },
    firstSeen: (id) => seen.peek(id)?.first,
    get size() { return seen.size; },
  };
}
