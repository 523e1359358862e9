/**
 * Attack signatures: what in the current window's traffic jumped against its learned share.
 *
 * Why shares and not rates: in a flash crowd every value's rate rises with the crowd, but the
 * mix stays the mix — the same fingerprints, the same path templates, the same query shapes, in
 * about the same proportions — and the new clients spread thinly over many addresses and prefixes.
 * A flood is made by few programs: one fingerprint (or a random one per request), one or a few
 * paths, a query shape nobody used, sources bunched in some networks. So a signature needs a value
 * whose share rose `minLift`× above its baseline share *and* that carries at least `minShare` of
 * all traffic; a value's rate alone never makes a signature. New values (never in the baseline) of
 * the client-software dimensions are also summed into one "(new)" aggregate, which catches floods
 * that randomize fingerprints or query keys per request; clients and prefixes get no such
 * aggregate, because a flash crowd is by definition made of new clients.
 */
import type { ShareBaseline } from './baseline.js';
import type { Dimension, TrafficSnapshot } from './source-tracker.js';

/** One value that jumped. `value` is `(new)` for the aggregate of values absent from the baseline. */
export interface Signature {
  readonly dimension: Dimension;
  readonly value: string;
  readonly share: number;
  readonly baselineShare: number;
  readonly lift: number;
  readonly requestsPerS: number;
  /** Requests per second above what the baseline share would give at the current total. */
  readonly excessPerS: number;
}

/** The value of a signature that stands for every value absent from the baseline. */
export const NEW_VALUES = '(new)';

/** Thresholds of the signature finder; all relative to the window's total. */
export interface SignatureParams {
  /** Least share of the window a signature must carry. Default 0.05. */
  readonly minShare: number;
  /** Least current share / baseline share. Default 3. */
  readonly minLift: number;
  /** Baseline share assumed for unseen values (keeps lift finite). Default 0.01. */
  readonly shareFloor: number;
  readonly dimensions: readonly Dimension[];
  /** Dimensions whose unseen values are also summed into one `(new)` signature. */
  readonly noveltyDimensions: readonly Dimension[];
}

/** Defaults: a value must hold ≥ 5% of traffic and ≥ 3× its normal share. */
export const DEFAULT_SIGNATURE_PARAMS: SignatureParams = Object.freeze({
  minShare: 0.05,
  minLift: 3,
  shareFloor: 0.01,
  dimensions: ['client', 'prefix', 'prefix48', 'fingerprint', 'path', 'userAgent', 'queryShape', 'cookie'] as Dimension[],
  noveltyDimensions: ['fingerprint', 'queryShape', 'path'] as Dimension[],
});

/**
 * Ranked signatures (largest excess first) of a snapshot against baseline shares.
 * @example
 * if (phase === 'under_attack') signatures = findSignatures(sketch.snapshot(32), shares);
 */
export function findSignatures(snapshot: TrafficSnapshot, baseline: ShareBaseline, overrides: Partial<SignatureParams> = {}): Signature[] {
  const p: SignatureParams = { ...DEFAULT_SIGNATURE_PARAMS, ...overrides };
  const out: Signature[] = [];
  if (snapshot.total === 0) return out;
  const rate = snapshot.ratePerS;
  for (const dim of p.dimensions) {
    if (!baseline.isWarm(dim) && dim !== 'client' && dim !== 'prefix' && dim !== 'prefix48') continue;
    const entries = snapshot.dimensions[dim];
    let knownShare = 0;
    for (const e of entries) {
      // Lower bound of the count: a signature should not rest on sketch error.
      const share = Math.max(0, e.count - e.error) / snapshot.total;
      const base = baseline.share(dim, e.value);
      if (base >= p.shareFloor) knownShare += share;
      const lift = share / Math.max(base, p.shareFloor);
      if (share >= p.minShare && lift >= p.minLift) {
        out.push({ dimension: dim, value: e.value, share, baselineShare: base, lift, requestsPerS: share * rate, excessPerS: (share - base) * rate });
      }
    }
    if (p.noveltyDimensions.includes(dim) && baseline.isWarm(dim)) {
      // Everything outside the learned values, now against then: the tail plus the new.
      const share = Math.max(0, 1 - knownShare);
      const base = baseline.tailShare(dim);
      const lift = share / Math.max(base, p.shareFloor);
      const single = out.some((s) => s.dimension === dim && s.baselineShare < p.shareFloor && s.share >= share * 0.8);
      if (share >= p.minShare && lift >= p.minLift && !single) {
        out.push({ dimension: dim, value: NEW_VALUES, share, baselineShare: base, lift, requestsPerS: share * rate, excessPerS: (share - base) * rate });
      }
    }
  }
  return out.sort((a, b) => b.excessPerS - a.excessPerS);
}

/**
 * Approximate total-variation distance (½ Σ |p − q|) between a dimension's current and baseline
 * shares, 0-1: near 0 when the mix is the usual one (a flash crowd), large when a flood reshaped
 * it. Values outside both lists are compared as one lump (current rest against baseline tail).
 */
export function mixShift(snapshot: TrafficSnapshot, baseline: ShareBaseline, dimension: Dimension): number {
  const total = snapshot.total;
  if (total === 0) return 0;
  const current = new Map<string, number>();
  let listed = 0;
  for (const e of snapshot.dimensions[dimension]) {
    const share = Math.min(1, e.count / total);
    current.set(e.value, share);
    listed += share;
  }
  let sum = 0;
  for (const [value, share] of current) sum += Math.abs(share - baseline.share(dimension, value));
  for (const v of baseline.values(dimension)) if (!current.has(v.value)) sum += v.share;
  sum += Math.abs(Math.max(0, 1 - listed) - baseline.tailShare(dimension));
  return Math.min(1, sum / 2);
}
