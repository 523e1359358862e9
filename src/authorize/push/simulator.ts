import type { PushMessage, PushProvider, PushResult } from './port.js';

/**
 * How the simulated channel behaves: `up`; `down` (the provider refuses, like an FCM 503 or a
 * connection refused); `blackhole` (accepted but never delivered, so apps never fetch).
 */
export type PushSimMode = 'up' | 'down' | 'blackhole';

/**
 * A push-provider simulator faithful to what the service sees from FCM/APNs: an accept/refuse
 * answer after a latency, then — when up — delivery to the device, whose app reacts by fetching
 * its challenge through the service's own app path (`deviceFetch`, e.g. an HTTP GET).
 */
export function createPushSimulator(opts: { latencyMs: number; deviceFetchDelayMs: number;
  deviceFetch: (m: PushMessage) => Promise<void> }): PushProvider & {
  mode(): PushSimMode; setMode(m: PushSimMode): void; stats(): { sent: number; refused: number; delivered: number } } {
  let mode: PushSimMode = 'up';
  let closed = false;
  const timers = new Set<NodeJS.Timeout>();
  const stats = { sent: 0, refused: 0, delivered: 0 };
  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => { timers.delete(t); if (!closed) fn(); }, ms);
    timers.add(t);
  };
  return {
    send(m: PushMessage): Promise<PushResult> {
      stats.sent++;
      return new Promise((resolve) => {
        if (closed) { resolve({ ok: false, error: 'closed' }); return; }
        later(opts.latencyMs, () => {
          if (mode === 'down') { stats.refused++; resolve({ ok: false, error: 'push provider unavailable (503)' }); return; }
          resolve({ ok: true });
          if (mode === 'blackhole') return;
          later(opts.deviceFetchDelayMs, () => {
            stats.delivered++;
            opts.deviceFetch(m).catch(() => {});
          });
        });
      });
    },
    mode: () => mode,
    setMode(m) { mode = m; },
    stats: () => ({ ...stats }),
    async close() { closed = true; for (const t of timers) clearTimeout(t); timers.clear(); },
  };
}
