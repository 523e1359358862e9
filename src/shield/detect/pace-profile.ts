/**
 * What a customer's pace looks like on this site, learned in normal times: how many requests one
 * identity sends to the upstream in one pace bucket (5 s), as a decayed histogram, and the line
 * under which a given share of those buckets fall.
 *
 * Why: identity pace (identity-pace.ts) calls an identity light while it sends fewer than
 * `lightRequests` requests in its window, 4 by default — a page is one request, and a person reads
 * it before the next. A bank's dashboard is not one request: its script fetches accounts,
 * transactions, messages … at once, none of it cacheable, so every customer who opens it sends 8
 * to 12 requests within a second, and under attack the default line files them with the floods
 * (pace 2+, behind every light identity and capped to half the upstream). No fixed line fits every
 * site; the site's own customers say where theirs is. The line learned is the `quantile` (99%) of
 * the buckets that reputation holders (customers who got their cookie in normal times) filled while
 * all was normal — as the rate baselines learn only in normal times, an attack never teaches it.
 *
 * What it does not move: the open-request line. A browser holds at most six connections to a host
 * over HTTP/1.1 however heavy the page, so a token with more requests open than the configured line
 * allows stays heavy whatever the site's customers send over a window (identity-pace.ts
 * `openLightRequests`). And it is bounded: never under the operator's `lightRequests`, never over
 * `maxLightRequests` (16 by default: 32 requests in a window, six a second, is a flood's pace on any site), so bots that
 * browsed heavily before their attack can raise it only that far, and only if they are more than 1%
 * of the site's identity-buckets in normal times.
 *
 * Pure: the caller passes `now` (ms); memory is fixed (one counter per request count up to MAX_COUNT).
 */

/** Counts above this are kept in the last bin: the line is capped far below it. */
export const MAX_COUNT = 256;

export interface PaceProfileParams {
  /** Share of the learned buckets that must read light (0.5–1). */
  readonly quantile: number;
  /** Decayed buckets needed before the line is used (fewer: undefined, the configured line applies). */
  readonly minSamples: number;
  /** Half-life of what was learned, ms: a site's pages change, slowly. */
  readonly halfLifeMs: number;
}

export const DEFAULT_PACE_PROFILE: PaceProfileParams = Object.freeze({ quantile: 0.99, minSamples: 200, halfLifeMs: 3_600_000 });

/** A profile as plain data, to keep across a restart (defence/learned-store.ts). */
export interface PaceProfileData {
  /** Decayed weight per request count (index 0 = 1 request … MAX_COUNT - 1 = MAX_COUNT or more). */
  readonly bins: number[];
}

export interface PaceProfile {
  /** One identity's completed bucket held `count` requests (≥ 1), at `now`. */
  add(count: number, now: number): void;
  /**
   * The learned light line: the smallest request count that is not light, i.e. one more than the
   * `quantile` of the learned buckets; undefined before `minSamples`.
   */
  line(now: number): number | undefined;
  /** Decayed buckets learned, as of `now`. */
  samples(now: number): number;
  save(now: number): PaceProfileData;
  /** Takes saved data as learned; false (and nothing changed) when it is unusable. */
  load(data: unknown, now: number): boolean;
  /** Forgets everything learned. */
  clear(): void;
}

/**
 * `params` is read on every call, so a configuration reload applies at once. Decay without a pass
 * over the bins: each new bucket weighs 2^((now − origin) / halfLife), and the total is read the
 * same way; the bins are rescaled when the weights grow large.
 */
export function createPaceProfile(params: () => PaceProfileParams = () => DEFAULT_PACE_PROFILE): PaceProfile {
  const bins = new Float64Array(MAX_COUNT);
  let total = 0;
  let origin: number | undefined;
  const weightAt = (now: number, halfLifeMs: number): number => Math.pow(2, (now - (origin ?? now)) / halfLifeMs);
  // Keeps the weights finite: past 2^40, everything is scaled down and the origin moves to now.
  const rebase = (now: number, halfLifeMs: number): void => {
    const w = weightAt(now, halfLifeMs);
    if (w < 2 ** 40) return;
    for (let i = 0; i < MAX_COUNT; i++) bins[i] = (bins[i] as number) / w;
    total /= w;
    origin = now;
  };
  const samples = (now: number): number => {
    if (origin === undefined) return 0;
    return total / weightAt(Math.max(now, origin), params().halfLifeMs);
  };
  return {
    add(count, now) {
      if (!(count >= 1)) return;
      const { halfLifeMs } = params();
      origin ??= now;
      if (now < origin) now = origin; // a clock that went back adds at the origin's weight
      rebase(now, halfLifeMs);
      const w = weightAt(now, halfLifeMs);
      const i = Math.min(MAX_COUNT, Math.floor(count)) - 1;
      bins[i] = (bins[i] as number) + w;
      total += w;
    },
    line(now) {
      const p = params();
      if (origin === undefined || samples(now) < p.minSamples) return undefined;
      const target = total * Math.min(1, Math.max(0.5, p.quantile));
      let acc = 0;
      for (let i = 0; i < MAX_COUNT; i++) {
        acc += bins[i] as number;
        // i + 1 requests is the quantile: a bucket of that many is light, one more is not.
        if (acc >= target - 1e-9 * total) return i + 2;
      }
      return MAX_COUNT + 1;
    },
    samples,
    save(now) {
      const w = origin === undefined ? 1 : weightAt(Math.max(now, origin), params().halfLifeMs);
      return { bins: Array.from(bins, (b) => b / w) };
    },
    load(data, now) {
      const x = data as Partial<PaceProfileData> | null | undefined;
      if (x === null || typeof x !== 'object' || !Array.isArray(x.bins) || x.bins.length !== MAX_COUNT) return false;
      if (!x.bins.every((b) => typeof b === 'number' && Number.isFinite(b) && b >= 0)) return false;
      x.bins.forEach((b, i) => { bins[i] = b; });
      total = x.bins.reduce((a, b) => a + b, 0);
      origin = now;
      return true;
    },
    clear() {
      bins.fill(0);
      total = 0;
      origin = undefined;
    },
  };
}

/**
 * The rate line identity pace uses: the operator's `lightRequests` as the floor, raised to the
 * learned line up to `maxLightRequests` (a line learned lower than the floor changes nothing).
 */
export function effectiveLightRequests(configured: number, learned: number | undefined, max: number): number {
  if (learned === undefined) return configured;
  return Math.max(configured, Math.min(max, learned));
}
