/**
 * Generic Cell Rate Algorithm (ITU-T I.371 / ATM Forum TM 4.0, virtual scheduling form): one
 * number per key, the theoretical arrival time (TAT), instead of a bucket refilled by a timer.
 */

/** Sustained rate and how many requests may arrive back-to-back above it. */
export interface GcraParams {
  readonly ratePerS: number;
  readonly burst: number;
}

/** The outcome of one arrival: the TAT to store and what to tell the client. */
export interface GcraResult {
  readonly allowed: boolean;
  readonly tat: number;
  readonly retryAfterMs: number;
  readonly remaining: number;
}

// Absorbs float rounding of repeated `tat + interval` against `burst * interval`, so a burst of
// exactly `burst + 1` is never refused by one ulp; a nanosecond is far below any clock's grain.
const EPSILON_MS = 1e-6;

/**
 * Decides one arrival at `now` (ms) for a key whose stored TAT is `tat` (undefined for an unseen
 * key): at most `burst + 1` at once, then one per `1000 / ratePerS` ms; a refusal keeps the TAT.
 * @example
 * const r = gcraStep(tats.get(key), clock.now(), { ratePerS: 10, burst: 20 });
 * if (r.allowed) tats.set(key, r.tat); else retryAfterS = Math.ceil(r.retryAfterMs / 1000);
 */
export function gcraStep(tat: number | undefined, now: number, params: GcraParams): GcraResult {
  const { ratePerS, burst } = params;
  if (!(ratePerS > 0 && ratePerS < Infinity && burst >= 0 && burst < Infinity)) {
    throw new RangeError(`GCRA needs a finite ratePerS > 0 and burst >= 0, got ${ratePerS} and ${burst}`);
  }
  const interval = 1000 / ratePerS; // emission interval T
  const tolerance = burst * interval; // burst tolerance τ
  const start = tat !== undefined && tat > now ? tat : now;
  const ahead = start - now; // how far the key already runs ahead of its schedule
  if (ahead > tolerance + EPSILON_MS) {
    return { allowed: false, tat: start, retryAfterMs: ahead - tolerance, remaining: 0 };
  }
  const remaining = Math.floor((tolerance - ahead) / interval + EPSILON_MS);
  return { allowed: true, tat: start + interval, retryAfterMs: 0, remaining: remaining > 0 ? remaining : 0 };
}

/**
 * Gives back one arrival that `gcraStep` admitted and that turned out not to count (a connection
 * that went on to carry a request, say): its TAT one interval earlier, never before `now`.
 * Undefined when nothing is left ahead of schedule (the key can be forgotten).
 * @example
 * const tat = gcraRefund(tats.get(key), clock.now(), params);
 */
export function gcraRefund(tat: number | undefined, now: number, params: GcraParams): number | undefined {
  if (tat === undefined || !(params.ratePerS > 0)) return undefined;
  const back = tat - 1000 / params.ratePerS;
  return back > now ? back : undefined;
}
