import type { DeliveryReceipt, SmsProvider } from './port.js';

/** Settings of an HTTP SMS gateway (POST JSON {to, text, reference} → {messageId}). */
export interface HttpProviderConfig { name: string; url: string; token?: string | undefined; timeoutMs: number }

/**
 * An HTTP SMS gateway adapter: 2xx with a message id is accepted, 429 is backpressure (honours
 * Retry-After, RFC 9110 §10.2.3), anything else or no answer in time is a failure. Receipts
 * arrive on POST /v1/sms/receipts and are handed to `ingest`.
 */
export function createHttpProvider(cfg: HttpProviderConfig): SmsProvider & { ingest(r: Omit<DeliveryReceipt, 'provider'>): void } {
  const fns: Array<(r: DeliveryReceipt) => void> = [];
  return {
    name: cfg.name,
    async start() {},
    async send(m) {
      let res: Response;
      try {
        res = await fetch(cfg.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(cfg.token ? { authorization: `Bearer ${cfg.token}` } : {}) },
          body: JSON.stringify({ to: m.to, text: m.text, reference: m.reference }),
          signal: AbortSignal.timeout(cfg.timeoutMs),
        });
      } catch (e) {
        return { kind: 'failed', reason: `HTTP gateway unreachable: ${(e as Error).name}` };
      }
      const text = await res.text().catch(() => '');
      if (res.status === 429) {
        const s = Number(res.headers.get('retry-after'));
        return { kind: 'throttled', retryAfterMs: Number.isFinite(s) && s > 0 ? Math.min(s, 60) * 1000 : 1_000 };
      }
      if (res.status < 200 || res.status > 299) return { kind: 'failed', reason: `HTTP gateway status ${res.status}` };
      let id: unknown;
      try { id = (JSON.parse(text) as { messageId?: unknown; id?: unknown }).messageId ?? (JSON.parse(text) as { id?: unknown }).id; } catch { id = undefined; }
      if (typeof id !== 'string' || id === '') return { kind: 'failed', reason: 'HTTP gateway answered without a messageId' };
      return { kind: 'accepted', providerMessageId: id };
    },
    onReceipt(fn) { fns.push(fn); },
    ingest(r) { for (const fn of fns) fn({ ...r, provider: cfg.name }); },
    async close() {},
  };
}
