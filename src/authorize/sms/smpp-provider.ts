import smpp, { type PDU, type Session } from 'smpp';
import type { Logger } from '../../core/logger.js';
import type { DeliveryReceipt, SmsProvider, SmsSendResult } from './port.js';

/** SMPP settings of one SMSC (see the authorize config `sms.providers[].type: smpp`). */
export interface SmppProviderConfig {
  name: string; url: string; systemId: string; password: string; sourceAddr: string;
  enquireLinkMs: number; submitTimeoutMs: number; reconnectMs: number;
}

// SMPP 3.4 §5.2.28 message_state of a receipt; and the "stat:" words of the Appendix B receipt text.
const STATE: Record<number, DeliveryReceipt['status']> = { 2: 'delivered', 3: 'undelivered', 4: 'undelivered', 5: 'undelivered', 8: 'undelivered' };
const STAT: Record<string, DeliveryReceipt['status']> = { DELIVRD: 'delivered', UNDELIV: 'undelivered', REJECTD: 'undelivered', EXPIRED: 'undelivered', DELETED: 'undelivered' };

/** Reads a delivery receipt from a deliver_sm (TLVs first, then the Appendix B text); undefined if it is not one. */
export function parseReceipt(pdu: PDU, provider: string): DeliveryReceipt | undefined {
  if ((Number(pdu.esm_class ?? 0) & 0x3c) !== 0x04) return undefined; // SMPP 3.4 §5.2.12: esm_class "SMSC delivery receipt"
  const sm = pdu.short_message as { message?: unknown } | Buffer | string | undefined;
  const text = typeof sm === 'string' ? sm : Buffer.isBuffer(sm) ? sm.toString('latin1') : String(sm?.message ?? '');
  const id = typeof pdu.receipted_message_id === 'string' ? pdu.receipted_message_id : /id:(\S+)/.exec(text)?.[1];
  if (!id) return undefined;
  const state = typeof pdu.message_state === 'number' ? STATE[pdu.message_state] : undefined;
  const stat = /stat:(\w+)/.exec(text)?.[1];
  return { provider, providerMessageId: id, status: state ?? (stat ? STAT[stat] ?? 'unknown' : 'unknown') };
}

/**
 * An SMPP 3.4 client: bind_transceiver, submit_sm with registered_delivery, deliver_sm receipts,
 * enquire_link keep-alive, reconnect after any loss. ESME_RTHROTTLED (0x58) and ESME_RMSGQFUL
 * (0x14) are backpressure (retry later), not failures.
 */
export function createSmppProvider(cfg: SmppProviderConfig, logger?: Logger): SmsProvider & { isBound(): boolean } {
  let session: Session | undefined;
  let bound = false;
  let closed = false;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let enquireTimer: NodeJS.Timeout | undefined;
  const receiptFns: Array<(r: DeliveryReceipt) => void> = [];
  const waiters = new Set<() => void>();
  const pending = new Map<number, (r: SmsSendResult) => void>();

  function failPending(reason: string): void {
    for (const fn of pending.values()) fn({ kind: 'failed', reason });
    pending.clear();
  }

  function connect(): void {
    if (closed) return;
    const s = smpp.connect({ url: cfg.url });
    session = s;
    s.on('error', (e: Error) => logger?.debug({ provider: cfg.name, err: e.message }, 'smpp: connection error'));
    s.on('connect', () => {
      s.bind_transceiver({ system_id: cfg.systemId, password: cfg.password }, (pdu) => {
        if (pdu.command_status !== 0) {
          logger?.warn({ provider: cfg.name, status: pdu.command_status }, 'smpp: bind refused');
          s.destroy();
          return;
        }
        bound = true;
        for (const w of waiters) w();
        waiters.clear();
      });
    });
    s.on('close', () => {
      bound = false;
      if (session === s) session = undefined;
      failPending('SMPP link closed');
      if (!closed) reconnectTimer = setTimeout(connect, cfg.reconnectMs);
    });
    s.on('deliver_sm', (pdu: PDU) => {
      s.send(pdu.response());
      const r = parseReceipt(pdu, cfg.name);
      if (r) for (const fn of receiptFns) fn(r);
    });
    s.on('enquire_link', (pdu: PDU) => { s.send(pdu.response()); });
    s.on('unbind', (pdu: PDU) => { s.send(pdu.response()); s.close(); });
  }

  function enquire(): void {
    const s = session;
    if (!s || !bound) return;
    let answered = false;
    s.enquire_link(() => { answered = true; });
    // No enquire_link_resp in time: the link is dead even if TCP has not noticed; reconnect.
    setTimeout(() => { if (!answered && session === s) s.destroy(); }, cfg.submitTimeoutMs).unref();
  }

  return {
    name: cfg.name,
    isBound: () => bound,
    async start() {
      connect();
      enquireTimer = setInterval(enquire, cfg.enquireLinkMs);
      enquireTimer.unref();
      // Wait briefly for the first bind; an SMSC that is down must not stop the service starting.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { waiters.delete(done); resolve(); }, Math.min(cfg.submitTimeoutMs, 2_000));
        const done = (): void => { clearTimeout(timer); resolve(); };
        waiters.add(done);
      });
    },
    send(m) {
      const s = session;
      if (!s || !bound) return Promise.resolve({ kind: 'failed', reason: 'SMPP not bound' });
      // short_message holds 140 octets: 160 GSM 7-bit characters, or 70 in UCS-2 (any non-ASCII text).
      const long = /^[\x20-\x7e\r\n]*$/.test(m.text) ? m.text.length > 160 : m.text.length > 70;
      return new Promise<SmsSendResult>((resolve) => {
        let seq = 0;
        const timer = setTimeout(() => { pending.delete(seq); resolve({ kind: 'failed', reason: 'submit_sm timed out' }); }, cfg.submitTimeoutMs);
        const finish = (r: SmsSendResult): void => { clearTimeout(timer); pending.delete(seq); resolve(r); };
        const ok = s.submit_sm({
          source_addr: cfg.sourceAddr, destination_addr: m.to.replace(/^\+/, ''), registered_delivery: 1,
          ...(long ? { message_payload: m.text } : { short_message: m.text }),
        }, (pdu) => {
          if (pdu.command_status === 0) finish({ kind: 'accepted', providerMessageId: String(pdu.message_id ?? '') });
          else if (pdu.command_status === smpp.ESME_RTHROTTLED || pdu.command_status === smpp.ESME_RMSGQFUL) finish({ kind: 'throttled', retryAfterMs: 1_000 });
          else finish({ kind: 'failed', reason: `submit_sm status 0x${pdu.command_status.toString(16)}` });
        });
        if (!ok) { finish({ kind: 'failed', reason: 'SMPP socket not writable' }); return; }
        seq = Number((s as unknown as { sequence: number }).sequence);
        pending.set(seq, finish);
      });
    },
    onReceipt(fn) { receiptFns.push(fn); },
    async close() {
      closed = true;
      clearTimeout(reconnectTimer);
      clearInterval(enquireTimer);
      const s = session;
      if (s) await new Promise<void>((resolve) => { s.destroy(() => resolve()); setTimeout(resolve, 500).unref(); });
      failPending('closed');
    },
  };
}
