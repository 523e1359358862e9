import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { DEMO_PASSWORD, startOrigin } from '../../src/demo/origin/server.js';

test('demo origins sharing a state secret accept each other\'s sessions and payment ids; without it they do not', async (t) => {
  for (const shared of [true, false]) {
    const secret = shared ? 'bench-secret-0123456789' : undefined;
    const a = await startOrigin({ serviceMs: 1, approveAfterS: 0, ...(secret ? { stateSecret: secret } : {}) });
    const b = await startOrigin({ serviceMs: 1, approveAfterS: 0, ...(secret ? { stateSecret: 'another-secret-0123456' } : {}) });
    const c = await startOrigin({ serviceMs: 1, approveAfterS: 0, ...(secret ? { stateSecret: secret } : {}) });
    t.after(async () => { await a.close(); await b.close(); await c.close(); });
    const login = await request(`${a.url}/bank/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `user=alice&password=${DEMO_PASSWORD}` });
    await login.body.dump();
    const cookie = String(login.headers['set-cookie']).split(';')[0] as string;
    const account = async (url: string): Promise<number> => { const r = await request(`${url}/bank/account`, { headers: { cookie } }); await r.body.dump(); return r.statusCode; };
    assert.equal(await account(a.url), 200);
    assert.equal(await account(c.url), shared ? 200 : 302, `shared ${shared}`);
    assert.equal(await account(b.url), 302, 'another secret (or none) does not accept the session');
    const created = await request(`${a.url}/api/pay/authorizations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"amount":"12.00","payee":"FR76X"}' });
    const { id } = await created.body.json() as { id: string };
    const poll = async (url: string): Promise<number> => { const r = await request(`${url}/api/pay/authorizations/${id}`); await r.body.dump(); return r.statusCode; };
    assert.equal(await poll(a.url), 200);
    assert.equal(await poll(c.url), shared ? 200 : 404);
    assert.equal(await poll(b.url), 404);
  }
});
