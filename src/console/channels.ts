import { request } from 'undici';
import type { Clock } from '../core/clock.js';
import type { Service } from '../core/lifecycle.js';

/** What the authorization service's GET /v1/channels says, reduced to what the console and status page show. */
export interface ChannelReading {
  /** The channel payments are approved on now. */
  readonly mode: 'app' | 'sms' | 'unknown';
  readonly app: 'up' | 'down' | 'unreachable';
  readonly sms: 'up' | 'down' | 'unreachable';
  /** Set while an operator override is in force. */
  readonly override: { readonly mode: string; readonly reason: string; readonly until: number } | null;
  readonly breaker: string | null;
  readonly at: number;
  /** The last answer as received (the console shows it). */
  readonly raw: unknown;
}

interface ChannelsAnswer {
  channel?: unknown;
  breaker?: { phase?: unknown };
  override?: { mode?: unknown; reason?: unknown; until?: unknown } | null;
  smsProviders?: Array<{ blockedUntil?: unknown }>;
}

/**
 * Reads one answer of GET /v1/channels. Pure. The app channel is "down" while payments go by SMS
 * (breaker open or an operator forcing SMS): for a customer the app approval does not work either
 * way. SMS is down when every provider is blocked.
 */
export function readChannels(body: unknown, now: number): ChannelReading {
  const b = (body ?? {}) as ChannelsAnswer;
  const mode = b.channel === 'app' || b.channel === 'sms' ? b.channel : 'unknown';
  const providers = Array.isArray(b.smsProviders) ? b.smsProviders : [];
  const smsDown = providers.length > 0 && providers.every((p) => typeof p.blockedUntil === 'number' && p.blockedUntil > now);
  const o = b.override;
  return {
    mode,
    app: mode === 'sms' ? 'down' : 'up',
    sms: smsDown ? 'down' : 'up',
    override: o && typeof o === 'object' ? { mode: String(o.mode), reason: String(o.reason ?? ''), until: Number(o.until ?? 0) } : null,
    breaker: typeof b.breaker?.phase === 'string' ? b.breaker.phase : null,
    at: now,
    raw: body,
  };
}

const UNREACHABLE = (now: number, error: string): ChannelReading =>
  ({ mode: 'unknown', app: 'unreachable', sms: 'unreachable', override: null, breaker: null, at: now, raw: { error } });

/** Polls the authorization service's channels; `current()` is undefined when none is configured. */
export interface ChannelWatch extends Service {
  current(): ChannelReading | undefined;
}

/**
 * Polls GET {authorizeUrl}/v1/channels every `intervalMs`. Three failed polls in a row make both
 * channels "unreachable" (one lost answer is not an outage).
 */
export function createChannelWatch(opts: { url: () => string | undefined; clock: Clock; intervalMs?: number; onChange?: (r: ChannelReading) => void }): ChannelWatch {
  const interval = opts.intervalMs ?? 2000;
  let reading: ChannelReading | undefined;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let busy = false;
  const set = (r: ChannelReading): void => {
    const changed = !reading || reading.mode !== r.mode || reading.app !== r.app || reading.sms !== r.sms;
    reading = r;
    if (changed) opts.onChange?.(r);
  };
  const poll = async (): Promise<void> => {
    const base = opts.url();
    if (!base || busy) return;
    busy = true;
    try {
      const res = await request(`${base.replace(/\/$/, '')}/v1/channels`, { headersTimeout: Math.min(1500, interval), bodyTimeout: Math.min(1500, interval) });
      if (res.statusCode !== 200) { await res.body.dump(); throw new Error(`HTTP ${res.statusCode}`); }
      const body = await res.body.json();
      failures = 0;
      set(readChannels(body, opts.clock.now()));
    } catch (e) {
      failures++;
      if (failures >= 3) set(UNREACHABLE(opts.clock.now(), (e as Error).message));
    } finally {
      busy = false;
    }
  };
  return {
    name: 'channel-watch',
    start() {
      if (!opts.url()) return;
      void poll();
      timer = setInterval(() => void poll(), interval);
      timer.unref();
    },
    stop() { clearInterval(timer); },
    current: () => (opts.url() ? reading : undefined),
  };
}
