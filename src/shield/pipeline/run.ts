import type { RequestContext } from '../context.js';
import type { Verdict } from '../verdict.js';
import type { Maybe, UpstreamRequest } from './phases.js';

type AnyFilter = (ctx: RequestContext, up: UpstreamRequest) => Maybe<Verdict | undefined>;

const isPromise = <T>(v: unknown): v is Promise<T> => typeof (v as { then?: unknown })?.then === 'function';

/**
 * Runs filters in order until one returns a verdict. Stays synchronous (no promise allocated) as
 * long as every filter does; from the first filter that returns a promise on, the rest run after it.
 * An `allow` verdict stops the list like any other verdict — the caller decides what it means.
 */
export function runFilters(filters: readonly AnyFilter[], ctx: RequestContext, up: UpstreamRequest, from = 0): Maybe<Verdict | undefined> {
  for (let i = from; i < filters.length; i++) {
    const r = (filters[i] as AnyFilter)(ctx, up);
    if (r === undefined) continue;
    if (isPromise<Verdict | undefined>(r)) {
      return r.then((v) => (v === undefined ? runFilters(filters, ctx, up, i + 1) : v));
    }
    return r;
  }
  return undefined;
}

export { isPromise };
