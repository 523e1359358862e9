/**
 * Times of first sightings in order, bounded: counting those in a span is two binary searches, and
 * their usual rate is a median that a burst does not move (reputation/roster.ts).
 */
export interface SightingRing {
  /** Adds a time, never earlier than the last one added; the oldest goes once `cap` are held. */
  add(t: number): void;
  /** Times held at or after `t`. */
  since(t: number): number;
  /** Times held. */
  readonly count: number;
  /** The oldest time held (undefined when empty). */
  oldest(): number | undefined;
  /**
   * The usual rate (per second) over the `memoryMs` before `end`, from `watchedFrom` on (when the
   * caller began to watch: bins with nothing in them count — a ring that holds only a farm's first
   * sightings must not take the farm for the usual): the median over `binMs` bins back from `end`,
   * the oldest one partial. A median, not the mean: a
   * burst within the memory — a restart's whole clientele at once, or an attacker presenting other
   * reputations to lift the baseline its farm is judged against — moves it only if it fills half
   * the bins. Kept per `end`: the bins before a past moment no longer change (`watchedFrom` is the same for
   * every call of one caller).
   */
  usualRate(end: number, watchedFrom: number): number;
  /**
   * Marks `[from, to)` as not watched — the shield was down between its last save and a restart
   * (reputation/roster-store.ts): its bins are no empty bins, they are no bins at all. One span,
   * the last restart's; set before judging.
   */
  unwatched(from: number, to: number): void;
}

/** How much of `[lo, hi)` lies in the span `gap` (0 without one). */
export function overlapMs(lo: number, hi: number, gap: { from: number; to: number } | undefined): number {
  return gap === undefined ? 0 : Math.max(0, Math.min(hi, gap.to) - Math.max(lo, gap.from));
}

/** Creates a ring of at most `cap` times. */
export function createSightingRing(cap: number, memoryMs: number, binMs: number): SightingRing {
  const size = Math.max(1, cap);
  const times = new Float64Array(size);
  let head = 0;
  let count = 0;
  const at = (i: number): number => times[(head + i) % size] as number;
  const since = (t: number): number => {
    let lo = 0;
    let hi = count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (at(mid) < t) lo = mid + 1; else hi = mid;
    }
    return count - lo;
  };
  // One entry per bin boundary a judgement ends at: enough for the whole memory, so judging the
  // customers first seen across the hour before an attack works each baseline out once.
  const usual = new Map<number, number>();
  const usualMax = Math.ceil(memoryMs / binMs) + 16;
  let gap: { from: number; to: number } | undefined;
  return {
    add(t) {
      if (count === size) { head = (head + 1) % size; count--; }
      times[(head + count) % size] = t;
      count++;
    },
    since,
    get count() { return count; },
    oldest: () => (count === 0 ? undefined : at(0)),
    usualRate(end, watchedFrom) {
      const known = usual.get(end);
      if (known !== undefined) return known;
      const from = Math.min(end, Math.max(end - memoryMs, watchedFrom));
      const rates: number[] = [];
      let after = since(end);
      for (let b = end; b > from; b -= binMs) {
        const lo = Math.max(from, b - binMs);
        const watched = b - lo - overlapMs(lo, b, gap);
        const n = since(lo);
        // A sliver of a bin at the watch's start — or beside the restart's gap — says nothing about
        // a rate once there are whole ones; a bin the shield was down for is no bin.
        if (watched < 1000 && (rates.length > 0 || watched <= 0)) {
          if (lo === from) break;
          after = n;
          continue;
        }
        rates.push(((n - after) * 1000) / Math.max(1000, watched));
        after = n;
      }
      rates.sort((x, y) => x - y);
      const m = rates.length;
      const rate = m === 0 ? 0 : m % 2 === 1 ? (rates[(m - 1) / 2] as number) : ((rates[m / 2 - 1] as number) + (rates[m / 2] as number)) / 2;
      if (usual.size >= usualMax) usual.clear();
      usual.set(end, rate);
      return rate;
    },
    unwatched(from, to) {
      gap = to > from ? { from, to } : undefined;
      usual.clear();
    },
  };
}
