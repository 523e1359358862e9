/** Per-payer failure state, persisted across authentications, channels and restarts. */
export interface LockoutState {
  /** Consecutive failed attempts since the last success or block. */
  failures: number;
  /** Blocked until this time (ms); 0 when not blocked. */
  blockedUntil: number;
  /** Temporary blocks in a row (reset by a success). */
  blocks: number;
  permanent: boolean;
}

/** Lockout policy: failures before a block, block length, blocks before a permanent one. */
export interface LockoutParams { maxFailures: number; blockMs: number; permanentAfterBlocks: number }

/** What the service must do after a failure. */
export type LockoutDecision =
  | { kind: 'counted'; remaining: number }
  /** One attempt left: the payer is alerted before the block (RTS art. 4(4)). */
  | { kind: 'warn'; remaining: 1 }
  | { kind: 'blocked'; until: number; permanent: boolean; nextIsPermanent: boolean };

/** A payer with no failure history. */
export const CLEAN_LOCKOUT: LockoutState = { failures: 0, blockedUntil: 0, blocks: 0, permanent: false };

/** True while the payer may not authenticate. */
export function isBlocked(s: LockoutState, now: number): boolean {
  return s.permanent || s.blockedUntil > now;
}

/**
 * RTS art. 4(3)(b): at most `maxFailures` (≤ 5) consecutive failures, whatever the channel or
 * authentication, then a block for `blockMs`; after `permanentAfterBlocks` blocks in a row the
 * block is permanent, and art. 4(4) requires the payer be alerted before it is.
 */
export function registerFailure(s: LockoutState, now: number, p: LockoutParams): { state: LockoutState; decision: LockoutDecision } {
  const failures = s.failures + 1;
  if (failures < p.maxFailures) {
    const remaining = p.maxFailures - failures;
    return { state: { ...s, failures }, decision: remaining === 1 ? { kind: 'warn', remaining: 1 } : { kind: 'counted', remaining } };
  }
  const blocks = s.blocks + 1;
  const permanent = blocks >= p.permanentAfterBlocks;
  const until = permanent ? Number.MAX_SAFE_INTEGER : now + p.blockMs;
  return {
    state: { failures: 0, blockedUntil: until, blocks, permanent },
    decision: { kind: 'blocked', until, permanent, nextIsPermanent: !permanent && blocks + 1 >= p.permanentAfterBlocks },
  };
}

/** A successful authentication resets the consecutive count (art. 4(3)(b) counts consecutive failures). */
export function registerSuccess(s: LockoutState): LockoutState {
  return { ...s, failures: 0, blocks: 0 };
}
