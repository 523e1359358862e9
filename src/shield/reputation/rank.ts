import type { TokenPayload } from './token.js';

/**
 * How much a reputation is worth. `established`: issued before the attack started by at least the
 * minimum age — the client was known in normal times, so it ranks first. `recent`: a valid
 * reputation, but young (a bot that browsed minutes before its flood looks like this): it proves
 * only that the client keeps cookies. `none`: no valid reputation.
 */
export type ReputationRank = 'established' | 'recent' | 'none';

/** When the attack started (ms, undefined in normal times) and how old a reputation must be then. */
export interface ReputationAge {
  readonly attackStartedAt: number | undefined;
  readonly minAgeMs: number;
}

/**
 * Ranks a verified reputation payload: established when issuedAt < attackStart − minAge (in normal
 * times, now − minAge).
 * @example
 * rankReputation(rep, clock.now(), { attackStartedAt: state.since, minAgeMs: 10 * 60_000 })
 */
export function rankReputation(rep: TokenPayload | undefined, now: number, age: ReputationAge): ReputationRank {
  if (!rep) return 'none';
  const reference = age.attackStartedAt ?? now;
  return rep.iat * 1000 < reference - age.minAgeMs ? 'established' : 'recent';
}
