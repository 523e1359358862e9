/**
 * Adaptive concurrency limit per upstream, discovering capacity from latency in the manner of
 * TCP Vegas and Netflix concurrency-limits' Gradient2, judged once a round trip (a limit's worth
 * of answers sent under the limit in force): while their mean ratio of RTT to no-load RTT (per kind
 * of request) stays near 1 the limit grows by half √limit; past a tolerance it steps down to what
 * those answers say the upstream completes without queueing (Little's law: in flight when sent /
 * ratio); a drop or timeout backs off multiplicatively. A kind's no-load RTT is the mean RTT of its
 * answers sent at light load (at most half the limit in flight), not its fastest: see `kinds`.
 *
 * A limit that starts (or drifts) above capacity with no light traffic to learn from sees a steady
 * RTT of noLoad × limit / capacity and cannot tell it from a slow upstream, so, like BBR's
 * ProbeRTT, the limit is halved for two round trips every `probeEveryMs`: the RTT at half the limit
 * joins the no-load mean, and if it is lower the limit steps down. It costs about 2 RTTs of half
 * concurrency every 5 s — at most a twentieth of the time (`probeMaxShare`): against pages of
 * ~0.4 s (16 workers × 320 ms ± 50%), two round trips every 5 s kept the limit at half 15% of the
 * time, and 91% of the workers busy under excess demand (93% over three seeds, 89–96%, with
 * probes spaced to a twentieth; test/unit/detect-admission.test.ts). BBR's ProbeRTT takes 200 ms
 * every 10 s, 2% of the time.
 */

/** One completed (or dropped) upstream request. */
export interface LimitSample {
  readonly rttMs: number;
  /** Requests in flight when this one was sent, itself included. */
  readonly inFlight: number;
  /** Timed out, refused or answered 503 by the upstream. */
  readonly dropped?: boolean;
  /**
   * What kind of request it was (a path template, a route): each kind has its own no-load RTT, so
   * a mix of 2 ms static files and 30 ms logins is not read as queueing. Default `''`.
   */
  readonly kind?: string;
  /**
   * Of `rttMs`, how long the shield's own event loop held the answer back before reading it
   * (upstream/loop-stall.ts): time the upstream did not spend. Default 0.
   */
  readonly stallMs?: number;
}

/** Bounds and gains of the limiter. */
export interface ConcurrencyLimitParams {
  readonly initial: number;
  readonly min: number;
  readonly max: number;
  /** Grow while a round's mean ratio of RTT to no-load RTT is ≤ 1 + growTolerance. Default 0.05. */
  readonly growTolerance: number;
  /** Step down once it is > 1 + shrinkTolerance. Default 0.2. */
  readonly shrinkTolerance: number;
  /** Weight of each sample in the smoothed RTT and ratio (0.1): for graphs and the probe's length. */
  readonly rttSmoothing: number;
  /** Least factor one shrink step may apply (0.5): a step per round trip, at most halving. */
  readonly shrinkFloor: number;
  /** Multiplier on a drop. Default 0.9. */
  readonly backoff: number;
  /**
   * A kind's no-load RTT is the mean RTT of its answers sent at light load (at most half the limit
   * in flight) in the last one or two windows of this length (10 s).
   */
  readonly noLoadWindowMs: number;
  /** Kinds with their own no-load RTT; a new kind past it is not judged until one frees its place. Default 256. */
  readonly maxKinds: number;
  /** Every this often the limit is halved for two round trips to re-measure the no-load RTT. */
  readonly probeEveryMs: number;
  /**
   * Most of the time a probe may take (0.05): a probe lasts two round trips, so against a slow
   * upstream probes come less often than `probeEveryMs` (pages of ~0.4 s: every ~16 s, not 5 s).
   */
  readonly probeMaxShare: number;
}

/** Defaults: start at 20, between 4 and 1000. */
export const DEFAULT_LIMIT_PARAMS: ConcurrencyLimitParams = Object.freeze({
  initial: 20, min: 4, max: 1000, growTolerance: 0.05, shrinkTolerance: 0.2, rttSmoothing: 0.1,
  shrinkFloor: 0.5, backoff: 0.9, noLoadWindowMs: 10_000, maxKinds: 256, probeEveryMs: 5_000, probeMaxShare: 0.05,
});

/** An adaptive limit: feed it samples, read `limit` (whole requests) before admitting. */
export interface ConcurrencyLimit {
  onSample(sample: LimitSample, now: number): number;
  readonly limit: number;
  /** The fractional limit, for graphs. */
  readonly estimate: number;
  /** No-load RTT of the kind of the latest sample. */
  readonly noLoadRttMs: number;
  readonly smoothedRttMs: number;
  /** Smoothed RTT / no-load RTT: 1 is an idle upstream, 2 means requests wait as long as they work. */
  readonly smoothedRatio: number;
}

/** A kind's answers at light load, this window and the last (see `kinds` below). */
interface KindRtt {
  /** The kind's first answer's RTT: its no-load RTT until one is sent at light load. */
  readonly first: number;
  sum: number;
  count: number;
  previousSum: number;
  previousCount: number;
  /** Answered in this window at all (a kind unseen for a whole window gives its place up). */
  seen: boolean;
}

/**
 * A latency-driven concurrency limit (see the module comment).
 * @example
 * const limit = createConcurrencyLimit(); if (inFlight < limit.limit) send();
 * // on completion: limit.onSample({ rttMs, inFlight, dropped: status === 503 }, clock.now());
 */
export function createConcurrencyLimit(overrides: Partial<ConcurrencyLimitParams> = {}): ConcurrencyLimit {
  const p: ConcurrencyLimitParams = { ...DEFAULT_LIMIT_PARAMS, ...overrides };
  if (!(p.min >= 1 && p.max >= p.min)) throw new RangeError(`need 1 ≤ min ≤ max, got ${p.min}, ${p.max}`);
  let limit = Math.min(p.max, Math.max(p.min, p.initial));
  // Per kind, the RTT at light load: the mean over this window and the last that had any, of the answers sent
  // with at most half the limit in flight (a probe's, under sustained load), as BBR's windowed
  // min_rtt filter (draft-ietf-ccwg-bbr) keeps a recent past: a slower upstream is learned within
  // two windows, a fast past is forgotten. Not the minimum (until the thirty-fifth session): a real
  // application's latency varies at no load — a cache hit, a cold row — and against its fastest
  // answer every typical one read as queueing: at ±20% the limit sat at its floor of 4 over an
  // upstream of 32 workers, at an eighth of its capacity (test/unit/detect-admission.test.ts).
  const kinds = new Map<string, KindRtt>();
  let windowStart = -Infinity;
  let noLoad = Infinity;
  let smoothed = 0;
  let ratioSmoothed = 0;
  let lastDrop = -Infinity;
  let changedAt = -Infinity;
  // The answers judged in this round (a limit's worth, sent under the limit in force): the sum of
  // their ratios, how many, how many were sent with the limit at least half used.
  let roundSum = 0;
  // The same ratios with the stall left in: growth is judged on them.
  let roundRaw = 0;
  let roundCount = 0;
  let roundUsed = 0;
  // And of what each says the upstream completes without queueing: in flight when sent / its ratio.
  let roundCapacity = 0;
  let nextProbeAt: number | undefined;
  let probeFrom = -Infinity;
  let probeUntil = -Infinity;
  const exposed = (now: number): number => Math.floor(now < probeUntil ? Math.max(p.min, limit / 2) : limit);
  let current = Math.floor(limit);

  return {
    onSample(sample, now) {
      const result = update(sample, now);
      current = result;
      return result;
    },
    get limit() { return current; },
    get estimate() { return limit; },
    get noLoadRttMs() { return noLoad; },
    get smoothedRttMs() { return smoothed; },
    get smoothedRatio() { return ratioSmoothed; },
  };

  function update(sample: LimitSample, now: number): number {
    // The upstream's time is what is left once the shield's own stall is taken out: a shield whose
    // CPU a flood saturates reads every answer late, and that lateness read as queueing stepped the
    // limit down at the onset while the upstream stood idle (browse-crowd against 14 workers: the
    // loop stalled 150–280 ms, the limit fell from ~18 to its floor of 4 for ~3 s and the shield
    // forwarded a fifth to a tenth of what it had in the warm-up). A stall can explain a rise,
    // never show room: a stalled answer never reads as faster than its kind at no load (`judged`
    // below), and the limit grows only on what the answers took in full (`roundRaw`) — the
    // measured stall is the loop's latest, not each answer's own, and where the upstream shares
    // the shield's CPU it slows with the same flood.
    const stall = Math.min(Math.max(0, sample.stallMs ?? 0), Math.max(0, sample.rttMs));
    const rtt = sample.rttMs - stall;
    nextProbeAt ??= now + 1000;
    if (now >= nextProbeAt) {
      probeFrom = now;
      const probeMs = 2 * (smoothed > 0 ? smoothed : rtt);
      probeUntil = now + probeMs;
      nextProbeAt = now + Math.max(p.probeEveryMs, probeMs / p.probeMaxShare);
      // Answers sent at half the limit show no queueing, by design: none of them is judged.
      changedAt = probeUntil;
      roundSum = roundRaw = roundCapacity = roundCount = roundUsed = 0;
    }
    if (sample.dropped) {
      // One back-off per round trip: a burst of timeouts is one congestion event (RFC 5681 §3.1).
      if (now - lastDrop >= (Number.isFinite(noLoad) ? noLoad : rtt)) { limit = Math.max(p.min, limit * p.backoff); lastDrop = now; }
      return exposed(now);
    }
    if (!(rtt > 0 && Number.isFinite(rtt))) return exposed(now);
    const raw = sample.rttMs;
    if (now - windowStart >= p.noLoadWindowMs) {
      // A kind not seen in the window that ends gives up its place.
      for (const [k, m] of kinds) {
        if (!m.seen) { kinds.delete(k); continue; }
        if (m.count > 0) { m.previousSum = m.sum; m.previousCount = m.count; }
        m.sum = 0;
        m.count = 0;
        m.seen = false;
      }
      windowStart = now;
    }
    const kind = sample.kind ?? '';
    // Past the bound a new kind is not judged until a place frees (a kind unseen for a whole
    // window gives its place up). Pooled, the kinds past the bound would share the least RTT of
    // all of them and every costlier one would read as queueing (the limit sinks to its floor);
    // evicting the least recently seen instead re-learns a kind's no-load RTT from samples that
    // queued, over and over in a long tail of kinds, and each one read as an idle upstream (the
    // limit ran away to its ceiling): both measured in test/unit/detect-admission.test.ts.
    let m = kinds.get(kind);
    if (m === undefined) {
      if (kinds.size >= p.maxKinds) return exposed(now);
      // A kind's first sample is its own no-load RTT by definition: it says nothing about queueing,
      // and counted as "ratio 1" a stream of new kinds (slugs, a flood of random paths) would read
      // as an idle upstream and grow the limit. It only sets the kind's RTT.
      kinds.set(kind, { first: rtt, sum: 0, count: 0, previousSum: 0, previousCount: 0, seen: true });
      return exposed(now);
    }
    m.seen = true;
    const sentAt = now - raw;
    if (sample.inFlight <= Math.max(1, limit / 2) || (sentAt >= probeFrom && sentAt < probeUntil)) { m.sum += rtt; m.count++; }
    // Until one is sent at light load, its first answer stands for it (sent at any load).
    noLoad = m.count + m.previousCount > 0 ? (m.sum + m.previousSum) / (m.count + m.previousCount) : m.first;
    // A stalled answer is judged on no less than its kind's no-load RTT (nor more than it took):
    // the stall measured is the loop's latest, not this answer's own, and may be the larger.
    // With no stall, rtt = raw and this is rtt.
    const judged = Math.max(rtt, Math.min(raw, noLoad));
    smoothed = smoothed === 0 ? judged : smoothed + p.rttSmoothing * (judged - smoothed);
    // The ratio per sample, then smoothed: each kind is judged against its own no-load RTT.
    const sampleRatio = judged / noLoad;
    // Sent before the limit last changed: it tells of the limit before (an answer sent before a
    // step down queued behind the excess the step corrects, and would step it down again).
    if (sentAt < changedAt) return exposed(now);
    ratioSmoothed = ratioSmoothed === 0 ? sampleRatio : ratioSmoothed + p.rttSmoothing * (sampleRatio - ratioSmoothed);
    roundSum += sampleRatio;
    roundRaw += raw / noLoad;
    roundCapacity += sample.inFlight / sampleRatio;
    if (sample.inFlight >= limit / 2) roundUsed++;
    if (++roundCount < Math.max(1, Math.round(limit))) return exposed(now);
    // Judged once per round trip — a limit's worth of answers sent under the limit in force — on
    // their mean: a step down to what the upstream completes without queueing, or a step up of
    // half √limit. Judged per answer (until the thirty-fifth session), steps compounded over a
    // round trip, and the answers still coming back from under an old limit stepped it down again
    // for what the first step corrected: a limit of 20 over an 8-worker origin fell to the floor
    // of 4 within a second of a flash crowd (test/unit/detect-admission.test.ts, the FIFO origin).
    // Half a round trip is not enough: its answers are the cohort's first, those that did not
    // queue, and the limit grew on them past capacity.
    const mean = roundSum / roundCount;
    const rawMean = roundRaw / roundCount;
    const capacity = roundCapacity / roundCount;
    const used = roundUsed * 2 >= roundCount;
    roundSum = 0;
    roundRaw = 0;
    roundCapacity = 0;
    roundCount = 0;
    roundUsed = 0;
    if (mean > 1 + p.shrinkTolerance) {
      // Little's law on what was in flight when each was sent, not on the limit now: answers
      // sent just after a step still queued behind the excess of the limit before it.
      limit = Math.max(p.min, limit * p.shrinkFloor, Math.min(limit, capacity * (1 + p.growTolerance)));
      changedAt = now;
    } else if (rawMean <= 1 + p.growTolerance && used) {
      // Only grow when the limit is used: an idle upstream tells nothing about its capacity.
      limit = Math.min(p.max, limit + Math.sqrt(limit) / 2);
      changedAt = now;
    }
    return exposed(now);
  }
}
