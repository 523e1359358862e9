import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'undici';
import { runDrill } from '../../src/drill/run.js';
import { benchSecret, knownCustomerCookie } from '../../src/drill/bench/known-customers.js';
import { startRecordingUpstream, startTestShield } from '../helpers/servers.js';
import { startRecordingServer } from './recording-server.js';

const ADMIN = { authorization: 'Bearer test-admin-token-0123456789', 'content-type': 'application/json' };
const APP = { accept: 'application/json', 'user-agent': 'parcel-app/2.0' };

test('a returning customer\'s cookie is a reputation the shield takes as established, from its own /24 and agent only', async (t) => {
  const secret = benchSecret();
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, { detection: { secret } });
  const [name, value] = knownCustomerCookie(secret)('127.0.3.7', APP['user-agent']);
  assert.equal(name, 'rempart_rep');
  const home = new Agent({ localAddress: '127.0.3.9' }); // same /24 as the address it was issued to
  const away = new Agent({ localAddress: '127.0.4.9' });
  t.after(async () => { await home.close(); await away.close(); });
  // A reputation earned seconds ago, in normal times, by another client on the same /24.
  const fresh = await request(`${shield.url}/track/1`, { headers: { ...APP, accept: 'text/html', 'sec-fetch-mode': 'navigate' }, dispatcher: home });
  await fresh.body.dump();
  const young = ([fresh.headers['set-cookie']].flat().find((c) => c?.startsWith('rempart_rep=')) ?? '').split(';')[0];
  assert.ok(young);
  // Under attack with proof-of-work asked of everyone not established or cleared.
  const forced = await request(`${shield.adminUrl}/api/attack`, { method: 'POST', headers: ADMIN, body: JSON.stringify({ ttlS: 60, reason: 'test', proofOfWork: true }) });
  assert.equal(forced.statusCode, 200);
  await forced.body.dump();
  const ask = async (cookie: string, dispatcher: Agent, agent = APP['user-agent']): Promise<number> => {
    const r = await request(`${shield.url}/track/2`, { headers: { ...APP, 'user-agent': agent, cookie }, dispatcher });
    await r.body.dump();
    return r.statusCode;
  };
  assert.equal(await ask(`${name}=${value}`, home), 200, 'a week old: established, it passes');
  assert.equal(await ask(young, home), 429, 'seconds old: proof-of-work first');
  assert.equal(await ask(`${name}=${value}`, away), 429, 'from another /24 the cookie is worth nothing');
  assert.equal(await ask(`${name}=${value}`, home, 'curl/8.0'), 429, 'nor with another agent');
});

test('the drill gives the returning cookie to the population before the crowd, never to the crowd\'s newcomers', async (t) => {
  const srv = await startRecordingServer();
  t.after(srv.close);
  const calls: string[] = [];
  await runDrill({
    target: srv.url, scenario: 'flash-crowd', params: { factor: 3 }, durationS: 2.5, leadS: 0.5, trackingUsers: 2, bankingUsers: 0, timeScale: 20, seed: 3, graceMs: 300,
    knownCookie: (address, agent) => { calls.push(`${address} ${agent}`); return ['rempart_rep', `known-${calls.length}`]; },
  });
  assert.equal(calls.length, 2, 'two users before the crowd, four newcomers after');
  const cookies = srv.requests.map((q) => String(q.headers.cookie ?? ''));
  assert.ok(cookies.some((c) => c.includes('rempart_rep=known-1')) && cookies.some((c) => c.includes('rempart_rep=known-2')));
  assert.ok(cookies.some((c) => !c.includes('rempart_rep=')), 'the newcomers carry none');
});
