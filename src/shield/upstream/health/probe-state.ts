/**
 * Active health: a server's up/down state from HTTP probe results, with HAProxy's `rise` and
 * `fall` (a down server needs `rise` successes in a row to come back, an up one `fall` failures in
 * a row to go down), so one lost probe never flaps a server.
 */
export interface ProbeState {
  readonly up: boolean;
  /** Records one probe; returns the new state when it changed. */
  record(ok: boolean): 'up' | 'down' | undefined;
  /** Successes (while down) or failures (while up) in a row so far. */
  readonly streak: number;
}

/** Creates a probe state; a server starts up (HAProxy's default), probes take it down. */
export function createProbeState(rise: number, fall: number, up = true): ProbeState {
  let streak = 0;
  return {
    get up() { return up; },
    get streak() { return streak; },
    record(ok) {
      if (ok === up) { streak = 0; return undefined; }
      streak++;
      if (streak < (up ? fall : rise)) return undefined;
      up = !up;
      streak = 0;
      return up ? 'up' : 'down';
    },
  };
}

/**
 * Slow start (HAProxy `slowstart`): a server that just came back takes a share of traffic growing
 * linearly from 10% to 100% of its weight over `rampMs`, so a cold origin (empty caches, JIT) is
 * not flattened by its full share at once.
 */
export function slowStartFactor(now: number, upSince: number, rampMs: number): number {
  if (rampMs <= 0) return 1;
  const f = (now - upSince) / rampMs;
  return f >= 1 ? 1 : Math.max(0.1, f);
}
