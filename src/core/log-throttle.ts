import type { Clock } from './clock.js';

/**
 * Bounds how often one kind of log line is written: at most `perWindow` lines per key per window;
 * the next line after a quiet spell reports how many were suppressed. A dead upstream under a
 * flood must not turn every request into a log write.
 */
export interface LogThrottle {
  /** Returns undefined to drop the line, or the number of lines suppressed since the last one written. */
  take(key: string): number | undefined;
}

/** Creates a throttle; memory is one small record per distinct key (error codes: a handful). */
export function createLogThrottle(clock: Clock, perWindow = 10, windowMs = 1000): LogThrottle {
  const state = new Map<string, { windowStart: number; written: number; suppressed: number }>();
  return {
    take(key) {
      const now = clock.now();
      let s = state.get(key);
      if (!s) { s = { windowStart: now, written: 0, suppressed: 0 }; state.set(key, s); }
      if (now - s.windowStart >= windowMs) { s.windowStart = now; s.written = 0; }
      if (s.written >= perWindow) { s.suppressed++; return undefined; }
      s.written++;
      const suppressed = s.suppressed;
      s.suppressed = 0;
      return suppressed;
    },
  };
}
