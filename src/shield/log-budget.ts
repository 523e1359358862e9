/**
 * A budget of log lines per second, by outcome counted when over it. Under a flood the shield
 * answers tens of thousands of requests a second it never forwards — refusals, challenges, cached
 * copies — and one access line each made the log the costliest thing it did for them (its
 * serialisation and the write; under systemd, journald's own CPU and rate limit on top), and the
 * attack's size the log's. Lines past the budget are counted and said in one summary line a
 * second instead, nginx's `access_log … if=` by volume rather than by hand.
 *
 * Pure: the caller passes `now` (ms).
 */

/** What one window held back. */
export interface Suppressed {
  readonly fromMs: number;
  readonly total: number;
  readonly byOutcome: Readonly<Record<string, number>>;
}

export interface LineBudget {
  /**
   * Whether a line of `outcome` may be written now. `summary` is set on the first call of a new
   * window whose predecessor held lines back: write it first.
   */
  take(outcome: string, nowMs: number): { readonly write: boolean; readonly summary?: Suppressed };
  /** The current window's held-back lines, if any (at shutdown); the window is emptied. */
  drain(): Suppressed | undefined;
}

/** `perS` lines a second (0: every line). */
export function createLineBudget(perS: () => number, windowMs = 1000): LineBudget {
  let window = -1;
  let used = 0;
  let held = 0;
  let byOutcome: Record<string, number> = {};
  const close = (): Suppressed | undefined => {
    if (held === 0) return undefined;
    const out = { fromMs: window * windowMs, total: held, byOutcome };
    held = 0;
    byOutcome = {};
    return out;
  };
  return {
    take(outcome, nowMs) {
      const limit = perS();
      if (limit <= 0) return { write: true };
      const w = Math.floor(nowMs / windowMs);
      let summary: Suppressed | undefined;
      if (w !== window) { summary = close(); window = w; used = 0; }
      if (used < limit) { used++; return summary ? { write: true, summary } : { write: true }; }
      held++;
      byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
      return summary ? { write: false, summary } : { write: false };
    },
    drain: close,
  };
}
