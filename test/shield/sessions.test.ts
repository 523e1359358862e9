import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { startTestShield } from '../helpers/servers.js';

const ADMIN = { authorization: 'Bearer test-admin-token-0123456789', 'content-type': 'application/json' };
const BROWSER = { accept: 'text/html,application/xhtml+xml', 'sec-fetch-mode': 'navigate', 'user-agent': 'Mozilla/5.0 test' };

const cookieOf = (setCookie: string | string[] | undefined, name: string): string | undefined =>
  (Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []).find((v) => v.startsWith(`${name}=`))?.split(';')[0];

async function forceAttack(adminUrl: string): Promise<void> {
  const r = await request(`${adminUrl}/api/attack`, { method: 'POST', headers: ADMIN, body: JSON.stringify({ ttlS: 60, reason: 'test', who: 'tester' }) });
  assert.equal(r.statusCode, 200);
  await r.body.dump();
}

/**
 * A bank-like origin: `POST /login` with the right password answers 303 and sets `sid`, a wrong one
 * 401 (setting a throwaway `sid` too, as some frameworks do); `/logout` clears it; `/hold` keeps
 * the origin's only slot until released; everything else is 200. `seen` lists what reached it.
 */
async function startBank(t: TestContext) {
  const seen: string[] = [];
  const gate: { release?: (() => void) | undefined } = {};
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.url === '/hold') { gate.release = () => res.end('held'); return; }
    if (req.method === 'POST' && req.url === '/login') {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => {
        if (body === 'password=right') res.writeHead(303, { location: '/account', 'set-cookie': `sid=${randomUUID()}; Path=/; HttpOnly` }).end();
        else res.writeHead(401, { 'set-cookie': `sid=${randomUUID()}; Path=/` }).end('wrong password');
      });
      return;
    }
    if (req.url === '/logout') { res.writeHead(200, { 'set-cookie': 'sid=; Path=/; Max-Age=0' }).end('bye'); return; }
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url, seen,
    async held(): Promise<void> {
      for (let i = 0; i < 100 && gate.release === undefined; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(gate.release, 'the hold takes the only slot');
    },
    release(): void { gate.release?.(); gate.release = undefined; },
  };
}

async function login(shieldUrl: string, password: string, headers: Record<string, string> = {}): Promise<{ status: number; sid: string | undefined }> {
  const r = await request(`${shieldUrl}/login`, { method: 'POST', headers: { ...BROWSER, 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: `password=${password}` });
  await r.body.dump();
  return { status: r.statusCode, sid: cookieOf(r.headers['set-cookie'], 'sid') };
}

test('a session the origin issued spares its holder every challenge under attack; a forged, refused or cleared one does not', async (t) => {
  const bank = await startBank(t);
  const shield = await startTestShield(t, bank.url, { detection: { sessionCookies: ['sid'] } });
  // Logged in before the attack, and a login the origin refused (its throwaway sid).
  const ok = await login(shield.url, 'right');
  assert.equal(ok.status, 303);
  assert.ok(ok.sid);
  const refused = await login(shield.url, 'wrong');
  assert.equal(refused.status, 401);
  assert.ok(refused.sid, 'the origin set a cookie on its refusal');
  const known = async (): Promise<unknown> => {
    const r = await request(`${shield.adminUrl}/api/state`, { headers: ADMIN });
    return ((await r.body.json()) as { detection: { sessions: unknown } }).detection.sessions;
  };
  assert.deepEqual(await known(), { cookies: ['sid'], known: 1 }, 'the refused login\'s cookie was not learned');
  await forceAttack(shield.adminUrl);
  const page = async (cookie?: string): Promise<number> => {
    const r = await request(`${shield.url}/account`, { headers: { ...BROWSER, ...(cookie ? { cookie } : {}) } });
    await r.body.dump();
    return r.statusCode;
  };
  const before = bank.seen.length;
  assert.equal(await page(), 307, 'no cookie: the no-JavaScript check');
  assert.equal(await page('sid=made-up'), 307, 'a session the origin never issued proves nothing');
  assert.equal(await page(refused.sid), 307, 'nor one it set on a refusal');
  assert.equal(bank.seen.length, before, 'none of them reached the origin');
  assert.equal(await page(ok.sid), 200, 'the customer who logged in goes straight through');
  assert.equal(await page(`rempart_rep=stale; ${ok.sid}`), 200, 'whatever else it carries');
  assert.deepEqual(bank.seen.slice(before), ['GET /account', 'GET /account']);
  // A login during the attack counts as well (once its sender passed the check).
  const check = await request(`${shield.url}/login`, { method: 'POST', headers: { ...BROWSER, 'content-type': 'application/x-www-form-urlencoded' }, body: 'password=right' });
  await check.body.dump();
  assert.equal(check.statusCode, 307);
  const nojs = cookieOf(check.headers['set-cookie'], 'rempart_nojs');
  assert.ok(nojs);
  const during = await login(shield.url, 'right', { cookie: nojs });
  assert.equal(during.status, 303);
  assert.equal(await page(during.sid), 200, 'logged in during the attack: no further check');
  // Logging out clears it: the same cookie is worth nothing after.
  const out = await request(`${shield.url}/logout`, { headers: { ...BROWSER, cookie: ok.sid! } });
  await out.body.dump();
  assert.equal(out.statusCode, 200);
  assert.equal(await page(ok.sid), 307, 'cleared by the origin: a stranger again');
  assert.deepEqual(await known(), { cookies: ['sid'], known: 1 });
  assert.equal(await page(during.sid), 200, 'another customer\'s session is untouched');
});

test('waiting for the origin, a logged-in customer\'s payment goes before a newcomer\'s page; its other pages wait their turn', async (t) => {
  const bank = await startBank(t);
  const shield = await startTestShield(t, bank.url, {
    upstreams: { origin: { url: bank.url, timeoutMs: 5_000, connections: 1 } },
    detection: { sessionCookies: ['sid'], adaptiveConcurrency: false },
  });
  // Separate addresses: the newcomer's no-JS identity is its address and agent's.
  const agent = (address: string): Agent => { const a = new Agent({ localAddress: address }); t.after(() => a.close()); return a; };
  const customer = agent('127.0.61.1');
  const newcomer = agent('127.0.61.2');
  const r = await request(`${shield.url}/login`, { dispatcher: customer, method: 'POST', headers: { ...BROWSER, 'content-type': 'application/x-www-form-urlencoded' }, body: 'password=right' });
  await r.body.dump();
  const sid = cookieOf(r.headers['set-cookie'], 'sid');
  assert.ok(sid);
  await forceAttack(shield.adminUrl);
  const first = await request(`${shield.url}/page`, { dispatcher: newcomer, headers: BROWSER });
  await first.body.dump();
  assert.equal(first.statusCode, 307);
  const nojs = cookieOf(first.headers['set-cookie'], 'rempart_nojs');
  assert.ok(nojs);
  const hold = request(`${shield.url}/hold`, { dispatcher: agent('127.0.61.3'), headers: { ...BROWSER, cookie: sid } });
  await bank.held();
  const mark = bank.seen.length;
  // The newcomer's page queues first, the customer's page 50 ms later, its payment (a critical
  // route) 50 ms after that.
  const newcomerPage = request(`${shield.url}/newcomer`, { dispatcher: newcomer, headers: { ...BROWSER, cookie: nojs } });
  await new Promise((res) => setTimeout(res, 50));
  const customerPage = request(`${shield.url}/customer`, { dispatcher: customer, headers: { ...BROWSER, cookie: sid } });
  await new Promise((res) => setTimeout(res, 50));
  const payment = request(`${shield.url}/pay/1`, { dispatcher: customer, headers: { ...BROWSER, cookie: sid } });
  await new Promise((res) => setTimeout(res, 50));
  bank.release();
  for (const p of [hold, newcomerPage, customerPage, payment]) { const x = await p; assert.equal(x.statusCode, 200); await x.body.dump(); }
  assert.deepEqual(bank.seen.slice(mark), ['GET /pay/1', 'GET /newcomer', 'GET /customer']);
});

test('a session flooded with is rate-limited as one identity, then no longer trusted', async (t) => {
  const bank = await startBank(t);
  const shield = await startTestShield(t, bank.url, { detection: { sessionCookies: ['sid'], perToken: { ratePerS: 0.5, burst: 3 } } });
  const ok = await login(shield.url, 'right');
  assert.ok(ok.sid);
  await forceAttack(shield.adminUrl);
  // From several addresses at once: one account, one identity.
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) {
    const a = new Agent({ localAddress: `127.0.62.${i + 1}` });
    t.after(() => a.close());
    const r = await request(`${shield.url}/account`, { dispatcher: a, headers: { ...BROWSER, cookie: ok.sid! } });
    await r.body.dump();
    statuses.push(r.statusCode);
  }
  const refusedAt = statuses.indexOf(429);
  assert.ok(refusedAt >= 3, `within its burst, served: ${statuses.join(',')}`);
  assert.ok(statuses.slice(0, refusedAt).every((s) => s === 200), statuses.join(','));
  assert.ok(statuses.slice(refusedAt + 1).length > 0 && statuses.slice(refusedAt + 1).every((s) => s === 307),
    `past it: refused once, then a stranger again (the no-JavaScript check): ${statuses.join(',')}`);
});

test('a client whose session was revoked for flooding gets no trusted session from its next login; another client\'s login is trusted, and with revokedHolderS 0 so is its own', async (t) => {
  const bank = await startBank(t);
  const run = async (revokedHolderS: number, third: number): Promise<{ again: number; other: number }> => {
    const shield = await startTestShield(t, bank.url, { detection: { sessionCookies: ['sid'], perToken: { ratePerS: 0.5, burst: 3 }, sessions: { revokedHolderS } } });
    const from = (octet: number): Agent => { const a = new Agent({ localAddress: `127.0.${third}.${octet}` }); t.after(() => a.close()); return a; };
    const holder = from(1);
    const first = await loginVia(shield.url, holder);
    assert.ok(first.sid);
    // Flooding with its session past the per-token rate: refused once, then no longer trusted.
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push(await getAccount(shield.url, holder, first.sid!));
    assert.ok(statuses.includes(429), statuses.join(','));
    // Its holder logs in again, as a bot holding the password would: the origin issues a session...
    const again = await loginVia(shield.url, holder);
    assert.equal(again.status, 303);
    assert.ok(again.sid && again.sid !== first.sid);
    const other = await loginVia(shield.url, from(2));
    await forceAttack(shield.adminUrl);
    // ... that spares the challenge under attack only if the shield learned it.
    return { again: await getAccount(shield.url, holder, again.sid!), other: await getAccount(shield.url, from(2), other.sid!) };
  };
  const held = await run(600, 64);
  assert.equal(held.again, 307, 'its new session is a stranger\'s: the no-JavaScript check');
  assert.equal(held.other, 200, 'another client\'s login is trusted');
  const trusted = await run(0, 65);
  assert.equal(trusted.again, 200, 'revokedHolderS 0: each login trusted anew');
  assert.equal(trusted.other, 200);
});

test('a client that flooded with its session beside a reputation, then logs in again without its cookies, is still held: its source is', async (t) => {
  const bank = await startBank(t);
  const shield = await startTestShield(t, bank.url, { detection: { sessionCookies: ['sid'], perToken: { ratePerS: 0.5, burst: 3 } } });
  const holder = new Agent({ localAddress: '127.0.67.1' });
  t.after(() => holder.close());
  // A page in normal times earns a reputation: the identity the holder's other cookies give it.
  const page = await request(`${shield.url}/page`, { dispatcher: holder, headers: BROWSER });
  await page.body.dump();
  const rep = cookieOf(page.headers['set-cookie'], 'rempart_rep');
  assert.ok(rep);
  const first = await loginVia(shield.url, holder);
  assert.ok(first.sid);
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) statuses.push(await getAccount(shield.url, holder, `${first.sid}; ${rep}`));
  assert.ok(statuses.includes(429), statuses.join(','));
  // Its cookies thrown away, it logs in again from the same address and browser.
  const again = await loginVia(shield.url, holder);
  assert.equal(again.status, 303);
  await forceAttack(shield.adminUrl);
  // Learned, its session would be served (200) whatever its source's pace; not learned, the request
  // is a cookieless stranger's from a source that flooded (the check, or the queue's refusal).
  const status = await getAccount(shield.url, holder, again.sid!);
  assert.ok(status === 307 || status === 503, `its new session is not learned: ${status}`);
});

async function loginVia(shieldUrl: string, dispatcher: Agent): Promise<{ status: number; sid: string | undefined }> {
  const r = await request(`${shieldUrl}/login`, { dispatcher, method: 'POST', headers: { ...BROWSER, 'content-type': 'application/x-www-form-urlencoded' }, body: 'password=right' });
  await r.body.dump();
  return { status: r.statusCode, sid: cookieOf(r.headers['set-cookie'], 'sid') };
}

async function getAccount(shieldUrl: string, dispatcher: Agent, sid: string): Promise<number> {
  const r = await request(`${shieldUrl}/account`, { dispatcher, headers: { ...BROWSER, cookie: sid } });
  await r.body.dump();
  return r.statusCode;
}

test('with storage.database, a shield restarted during an attack still knows the sessions it saw issued; one cleared before the restart stays forgotten', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-sessions-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bank = await startBank(t);
  const settings = { detection: { sessionCookies: ['sid'] }, storage: { database: join(dir, 'shield.db') } };
  const first = await startTestShield(t, bank.url, settings);
  const kept = await login(first.url, 'right');
  const cleared = await login(first.url, 'right');
  assert.equal(kept.status, 303);
  const out = await request(`${first.url}/logout`, { headers: { ...BROWSER, cookie: cleared.sid! } });
  await out.body.dump();
  await first.close();

  const second = await startTestShield(t, bank.url, settings);
  const r = await request(`${second.adminUrl}/api/state`, { headers: ADMIN });
  assert.deepEqual(((await r.body.json()) as { detection: { sessions: unknown } }).detection.sessions, { cookies: ['sid'], known: 1 });
  await forceAttack(second.adminUrl);
  const page = async (cookie?: string): Promise<number> => {
    const res = await request(`${second.url}/account`, { headers: { ...BROWSER, ...(cookie ? { cookie } : {}) } });
    await res.body.dump();
    return res.statusCode;
  };
  assert.equal(await page(kept.sid), 200, 'logged in before the restart: straight through');
  assert.equal(await page(cleared.sid), 307, 'logged out before the restart: a stranger');
  assert.equal(await page(), 307);
});

/**
 * The bank behind a shield with one upstream slot, sessions learned from `sid`, logins critical
 * (`routes` between them and the catch-all), and three clients on addresses of their own in
 * 127.0.`subnet`.0/24: a customer, a newcomer, and a holder of the slot. `loginAs` posts the right
 * password (with `cookie`) and returns the session the 303 to /account set.
 */
async function bankBehindShield(t: TestContext, subnet: number, routes: Array<Record<string, unknown>> = []) {
  const bank = await startBank(t);
  const shield = await startTestShield(t, bank.url, {
    upstreams: { origin: { url: bank.url, timeoutMs: 5_000, connections: 1 } },
    routes: [
      { match: { path: '/login', method: 'POST' }, upstream: 'origin', class: 'critical' },
      ...routes,
      { match: { path: '/' }, upstream: 'origin', class: 'normal' },
    ],
    detection: { sessionCookies: ['sid'], adaptiveConcurrency: false },
  });
  const agent = (address: string): Agent => { const a = new Agent({ localAddress: address }); t.after(() => a.close()); return a; };
  const loginAs = async (dispatcher: Agent, cookie?: string): Promise<string> => {
    const r = await request(`${shield.url}/login`, { dispatcher, method: 'POST', headers: { ...BROWSER, ...(cookie ? { cookie } : {}), 'content-type': 'application/x-www-form-urlencoded' }, body: 'password=right' });
    await r.body.dump();
    assert.equal(r.statusCode, 303);
    assert.equal(r.headers.location, '/account');
    return cookieOf(r.headers['set-cookie'], 'sid')!;
  };
  return { bank, shield, loginAs, customer: agent(`127.0.${subnet}.1`), newcomer: agent(`127.0.${subnet}.2`), holder: agent(`127.0.${subnet}.3`) };
}

test('a login answered with a new session lends its critical place to the page it redirects to, which comes with that session', async (t) => {
  const { bank, shield, loginAs, customer, newcomer, holder } = await bankBehindShield(t, 63);
  const holderSid = await loginAs(holder);
  await forceAttack(shield.adminUrl);
  const nojsOf = async (dispatcher: Agent): Promise<string> => {
    const r = await request(`${shield.url}/page`, { dispatcher, headers: BROWSER });
    await r.body.dump();
    assert.equal(r.statusCode, 307);
    return cookieOf(r.headers['set-cookie'], 'rempart_nojs')!;
  };
  const customerNojs = await nojsOf(customer);
  const newcomerNojs = await nojsOf(newcomer);
  // The customer logs in during the attack: 303 to /account with a session it did not have.
  const sid = await loginAs(customer, customerNojs);
  const hold = request(`${shield.url}/hold`, { dispatcher: holder, headers: { ...BROWSER, cookie: holderSid } });
  await bank.held();
  const mark = bank.seen.length;
  // A newcomer's page queues first; the customer's account page — the login's redirect — after it.
  const newcomerPage = request(`${shield.url}/newcomer`, { dispatcher: newcomer, headers: { ...BROWSER, cookie: newcomerNojs } });
  await new Promise((res) => setTimeout(res, 50));
  const account = request(`${shield.url}/account`, { dispatcher: customer, headers: { ...BROWSER, cookie: `${customerNojs}; ${sid}` } });
  await new Promise((res) => setTimeout(res, 50));
  bank.release();
  for (const p of [hold, newcomerPage, account]) { const x = await p; assert.equal(x.statusCode, 200); await x.body.dump(); }
  assert.deepEqual(bank.seen.slice(mark), ['GET /account', 'GET /newcomer'], 'the login\'s redirect went first, under the session it set');
});

test('a logged-in customer\'s continuation waits as established, before a newcomer\'s critical request queued earlier', async (t) => {
  const { bank, shield, loginAs, customer, newcomer, holder } = await bankBehindShield(t, 64, [{ match: { path: '/pay/' }, upstream: 'origin', class: 'critical' }]);
  const holderSid = await loginAs(holder);
  const first = await loginAs(customer); // logged in before the attack
  await forceAttack(shield.adminUrl);
  const nojs = await request(`${shield.url}/page`, { dispatcher: newcomer, headers: BROWSER });
  await nojs.body.dump();
  const newcomerNojs = cookieOf(nojs.headers['set-cookie'], 'rempart_nojs')!;
  // The customer logs in again during the attack: a new session, 303 to /account.
  const second = await loginAs(customer, first);
  assert.notEqual(second, first);
  const hold = request(`${shield.url}/hold`, { dispatcher: holder, headers: { ...BROWSER, cookie: holderSid } });
  await bank.held();
  const mark = bank.seen.length;
  const newcomerPay = request(`${shield.url}/pay/n`, { dispatcher: newcomer, headers: { ...BROWSER, cookie: newcomerNojs } });
  await new Promise((res) => setTimeout(res, 50));
  const account = request(`${shield.url}/account`, { dispatcher: customer, headers: { ...BROWSER, cookie: second } });
  await new Promise((res) => setTimeout(res, 50));
  bank.release();
  for (const p of [hold, newcomerPay, account]) { const x = await p; assert.equal(x.statusCode, 200); await x.body.dump(); }
  assert.deepEqual(bank.seen.slice(mark), ['GET /account', 'GET /pay/n'], 'the login\'s page waited as the login did, not at its cookies\' standing');
});
