import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { tempDir as sharedTempDir } from '../helpers/temp-dir.js';
import { createManualClock, type Clock } from '../../src/core/clock.js';
import { parseAuthorizeConfig, startAuthorize, type AuthorizeHandle, type StartAuthorizeOptions } from '../../src/authorize/index.js';
import { appFetchPayload, appSignedPayload } from '../../src/authorize/domain/dynamic-linking.js';

export const ADMIN = 'test-admin-token-0123456789';
export const OPS = { alice: 'operator-alice-token-0123', bob: 'operator-bob-token-456789' };
/** Two requesters (3-DS servers); the second one has two tokens (rotation). */
export const REQUESTER = 'requester-acs-a-token-0123456';
export const REQUESTER_B = ['requester-acs-b-token-old-01', 'requester-acs-b-token-new-02'] as const;

/** A fresh temporary directory removed after the test (test/helpers/temp-dir.ts). */
export function tempDir(t: TestContext): string {
  return sharedTempDir(t, 'rempart-authorize-');
}

/** The raw config object tests start from (cheap scrypt, loopback port 0). */
export function baseConfig(dir: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    listen: { address: '127.0.0.1', port: 0 },
    store: { file: join(dir, 'authorize.db') },
    adminToken: ADMIN,
    operators: OPS,
    requesters: { 'acs-a': REQUESTER, 'acs-b': [...REQUESTER_B] },
    knowledge: { scryptN: 1024 },
    push: { latencyMs: 0, deviceFetchDelayMs: 0 },
    log: { level: 'silent' },
    ...overrides,
  };
}

export type ManualClock = ReturnType<typeof createManualClock>;

/** Starts the service on 127.0.0.1:0 with a manual clock (no auto tick), closed after the test. */
export async function startTestAuthorize(t: TestContext, dir: string, overrides: Record<string, unknown> = {},
  extra: Partial<StartAuthorizeOptions> = {}): Promise<{ h: AuthorizeHandle; clock: ManualClock }> {
  const clock = (extra.clock as ManualClock | undefined) ?? createManualClock(Date.UTC(2026, 11, 1, 10));
  const h = await startAuthorize({ config: parseAuthorizeConfig(baseConfig(dir, overrides)), clock, autoTick: false, ...extra });
  t.after(() => h.close());
  return { h, clock };
}

/**
 * A JSON call to the API as the requester `acs-a` (its bearer token) unless `headers` has its own
 * `authorization` ('' = none); returns status, body and headers.
 */
export async function call(h: { url: string }, method: string, path: string, body?: unknown, headers: Record<string, string> = {}):
  Promise<{ status: number; body: any; headers: Headers }> {
  const auth = 'authorization' in headers ? headers.authorization : `Bearer ${REQUESTER}`;
  const { authorization: _drop, ...rest } = headers;
  const res = await fetch(h.url + path, {
    method, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(auth ? { authorization: auth } : {}), ...rest },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try { parsed = JSON.parse(text); } catch { /* HTML */ }
  return { status: res.status, body: parsed as any, headers: res.headers };
}

/** A payer with one device (Ed25519 or ECDSA P-256), enrolled over the API. */
export interface TestPayer { payerRef: string; phone: string; knowledge: string; deviceId: string; key: KeyObject }

let phoneSeq = 0;

/** Enrols a payer over the API (distinct phone numbers, so per-phone SMS limits never mix payers). */
export async function enrol(h: { url: string }, payerRef: string, opts: { phone?: string; alg?: 'ed25519' | 'p256'; noDevice?: boolean } = {}): Promise<TestPayer> {
  const kp = opts.alg === 'p256' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : generateKeyPairSync('ed25519');
  const p: TestPayer = { payerRef, phone: opts.phone ?? `+3361${String(process.pid % 1000).padStart(3, '0')}${String(++phoneSeq).padStart(4, '0')}`, knowledge: 'blue-harbour-42', deviceId: `${payerRef}-dev`, key: kp.privateKey };
  const r = await call(h, 'POST', '/v1/payers', {
    payerRef, phone: p.phone, knowledgeFactor: p.knowledge,
    devices: opts.noDevice ? [] : [{ deviceId: p.deviceId, publicKey: kp.publicKey.export({ type: 'spki', format: 'pem' }).toString() }],
  }, { authorization: `Bearer ${ADMIN}` });
  if (r.status !== 201) throw new Error(`enrol failed: ${r.status} ${JSON.stringify(r.body)}`);
  return p;
}

/** The app's signed listing of its pending challenges (GET /v1/app/challenges with Device-Timestamp and Device-Signature). */
export async function appChallenges(h: { url: string }, p: TestPayer, clock: Clock): Promise<{ status: number; body: any }> {
  const timestamp = clock.now();
  const alg = p.key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  return call(h, 'GET', `/v1/app/challenges?deviceId=${encodeURIComponent(p.deviceId)}`, undefined, {
    authorization: '', 'device-timestamp': String(timestamp), 'device-signature': sign(alg, appFetchPayload(p.deviceId, timestamp), p.key).toString('base64url'),
  });
}

/** The app's signed answer for an authentication (what a real device would send). */
export function appAnswer(p: TestPayer, authId: string, linkHash: string, decision: 'APPROVE' | 'DENY', clock: Clock): Record<string, unknown> {
  const timestamp = clock.now();
  const alg = p.key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  return { decision, deviceId: p.deviceId, timestamp, signature: sign(alg, appSignedPayload(authId, linkHash, decision, timestamp), p.key).toString('base64url') };
}

let txSeq = 0;
/** A transaction body for POST /v1/authentications. */
export function txBody(payerRef: string, amountMinor = 4_999, payee = { id: 'merchant-42', name: 'Librairie du Port' }, currency = 'EUR'): Record<string, unknown> {
  return { txId: `tx-${process.pid}-${++txSeq}`, payerRef, amountMinor, currency, payee };
}

/** Waits (bounded) until `cond` is true, letting I/O run; for async edges such as a push round trip. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 3_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`${what} not met within ${ms} ms`);
}

/** The latest code the outbox holds for a phone (the test reads the "phone"). */
export function lastCode(h: AuthorizeHandle, phone: string): string {
  const m = h.outbox?.list(50, phone).find((x) => /^Code \d+/.test(x.text));
  const code = m ? /^Code (\d+)/.exec(m.text)?.[1] : undefined;
  if (!code) throw new Error(`no SMS code for ${phone}`);
  return code;
}

/** Forces a channel mode with the two operator approvals it needs. */
export async function forceMode(h: { url: string }, mode: 'auto' | 'app' | 'sms', ttlS = 3600): Promise<void> {
  const body = { mode, reason: 'test: forced by two operators', ttlS };
  const a = await call(h, 'POST', '/v1/channels/mode', body, { authorization: `Bearer ${OPS.alice}` });
  const b = await call(h, 'POST', '/v1/channels/mode', body, { authorization: `Bearer ${OPS.bob}` });
  if (a.status !== 202 || b.status !== 200) throw new Error(`forceMode: ${a.status} ${b.status} ${JSON.stringify(b.body)}`);
}

/** Polls GET /v1/authentications/{id} until its state is `state` (bounded). */
export async function waitState(h: { url: string }, id: string, state: string, ms = 3_000): Promise<any> {
  let last: unknown;
  try {
    await until(async () => { last = (await call(h, 'GET', `/v1/authentications/${id}`)).body; return (last as { state?: string }).state === state; }, ms);
  } catch {
    throw new Error(`authentication ${id} never reached ${state}: ${JSON.stringify(last)}`);
  }
  return last;
}
