import type { RequestContext } from '../context.js';
import { sessionTier, STANDING, type AdmissionQueue } from './admission.js';

/**
 * The tier a request waits at in `queue` now: its own, but for a logged-in customer's request off
 * the critical routes, which ranks as an established customer's while the queue's known customers
 * go strictly first (admission.ts `sessionTier`). Records the standing it was filed with, against
 * which the queue re-reads its pace (runtime.ts `retier`).
 */
export function queueTier(ctx: RequestContext, queue: AdmissionQueue, now: number): number {
  if (ctx.authenticated !== true) return ctx.tier;
  const strict = queue.knownStrict(now);
  ctx.queueStanding = strict ? STANDING.established : undefined;
  return sessionTier(ctx.tier, strict);
}
