import { randomBytes } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { AuthorizeConfig } from '../config.js';
import { isAuthorizeError } from '../errors.js';
import type { AuthorizeBus } from '../events.js';
import type { AuthRecord, AuthStore, PayerRecord } from '../store/port.js';
import type { SmsRouter } from '../sms/router.js';
import type { DeliveryReceipt } from '../sms/port.js';
import { smsText } from '../domain/dynamic-linking.js';
import { codeDigest, generateCode } from '../domain/otp.js';
import { txOf, type AuthRecords } from './records.js';

const ALERTS = {
  warn: 'Your bank: one more failed payment authentication will block it. Not you? Call your bank.',
  blocked: 'Your bank: payment authentication is blocked for a while after 5 failed attempts; one more block will be permanent. Not you? Call your bank.',
  permanent: 'Your bank: payment authentication is now blocked permanently after repeated failures. Call your bank to unblock it.',
} as const;

/**
 * Gets codes and alerts to the payer's phone: issues codes (HMAC only in the store), sends
 * `fallback_offered` authentications through the SMS router, retries on backpressure, rate-limits
 * per payer and phone number, records delivery receipts and re-sends when one says undelivered.
 */
export function createSmsDispatch(deps: { config: AuthorizeConfig; store: AuthStore; clock: Clock; bus: AuthorizeBus; sms: SmsRouter;
  codeKey: Buffer; logger: Logger; records: AuthRecords }) {
  const { config, store, clock, bus, sms, records, logger } = deps;
  /** Plain codes waiting for a provider, in memory only (after a restart a fresh code is issued). */
  const pendingCodes = new Map<string, string>();
  const inflight = new Set<string>();
  /** Receipts that overtook the bookkeeping of their submit (same TCP read), kept a minute. */
  const early = new Map<string, { r: DeliveryReceipt; at: number }>();
  let closed = false;

  function issueCode(a: Pick<AuthRecord, 'id' | 'linkHash'>): { code: string; codeHash: string } {
    const code = generateCode(config.code.length);
    return { code, codeHash: codeDigest(deps.codeKey, a.id, a.linkHash, code) };
  }

  function takeEarly(provider: string, providerMessageId: string): void {
    const key = `${provider}\n${providerMessageId}`;
    const w = early.get(key);
    if (w) { early.delete(key); dispatch.receipt(w.r); }
  }

  async function send(id: string): Promise<void> {
    if (inflight.has(id) || closed) return;
    inflight.add(id);
    let accepted: { provider: string; providerMessageId: string } | undefined;
    try {
      let a = store.getAuth(id);
      if (!a || a.state !== 'fallback_offered') return;
      const payer = records.mustPayer(a.payerRef);
      const now = clock.now();
      const since = now - config.rateLimits.windowMs;
      if (store.smsSince('payer_ref', payer.payerRef, since) >= config.rateLimits.smsPerPayer
        || store.smsSince('phone', payer.phone, since) >= config.rateLimits.smsPerPhone) {
        records.move(a, 'sms_refused', {}, 'SMS rate limit for this payer or phone number reached');
        return;
      }
      let code = pendingCodes.get(id);
      if (!code) {
        // After a restart the plain code is gone (only its HMAC was stored): issue a fresh one.
        const issued = issueCode(a);
        code = issued.code;
        const u = records.patch(a, { codeHash: issued.codeHash }, { kind: 'code.issued', data: { channel: 'sms', reason: 'reissued: previous code never sent' } });
        if (!u) return;
        a = u;
        pendingCodes.set(id, code);
      }
      const r = await sms.send({ to: payer.phone, text: smsText(code, txOf(a)), reference: a.id });
      const after = clock.now();
      const cur = store.getAuth(id);
      if (!cur || cur.state !== 'fallback_offered' || cur.codeHash !== a.codeHash) return;
      if (r.kind === 'accepted') {
        pendingCodes.delete(id);
        records.move(cur, 'sms_accepted', { codeExpiresAt: after + config.timers.codeMs, smsRetryAt: 0 }, `SMS accepted by ${r.provider}`, () => {
          store.insertSms({ id: randomBytes(9).toString('base64url'), authId: id, payerRef: cur.payerRef, phone: payer.phone, provider: r.provider,
            providerMessageId: r.providerMessageId, status: 'accepted', at: after, kind: 'code' });
        });
        bus.emit('sms:accepted', { authId: id, provider: r.provider, at: after });
        accepted = r;
      } else {
        records.patch(cur, { smsRetryAt: after + r.afterMs });
        bus.emit('sms:retry', { authId: id, reason: r.reason, afterMs: r.afterMs, at: after });
      }
    } catch (e) {
      if (!isAuthorizeError(e)) logger.error({ err: e, authId: id }, 'authorize: SMS dispatch failed');
    } finally {
      inflight.delete(id);
    }
    // After the in-flight mark is gone, so an "undelivered" receipt can re-send at once.
    if (accepted) takeEarly(accepted.provider, accepted.providerMessageId);
  }

  /**
   * The network could not deliver the code: block that provider and send a fresh code through the
   * next one. Not a payer resend (the payer asked for nothing), but bounded per authentication.
   */
  function redeliver(authId: string, smsId: string, provider: string): void {
    const a = store.getAuth(authId);
    const sent = store.codeSmsOf(authId);
    if (!a || a.state !== 'sms_sent' || sent.latestId !== smsId || sent.count > config.timers.maxResends + 2) return;
    sms.block(provider, 'delivery receipt: undelivered');
    const { code, codeHash } = issueCode(a);
    const now = clock.now();
    records.move(a, 'resend', { codeHash, codeExpiresAt: 0, smsRetryAt: now }, `SMS undelivered via ${provider}: re-sent through the next provider`,
      () => store.audit({ at: now, kind: 'code.issued', authId: a.id, payerRef: a.payerRef, data: { channel: 'sms', reason: 'undelivered' } }));
    store.afterCommit(() => dispatch.queue(a.id, code));
  }

  const dispatch = {
    issueCode,
    /** Holds the plain code of a `fallback_offered` authentication until a provider accepts it, and sends now. */
    queue(id: string, code: string): void {
      pendingCodes.set(id, code);
      void send(id);
    },
    /** Sends (or retries) a `fallback_offered` authentication; the ticker calls it when smsRetryAt passes. */
    send,
    /** The authentication ended: its plain code is no longer needed. */
    forget(id: string): void { pendingCodes.delete(id); },

    /** RTS art. 4(4): tells the payer before (and when) authentication is blocked; retried a few times. */
    alert(payer: PayerRecord, kind: keyof typeof ALERTS, attempt = 0): void {
      const now = clock.now();
      store.tx(() => store.audit({ at: now, kind: 'payer.alert', payerRef: payer.payerRef, data: { kind, attempt } }));
      bus.emit('payer:alert', { payerRef: payer.payerRef, kind, at: now });
      void sms.send({ to: payer.phone, text: ALERTS[kind], reference: `alert-${payer.payerRef}` }).then((r) => {
        if (r.kind === 'accepted') {
          store.insertSms({ id: randomBytes(9).toString('base64url'), authId: '', payerRef: payer.payerRef, phone: payer.phone, provider: r.provider,
            providerMessageId: r.providerMessageId, status: 'accepted', at: clock.now(), kind: 'alert' });
          takeEarly(r.provider, r.providerMessageId);
        } else if (attempt < 3 && !closed) {
          setTimeout(() => dispatch.alert(payer, kind, attempt + 1), r.afterMs).unref();
        }
      }, () => {});
    },

    /** Records a delivery receipt (status and audit); an undelivered code is re-sent through the next provider. */
    receipt(r: DeliveryReceipt): void {
      const row = store.smsByProviderId(r.provider, r.providerMessageId);
      const now = clock.now();
      if (!row && early.size < 10_000) {
        early.set(`${r.provider}\n${r.providerMessageId}`, { r, at: now });
        return;
      }
      if (row) {
        store.tx(() => {
          store.setSmsStatus(row.id, r.status);
          store.audit({ at: now, kind: 'sms.receipt', authId: row.authId, payerRef: row.payerRef, data: { provider: r.provider, status: r.status } });
        });
      }
      bus.emit('sms:receipt', { provider: r.provider, status: r.status, authId: row?.authId, at: now });
      if (row && row.kind === 'code' && r.status === 'undelivered') {
        try {
          redeliver(row.authId, row.id, r.provider);
        } catch (e) {
          if (!isAuthorizeError(e)) logger.error({ err: e }, 'authorize: re-delivery failed');
        }
      }
    },

    /** Drops receipts that never matched a message. */
    prune(now: number): void {
      for (const [k, w] of early) if (w.at < now - 60_000) early.delete(k);
    },

    close(): void { closed = true; pendingCodes.clear(); },
  };
  return dispatch;
}

export type SmsDispatch = ReturnType<typeof createSmsDispatch>;
