import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'undici';
import { createBrowser } from '../../src/drill/browser.js';
import { createPowSolver, solvePow as drillSolvePow } from '../../src/drill/challenge.js';
import { leadingZeroBits } from '../../src/shield/challenge/pow.js';
import { ALL_IDENTITIES } from '../../src/drill/headers.js';
import { createChallengeSettings } from '../../src/shield/challenge/settings.js';
import { solveChallenge } from '../../src/shield/challenge/solver.js';
import { createKeyring } from '../../src/shield/reputation/token.js';
import { createManualClock } from '../../src/core/clock.js';
import { startTestShield } from './server.js';

const settings = createChallengeSettings({ keys: createKeyring(Buffer.alloc(32, 11)) });
const API = { accept: 'application/json', 'user-agent': 'rempart-test-client/1' };
const cookiePair = (setCookie: string | string[] | undefined): string => String(Array.isArray(setCookie) ? setCookie[0] : setCookie).split(';')[0]!;

test('API client over real sockets: 429 with the challenge headers and JSON, reference solver, clearance header reused', async (t) => {
  const shield = await startTestShield(settings, { level: 2, difficulty: 12 });
  t.after(shield.close);
  const first = await request(`${shield.url}/api/parcels/42`, { headers: API });
  assert.equal(first.statusCode, 429);
  assert.equal(first.headers['content-type'], 'application/json');
  assert.equal(first.headers['cache-control'], 'no-store');
  assert.ok(Number(first.headers['retry-after']) > 0);
  assert.equal((await first.body.json() as { error: string }).error, 'challenge');
  const answer = solveChallenge(String(first.headers['rempart-challenge']));
  const retry = await request(`${shield.url}/api/parcels/42`, { headers: { ...API, 'rempart-challenge-response': answer } });
  assert.equal(retry.statusCode, 200);
  await retry.body.dump();
  const clearance = String(retry.headers['rempart-clearance']);
  assert.match(String(retry.headers['set-cookie']), /^rempart_clr=/);
  // A client without a cookie jar sends the clearance back as a header.
  const next = await request(`${shield.url}/api/parcels/43`, { headers: { ...API, 'rempart-clearance': clearance } });
  assert.equal(next.statusCode, 200);
  assert.match(await next.body.text(), /via=clearance/);
  // The same clearance presented with another fingerprint is refused.
  const stolen = await request(`${shield.url}/api/parcels/43`, { headers: { ...API, 'user-agent': 'other', 'rempart-clearance': clearance } });
  assert.equal(stolen.statusCode, 429);
  await stolen.body.dump();
  assert.equal(shield.decisions.at(-1)?.kind, 'challenge');
});

test('browser-style flow over real sockets: 307 no-JS check, then proof-of-work through the verify path, 303 back to the original URL', async (t) => {
  const shield = await startTestShield(settings, { level: 1, difficulty: 10 });
  t.after(shield.close);
  const NAV = { accept: 'text/html,application/xhtml+xml', 'sec-fetch-mode': 'navigate', 'user-agent': 'Mozilla/5.0 test' };
  const a = await request(`${shield.url}/track?id=7`, { headers: NAV });
  assert.equal(a.statusCode, 307);
  assert.equal(a.headers.location, '/track?id=7&rempart-nojs=1');
  // A flood that does not keep cookies comes back without it: escalated to the interstitial.
  const loop = await request(`${shield.url}${a.headers.location}`, { headers: NAV });
  assert.equal(loop.statusCode, 503);
  assert.match(String(loop.headers['content-type']), /text\/html/);
  await loop.body.dump();
  // A browser keeps the cookie and passes.
  const b = await request(`${shield.url}${a.headers.location}`, { headers: { ...NAV, cookie: cookiePair(a.headers['set-cookie']) } });
  assert.equal(b.statusCode, 200);
  assert.match(await b.body.text(), /origin \/track\?id=7 via=nojs/);

  shield.policy.level = 2;
  const c = await request(`${shield.url}/account?tab=2`, { headers: { ...NAV, cookie: cookiePair(a.headers['set-cookie']) } });
  assert.equal(c.statusCode, 503);
  assert.match(await c.body.text(), /<noscript>/);
  const answer = /seed="([^"]+)", counter=(\d+)/.exec(solveChallenge(String(c.headers['rempart-challenge'])))!;
  const v = await request(`${shield.url}/.rempart/challenge/verify?seed=${encodeURIComponent(answer[1]!)}&counter=${answer[2]}`, { headers: NAV });
  assert.equal(v.statusCode, 303);
  assert.equal(v.headers.location, '/account?tab=2');
  const d = await request(`${shield.url}/account?tab=2`, { headers: { ...NAV, cookie: cookiePair(v.headers['set-cookie']) } });
  assert.equal(d.statusCode, 200);
  assert.match(await d.body.text(), /via=clearance/);
});

test("the drill's browser and solver get through every level as a browser would", async (t) => {
  const shield = await startTestShield(settings, { level: 1, difficulty: 10 });
  t.after(shield.close);
  const b = createBrowser({ origin: shield.url, identity: ALL_IDENTITIES[0]!, solver: createPowSolver() });
  t.after(() => b.close());
  const page = await b.fetch('GET', '/track?id=1');
  assert.equal(page.status, 200);
  assert.equal(page.redirects, 1, 'followed the no-JS redirect keeping its cookie');
  shield.policy.level = 2;
  const api = await b.fetch('GET', '/api/parcels/1', { kind: 'json' });
  assert.equal(api.status, 200);
  assert.equal(api.challenged, true);
  const login = await b.fetch('POST', '/bank/login', { kind: 'form', body: 'u=1' });
  assert.equal(login.status, 200);
  assert.equal(login.challenged, false, 'the clearance is kept');
  assert.ok(b.cookies.has('rempart_clr'));
  // A flood-style client that does not follow redirects: the solver follows the no-JS one itself.
  shield.policy.level = 1;
  const jar = new Map<string, string>();
  const http = {
    async request(method: string, path: string) {
      const r = await request(`${shield.url}${path}`, { method: method as 'GET', headers: { accept: 'text/html', 'user-agent': 'bot', ...(jar.size ? { cookie: [...jar].map(([k, v2]) => `${k}=${v2}`).join('; ') } : {}) } });
      const sc = r.headers['set-cookie'];
      for (const line of [sc ?? []].flat()) { const [k, v2] = line.split(';')[0]!.split('='); jar.set(k!, v2!); }
      return { status: r.statusCode, headers: r.headers, body: await r.body.text(), url: `${shield.url}${path}` };
    },
  };
  const solver = createPowSolver();
  const firstRes = await http.request('GET', '/');
  assert.equal(solver.detect(firstRes), true);
  assert.equal(await solver.solve(firstRes, http), true);
  assert.ok(jar.has('rempart_nojs'));
});

test('reputation over real sockets: a client seen in normal times passes an attack at level 2; one first seen just before it is challenged', async (t) => {
  const clock = createManualClock(1_800_000_000_000);
  const shield = await startTestShield(settings, { level: 0, difficulty: 12 }, clock);
  t.after(shield.close);
  const NAV = { accept: 'text/html', 'sec-fetch-mode': 'navigate', 'user-agent': 'Mozilla/5.0 customer' };
  const early = await request(`${shield.url}/`, { headers: NAV });
  assert.equal(early.statusCode, 200);
  await early.body.dump();
  const oldRep = cookiePair(early.headers['set-cookie']);
  assert.match(oldRep, /^rempart_rep=/);
  clock.advance(30 * 60_000);
  const late = await request(`${shield.url}/`, { headers: NAV });
  await late.body.dump();
  const youngRep = cookiePair(late.headers['set-cookie']);
  // The attack starts 2 minutes later; the shield stops issuing reputations.
  clock.advance(2 * 60_000);
  Object.assign(shield.policy, { level: 2, attackStartedAt: clock.now() });
  const known = await request(`${shield.url}/account`, { headers: { ...NAV, cookie: oldRep } });
  assert.equal(known.statusCode, 200);
  assert.match(await known.body.text(), /via=rep/);
  assert.equal(known.headers['set-cookie'], undefined, 'no reputation handed out during the attack');
  const young = await request(`${shield.url}/account`, { headers: { ...NAV, cookie: youngRep } });
  assert.equal(young.statusCode, 503, 'a reputation younger than the minimum age only proves cookies');
  await young.body.dump();
  const stolen = await request(`${shield.url}/account`, { headers: { ...NAV, 'user-agent': 'bot', cookie: oldRep } });
  assert.equal(stolen.statusCode, 307, 'the same cookie with another agent is not that client');
  await stolen.body.dump();
});

test("the drill's own solver (an independent client of the documented protocol) finds the smallest counter node:crypto accepts", () => {
  for (let len = 1; len <= 300; len += 7) {
    const seed = 's'.repeat(len);
    const bits = 1 + (len % 9);
    const c = drillSolvePow(seed, bits)!;
    const zeroBits = (n: number): number => leadingZeroBits(createHash('sha256').update(`${seed}:${n}`).digest());
    assert.ok(zeroBits(c) >= bits, `seed length ${len}`);
    for (let smaller = 0; smaller < c; smaller++) assert.ok(zeroBits(smaller) < bits);
  }
});
