import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoAuthorizeConfig, startAuthorize } from '../../src/authorize/index.js';
import { call, startTestAuthorize, tempDir, txBody, until, waitState } from './helpers.js';

const demo = { enabled: true, payers: [{ payerRef: 'demo-alice', phone: '+33611223344', knowledgeFactor: '2468' }] };

async function form(url: string, fields: Record<string, string>): Promise<Response> {
  return fetch(url, { method: 'POST', body: new URLSearchParams(fields), headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
}

test('demo pages: the phone shows amount and payee and approves (signed server-side), the switch takes the app channel down, the outbox shows the SMS', async (t) => {
  const { h } = await startTestAuthorize(t, tempDir(t), { demo, breaker: { minAttempts: 2 } });
  const a = await call(h, 'POST', '/v1/authentications', txBody('demo-alice', 8_990, { id: 'shop', name: 'Fnac <Ternes>' }));
  assert.equal(a.body.method, 'app');
  const phone = await (await fetch(`${h.url}/demo/phone?payer=demo-alice`)).text();
  assert.match(phone, /89\.90 EUR/);
  assert.match(phone, /Fnac &#60;Ternes&#62;/, 'payee name shown, HTML-escaped');
  const approve = await form(`${h.url}/demo/phone/decide`, { payer: 'demo-alice', authId: a.body.authId, decision: 'APPROVE' });
  assert.equal(approve.status, 303);
  assert.equal((await call(h, 'GET', `/v1/authentications/${a.body.authId}`)).body.state, 'authenticated');

  const sw = await call(h, 'POST', '/demo/operator/app-channel', { mode: 'down' });
  assert.deepEqual(sw.body, { mode: 'down' });
  assert.equal(h.pushSimulator?.mode(), 'down');
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await call(h, 'POST', '/v1/authentications', txBody('demo-alice', 1_500 + i))).body.authId);
  await until(() => h.service.channels().channel === 'sms');
  for (const id of ids) await waitState(h, id, 'sms_sent');
  const operator = await (await fetch(`${h.url}/demo/operator`)).text();
  assert.match(operator, /New authentications go to: <b>SMS<\/b>/);
  const sms = await (await fetch(`${h.url}/demo/sms`)).text();
  assert.match(sms, /Code \d{6} to pay 15\.00 EUR to Librairie du Port/);
  assert.equal((await call(h, 'POST', '/demo/operator/app-channel', { mode: 'sideways' })).status, 400);
  const index = await (await fetch(`${h.url}/`)).text();
  assert.match(index, /phone of demo-alice/);
});

test('demo pages are off unless demo.enabled', async (t) => {
  const { h } = await startTestAuthorize(t, tempDir(t));
  assert.equal((await fetch(`${h.url}/demo/phone?payer=x`)).status, 404);
  assert.equal((await call(h, 'POST', '/demo/operator/app-channel', { mode: 'down' })).status, 404);
});

test('demoAuthorizeConfig starts a demo service on its own data directory', async (t) => {
  const dir = tempDir(t);
  const config = demoAuthorizeConfig({ dir, port: 0 });
  const h = await startAuthorize({ config });
  t.after(() => h.close());
  assert.match(await (await fetch(`${h.url}/demo/phone?payer=alice`)).text(), /No payment waiting/);
  const requester = config.requesters['demo-3ds']?.[0] ?? '';
  assert.ok(requester.length >= 16, 'a requester token is generated for the demo');
  assert.equal((await call(h, 'POST', '/v1/authentications', txBody('alice'))).status, 401, 'only with the demo requester token');
  const a = await call(h, 'POST', '/v1/authentications', txBody('alice'), { authorization: `Bearer ${requester}` });
  assert.equal(a.body.method, 'app');
});

test('listen.basePath: everything is served under the prefix (links and redirects included), nothing outside it', async (t) => {
  const { h } = await startTestAuthorize(t, tempDir(t), { demo, listen: { address: '127.0.0.1', port: 0, basePath: '/authorize' } });
  assert.ok(h.url.endsWith('/authorize'));
  const a = await call(h, 'POST', '/v1/authentications', txBody('demo-alice'));
  assert.equal(a.status, 201);
  await until(() => h.service.channels().breaker.attempts === 1); // the simulated device fetched through the prefix
  const phone = await (await fetch(`${h.url}/demo/phone?payer=demo-alice`)).text();
  assert.match(phone, /action="\/authorize\/demo\/phone\/decide"/);
  const r = await form(`${h.url}/demo/phone/decide`, { payer: 'demo-alice', authId: a.body.authId, decision: 'DENY' });
  assert.match(r.headers.get('location') ?? '', /^\/authorize\/demo\/phone\?/);
  const root = h.url.replace(/\/authorize$/, '');
  assert.equal((await fetch(`${root}/v1/channels`)).status, 404);
  assert.equal((await fetch(`${root}/authorizeX/v1/channels`)).status, 404);
});
