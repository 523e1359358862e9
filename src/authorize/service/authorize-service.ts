import type { KeyObject } from 'node:crypto';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { AuthorizeConfig } from '../config.js';
import { AuthorizeError, isAuthorizeError } from '../errors.js';
import type { AuthorizeBus } from '../events.js';
import type { AuthRecord, AuthStore, PayerRecord } from '../store/port.js';
import { nextDeadline } from '../store/sqlite-store.js';
import type { PushProvider } from '../push/port.js';
import type { SmsRouter } from '../sms/router.js';
import type { DeliveryReceipt } from '../sms/port.js';
import { isTerminal, transition, type AuthEventType } from '../domain/state-machine.js';
import { appFetchPayload, appSignedPayload, formatAmount, linkHash, type LinkedTransaction } from '../domain/dynamic-linking.js';
import { verifyCode } from '../domain/otp.js';
import { hashKnowledge, verifyKnowledge } from '../domain/knowledge.js';
import { isBlocked, registerFailure, registerSuccess } from '../domain/lockout.js';
import { routeNew, smsRoute, type PayerFacts } from '../domain/routing.js';
import { parseDeviceKey, verifyDeviceSignature } from '../domain/device-signature.js';
import { createChannelHealth, PROBE_DEVICE } from './channel-health.js';
import { createAuthRecords, txOf, type AuthView } from './records.js';
import { createSmsDispatch } from './sms-dispatch.js';

export type { AuthView } from './records.js';

/** A transaction to authenticate, as the requester (3-DS server) sends it. */
export interface CreateInput { txId: string; payerRef: string; amountMinor: number; currency: string; payee: { id: string; name: string } }

/** Enrolment of a payer: the knowledge factor is hashed at once and never stored in clear. */
export interface EnrolInput { payerRef: string; phone: string; knowledgeFactor: string; devices: Array<{ deviceId: string; publicKey: string }> }

/** What the app fetches after a push: enough to show amount and payee (RTS art. 5(1)(a)) and sign. */
export interface ChallengeView { authId: string; amountMinor: number; currency: string; amountText: string; payee: { id: string; name: string }; linkHash: string; expiresAt: string }

/** How the app proves it may list a device's challenges: the push it received, or its device key. */
export type FetchProof =
  | { kind: 'push'; ref: string; token: string }
  | { kind: 'signature'; timestamp: number; signature: string };

/** What the service is built from: config, store, clock, bus, SMS router, push provider, code key, logger. */
export interface ServiceDeps {
  config: AuthorizeConfig; store: AuthStore; clock: Clock; bus: AuthorizeBus;
  sms: SmsRouter; push: PushProvider; codeKey: Buffer; logger: Logger;
}

const newId = (): string => `au_${randomBytes(12).toString('base64url')}`;

/**
 * The authorize service: applies the pure cores (state machine, routing, lockout, breaker) to
 * persisted authentications. Every answer is given after its change is committed with its
 * audit record; timers live in the store as deadlines, which `tick` processes.
 */
export function createAuthorizeService(deps: ServiceDeps) {
  const { config, store, clock, bus, sms, push, codeKey, logger } = deps;
  const t = config.timers;
  const keys = new Map<string, KeyObject>();
  let closed = false;
  let lastPrune = 0;
  const records = createAuthRecords({ store, clock, bus, maxResends: t.maxResends, onTerminal: (id) => dispatch.forget(id) });
  const { view, mustGet, mustPayer, move } = records;
  const patchAuth = records.patch;
  const dispatch = createSmsDispatch({ config, store, clock, bus, sms, codeKey, logger, records });

  /** The fetch token of a push (PushMessage): keyed with the code key, bound to device and reference. */
  const pushToken = (deviceId: string, ref: string): string =>
    createHmac('sha256', codeKey).update(`rempart-push-fetch\n${deviceId}\n${ref}`).digest().subarray(0, 16).toString('base64url');

  const health = createChannelHealth({
    clock, store, bus, push, pushToken, params: config.breaker, override: config.override,
    onOpen: () => { for (const a of store.appPendingUnfetched()) safely(() => toSms(a, 'channel_down', 'app channel down')); },
  });

  function safely(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (!isAuthorizeError(e)) logger.error({ err: e }, 'authorize: background step failed');
    }
  }

  function facts(p: PayerRecord, now: number): PayerFacts {
    return { blocked: isBlocked(p.lockout, now), deviceIds: p.devices.map((d) => d.deviceId), hasPhone: p.phone !== '', hasKnowledge: p.knowledgeHash !== '', exemption: p.exemption };
  }

  /** Moves an app authentication to SMS when policy allows (both factors enrolled, amount under the fallback cap). */
  function toSms(a: AuthRecord, event: 'push_failed' | 'channel_down', reason: string): AuthRecord | undefined {
    const payer = mustPayer(a.payerRef);
    const route = smsRoute(txOf(a), facts(payer, clock.now()), reason, config.fallback.maxAmountMinor);
    if (route.kind !== 'sms') {
      return event === 'push_failed' ? patchAuth(a, { pushFailed: true }) : undefined;
    }
    const { code, codeHash } = dispatch.issueCode(a);
    const now = clock.now();
    const moved = move(a, event, { method: 'sms', codeHash, smsRetryAt: now, appDeadline: 0, fetchDeadline: 0, pushFailed: event === 'push_failed' }, reason,
      () => store.audit({ at: now, kind: 'code.issued', authId: a.id, payerRef: a.payerRef, data: { channel: 'sms' } }));
    store.afterCommit(() => dispatch.queue(a.id, code));
    return moved;
  }

  async function pushAll(a: AuthRecord, deviceIds: string[]): Promise<void> {
    const results = await Promise.all(deviceIds.map((deviceId) => push.send({ deviceId, ref: a.id, token: pushToken(deviceId, a.id) }).catch((e: Error) => ({ ok: false as const, error: e.message }))));
    if (closed || results.some((r) => r.ok)) return;
    health.record(false);
    const cur = store.getAuth(a.id);
    if (cur && cur.state === 'app_pending' && cur.fetchedAt === 0) safely(() => { toSms(cur, 'push_failed', 'push failed: moved to SMS'); });
  }

  /**
   * RTS art. 4(3)(a)-(b): counts a failure for the payer whatever the channel, without saying which
   * element failed; blocks at the limit and alerts the payer (art. 4(4)). Always throws.
   */
  function fail(a: AuthRecord, channel: 'app' | 'sms', requester?: string): never {
    const now = clock.now();
    const payer = mustPayer(a.payerRef);
    const r = store.tx(() => {
      const fresh = mustPayer(a.payerRef);
      const res = registerFailure(fresh.lockout, now, config.lockout);
      store.setLockout(a.payerRef, res.state);
      store.audit({ at: now, kind: 'auth.check_failed', authId: a.id, payerRef: a.payerRef, data: { channel, consecutive: res.state.failures, decision: res.decision.kind, ...(requester ? { requester } : {}) } });
      return res;
    });
    if (r.decision.kind === 'warn') dispatch.alert(payer, 'warn');
    if (r.decision.kind === 'blocked') {
      const d = r.decision;
      store.tx(() => store.audit({ at: now, kind: 'payer.blocked', payerRef: a.payerRef, data: { until: d.permanent ? 'permanent' : d.until } }));
      dispatch.alert(payer, d.permanent ? 'permanent' : 'blocked');
      const cur = store.getAuth(a.id);
      if (cur && !isTerminal(cur.state)) safely(() => { move(cur, 'payer_locked', {}, `payer blocked after ${config.lockout.maxFailures} consecutive failures`); });
      throw new AuthorizeError('RMP_ERR_AUTH_LOCKED');
    }
    throw new AuthorizeError('RMP_ERR_AUTH_FAILED');
  }

  function succeed(a: AuthRecord, event: 'app_approved' | 'code_ok', reason: string): AuthRecord {
    const now = clock.now();
    return move(a, event, { codeHash: '' }, reason, () => {
      const p = mustPayer(a.payerRef);
      store.setLockout(a.payerRef, registerSuccess(p.lockout));
      store.setExemption(a.payerRef, { count: 0, sumMinor: 0 }); // art. 16: counters restart after an SCA
      store.audit({ at: now, kind: 'auth.check_ok', authId: a.id, payerRef: a.payerRef, data: { channel: event === 'code_ok' ? 'sms' : 'app' } });
    });
  }

  /** Refuses any attempt while the payer is blocked, ending this authentication as locked. */
  function guardBlocked(a: AuthRecord, payer: PayerRecord): void {
    if (!isBlocked(payer.lockout, clock.now())) return;
    safely(() => { move(a, 'payer_locked', {}, 'payer is blocked'); });
    throw new AuthorizeError('RMP_ERR_AUTH_LOCKED');
  }

  /**
   * The authentication, if `requester` created it. Another requester's is "not found", the same
   * answer as an unknown id: it learns neither amount nor payee, nor that the id exists.
   */
  function mustOwn(id: string, requester: string): AuthRecord {
    const a = store.getAuth(id);
    if (!a || (a.requester !== '' && a.requester !== requester)) throw new AuthorizeError('RMP_ERR_AUTH_NOT_FOUND', `no authentication ${id}`);
    return a;
  }

  function guardOpen(a: AuthRecord, state: AuthRecord['state']): void {
    if (isTerminal(a.state)) throw new AuthorizeError('RMP_ERR_AUTH_TERMINAL', undefined, { state: a.state });
    if (a.state !== state) throw new AuthorizeError('RMP_ERR_AUTH_WRONG_STATE', undefined, { state: a.state });
  }

  function deviceKey(pem: string): KeyObject {
    let k = keys.get(pem);
    if (!k) { k = parseDeviceKey(pem); keys.set(pem, k); }
    return k;
  }

  const service = {
    health,

    async enrolPayer(input: EnrolInput): Promise<{ payerRef: string; devices: number }> {
      for (const d of input.devices) {
        try { parseDeviceKey(d.publicKey); } catch (e) {
          throw new AuthorizeError('RMP_ERR_AUTH_BAD_REQUEST', `device ${d.deviceId}: ${(e as Error).message}`);
        }
      }
      const knowledgeHash = await hashKnowledge(input.knowledgeFactor, config.knowledge);
      const now = clock.now();
      store.tx(() => {
        const existing = store.getPayer(input.payerRef);
        store.upsertPayer({
          payerRef: input.payerRef, phone: input.phone, knowledgeHash,
          devices: input.devices.map((d) => ({ deviceId: d.deviceId, publicKeyPem: d.publicKey })),
          lockout: existing?.lockout ?? { failures: 0, blockedUntil: 0, blocks: 0, permanent: false },
          exemption: existing?.exemption ?? { count: 0, sumMinor: 0 },
        });
        store.audit({ at: now, kind: 'payer.enrolled', payerRef: input.payerRef, data: { devices: input.devices.map((d) => d.deviceId), update: !!existing } });
      });
      return { payerRef: input.payerRef, devices: input.devices.length };
    },

    /** Creates an authentication for `requester` (the authenticated 3-DS server, recorded on it and in the audit). */
    create(input: CreateInput, requester: string): AuthView {
      const now = clock.now();
      const payer = mustPayer(input.payerRef);
      const tx: LinkedTransaction = { amountMinor: input.amountMinor, currency: input.currency, payee: input.payee };
      const hash = linkHash(tx);
      const existing = store.activeForTx(requester, input.txId);
      if (existing) {
        if (existing.linkHash === hash && existing.payerRef === input.payerRef) {
          throw new AuthorizeError('RMP_ERR_AUTH_TX_EXISTS', undefined, { authId: existing.id });
        }
        // RTS art. 5(1)(d): a change of amount or payee invalidates the authentication in progress.
        move(existing, 'cancel', {}, 'transaction changed (amount, currency or payee): RTS art. 5(1)(d)');
      }
      const route = routeNew(tx, facts(payer, now), health.channel(), { exemption: config.exemption, fallbackMaxAmountMinor: config.fallback.maxAmountMinor });
      const id = newId();
      const base: AuthRecord = {
        id, txId: input.txId, payerRef: input.payerRef, requester, amountMinor: input.amountMinor, currency: input.currency,
        payeeId: input.payee.id, payeeName: input.payee.name, linkHash: hash, state: 'created', method: 'none', version: 1,
        createdAt: now, updatedAt: now, expiresAt: now + t.wholeMs, appDeadline: 0, fetchDeadline: 0, fetchedAt: 0,
        pushFailed: false, codeHash: '', codeExpiresAt: 0, resends: 0, smsRetryAt: 0, nextAt: 0, reason: '',
      };
      let code: string | undefined;
      const event: AuthEventType = { exempt: 'route_exempt', app: 'route_app', sms: 'route_sms', unavailable: 'route_unavailable', locked: 'payer_locked' }[route.kind] as AuthEventType;
      const tr = transition('created', event);
      if (!tr.ok) throw new AuthorizeError('RMP_ERR_AUTH_INTERNAL');
      const rec: AuthRecord = { ...base, state: tr.to, reason: 'reason' in route ? route.reason : route.kind };
      if (route.kind === 'app') Object.assign(rec, { method: 'app', appDeadline: now + t.appStepMs, fetchDeadline: now + t.appFetchTimeoutMs });
      if (route.kind === 'sms') {
        const issued = dispatch.issueCode(rec);
        code = issued.code;
        Object.assign(rec, { method: 'sms', codeHash: issued.codeHash, smsRetryAt: now });
      }
      rec.nextAt = nextDeadline(rec);
      store.tx(() => {
        store.insertAuth(rec);
        store.audit({ at: now, kind: 'auth.created', authId: id, payerRef: rec.payerRef, data: { requester, txId: rec.txId, amountMinor: rec.amountMinor, currency: rec.currency, payeeId: rec.payeeId, linkHash: hash } });
        store.audit({ at: now, kind: 'auth.state', authId: id, payerRef: rec.payerRef, data: { from: 'created', to: rec.state, event, reason: rec.reason } });
        if (code) store.audit({ at: now, kind: 'code.issued', authId: id, payerRef: rec.payerRef, data: { channel: 'sms' } });
        if (route.kind === 'exempt') store.setExemption(rec.payerRef, { count: payer.exemption.count + 1, sumMinor: payer.exemption.sumMinor + rec.amountMinor });
      });
      // Nothing leaves the service (push, SMS, event) for an authentication that is not committed.
      store.afterCommit(() => {
        bus.emit('auth:state', { authId: id, payerRef: rec.payerRef, from: 'created', to: rec.state, method: rec.method, reason: rec.reason, at: now });
        if (route.kind === 'app') void pushAll(rec, route.deviceIds);
        if (code) dispatch.queue(id, code);
      });
      return view(rec);
    },

    get: (id: string, requester: string): AuthView => view(mustOwn(id, requester)),

    /**
     * GET /v1/app/challenges: lists a device's pending challenges (amount, payee) only to the app
     * that proves it is that device — with the fetch token of a push still pending, or a signature
     * by the device key (RTS art. 7) — else 401, whatever the reason (nothing to learn from it).
     */
    appChallenges(deviceId: string, proof: FetchProof): ChallengeView[] {
      const refuse = (): never => { throw new AuthorizeError('RMP_ERR_AUTH_UNAUTHORIZED', 'a valid push token or device signature is required'); };
      if (proof.kind === 'push') {
        const given = Buffer.from(proof.token, 'utf8');
        const expected = Buffer.from(pushToken(deviceId, proof.ref), 'utf8');
        if (given.length !== expected.length || !timingSafeEqual(given, expected)) refuse();
        if (deviceId === PROBE_DEVICE) return health.probeFetched(proof.ref) ? [] : refuse();
        // The token stays good only while its authentication waits in the app.
        const a = store.getAuth(proof.ref);
        if (!a || a.state !== 'app_pending' || store.payerForDevice(deviceId) !== a.payerRef) refuse();
        return service.appFetch(deviceId);
      }
      const payerRef = deviceId === PROBE_DEVICE ? undefined : store.payerForDevice(deviceId);
      const device = payerRef ? store.getPayer(payerRef)?.devices.find((d) => d.deviceId === deviceId) : undefined;
      const ok = !!device && Math.abs(clock.now() - proof.timestamp) <= t.signatureSkewMs
        && verifyDeviceSignature(deviceKey(device.publicKeyPem), appFetchPayload(deviceId, proof.timestamp), proof.signature);
      return ok ? service.appFetch(deviceId) : refuse();
    },

    /** Lists a device's pending challenges and marks them fetched (a success for the breaker); the caller has authenticated the device. */
    appFetch(deviceId: string): ChallengeView[] {
      if (deviceId === PROBE_DEVICE) return [];
      const payerRef = store.payerForDevice(deviceId);
      if (!payerRef) return [];
      const now = clock.now();
      return store.pendingApp(payerRef).map((a) => {
        // The first fetch of a pushed challenge is the app channel's success (a conditional update: counted once).
        if (a.fetchedAt === 0 && store.markFetched(a.id, now, nextDeadline({ expiresAt: a.expiresAt, appDeadline: a.appDeadline, fetchDeadline: 0, smsRetryAt: 0 }))) health.record(true);
        return {
          authId: a.id, amountMinor: a.amountMinor, currency: a.currency, amountText: formatAmount(a.amountMinor, a.currency),
          payee: { id: a.payeeId, name: a.payeeName }, linkHash: a.linkHash, expiresAt: new Date(Math.min(a.expiresAt, a.appDeadline || a.expiresAt)).toISOString(),
        };
      });
    },

    appResult(id: string, input: { decision: 'APPROVE' | 'DENY'; deviceId: string; timestamp: number; signature: string }): AuthView {
      const a = mustGet(id);
      guardOpen(a, 'app_pending');
      const payer = mustPayer(a.payerRef);
      guardBlocked(a, payer);
      const device = payer.devices.find((d) => d.deviceId === input.deviceId);
      const now = clock.now();
      // art. 5(1)(b)-(c): the signature covers authId, the amount+payee hash (recomputed from the
      // stored transaction) and the decision; any other amount, payee or authentication fails.
      const ok = !!device && Math.abs(now - input.timestamp) <= t.signatureSkewMs && linkHash(txOf(a)) === a.linkHash
        && verifyDeviceSignature(deviceKey(device.publicKeyPem), appSignedPayload(a.id, a.linkHash, input.decision, input.timestamp), input.signature);
      if (!ok) fail(a, 'app');
      if (input.decision === 'APPROVE') return view(succeed(a, 'app_approved', `approved in the app on ${input.deviceId}`));
      // A denial in the app is final: the table has no way from `failed` to SMS.
      return view(move(a, 'app_denied', {}, `denied in the app on ${input.deviceId}`));
    },

    /** The payment page's code submission, relayed by the requester. */
    async smsCode(id: string, input: { code: string; knowledgeFactor: string }, requester: string): Promise<AuthView> {
      const a = mustOwn(id, requester);
      guardOpen(a, 'sms_sent');
      const payer = mustPayer(a.payerRef);
      guardBlocked(a, payer);
      const now = clock.now();
      const codeOk = linkHash(txOf(a)) === a.linkHash && a.codeHash !== '' && now < a.codeExpiresAt
        && verifyCode(codeKey, a.id, a.linkHash, input.code, a.codeHash);
      // Both factors are always checked, so neither the answer nor its timing tells which failed (art. 4(3)(a)).
      const knowledgeOk = await verifyKnowledge(input.knowledgeFactor, payer.knowledgeHash);
      if (!codeOk || !knowledgeOk) fail(a, 'sms', requester);
      return view(succeed(a, 'code_ok', `SMS code and knowledge factor verified (submitted by ${requester})`));
    },

    resend(id: string, requester: string): AuthView {
      const a = mustOwn(id, requester);
      if (isTerminal(a.state)) throw new AuthorizeError('RMP_ERR_AUTH_TERMINAL', undefined, { state: a.state });
      const payer = mustPayer(a.payerRef);
      guardBlocked(a, payer);
      if (a.state !== 'sms_sent' && a.state !== 'app_pending') throw new AuthorizeError('RMP_ERR_AUTH_WRONG_STATE', undefined, { state: a.state });
      if (a.resends >= t.maxResends) throw new AuthorizeError('RMP_ERR_AUTH_RESENDS_EXHAUSTED');
      const now = clock.now();
      const since = now - config.rateLimits.windowMs;
      if (store.resendsSince(a.payerRef, since) >= config.rateLimits.resendsPerPayer) throw new AuthorizeError('RMP_ERR_AUTH_RATE_LIMITED', 'resend limit for this payer');
      if (a.state === 'app_pending') {
        const u = store.tx(() => { store.addResend(a.payerRef, now); return patchAuth(a, { resends: a.resends + 1 }, { kind: 'push.resent', data: { requester } }); });
        if (!u) throw new AuthorizeError('RMP_ERR_AUTH_CONFLICT');
        store.afterCommit(() => void pushAll(u, payer.devices.map((d) => d.deviceId)));
        return view(u);
      }
      if (store.smsSince('payer_ref', payer.payerRef, since) >= config.rateLimits.smsPerPayer
        || store.smsSince('phone', payer.phone, since) >= config.rateLimits.smsPerPhone) {
        throw new AuthorizeError('RMP_ERR_AUTH_RATE_LIMITED', 'SMS limit for this payer or phone number');
      }
      const { code, codeHash } = dispatch.issueCode(a);
      const u = move(a, 'resend', { codeHash, codeExpiresAt: 0, smsRetryAt: now, resends: a.resends + 1 }, 'resend requested', () => {
        store.addResend(a.payerRef, now);
        store.audit({ at: now, kind: 'code.issued', authId: a.id, payerRef: a.payerRef, data: { channel: 'sms', resend: a.resends + 1, requester } });
      });
      store.afterCommit(() => dispatch.queue(a.id, code));
      return view(u);
    },

    cancel(id: string, requester: string): AuthView {
      return view(move(mustOwn(id, requester), 'cancel', {}, `cancelled by the requester ${requester}`));
    },

    receipt: (r: DeliveryReceipt): void => dispatch.receipt(r),

    channels() {
      return { ...health.status(), smsProviders: sms.status(), nonTerminal: store.countNonTerminal() };
    },

    /** Processes every deadline that has passed: expiries, app fetch timeouts, SMS retries, breaker timers. */
    tick(): void {
      if (closed) return;
      health.tick();
      const now = clock.now();
      if (now - lastPrune > 60_000) {
        lastPrune = now;
        store.pruneIdempotent(now - 86_400_000); // Idempotency-Key answers are kept 24 h
        dispatch.prune(now);
      }
      for (const a of store.dueAuths(now, 2000)) {
        safely(() => {
          if (a.expiresAt <= now) { move(a, 'expire', {}, 'authentication time over'); return; }
          if (a.state === 'app_pending') {
            if (a.appDeadline > 0 && a.appDeadline <= now) { move(a, 'expire', {}, 'app step time over'); return; }
            if (a.fetchDeadline > 0 && a.fetchDeadline <= now && a.fetchedAt === 0) {
              const u = patchAuth(a, { fetchDeadline: 0 });
              if (!u) return;
              health.record(false); // the app never fetched its challenge: the channel is not working
              if (health.channel() === 'sms') toSms(u, 'channel_down', 'app did not fetch its challenge; app channel down');
            }
          } else if (a.state === 'fallback_offered' && a.smsRetryAt <= now) {
            void dispatch.send(a.id);
          }
        });
      }
    },

    /** Startup recovery: logs and audits what was in flight; `tick` then resumes or ends each one. */
    recover(): { nonTerminal: number; byState: Record<string, number> } {
      const byState = store.countByState();
      const nonTerminal = store.countNonTerminal();
      const now = clock.now();
      const ch = health.status();
      // The channel the service starts on (breaker phase restored from the store, override if any).
      store.tx(() => store.audit({ at: now, kind: 'service.started', data: { nonTerminal, channel: ch.channel, breaker: ch.breaker.phase, override: ch.override?.mode ?? null } }));
      return { nonTerminal, byState };
    },

    close(): void { closed = true; dispatch.close(); },
  };
  return service;
}

export type AuthorizeService = ReturnType<typeof createAuthorizeService>;
