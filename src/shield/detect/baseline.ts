/**
 * Learned baselines: an exponentially weighted mean and variance (West 1979; Finch, "Incremental
 * calculation of weighted mean and variance", 2009) for rates, and bounded per-value share
 * baselines for the traffic sketch's dimensions, so defaults are "k σ above normal", never "N req/s".
 */

/** EWMA state as a plain value, so state machines can carry it. */
export interface EwmaState {
  readonly mean: number;
  readonly variance: number;
  readonly samples: number;
}

/** Smoothing: `halfLife` in samples (one sample per second → seconds), or `alpha` directly. */
export interface EwmaParams {
  readonly halfLife?: number;
  readonly alpha?: number;
  /** Samples before the baseline is trusted. Default 30. */
  readonly warmupSamples?: number;
}

/** The empty EWMA state. */
export const EWMA_EMPTY: EwmaState = Object.freeze({ mean: 0, variance: 0, samples: 0 });

/** The per-sample weight of a half-life: after `halfLife` samples an old value weighs one half. */
export function alphaOf(params: EwmaParams): number {
  if (params.alpha !== undefined) {
    if (!(params.alpha > 0 && params.alpha <= 1)) throw new RangeError(`alpha must be in (0, 1], got ${params.alpha}`);
    return params.alpha;
  }
  const h = params.halfLife ?? 300;
  if (!(h > 0)) throw new RangeError(`halfLife must be > 0, got ${h}`);
  return 1 - Math.pow(2, -1 / h);
}

/**
 * The weight of sample n (1-based): 1/n while that is above `alpha`, then `alpha`. With a fixed
 * alpha from the first sample on, the first second's reading outweighs the next hundreds (a half-
 * life of 600 samples gives each new one 0.1%): a shield that started on a quiet second kept a
 * baseline near it, and a customer's burst of five payments read as an arrival-rate attack. 1/n
 * makes the warm-up an exact mean and variance of what it saw (Welford), then the EWMA takes over.
 */
export function sampleWeight(samples: number, alpha: number): number {
  return Math.max(alpha, 1 / (samples + 1));
}

/** One EWMA update (the warm-up is the running mean: `sampleWeight`). */
export function ewmaStep(state: EwmaState, x: number, alpha: number): EwmaState {
  if (!Number.isFinite(x)) return state;
  const a = sampleWeight(state.samples, alpha);
  const diff = x - state.mean;
  const incr = a * diff;
  return { mean: state.mean + incr, variance: (1 - a) * (state.variance + diff * incr), samples: state.samples + 1 };
}

/** Standard score of `x` against a state, with `std` floored at `minStd` (never divides by 0). */
export function ewmaZ(state: EwmaState, x: number, minStd: number): number {
  const std = Math.max(Math.sqrt(state.variance), minStd, 1e-9);
  return (x - state.mean) / std;
}

/** A mutable EWMA baseline. */
export interface Ewma {
  update(x: number): void;
  readonly mean: number;
  readonly std: number;
  readonly samples: number;
  readonly isWarm: boolean;
  /** Standard score of `x`; 0 until warm. */
  zscore(x: number): number;
  readonly state: EwmaState;
}

/**
 * An EWMA mean/variance baseline (default half-life 300 samples, warm after 30).
 * @example const rate = createEwma({ halfLife: 600 }); rate.update(arrivalsThisSecond); rate.zscore(x);
 */
export function createEwma(params: EwmaParams = {}): Ewma {
  const alpha = alphaOf(params);
  const warmup = params.warmupSamples ?? 30;
  let state = EWMA_EMPTY;
  return {
    update(x) { state = ewmaStep(state, x, alpha); },
    get mean() { return state.mean; },
    get std() { return Math.sqrt(state.variance); },
    get samples() { return state.samples; },
    get isWarm() { return state.samples >= warmup; },
    zscore(x) { return state.samples >= warmup ? ewmaZ(state, x, 0) : 0; },
    get state() { return state; },
  };
}

/** A value's current share in one dimension, as a snapshot gives it. */
export interface ShareSample {
  readonly value: string;
  readonly share: number;
}

/** Normal shares of dimension values, learned from snapshots while there is no attack. */
export interface ShareBaseline {
  /** Folds one snapshot of a dimension in; values absent from `top` decay toward 0. */
  learn(dimension: string, top: readonly ShareSample[]): void;
  /** The learned share of a value (0 for a value never seen). */
  share(dimension: string, value: string): number;
  /** Share of the dimension's traffic outside every learned value (its long tail). */
  tailShare(dimension: string): number;
  /** Snapshots learned for a dimension. */
  samples(dimension: string): number;
  isWarm(dimension: string): boolean;
  /** Learned values of a dimension, largest first. */
  values(dimension: string): ShareSample[];
  /** Everything learned, as plain data (to keep across a restart). */
  save(): ShareBaselineData;
  /** Replaces what is learned with saved data (values beyond `maxValues` are dropped, largest kept). */
  load(data: ShareBaselineData): void;
}

/** A share baseline as plain data: per dimension, its snapshot count and learned shares. */
export type ShareBaselineData = Record<string, { samples: number; shares: Array<[string, number]> }>;

/** Share-baseline sizes: half-life in snapshots, values kept per dimension, warm-up. */
export interface ShareBaselineParams {
  readonly halfLife?: number;
  readonly maxValues?: number;
  readonly warmupSamples?: number;
  /** Shares below this are forgotten. Default 0.001. */
  readonly forgetBelow?: number;
}

/**
 * Per-dimension share baselines, at most `maxValues` (default 256) values each.
 * @example baseline.learn('fingerprint', snap.dimensions.fingerprint); baseline.share('fingerprint', fp);
 */
export function createShareBaseline(params: ShareBaselineParams = {}): ShareBaseline {
  const alpha = alphaOf({ halfLife: params.halfLife ?? 300 });
  const maxValues = params.maxValues ?? 256;
  const warmup = params.warmupSamples ?? 30;
  const forgetBelow = params.forgetBelow ?? 0.001;
  const dims = new Map<string, { shares: Map<string, number>; samples: number }>();
  const dim = (name: string) => {
    let d = dims.get(name);
    if (d === undefined) { d = { shares: new Map(), samples: 0 }; dims.set(name, d); }
    return d;
  };
  return {
    learn(dimension, top) {
      const d = dim(dimension);
      const seen = new Set<string>();
      // The warm-up is the mean share over the snapshots seen so far (`sampleWeight`): a value
      // first seen in the second snapshot is not held near 0 for the next few hundred.
      const a = sampleWeight(d.samples, alpha);
      for (const { value, share } of top) {
        seen.add(value);
        const old = d.shares.get(value) ?? 0;
        d.shares.set(value, old + a * (share - old));
      }
      for (const [value, old] of d.shares) {
        if (seen.has(value)) continue;
        const next = old * (1 - a);
        if (next < forgetBelow && d.samples > 0) d.shares.delete(value); else d.shares.set(value, next);
      }
      if (d.shares.size > maxValues) {
        const keep = [...d.shares].sort((a, b) => b[1] - a[1]).slice(0, maxValues);
        d.shares = new Map(keep);
      }
      d.samples++;
    },
    share: (dimension, value) => dims.get(dimension)?.shares.get(value) ?? 0,
    tailShare(dimension) {
      const d = dims.get(dimension);
      if (d === undefined) return 1;
      let sum = 0;
      for (const s of d.shares.values()) sum += s;
      return Math.max(0, 1 - sum);
    },
    samples: (dimension) => dims.get(dimension)?.samples ?? 0,
    isWarm: (dimension) => (dims.get(dimension)?.samples ?? 0) >= warmup,
    values(dimension) {
      const d = dims.get(dimension);
      return d === undefined ? [] : [...d.shares].map(([value, share]) => ({ value, share })).sort((a, b) => b.share - a.share);
    },
    save() {
      const out: ShareBaselineData = {};
      for (const [name, d] of dims) out[name] = { samples: d.samples, shares: [...d.shares] };
      return out;
    },
    load(data) {
      dims.clear();
      for (const [name, d] of Object.entries(data)) {
        const shares = d.shares.filter(([v, x]) => typeof v === 'string' && Number.isFinite(x) && x > 0 && x <= 1)
          .sort((a, b) => b[1] - a[1]).slice(0, maxValues);
        dims.set(name, { shares: new Map(shares), samples: Math.max(0, Math.floor(d.samples)) });
      }
    },
  };
}
