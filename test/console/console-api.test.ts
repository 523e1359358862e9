import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { request } from 'undici';
import { startRecordingUpstream, startTestShield } from '../helpers/servers.js';
import { hashPassword } from '../../src/console/password.js';
import { CONSOLE_API_ROUTES } from '../../src/admin/console-routes.js';
import { tempDir } from '../helpers/temp-dir.js';

const TOKEN = 'test-admin-token-0123456789';
const CHEAP = { N: 2 ** 12, r: 8, p: 1 }; // fast hashes for tests; production uses N=2^17

/** Every route under /api/ on the admin listener: the existing admin API and the console's. */
const ALL_API_ROUTES: ReadonlyArray<readonly [string, string]> = [
  ['GET', '/api/state'], ['GET', '/api/blocks'], ['POST', '/api/blocks'], ['DELETE', '/api/blocks/10.9.0.0%2F16'],
  ['POST', '/api/attack'], ['DELETE', '/api/attack'], ['DELETE', '/api/mitigations/x'],
  ...CONSOLE_API_ROUTES,
];
const STATE_CHANGING = ALL_API_ROUTES.filter(([m]) => m !== 'GET');

async function login(adminUrl: string, name: string, password: string, headers: Record<string, string> = {}): Promise<{ status: number; cookie: string; csrf: string; setCookie: string }> {
  const origin = new URL(adminUrl).origin;
  const res = await request(`${adminUrl}/console/login`, {
    method: 'POST', headers: { 'content-type': 'application/json', origin, 'sec-fetch-site': 'same-origin', ...headers },
    body: JSON.stringify({ name, password }),
  });
  const setCookie = String(res.headers['set-cookie'] ?? '');
  const body = await res.body.json() as { csrf?: string };
  return { status: res.statusCode, cookie: setCookie.split(';')[0] ?? '', csrf: body.csrf ?? '', setCookie };
}

async function startShieldWithConsole(t: Parameters<typeof startTestShield>[0], extra: Record<string, unknown> = {}) {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, {
    console: { operators: [{ name: 'alice', passwordHash: await hashPassword('correct horse battery', CHEAP) }] },
    ...extra,
  });
  return { upstream, shield };
}

for (const [method, path] of ALL_API_ROUTES) {
  test(`${method} ${path} answers 401 without credentials, and 401 with a wrong token or a forged session cookie`, async (t) => {
    const { shield } = await startShieldWithConsole(t);
    const body = method === 'POST' ? '{}' : undefined;
    for (const headers of [{}, { authorization: 'Bearer not-the-token-at-all-000' }, { cookie: 'rempart_console=forged-session-id' }]) {
      const res = await request(`${shield.adminUrl}${path}`, { method: method as 'GET', headers: { 'content-type': 'application/json', ...headers }, ...(body ? { body } : {}) });
      await res.body.dump();
      assert.equal(res.statusCode, 401, `${method} ${path} with ${JSON.stringify(headers)}`);
    }
  });
}

for (const [method, path] of STATE_CHANGING) {
  test(`${method} ${path} with a valid session refuses cross-site requests (403)`, async (t) => {
    const { shield } = await startShieldWithConsole(t);
    const s = await login(shield.adminUrl, 'alice', 'correct horse battery');
    assert.equal(s.status, 200);
    const origin = new URL(shield.adminUrl).origin;
    const cases: Array<Record<string, string>> = [
      { origin: 'https://evil.example', 'x-csrf-token': s.csrf },
      { 'sec-fetch-site': 'cross-site', 'x-csrf-token': s.csrf },
      { 'sec-fetch-site': 'same-site', origin, 'x-csrf-token': s.csrf },
      { origin, 'sec-fetch-site': 'same-origin' }, // no per-session token
      { origin, 'sec-fetch-site': 'same-origin', 'x-csrf-token': 'wrong-token' },
    ];
    for (const headers of cases) {
      const res = await request(`${shield.adminUrl}${path}`, {
        method: method as 'POST', headers: { 'content-type': 'application/json', cookie: s.cookie, ...headers },
        body: JSON.stringify({ cidr: '10.9.0.0/16', reason: 'cross-site try', enabled: true, title: 'x', message: 'y' }),
      });
      await res.body.dump();
      assert.equal(res.statusCode, 403, `${method} ${path} with ${JSON.stringify(headers)}`);
    }
    const blocks = await request(`${shield.adminUrl}/api/blocks`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.deepEqual((await blocks.body.json() as { blocks: unknown[] }).blocks, [], 'no refused request changed anything');
  });
}

test('login: operator account or admin token; the session cookie is HttpOnly and SameSite=Strict; wrong passwords and cross-site logins are refused', async (t) => {
  const { shield } = await startShieldWithConsole(t);
  const ok = await login(shield.adminUrl, 'alice', 'correct horse battery');
  assert.equal(ok.status, 200);
  assert.match(ok.setCookie, /^rempart_console=[A-Za-z0-9_-]{40,};/);
  assert.match(ok.setCookie, /HttpOnly/);
  assert.match(ok.setCookie, /SameSite=Strict/);
  const me = await request(`${shield.adminUrl}/api/session`, { headers: { cookie: ok.cookie } });
  assert.equal(me.statusCode, 200);
  assert.equal((await me.body.json() as { who: string }).who, 'alice');
  assert.equal((await login(shield.adminUrl, 'alice', 'wrong')).status, 401);
  assert.equal((await login(shield.adminUrl, 'mallory', 'correct horse battery')).status, 401);
  assert.equal((await login(shield.adminUrl, 'admin', TOKEN)).status, 200);
  assert.equal((await login(shield.adminUrl, 'alice', 'correct horse battery', { origin: 'https://evil.example' })).status, 403);
  assert.equal((await login(shield.adminUrl, 'alice', 'correct horse battery', { 'sec-fetch-site': 'cross-site' })).status, 403);
  // Logout ends the session.
  const out = await request(`${shield.adminUrl}/console/logout`, { method: 'POST', headers: { cookie: ok.cookie, origin: new URL(shield.adminUrl).origin, 'x-csrf-token': ok.csrf } });
  assert.equal(out.statusCode, 200);
  await out.body.dump();
  const after = await request(`${shield.adminUrl}/api/session`, { headers: { cookie: ok.cookie } });
  await after.body.dump();
  assert.equal(after.statusCode, 401);
});

test('actions through a session are recorded with who, when and why, searchable in GET /api/events, and kept across a restart', async (t) => {
  const dir = tempDir(t, 'rempart-events-');
  const storage = { database: join(dir, 'shield.db') };
  const before = Date.now();
  const { shield, upstream } = await startShieldWithConsole(t, { storage });
  const s = await login(shield.adminUrl, 'alice', 'correct horse battery');
  const origin = new URL(shield.adminUrl).origin;
  const post = (path: string, body: unknown) => request(`${shield.adminUrl}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json', cookie: s.cookie, origin, 'sec-fetch-site': 'same-origin', 'x-csrf-token': s.csrf }, body: JSON.stringify(body),
  });
  const b = await post('/api/blocks', { cidr: '10.77.0.0/16', reason: 'scraper from the console test' });
  assert.equal(b.statusCode, 201);
  await b.body.dump();
  const dr = await post('/api/dry-run', { enabled: true, reason: 'checking a false positive' });
  assert.equal(dr.statusCode, 200);
  assert.deepEqual(await dr.body.json(), { dryRun: true });
  assert.equal(shield.config().detection.dryRun, true, 'the toggle reached the running configuration');
  const res = await request(`${shield.adminUrl}/api/events?type=operator&q=10.77`, { headers: { cookie: s.cookie } });
  const { events } = await res.body.json() as { events: Array<{ at: number; who: string; summary: string; type: string }> };
  const block = events.find((e) => e.summary.startsWith('block'));
  assert.ok(block, JSON.stringify(events));
  assert.equal(block.who, 'alice');
  assert.match(block.summary, /scraper from the console test/);
  assert.ok(block.at >= before && block.at <= Date.now());
  assert.ok(events.every((e) => e.type === 'operator'), 'filtered by type');
  await shield.close();

  const again = await startTestShield(t, upstream.url, { storage });
  const res2 = await request(`${again.adminUrl}/api/events?type=operator`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const kept = (await res2.body.json() as { events: Array<{ who: string; summary: string }> }).events;
  assert.ok(kept.some((e) => e.who === 'alice' && e.summary.includes('dry-run-on: checking a false positive')), JSON.stringify(kept));
  assert.ok(kept.some((e) => e.who === 'alice' && e.summary.includes('10.77.0.0/16')));
  const range = await request(`${again.adminUrl}/api/events?to=${before - 1}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.deepEqual((await range.body.json() as { events: unknown[] }).events, [], 'nothing before the test began');
});

test('console pages: served from the build with a strict CSP and never framed; assets immutable; no path escapes the build', async (t) => {
  const { shield } = await startShieldWithConsole(t);
  const root = await request(`${shield.adminUrl}/`);
  assert.equal(root.statusCode, 302);
  assert.equal(root.headers.location, '/console/');
  await root.body.dump();
  const index = await request(`${shield.adminUrl}/console/`);
  assert.equal(index.statusCode, 200);
  assert.match(String(index.headers['content-security-policy']), /default-src 'self'.*frame-ancestors 'none'/);
  assert.equal(index.headers['x-frame-options'], 'DENY');
  const html = await index.body.text();
  const asset = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(asset, 'the built page references its bundle (run npm run build:console)');
  assert.doesNotMatch(html, /https?:\/\//, 'nothing loaded from elsewhere (no CDN)');
  const js = await request(`${shield.adminUrl}/console/${asset}`);
  assert.equal(js.statusCode, 200);
  assert.match(String(js.headers['cache-control']), /immutable/);
  await js.body.dump();
  for (const path of ['/console/../package.json', '/console/%2e%2e/package.json', '/console/assets/nope.js']) {
    const r = await request(`${shield.adminUrl}${path}`);
    assert.notEqual(r.statusCode, 200, path);
    assert.doesNotMatch(await r.body.text(), /"name": "rempart"/);
  }
});


test('a path challenged as a signature: a page\'s own stylesheet follows the no-JS check and passes at a customer\'s pace once its browser was answered a page (a browser cannot solve its proof-of-work); before any page, without Fetch Metadata, or fetched as a flood, it gets the challenge', async (t) => {
  const { shield } = await startShieldWithConsole(t);
  const c = await request(`${shield.adminUrl}/api/challenges`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ dimension: 'path', value: '/static/site.css', reason: 'a flash crowd of first visits' }),
  });
  assert.equal(c.statusCode, 201);
  await c.body.dump();
  const STYLE = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0', accept: 'text/css,*/*;q=0.1', 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'style' };
  const css = async (headers: Record<string, string>, target = '/static/site.css') => {
    const r = await request(`${shield.url}${target}`, { headers });
    await r.body.dump();
    return r;
  };
  const first = await css(STYLE);
  assert.equal(first.statusCode, 307, 'the no-JS check, which a browser follows for a stylesheet');
  const nojs = String(first.headers['set-cookie']).split(';')[0] ?? '';
  assert.equal((await css({ ...STYLE, cookie: nojs }, String(first.headers.location))).statusCode, 429,
    'back with the cookie from a browser that was answered no page: only claims to be a page\'s stylesheet (drill `forge`)');
  // The page that links it: answered, with its page-visit cookie.
  const page = await request(`${shield.url}/home`, { headers: { 'user-agent': STYLE['user-agent'], accept: 'text/html', 'sec-fetch-site': 'none', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', cookie: nojs } });
  await page.body.dump();
  assert.equal(page.statusCode, 200);
  const pv = ([page.headers['set-cookie'] ?? []].flat() as string[]).map((c) => c.split(';')[0] ?? '').find((c) => c.startsWith('rempart_pv='));
  assert.ok(pv, `the page gave a page-visit cookie: ${JSON.stringify(page.headers['set-cookie'])}`);
  const cookie = `${nojs}; ${pv}`;
  assert.equal((await css({ ...STYLE, cookie }, String(first.headers.location))).statusCode, 200, 'after its page: served');
  assert.equal((await css({ 'user-agent': STYLE['user-agent'], accept: 'text/css', cookie })).statusCode, 429, 'no Fetch Metadata: the API client\'s challenge');
  // The same browser fetching it over and over: past a customer's pace, it pays.
  let refused = 0;
  for (let i = 0; i < 30; i++) if ((await css({ ...STYLE, cookie })).statusCode === 429) refused++;
  assert.ok(refused > 0, 'a flood of it is challenged');
});

test('challenging a user agent from the console sends it to proof-of-work at once, other agents pass; lifting it ends that', async (t) => {
  const { shield } = await startShieldWithConsole(t);
  const s = await login(shield.adminUrl, 'alice', 'correct horse battery');
  const origin = new URL(shield.adminUrl).origin;
  const page = async (ua: string) => {
    const r = await request(`${shield.url}/home`, { headers: { 'user-agent': ua, accept: 'text/html' } });
    await r.body.dump();
    return r.statusCode;
  };
  assert.equal(await page('EvilBot/1.0'), 200);
  const c = await request(`${shield.adminUrl}/api/challenges`, {
    method: 'POST', headers: { 'content-type': 'application/json', cookie: s.cookie, origin, 'x-csrf-token': s.csrf },
    body: JSON.stringify({ dimension: 'userAgent', value: 'EvilBot/1.0', reason: 'scraper' }),
  });
  assert.equal(c.statusCode, 201);
  const { id } = await c.body.json() as { id: string };
  assert.notEqual(await page('EvilBot/1.0'), 200, 'the agent is challenged');
  assert.equal(await page('Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0'), 200, 'another agent is not');
  const state = await request(`${shield.adminUrl}/api/state`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const mitigations = (await state.body.json() as { detection: { mitigations: Array<{ id: string; reason: string; expiresInS: number }> } }).detection.mitigations;
  const m = mitigations.find((x) => x.id === id);
  assert.ok(m && m.reason === 'operator alice: scraper' && m.expiresInS > 3500, JSON.stringify(mitigations));
  const lift = await request(`${shield.adminUrl}/api/mitigations/${encodeURIComponent(id)}`, { method: 'DELETE', headers: { cookie: s.cookie, origin, 'x-csrf-token': s.csrf } });
  assert.equal(lift.statusCode, 204);
  await lift.body.dump();
  assert.equal(await page('EvilBot/1.0'), 200);
  const ev = await request(`${shield.adminUrl}/api/events?type=operator&q=EvilBot`, { headers: { cookie: s.cookie } });
  assert.ok((await ev.body.json() as { events: Array<{ who: string }> }).events.some((e) => e.who === 'alice'));
  const bad = await request(`${shield.adminUrl}/api/challenges`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ dimension: 'prefix', value: '10.0.0.0/24', reason: 'x' }),
  });
  assert.equal(bad.statusCode, 400, 'addresses are blocked, not challenged');
  await bad.body.dump();
});
