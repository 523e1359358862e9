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
import { createSightingRing, overlapMs, type SightingRing } from './sighting-ring.js';

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
   * sighting included (`now` for one never seen, or forgotten). `returning`: issued at least
   * RETURNING_AFTER_MS before this sighting — not in the visit that earned it. A wake-up at the
   * onset is judged among those only: a farm's reputations and returning customers' are, a
   * newcomer's, presented with the request after the answer that issued it, is not — a site with
   * many newcomers does not hide a farm behind them (and fresh reputations minted to lift the
   * baseline must wait a minute first). A surge before the onset is judged among all first
   * sightings: a farm that presents its reputations once as it mints them, in the hour before its
   * attack, is a surge of newcomers then.
   */
  see(id: string, now: number, returning: boolean): number;
  /**
   * Whether a reputation first presented at `first` woke with the attack that began at `attackFrom`
   * (its first suspicion): first presented within WAKE_LEAD_MS before it or later, among first
   * returning sightings (SURGE_SPAN_MS either side of its own, at least WAKE_MIN) at more than
   * WAKE_LIFT times their usual rate before the onset (the median over SURGE_SPAN_MS bins) — a
   * wake-up of many, not the customers who return during an attack as they did before it; or first
   * presented within the memory before it, in a surge of first sightings (all of them, or the
   * returning ones) at more than WAKE_LIFT times their usual rate over the SURGE_HISTORY_MS or more
   * before the surge — a farm that presented its reputations once just before its flood, or as it
   * minted them, or joined its flood gradually before the detector saw it.
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
  /**
   * The reputations presented at or after `since`, the most recently presented first: what a save
   * writes (reputation/roster-store.ts). Walks only those.
   */
  seenSince(since: number): IterableIterator<RosterEntry>;
  /**
   * Takes back what a previous process saved, into a roster that has seen nothing yet (false
   * otherwise, nothing taken): `entries` in any order, at most `maxIds` of the most recently
   * presented kept, none past the memory. `[downFrom, now)` was not watched — the shield was down —
   * and counts for no rate (the usual rate is over what was watched). `underWay`: the first
   * suspicion of the attack under way when the previous process last saved; an attack first
   * suspected within CARRY_MS of `now` is that one (an operator restarted the shield during it),
   * so the reputations that woke with it before the restart stay woken.
   */
  restore(entries: readonly RosterEntry[], downFrom: number, now: number, underWay?: number): boolean;
  /** What the last restore took back (undefined: none), on the roster's clock. */
  readonly restored: RosterRestore | undefined;
}

/** A restore, for the operator: when, how many reputations, the time down, the attack carried over. */
export interface RosterRestore {
  readonly at: number;
  readonly reputations: number;
  readonly downMs: number;
  /** The first suspicion of the attack under way at the last save, if any. */
  readonly attackFrom: number | undefined;
}

/** One remembered reputation, as saved: when first and last presented, and whether it was returning then. */
export interface RosterEntry {
  readonly id: string;
  readonly first: number;
  readonly last: number;
  readonly returning: boolean;
}

/**
 * Sightings this close before the first suspicion of an attack belong to its onset: the detector
 * suspects a flood about a second after it begins, and bots at a person's pace present their
 * reputations over the seconds after the onset.
 */
export const WAKE_LEAD_MS = 1000;
/** A reputation first presented this long after its issue or more is a returning one (`see`). */
export const RETURNING_AFTER_MS = 60_000;
/** Fewer first sightings than this since the onset are never a wake-up. */
export const WAKE_MIN = 50;
/**
 * A wake-up: first sightings around a reputation's own at more than this many times their usual
 * rate in the hour before (the median of its 10 s bins, over what the roster watched of it).
 * Returning customers arrive during an attack about as they did before it; a farm's reputations
 * arrive in the seconds after its onset.
 */
export const WAKE_LIFT = 4;
/** First sightings are counted over this long either side of the one judged. */
export const SURGE_SPAN_MS = 10_000;
/** No surge is judged on less history than this before it. */
export const SURGE_HISTORY_MS = 5 * 60_000;
/**
 * An attack first suspected this soon after a restart continues the one under way before it
 * (`restore`): the restarted detector sees the flood again within seconds, and the attack's start
 * is what a wake-up is judged from.
 */
export const CARRY_MS = 60_000;

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
interface Sighting { first: number; last: number; woke: number; readonly returning: boolean }

/**
 * Creates a roster. Entries are kept in order of their last sighting (core/recency-map.ts), so the
 * stale and the least recent are at the front, where each call sweeps a few. The
 * times of first sightings are kept in order too (reputation/sighting-ring.ts, as large as the
 * roster), so counting those since a moment is a binary search.
 * @example
 * const roster = createReputationRoster();
 * const first = roster.see(token.id, ticker.now(), wallNow - token.iat * 1000 >= RETURNING_AFTER_MS);
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
  // First sightings in time order: all of them (the surge rule), and the returning ones (the onset's).
  const all = createSightingRing(params.maxIds, params.memoryMs, SURGE_SPAN_MS);
  const returns = createSightingRing(params.maxIds, params.memoryMs, SURGE_SPAN_MS);
  // When the shield was down before this process restored its roster (none: never restored).
  let down: { from: number; to: number } | undefined;
  // The attack under way before the restart, and until when a new one is that one.
  let carried: { from: number; until: number } | undefined;
  let restored: RosterRestore | undefined;
  // The attacks markWoken was told of: the last one's start, and its number.
  let attackAt = Number.NaN;
  let attackNo = 0;
  /** `n` first sightings over `spanMs` against `ring`'s usual rate before `end` (worked out only for WAKE_MIN or more). */
  const verdict = (kind: WakeReason['kind'], n: number, spanMs: number, ring: SightingRing, end: number, watchedFrom: number): WakeReason | undefined => {
    if (n < WAKE_MIN) return undefined;
    const observedPerS = (n * 1000) / spanMs;
    const baselinePerS = ring.usualRate(end, watchedFrom);
    return observedPerS > WAKE_LIFT * baselinePerS ? { kind, firstSightings: n, spanMs, observedPerS, baselinePerS } : undefined;
  };
  const judge = (first: number, suspectedAt: number, now: number): WakeReason | undefined => {
    const attackFrom = carried !== undefined && suspectedAt >= carried.from && suspectedAt <= carried.until ? carried.from : suspectedAt;
    // What the roster watched: since its oldest first sighting held (of any reputation).
    const watchedFrom = all.oldest();
    if (watchedFrom === undefined) return undefined;
    const onset = attackFrom - WAKE_LEAD_MS;
    if (first >= onset) {
      // Returning first sightings around this one's (SURGE_SPAN_MS either side, from the onset on):
      // judged where it woke, so a reputation that woke in the onset's burst stays woken however
      // long the attack lasts, and one first presented an hour into it, as customers return, is not.
      if (returns.since(onset) < WAKE_MIN) return undefined;
      const w0 = Math.max(onset, first - SURGE_SPAN_MS);
      const w1 = Math.min(now, first + SURGE_SPAN_MS);
      return verdict('onset', returns.since(w0) - returns.since(w1 + 1), Math.max(1000, w1 - w0), returns, onset, watchedFrom);
    }
    // First presented within the hour before the attack: woken if in a surge of first sightings
    // (a farm presenting its reputations once just before its flood, or as it minted them), judged
    // against at least SURGE_HISTORY_MS of what came before the surge — never on a roster too young
    // to know its site's usual rate (a shield restarted under traffic sees its whole clientele
    // first at once).
    if (first < onset - params.memoryMs) return undefined;
    const w0 = first - SURGE_SPAN_MS;
    const w1 = Math.min(onset, first + SURGE_SPAN_MS);
    const h0 = Math.max(w0 - params.memoryMs, watchedFrom);
    if (w0 - h0 - overlapMs(h0, w0, down) < SURGE_HISTORY_MS) return undefined;
    // The history ends at a bin boundary before the surge, so judging each of its reputations
    // reuses one baseline. A surge of all first sightings (a farm presenting its reputations as it
    // mints them), or of the returning ones (a farm of aged reputations joining its flood before
    // the detector sees it, on a site whose many newcomers would hide it among all of them).
    const end = Math.floor(w0 / SURGE_SPAN_MS) * SURGE_SPAN_MS;
    const spanMs = Math.max(1000, w1 - w0);
    return verdict('surge', all.since(w0) - all.since(w1), spanMs, all, end, watchedFrom)
      ?? verdict('surge', returns.since(w0) - returns.since(w1), spanMs, returns, end, watchedFrom);
  };
  return {
    see(id, now, returning) {
      const s = seen.use(id);
      if (s !== undefined && now - s.last <= params.memoryMs) {
        s.last = now;
        return s.first;
      }
      seen.set(id, { first: now, last: now, woke: 0, returning });
      all.add(now);
      if (returning) returns.add(now);
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
    get restored() { return restored; },
    *seenSince(since) {
      for (const [id, s] of seen.fromNewest()) {
        if (s.last < since) return;
        yield { id, first: s.first, last: s.last, returning: s.returning };
      }
    },
    restore(entries, downFrom, now, underWay) {
      if (seen.size > 0 || all.count > 0) return false;
      const kept = entries.filter((e) => now - e.last <= params.memoryMs && e.first <= e.last && e.last <= now)
        .sort((x, y) => x.last - y.last).slice(-params.maxIds);
      for (const e of kept) seen.set(e.id, { first: e.first, last: e.last, woke: 0, returning: e.returning });
      kept.sort((x, y) => x.first - y.first);
      for (const e of kept) {
        all.add(e.first);
        if (e.returning) returns.add(e.first);
      }
      if (underWay !== undefined && underWay <= downFrom) carried = { from: underWay, until: now + CARRY_MS };
      restored = { at: now, reputations: kept.length, downMs: Math.max(0, now - downFrom), attackFrom: carried?.from };
      if (now > downFrom) {
        down = { from: downFrom, to: now };
        all.unwatched(downFrom, now);
        returns.unwatched(downFrom, now);
      }
      return true;
    },
  };
}
