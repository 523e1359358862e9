import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { generateKeyPairSync, sign } from 'node:crypto';
import { parse } from 'yaml';
import { appFetchPayload } from '../../src/authorize/domain/dynamic-linking.js';
import type { PushMessage, PushProvider } from '../../src/authorize/push/port.js';
import { ADMIN, OPS, REQUESTER, REQUESTER_B, appAnswer, appChallenges, call, enrol, startTestAuthorize, tempDir, txBody, until } from './helpers.js';

const RECEIPT_TOKEN = 'gateway-receipt-token-0123456';
const UNAUTHORIZED = 'RMP_ERR_AUTH_UNAUTHORIZED';

/** Who may call a route: a bearer kind, the app's device proof, or nobody in particular (no payer data). */
type Credential = 'admin' | 'requester' | 'operator' | 'receipt' | 'device-proof' | 'device-signature' | 'open';

/** Every route of the API with the credential it takes (the OpenAPI check below keeps this list complete). */
const ROUTES: Array<{ method: string; path: string; needs: Credential; body?: unknown }> = [
  { method: 'POST', path: '/v1/payers', needs: 'admin', body: { payerRef: 'zed', phone: '+33612340000', knowledgeFactor: 'abcd' } },
  { method: 'POST', path: '/v1/authentications', needs: 'requester', body: txBody('victim', 123_45) },
  { method: 'GET', path: '/v1/authentications/{id}', needs: 'requester' },
  { method: 'POST', path: '/v1/authentications/{id}/sms-code', needs: 'requester', body: { code: '123456', knowledgeFactor: 'guess' } },
  { method: 'POST', path: '/v1/authentications/{id}/resend', needs: 'requester', body: {} },
  { method: 'POST', path: '/v1/authentications/{id}/cancel', needs: 'requester', body: {} },
  // RTS art. 4(3): the app's answer is itself the authentication; a bad signature is a failed attempt (403), counted.
  { method: 'POST', path: '/v1/authentications/{id}/app-result', needs: 'device-signature' },
  { method: 'GET', path: '/v1/app/challenges', needs: 'device-proof' },
  { method: 'POST', path: '/v1/sms/receipts', needs: 'receipt', body: { provider: 'gateway', messageId: 'm-1', status: 'undelivered' } },
  { method: 'POST', path: '/v1/channels/mode', needs: 'operator', body: { mode: 'sms', reason: 'forged override', ttlS: 600 } },
  // Channel status for the console and status page: no payer, amount or payee in it.
  { method: 'GET', path: '/v1/channels', needs: 'open' },
  { method: 'GET', path: '/healthz', needs: 'open' },
];

const BEARERS: Record<string, string> = {
  none: '', admin: `Bearer ${ADMIN}`, operator: `Bearer ${OPS.alice}`, requester: `Bearer ${REQUESTER}`, receipt: `Bearer ${RECEIPT_TOKEN}`,
  wrong: 'Bearer not-a-token-of-this-service', basic: `Basic ${Buffer.from(`x:${REQUESTER}`).toString('base64')}`, bare: REQUESTER,
};

test('every route: without its own credential 401 RMP_ERR_AUTH_UNAUTHORIZED (other kinds of token included), and nothing of the payment leaks', async (t) => {
  const spec = parse(readFileSync(resolve(import.meta.dirname, '../../docs/authorize-openapi.yaml'), 'utf8')) as { paths: Record<string, Record<string, unknown>> };
  const documented = Object.entries(spec.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)).sort();
  assert.deepEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort(), documented, 'the table covers every documented route');

  const { h } = await startTestAuthorize(t, tempDir(t), {
    sms: { providers: [{ type: 'http', name: 'gateway', url: 'http://127.0.0.1:9/send', timeoutMs: 200, receiptToken: RECEIPT_TOKEN }, { type: 'outbox', name: 'outbox' }] },
  });
  await enrol(h, 'victim');
  const created = await call(h, 'POST', '/v1/authentications', txBody('victim', 123_45, { id: 'secret-shop', name: 'Secret Shop' }));
  assert.equal(created.status, 201);
  const id = created.body.authId as string;
  const kinds: Record<Exclude<Credential, 'open' | 'device-proof' | 'device-signature'>, string> = { admin: 'admin', requester: 'requester', operator: 'operator', receipt: 'receipt' };

  for (const route of ROUTES) {
    const path = route.path.replace('{id}', id) + (route.path === '/v1/app/challenges' ? '?deviceId=victim-dev' : '');
    const body = route.path.endsWith('/app-result') ? { decision: 'APPROVE', deviceId: 'victim-dev', timestamp: Date.UTC(2026, 11, 1, 10), signature: 'A'.repeat(86) } : route.body;
    for (const [name, authorization] of Object.entries(BEARERS)) {
      const own = route.needs in kinds && kinds[route.needs as keyof typeof kinds] === name;
      if (own || route.needs === 'open') continue;
      const r = await call(h, route.method, path, body, { authorization });
      const what = `${route.method} ${route.path} with ${name}`;
      if (route.needs === 'device-signature') {
        // Failed (403) until the fifth failure blocks the payer (423); then the authentication is over (409).
        assert.ok([403, 423, 409].includes(r.status), `${what}: ${r.status}`);
        assert.ok(['RMP_ERR_AUTH_FAILED', 'RMP_ERR_AUTH_LOCKED', 'RMP_ERR_AUTH_TERMINAL'].includes(r.body.error.code), what);
      } else {
        assert.equal(r.status, 401, what);
        assert.equal(r.body.error.code, UNAUTHORIZED, what);
      }
      const text = JSON.stringify(r.body);
      assert.ok(!text.includes('Secret Shop') && !text.includes('12345'), `${what}: no amount or payee in the refusal`);
      if (route.method === 'POST' && route.needs !== 'device-signature') {
        // The same with an Idempotency-Key: a refusal is never turned into a stored success for anyone.
        const k = await call(h, route.method, path, body, { authorization, 'idempotency-key': `k-${name}` });
        assert.equal(k.status, 401, `${what} + Idempotency-Key`);
      }
    }
  }
  // Open routes answer without a token and show no payment.
  for (const route of ROUTES.filter((r) => r.needs === 'open')) {
    const r = await call(h, route.method, route.path, undefined, { authorization: '' });
    assert.equal(r.status, 200, route.path);
    assert.ok(!JSON.stringify(r.body).includes('Secret Shop'));
  }
  // RFC 9110 §11.1: the scheme is case-insensitive.
  assert.equal((await call(h, 'GET', `/v1/authentications/${id}`, undefined, { authorization: `bearer ${REQUESTER}` })).status, 200);
  // Nothing above changed the authentication; the refused app answers counted as failures (RTS art. 4(3)(b)).
  const after = await call(h, 'GET', `/v1/authentications/${id}`);
  assert.equal(after.body.state, 'locked', 'the forged app answers were counted: five of them block the payer');
  assert.equal(h.service.channels().override, null, 'no forged operator override');
});

test('requesters: each sees and acts on only its own authentications (another one gets 404, like an unknown id); its transaction ids are its own; token rotation', async (t) => {
  const { h } = await startTestAuthorize(t, tempDir(t));
  await enrol(h, 'rhea', { noDevice: true });
  const a = await call(h, 'POST', '/v1/authentications', { ...txBody('rhea', 77_00, { id: 'm-a', name: 'Shop of A' }), txId: 'shared-tx-1' });
  assert.equal(a.status, 201);
  for (const bearer of REQUESTER_B) {
    const as = { authorization: `Bearer ${bearer}` };
    for (const [method, suffix, body] of [['GET', '', undefined], ['POST', '/cancel', {}], ['POST', '/resend', {}], ['POST', '/sms-code', { code: '000000', knowledgeFactor: 'x' }]] as const) {
      const r = await call(h, method, `/v1/authentications/${a.body.authId}${suffix}`, body, as);
      assert.equal(r.status, 404, `${method} ${suffix}`);
      assert.deepEqual(r.body.error.code, 'RMP_ERR_AUTH_NOT_FOUND');
      assert.ok(!JSON.stringify(r.body).includes('Shop of A'));
      const unknown = await call(h, method, `/v1/authentications/au_doesnotexist${suffix}`, body, as);
      assert.equal(unknown.status, r.status, 'indistinguishable from an unknown id');
    }
  }
  // acs-b using the same transaction id with another amount does not touch acs-a's authentication.
  const b = await call(h, 'POST', '/v1/authentications', { ...txBody('rhea', 1_00), txId: 'shared-tx-1' }, { authorization: `Bearer ${REQUESTER_B[1]}` });
  assert.equal(b.status, 201);
  assert.equal((await call(h, 'GET', `/v1/authentications/${a.body.authId}`)).body.state, 'sms_sent');
  assert.equal((await call(h, 'GET', `/v1/authentications/${b.body.authId}`, undefined, { authorization: `Bearer ${REQUESTER_B[0]}` })).body.amountMinor, 1_00);
  // The same Idempotency-Key and body from two requesters: each its own answer, never a replay of the other's.
  const same = txBody('rhea', 6_00);
  const kb = await call(h, 'POST', '/v1/authentications', same, { 'idempotency-key': 'same-key', authorization: `Bearer ${REQUESTER_B[0]}` });
  const ka = await call(h, 'POST', '/v1/authentications', same, { 'idempotency-key': 'same-key' });
  assert.equal(kb.status, 201);
  assert.equal(ka.status, 201);
  assert.equal(ka.headers.get('idempotent-replayed'), null);
  assert.notEqual(ka.body.authId, kb.body.authId, 'acs-a did not get the answer stored for acs-b');
  assert.equal((await call(h, 'POST', '/v1/authentications', same, { 'idempotency-key': 'same-key' })).headers.get('idempotent-replayed'), 'true', 'its own replay works');
  // The requester is recorded on the authentication and in the audit.
  const audit = h.store.db.prepare("SELECT data FROM audit WHERE kind = 'auth.created' AND auth_id = ?").get(b.body.authId) as { data: string };
  assert.equal(JSON.parse(audit.data).requester, 'acs-b');
  assert.equal(h.store.getAuth(a.body.authId)?.requester, 'acs-a');
});

test('app challenge list: only with a push token of a pending authentication or a fresh signature by that device; never another payer\'s', async (t) => {
  const pushes: PushMessage[] = [];
  const push: PushProvider = { async send(m) { pushes.push(m); return { ok: true }; }, async close() {} };
  const { h, clock } = await startTestAuthorize(t, tempDir(t), {}, { push });
  const ann = await enrol(h, 'ann');
  const bob = await enrol(h, 'bob');
  const c = await call(h, 'POST', '/v1/authentications', txBody('ann', 42_00, { id: 'm', name: 'Ann Shop' }));
  await until(() => pushes.length === 1);
  const msg = pushes[0] as PushMessage;
  assert.equal(msg.ref, c.body.authId);
  const fetchWith = (deviceId: string, headers: Record<string, string>) => call(h, 'GET', `/v1/app/challenges?deviceId=${deviceId}`, undefined, { authorization: '', ...headers });
  const refused = async (r: Promise<{ status: number; body: any }>, what: string): Promise<void> => {
    const x = await r;
    assert.equal(x.status, 401, what);
    assert.equal(x.body.error.code, UNAUTHORIZED, what);
    assert.ok(!JSON.stringify(x.body).includes('Ann Shop'), what);
  };
  await refused(fetchWith(ann.deviceId, {}), 'no proof');
  await refused(fetchWith(ann.deviceId, { authorization: `Bearer ${REQUESTER}` }), 'a requester token is not the device');
  // One character in the middle changed (a whole 6-bit group): replacing the last two with a fixed
  // pair left the token as it was when they already were that pair, or touched only the padding bits.
  const altered = `${msg.token.slice(0, 10)}${msg.token[10] === 'A' ? 'B' : 'A'}${msg.token.slice(11)}`;
  assert.notEqual(altered, msg.token);
  await refused(fetchWith(ann.deviceId, { 'push-ref': msg.ref, 'push-token': altered }), 'altered push token');
  await refused(fetchWith(bob.deviceId, { 'push-ref': msg.ref, 'push-token': msg.token }), "ann's push token on bob's device");
  const sig = (key: typeof ann.key, deviceId: string, ts: number) => sign(null, appFetchPayload(deviceId, ts), key).toString('base64url');
  await refused(fetchWith(ann.deviceId, { 'device-timestamp': String(clock.now()), 'device-signature': sig(bob.key, ann.deviceId, clock.now()) }), "bob's key for ann's device");
  const stale = clock.now() - 10 * 60_000;
  await refused(fetchWith(ann.deviceId, { 'device-timestamp': String(stale), 'device-signature': sig(ann.key, ann.deviceId, stale) }), 'a signature 10 minutes old');
  const stranger = generateKeyPairSync('ed25519');
  await refused(fetchWith('nobody-dev', { 'device-timestamp': String(clock.now()), 'device-signature': sig(stranger.privateKey, 'nobody-dev', clock.now()) }), 'unknown device');
  // The real device, both ways.
  const viaPush = await fetchWith(ann.deviceId, { 'push-ref': msg.ref, 'push-token': msg.token });
  assert.equal(viaPush.status, 200);
  assert.equal(viaPush.body.challenges[0].payee.name, 'Ann Shop');
  const viaSig = await appChallenges(h, ann, clock);
  assert.equal(viaSig.status, 200);
  assert.equal(viaSig.body.challenges[0].authId, c.body.authId);
  // Once the authentication has ended, its push token opens nothing.
  await call(h, 'POST', `/v1/authentications/${c.body.authId}/app-result`, appAnswer(ann, c.body.authId, viaSig.body.challenges[0].linkHash, 'APPROVE', clock));
  await refused(fetchWith(ann.deviceId, { 'push-ref': msg.ref, 'push-token': msg.token }), 'push token of a finished authentication');
});

test('probes cannot be forged: a probe fetch counts only with the token of the probe in flight, once', async (t) => {
  const pushes: PushMessage[] = [];
  let up = false;
  const push: PushProvider = { async send(m) { pushes.push(m); return up ? { ok: true } : { ok: false, error: 'down' }; }, async close() {} };
  const breaker = { minAttempts: 2, dwellMs: 10_000, probeIntervalMs: 1_000, probeTimeoutMs: 5_000, probeSuccesses: 2 };
  const { h, clock } = await startTestAuthorize(t, tempDir(t), { breaker }, { push });
  await enrol(h, 'pia');
  for (let i = 0; i < 2; i++) await call(h, 'POST', '/v1/authentications', txBody('pia', 1_000 + i));
  await until(() => h.service.channels().breaker.phase === 'open');
  up = true;
  clock.advance(10_000);
  h.tick();
  await until(() => pushes.some((m) => m.deviceId === '__probe__'));
  assert.equal(h.service.channels().breaker.phase, 'probing');
  const probe = pushes.find((m) => m.deviceId === '__probe__') as PushMessage;
  const forged: Array<[string, string]> = [['probe-forged', 'AAAAAAAAAAAAAAAAAAAAAA'], [probe.ref, 'AAAAAAAAAAAAAAAAAAAAAA'], ['probe-other', probe.token]];
  const fetchProbe = (ref: string, token: string) => call(h, 'GET', '/v1/app/challenges?deviceId=__probe__', undefined, { authorization: '', 'push-ref': ref, 'push-token': token });
  for (const [ref, token] of forged) {
    assert.equal((await fetchProbe(ref, token)).status, 401);
  }
  assert.equal((await call(h, 'GET', '/v1/app/challenges?deviceId=__probe__', undefined, { authorization: '' })).status, 401);
  assert.equal(h.service.channels().breaker.probeStreak, 0, 'forged probe fetches did not count');
  assert.equal((await fetchProbe(probe.ref, probe.token)).status, 200);
  assert.equal(h.service.channels().breaker.probeStreak, 1);
  assert.equal((await fetchProbe(probe.ref, probe.token)).status, 401, 'a replayed probe fetch does not count twice');
  assert.equal(h.service.channels().breaker.probeStreak, 1);
  assert.equal(h.service.channels().channel, 'sms', 'still on SMS until the probes really succeed');
});
