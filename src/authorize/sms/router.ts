import type { Clock } from '../../core/clock.js';
import type { DeliveryReceipt, SmsMessage, SmsProvider } from './port.js';

/** The router's answer: which provider took the message, or when to try again and why. */
export type RouteResult =
  | { kind: 'accepted'; provider: string; providerMessageId: string }
  | { kind: 'retry'; afterMs: number; reason: 'throttled' | 'all_failed' };

/** Provider health as shown by GET /v1/channels. */
export interface ProviderStatus { name: string; blockedUntil: number; lastError: string; throttledUntil: number }

/**
 * Sends through providers in priority order: a provider that fails is blocked for `blockMs`
 * and the next one is tried; once the block lapses the preferred provider is tried again
 * (revert). Throttling is backpressure: the message waits for the same provider, which is
 * neither blocked nor failed over.
 */
export function createSmsRouter(providers: readonly SmsProvider[], opts: { clock: Clock; blockMs: number;
  onBlocked?: (name: string, reason: string) => void }) {
  const status = new Map<string, ProviderStatus>(providers.map((p) => [p.name, { name: p.name, blockedUntil: 0, lastError: '', throttledUntil: 0 }]));
  const receiptFns: Array<(r: DeliveryReceipt) => void> = [];
  for (const p of providers) p.onReceipt((r) => { for (const fn of receiptFns) fn(r); });

  return {
    providers,
    async send(m: SmsMessage): Promise<RouteResult> {
      for (const p of providers) {
        const st = status.get(p.name) as ProviderStatus;
        const now = opts.clock.now();
        if (st.blockedUntil > now) continue;
        if (st.throttledUntil > now) return { kind: 'retry', afterMs: st.throttledUntil - now, reason: 'throttled' };
        let r;
        try {
          r = await p.send(m);
        } catch (e) {
          r = { kind: 'failed' as const, reason: (e as Error).message };
        }
        if (r.kind === 'accepted') return { kind: 'accepted', provider: p.name, providerMessageId: r.providerMessageId };
        if (r.kind === 'throttled') {
          st.throttledUntil = opts.clock.now() + r.retryAfterMs;
          return { kind: 'retry', afterMs: r.retryAfterMs, reason: 'throttled' };
        }
        st.blockedUntil = opts.clock.now() + opts.blockMs;
        st.lastError = r.reason;
        opts.onBlocked?.(p.name, r.reason);
      }
      const now = opts.clock.now();
      const soonest = Math.min(...[...status.values()].map((s) => s.blockedUntil));
      return { kind: 'retry', afterMs: Math.max(250, Math.min(soonest - now, opts.blockMs)), reason: 'all_failed' };
    },
    onReceipt(fn: (r: DeliveryReceipt) => void): void { receiptFns.push(fn); },
    /** Blocks a provider that accepts messages but does not deliver them (its receipts say so). */
    block(name: string, reason: string): void {
      const st = status.get(name);
      if (!st) return;
      st.blockedUntil = opts.clock.now() + opts.blockMs;
      st.lastError = reason;
      opts.onBlocked?.(name, reason);
    },
    status: (): ProviderStatus[] => [...status.values()].map((s) => ({ ...s })),
    async start(): Promise<void> { await Promise.all(providers.map((p) => p.start())); },
    async close(): Promise<void> { await Promise.all(providers.map((p) => p.close())); },
  };
}

export type SmsRouter = ReturnType<typeof createSmsRouter>;
