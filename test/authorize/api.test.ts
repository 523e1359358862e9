import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkHash } from '../../src/authorize/domain/dynamic-linking.js';
import { ADMIN, OPS, appAnswer, appChallenges, call, enrol, forceMode, lastCode, startTestAuthorize, tempDir, txBody, until, waitState } from './helpers.js';

const FAILED = 'RMP_ERR_AUTH_FAILED';

test('app approval: created → app_pending → authenticated (Y); the same answer replayed is refused', async (t) => {
  const { h, clock } = await startTestAuthorize(t, tempDir(t));
  const p = await enrol(h, 'alice', { alg: 'p256' });
  const c = await call(h, 'POST', '/v1/authentications', txBody('alice'));
  assert.equal(c.status, 201);
  assert.equal(c.body.state, 'app_pending');
  assert.equal(c.body.method, 'app');
  assert.equal(c.body.transStatus, 'C');
  const ch = (await appChallenges(h, p, clock)).body.challenges[0];
  assert.equal(ch.authId, c.body.authId);
  assert.equal(ch.amountText, '49.99 EUR');
  assert.equal(ch.payee.name, 'Librairie du Port');
  const answer = appAnswer(p, ch.authId, ch.linkHash, 'APPROVE', clock);
  const r = await call(h, 'POST', `/v1/authentications/${ch.authId}/app-result`, answer);
  assert.equal(r.status, 200);
  assert.equal(r.body.state, 'authenticated');
  assert.equal(r.body.transStatus, 'Y');
  const again = await call(h, 'POST', `/v1/authentications/${ch.authId}/app-result`, answer);
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, 'RMP_ERR_AUTH_TERMINAL');
  assert.equal((await call(h, 'GET', `/v1/authentications/${ch.authId}`)).body.state, 'authenticated');
});

test('a denial in the app is final: failed (N), no SMS, no resend, even when the app channel then goes down', async (t) => {
  const { h, clock } = await startTestAuthorize(t, tempDir(t));
  const p = await enrol(h, 'bob');
  const c = await call(h, 'POST', '/v1/authentications', txBody('bob'));
  const r = await call(h, 'POST', `/v1/authentications/${c.body.authId}/app-result`, appAnswer(p, c.body.authId, linkHash({ amountMinor: 4_999, currency: 'EUR', payee: { id: 'merchant-42', name: 'Librairie du Port' } }), 'DENY', clock));
  assert.equal(r.status, 200);
  assert.equal(r.body.state, 'failed');
  assert.equal(r.body.transStatus, 'N');
  assert.equal((await call(h, 'POST', `/v1/authentications/${c.body.authId}/resend`)).status, 409);
  await forceMode(h, 'sms');
  h.tick();
  await new Promise((res) => setTimeout(res, 50));
  assert.equal((await call(h, 'GET', `/v1/authentications/${c.body.authId}`)).body.state, 'failed');
  assert.equal(h.outbox?.list(10, p.phone).length, 0, 'no SMS was ever sent to the payer');
});

test('dynamic linking: an app signature over another amount (1 cent), currency, payee or authentication is rejected without saying why', async (t) => {
  const { h, clock } = await startTestAuthorize(t, tempDir(t));
  const p = await enrol(h, 'carol');
  const body = txBody('carol', 10_000, { id: 'shop-9', name: 'Shop Nine' });
  const c = await call(h, 'POST', '/v1/authentications', body);
  const other = await call(h, 'POST', '/v1/authentications', txBody('carol', 10_000, { id: 'shop-9', name: 'Shop Nine' }));
  const id = c.body.authId as string;
  const good = linkHash({ amountMinor: 10_000, currency: 'EUR', payee: { id: 'shop-9', name: 'Shop Nine' } });
  const wrong = [
    appAnswer(p, id, linkHash({ amountMinor: 10_001, currency: 'EUR', payee: { id: 'shop-9', name: 'Shop Nine' } }), 'APPROVE', clock),
    appAnswer(p, id, linkHash({ amountMinor: 10_000, currency: 'USD', payee: { id: 'shop-9', name: 'Shop Nine' } }), 'APPROVE', clock),
    appAnswer(p, id, linkHash({ amountMinor: 10_000, currency: 'EUR', payee: { id: 'shop-8', name: 'Shop Nine' } }), 'APPROVE', clock),
    appAnswer(p, other.body.authId, good, 'APPROVE', clock), // signed for the other authentication
  ];
  const bodies = new Set<string>();
  for (const w of wrong) {
    const r = await call(h, 'POST', `/v1/authentications/${id}/app-result`, w);
    assert.equal(r.status, 403);
    bodies.add(JSON.stringify(r.body));
  }
  assert.equal(bodies.size, 1, 'every failure reads the same (RTS art. 4(3)(a))');
  assert.equal([...bodies][0], JSON.stringify({ error: { code: FAILED, message: 'Authentication failed' } }));
  assert.equal((await call(h, 'GET', `/v1/authentications/${id}`)).body.state, 'app_pending');
  const ok = await call(h, 'POST', `/v1/authentications/${id}/app-result`, appAnswer(p, id, good, 'APPROVE', clock));
  assert.equal(ok.status, 200);
  assert.equal(ok.body.state, 'authenticated');
  // A signature over DENY does not approve.
  const otherId = other.body.authId as string;
  const deny = appAnswer(p, otherId, good, 'DENY', clock);
  assert.equal((await call(h, 'POST', `/v1/authentications/${otherId}/app-result`, { ...deny, decision: 'APPROVE' })).status, 403);
  assert.equal((await call(h, 'GET', `/v1/authentications/${otherId}`)).body.state, 'app_pending');
});

test('SMS with knowledge factor: wrong code and wrong knowledge factor fail alike; a code is single-use and never authenticates another transaction', async (t) => {
  const { h } = await startTestAuthorize(t, tempDir(t));
  const p = await enrol(h, 'dan', { noDevice: true });
  const a = await call(h, 'POST', '/v1/authentications', txBody('dan', 2_500));
  assert.equal(a.body.method, 'sms');
  await waitState(h, a.body.authId, 'sms_sent');
  const codeA = lastCode(h, p.phone);
  assert.match(h.outbox?.list(1, p.phone)[0]?.text ?? '', /25\.00 EUR to Librairie du Port/);
  const b = await call(h, 'POST', '/v1/authentications', txBody('dan', 2_500));
  await waitState(h, b.body.authId, 'sms_sent');
  const codeB = lastCode(h, p.phone);
  const wrongCode = await call(h, 'POST', `/v1/authentications/${b.body.authId}/sms-code`, { code: codeA === codeB ? '000000' : codeA, knowledgeFactor: p.knowledge });
  const wrongKf = await call(h, 'POST', `/v1/authentications/${b.body.authId}/sms-code`, { code: codeB, knowledgeFactor: 'not-it' });
  assert.equal(wrongCode.status, 403);
  assert.deepEqual(wrongCode.body, wrongKf.body, 'the answer does not tell which element was wrong');
  const ok = await call(h, 'POST', `/v1/authentications/${b.body.authId}/sms-code`, { code: codeB, knowledgeFactor: p.knowledge });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.state, 'authenticated');
  const replay = await call(h, 'POST', `/v1/authentications/${b.body.authId}/sms-code`, { code: codeB, knowledgeFactor: p.knowledge });
  assert.equal(replay.status, 409);
  // A's own code still works for A (the two wrong tries above were not on it, and a success reset the count).
  assert.equal((await call(h, 'POST', `/v1/authentications/${a.body.authId}/sms-code`, { code: codeA, knowledgeFactor: p.knowledge })).body.state, 'authenticated');
});

test('a changed transaction (same txId, 1 cent more) cancels the authentication in progress; its code dies with it', async (t) => {
  const { h } = await startTestAuthorize(t, tempDir(t));
  const p = await enrol(h, 'erin', { noDevice: true });
  const body = txBody('erin', 7_000);
  const first = await call(h, 'POST', '/v1/authentications', body);
  await waitState(h, first.body.authId, 'sms_sent');
  const code = lastCode(h, p.phone);
  const same = await call(h, 'POST', '/v1/authentications', body);
  assert.equal(same.status, 409);
  assert.equal(same.body.error.details.authId, first.body.authId);
  const changed = await call(h, 'POST', '/v1/authentications', { ...body, amountMinor: 7_001 });
  assert.equal(changed.status, 201);
  assert.equal((await call(h, 'GET', `/v1/authentications/${first.body.authId}`)).body.state, 'cancelled');
  assert.equal((await call(h, 'POST', `/v1/authentications/${first.body.authId}/sms-code`, { code, knowledgeFactor: p.knowledge })).status, 409);
  await waitState(h, changed.body.authId, 'sms_sent');
  assert.equal((await call(h, 'POST', `/v1/authentications/${changed.body.authId}/sms-code`, { code: code === '000000' ? '000001' : code, knowledgeFactor: p.knowledge })).status,
    lastCode(h, p.phone) === code ? 200 : 403, 'the old code does not authenticate the new amount');
});

test('concurrent double submit: of two identical correct SMS submissions or app approvals, exactly one wins, the other gets 409', async (t) => {
  const { h, clock } = await startTestAuthorize(t, tempDir(t));
  const p = await enrol(h, 'fay', { noDevice: true });
  for (let round = 0; round < 3; round++) {
    const a = await call(h, 'POST', '/v1/authentications', txBody('fay'));
    await waitState(h, a.body.authId, 'sms_sent');
    const code = lastCode(h, p.phone);
    const both = await Promise.all([1, 2].map(() => call(h, 'POST', `/v1/authentications/${a.body.authId}/sms-code`, { code, knowledgeFactor: p.knowledge })));
    assert.deepEqual(both.map((r) => r.status).sort(), [200, 409], JSON.stringify(both.map((r) => r.body)));
  }
  const q = await enrol(h, 'gus');
  const a = await call(h, 'POST', '/v1/authentications', txBody('gus', 1_234, { id: 'x', name: 'X' }));
  const hash = linkHash({ amountMinor: 1_234, currency: 'EUR', payee: { id: 'x', name: 'X' } });
  const answers = await Promise.all([appAnswer(q, a.body.authId, hash, 'APPROVE', clock), appAnswer(q, a.body.authId, hash, 'DENY', clock)]
    .map((b) => call(h, 'POST', `/v1/authentications/${a.body.authId}/app-result`, b)));
  assert.deepEqual(answers.map((r) => r.status).sort(), [200, 409]);
});

test('lockout: 5 consecutive failures across app and SMS, a resend and a restart block the payer, who is alerted first', async (t) => {
  const dir = tempDir(t);
  let { h, clock } = await startTestAuthorize(t, dir);
  const p = await enrol(h, 'hal');
  const app = await call(h, 'POST', '/v1/authentications', txBody('hal'));
  const bad = appAnswer(p, app.body.authId, 'not-the-hash', 'APPROVE', clock);
  for (let i = 0; i < 2; i++) assert.equal((await call(h, 'POST', `/v1/authentications/${app.body.authId}/app-result`, bad)).status, 403);
  await forceMode(h, 'sms');
  const sms = await call(h, 'POST', '/v1/authentications', txBody('hal'));
  assert.equal(sms.body.method, 'sms');
  await waitState(h, sms.body.authId, 'sms_sent');
  assert.equal((await call(h, 'POST', `/v1/authentications/${sms.body.authId}/sms-code`, { code: 'x', knowledgeFactor: p.knowledge })).status, 403);
  assert.equal((await call(h, 'POST', `/v1/authentications/${sms.body.authId}/resend`)).status, 200);
  await waitState(h, sms.body.authId, 'sms_sent');
  assert.equal((await call(h, 'POST', `/v1/authentications/${sms.body.authId}/sms-code`, { code: 'x', knowledgeFactor: p.knowledge })).status, 403);
  // Four failures: the payer has been warned by SMS before the block (RTS art. 4(4)).
  await until(() => (h.outbox?.list(20, p.phone) ?? []).some((m) => m.text.includes('one more failed')));
  await h.close();
  ({ h } = await startTestAuthorize(t, dir, {}, { clock }));
  const code = lastCode(h, p.phone); // the right code, with a wrong knowledge factor
  const fifth = await call(h, 'POST', `/v1/authentications/${sms.body.authId}/sms-code`, { code, knowledgeFactor: 'wrong' });
  assert.equal(fifth.status, 423);
  assert.equal(fifth.body.error.code, 'RMP_ERR_AUTH_LOCKED');
  assert.equal((await call(h, 'GET', `/v1/authentications/${sms.body.authId}`)).body.transStatus, 'R');
  await until(() => (h.outbox?.list(20, p.phone) ?? []).some((m) => m.text.includes('blocked')));
  // Even the right code and factor are refused now, and new authentications are rejected at once.
  const later = await call(h, 'POST', '/v1/authentications', txBody('hal'));
  assert.equal(later.body.state, 'locked');
  assert.equal((await call(h, 'POST', `/v1/authentications/${app.body.authId}/app-result`, appAnswer(p, app.body.authId, 'x', 'APPROVE', clock))).status, 423);
});

test('Idempotency-Key: the stored answer is replayed; the same key with another body is 422; keys are per route', async (t) => {
  const { h } = await startTestAuthorize(t, tempDir(t));
  await enrol(h, 'ivy');
  const body = txBody('ivy');
  const k = { 'idempotency-key': 'k-123' };
  const a = await call(h, 'POST', '/v1/authentications', body, k);
  const b = await call(h, 'POST', '/v1/authentications', body, k);
  assert.equal(a.status, 201);
  assert.equal(b.status, 201);
  assert.equal(b.body.authId, a.body.authId);
  assert.equal(b.headers.get('idempotent-replayed'), 'true');
  const c = await call(h, 'POST', '/v1/authentications', { ...body, amountMinor: 1 }, k);
  assert.equal(c.status, 422);
  assert.equal(c.body.error.code, 'RMP_ERR_AUTH_IDEMPOTENCY_MISMATCH');
  const cancel = await call(h, 'POST', `/v1/authentications/${a.body.authId}/cancel`, {}, k);
  assert.equal(cancel.body.state, 'cancelled');
  assert.equal((await call(h, 'POST', `/v1/authentications/${a.body.authId}/cancel`, {}, k)).status, 200, 'replayed, not 409');
  assert.equal((await call(h, 'POST', `/v1/authentications/${a.body.authId}/cancel`, {})).status, 409, 'without the key: terminal');
});

test('validation: 400 lists every problem; admin and operator tokens required; unknown routes 404, wrong methods 405', async (t) => {
  const { h } = await startTestAuthorize(t, tempDir(t));
  const bad = await call(h, 'POST', '/v1/authentications', { txId: 't', payerRef: 'p', amountMinor: 1.5, currency: 'eur', payee: { id: 'x' }, channel: 'sms' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'RMP_ERR_AUTH_BAD_REQUEST');
  const paths = bad.body.error.details.issues.map((i: { path: string }) => i.path).sort();
  assert.deepEqual(paths, ['(body)', 'amountMinor', 'currency', 'payee.name'], JSON.stringify(bad.body));
  assert.match(bad.body.error.message, /channel/, 'a requester cannot ask for SMS: the field is refused');
  assert.equal((await call(h, 'POST', '/v1/authentications', '{nope')).status, 400);
  assert.equal((await call(h, 'POST', '/v1/payers', { payerRef: 'x', phone: '+33612345678', knowledgeFactor: 'abcd' })).status, 401);
  assert.equal((await call(h, 'POST', '/v1/payers', { payerRef: 'x', phone: '+33612345678', knowledgeFactor: 'abcd' }, { authorization: 'Bearer wrong' })).status, 401);
  assert.equal((await call(h, 'POST', '/v1/payers', { payerRef: 'x', phone: '0612', knowledgeFactor: 'abcd' }, { authorization: `Bearer ${ADMIN}` })).status, 400);
  assert.equal((await call(h, 'POST', '/v1/payers', { payerRef: 'x', phone: '+33612345678', knowledgeFactor: 'abcd', devices: [{ deviceId: 'd', publicKey: 'x'.repeat(50) }] },
    { authorization: `Bearer ${ADMIN}` })).status, 400);
  assert.equal((await call(h, 'POST', '/v1/authentications', txBody('nobody'))).status, 404);
  assert.equal((await call(h, 'GET', '/v1/authentications/au_missing')).status, 404);
  assert.equal((await call(h, 'GET', '/v1/nothing')).status, 404);
  assert.equal((await call(h, 'DELETE', '/v1/authentications')).status, 405);
  assert.equal((await call(h, 'POST', '/v1/channels/mode', { mode: 'sms', reason: 'because', ttlS: 600 })).status, 401);
});

test('timers on the injected clock: app step 5 min → expired; whole 10 min → expired; nothing expires early', async (t) => {
  const { h, clock } = await startTestAuthorize(t, tempDir(t));
  await enrol(h, 'jon');
  const q = await enrol(h, 'kim', { noDevice: true });
  const app = await call(h, 'POST', '/v1/authentications', txBody('jon'));
  const sms = await call(h, 'POST', '/v1/authentications', txBody('kim'));
  await waitState(h, sms.body.authId, 'sms_sent');
  clock.advance(5 * 60_000 - 1);
  h.tick();
  assert.equal((await call(h, 'GET', `/v1/authentications/${app.body.authId}`)).body.state, 'app_pending');
  clock.advance(1);
  h.tick();
  const expired = (await call(h, 'GET', `/v1/authentications/${app.body.authId}`)).body;
  assert.equal(expired.state, 'expired');
  assert.equal(expired.transStatus, 'N');
  // The code lives 5 minutes: past it, the right code fails (and the payer may resend).
  const code = lastCode(h, q.phone);
  assert.equal((await call(h, 'POST', `/v1/authentications/${sms.body.authId}/sms-code`, { code, knowledgeFactor: q.knowledge })).status, 403);
  clock.advance(5 * 60_000);
  h.tick();
  assert.equal((await call(h, 'GET', `/v1/authentications/${sms.body.authId}`)).body.state, 'expired');
});

test('resends: at most 3, each one invalidates the previous code; per-phone SMS limit answers 429', async (t) => {
  const { h } = await startTestAuthorize(t, tempDir(t), { rateLimits: { smsPerPhone: 5 } });
  const p = await enrol(h, 'lea', { noDevice: true });
  const a = await call(h, 'POST', '/v1/authentications', txBody('lea'));
  await waitState(h, a.body.authId, 'sms_sent');
  const codes = [lastCode(h, p.phone)];
  for (let i = 0; i < 3; i++) {
    const r = await call(h, 'POST', `/v1/authentications/${a.body.authId}/resend`);
    assert.equal(r.status, 200);
    assert.equal(r.body.resendsLeft, 2 - i);
    await waitState(h, a.body.authId, 'sms_sent');
    codes.push(lastCode(h, p.phone));
  }
  const fourth = await call(h, 'POST', `/v1/authentications/${a.body.authId}/resend`);
  assert.equal(fourth.status, 409);
  assert.equal(fourth.body.error.code, 'RMP_ERR_AUTH_RESENDS_EXHAUSTED');
  const old = codes.slice(0, -1).find((c) => c !== codes[3]);
  if (old) assert.equal((await call(h, 'POST', `/v1/authentications/${a.body.authId}/sms-code`, { code: old, knowledgeFactor: p.knowledge })).status, 403);
  // One SMS more on this phone reaches the per-phone limit of 5: the next resend is refused, the next fallback is U.
  const b = await call(h, 'POST', '/v1/authentications', txBody('lea'));
  await waitState(h, b.body.authId, 'sms_sent');
  assert.equal((await call(h, 'POST', `/v1/authentications/${b.body.authId}/resend`)).status, 429);
  const c = await call(h, 'POST', '/v1/authentications', txBody('lea'));
  const cs = await waitState(h, c.body.authId, 'unavailable');
  assert.match(cs.reason, /rate limit/);
});

test('fallback cap and low-value exemption: above the cap SMS answers U; ≤ 30 EUR is exempt (Y) when enabled', async (t) => {
  const { h } = await startTestAuthorize(t, tempDir(t), { fallback: { maxAmountMinor: 20_000 }, exemption: { enabled: true } });
  await enrol(h, 'max', { noDevice: true });
  const big = await call(h, 'POST', '/v1/authentications', txBody('max', 20_001));
  assert.equal(big.body.state, 'unavailable');
  assert.equal(big.body.transStatus, 'U');
  assert.equal((await call(h, 'POST', '/v1/authentications', txBody('max', 20_000))).body.state, 'fallback_offered');
  const small = await call(h, 'POST', '/v1/authentications', txBody('max', 3_000));
  assert.equal(small.body.state, 'exempted');
  assert.equal(small.body.transStatus, 'Y');
});

test('operator override: two distinct operators, a reason and an expiry; the same operator twice is refused; expiry reverts to auto', async (t) => {
  const { h, clock } = await startTestAuthorize(t, tempDir(t));
  const body = { mode: 'sms', reason: 'app vendor incident #42', ttlS: 600 };
  const first = await call(h, 'POST', '/v1/channels/mode', body, { authorization: `Bearer ${OPS.alice}` });
  assert.equal(first.status, 202);
  assert.equal((await call(h, 'GET', '/v1/channels')).body.channel, 'app');
  assert.equal((await call(h, 'POST', '/v1/channels/mode', body, { authorization: `Bearer ${OPS.alice}` })).body.error.code, 'RMP_ERR_AUTH_SAME_OPERATOR');
  assert.equal((await call(h, 'POST', '/v1/channels/mode', { mode: 'sms', ttlS: 600 }, { authorization: `Bearer ${OPS.bob}` })).status, 400, 'reason is mandatory');
  assert.equal((await call(h, 'POST', '/v1/channels/mode', { ...body, ttlS: 10 * 86_400 }, { authorization: `Bearer ${OPS.bob}` })).status, 400, 'expiry is bounded');
  const events: string[] = [];
  h.bus.on('channel:mode', (e) => events.push(`${e.source}:${e.to}`));
  const second = await call(h, 'POST', '/v1/channels/mode', body, { authorization: `Bearer ${OPS.bob}` });
  assert.equal(second.status, 200);
  assert.deepEqual(second.body.override.operators, ['alice', 'bob']);
  assert.equal((await call(h, 'GET', '/v1/channels')).body.channel, 'sms');
  clock.advance(600_000);
  h.tick();
  assert.equal((await call(h, 'GET', '/v1/channels')).body.channel, 'app');
  assert.deepEqual(events, ['operator:sms (forced)', 'expiry:app (breaker closed)']);
  const kinds = (h.store.db.prepare("SELECT kind FROM audit WHERE kind LIKE 'operator.%' OR kind = 'channel.mode' ORDER BY seq").all() as Array<{ kind: string }>).map((r) => r.kind);
  assert.deepEqual(kinds, ['operator.proposed', 'operator.approved', 'channel.mode', 'channel.mode']);
});
