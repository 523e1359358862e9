import type { TokenPayload } from './token.js';

/**
 * How much a reputation is worth. `established`: issued before the attack started by at least the
 * minimum age — the client was known in normal times, so it ranks first. `recent`: a valid
 * reputation, but young (a bot that browsed minutes before its flood looks like this): it proves
 * only that the client keeps cookies. `onset`: issued in the seconds just before the first
 * suspicion — detection lags an attack's onset, and the answers given in that lag went to the
 * attack's first requests as much as to customers; it is worth what a cookie minted during the
 * attack is. `none`: no valid reputation.
 */
export type ReputationRank = 'established' | 'recent' | 'onset' | 'none';

/** When the attack started (ms, undefined in normal times) and how old a reputation must be then. */
export interface ReputationAge {
  readonly attackStartedAt: number | undefined;
  readonly minAgeMs: number;
  /** The first suspicion of the current attack, ms (undefined in normal times). */
  readonly suspectedAt?: number | undefined;
}

/**
 * How long before the first suspicion a reputation counts as issued during the attack, ms.
 * Suspicion comes at most a second's tick after the onset, usually sooner (attack/attack-state.ts:
 * the rate line and the standing queue fire within the second); a token's issue time is kept in
 * whole seconds, so this covers 2–3 s before the suspicion. A customer who first arrived then is a
 * newcomer of the attack's first seconds and is ranked like one (no challenge, a later place in
 * the queue than customers known before).
 */
export const ONSET_LAG_MS = 2000;

/**
 * Ranks a verified reputation payload: established when issuedAt < attackStart − minAge (in normal
 * times, now − minAge), unless issued at or after suspectedAt − ONSET_LAG_MS (onset).
 * @example
 * rankReputation(rep, clock.now(), { attackStartedAt: state.since, minAgeMs: 10 * 60_000, suspectedAt })
 */
export function rankReputation(rep: TokenPayload | undefined, now: number, age: ReputationAge): ReputationRank {
  if (!rep) return 'none';
  const reference = age.attackStartedAt ?? now;
  const issuedAt = rep.iat * 1000;
  if (age.suspectedAt !== undefined && issuedAt >= age.suspectedAt - ONSET_LAG_MS) return 'onset';
  return issuedAt < reference - age.minAgeMs ? 'established' : 'recent';
}
