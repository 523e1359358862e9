import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startOrigin } from '../../src/demo/origin/server.js';
import { runDrill } from '../../src/drill/run.js';
import { LIVE_OPEN_ROUTE, LIVE_REFRESH_ROUTE } from '../../src/drill/users.js';
import { createBrowser } from '../../src/drill/browser.js';
import { createPowSolver } from '../../src/drill/challenge.js';
import { ALL_IDENTITIES } from '../../src/drill/headers.js';
import { createChallengeSettings } from '../../src/shield/challenge/settings.js';
import { createKeyring } from '../../src/shield/reputation/token.js';
import { createChallengeFilter, sendPlain } from '../challenge/server.js';
import { startRecordingServer } from './recording-server.js';

test('known responses through real sockets: every 4th normal-class answer is a 503, all take 60 ms', async (t) => {
  let normal = 0;
  const srv = await startRecordingServer(async (req, res) => {
    const isNormal = /^\/(track|search)/.test(req.url ?? '');
    const fail = isNormal && normal++ % 4 === 3;
    await sleep(60);
    res.statusCode = fail ? 503 : 200;
    res.end(fail ? 'busy' : '{"status":"delivered"}');
  });
  t.after(srv.close);
  const r = await runDrill({
    target: srv.url, scenario: 'none', durationS: 3, leadS: 0, trackingUsers: 12, bankingUsers: 0, timeScale: 20, seed: 3,
    userSettings: { reloads: [0, 0], liveShare: 0 }, graceMs: 2000,
  });
  const n = r.legit.classes.normal;
  assert.equal(n.unfinished, 0);
  assert.equal(n.attempts, normal, 'every normal request the server answered is one attempt');
  assert.ok(n.attempts >= 20);
  assert.equal(n.ok, n.attempts - Math.floor(n.attempts / 4));
  assert.equal(n.statuses['503'], Math.floor(n.attempts / 4));
  assert.ok(n.p50 >= 60 && n.p50 < 160, `p50 ${n.p50}`);
  assert.ok(n.p99 >= n.p95 && n.p95 >= n.p50 && n.p99 < 400);
  // Lookups are distinct parcels, and the tracking page is fetched by browsers with a stable identity.
  const ids = srv.requests.filter((q) => /^\/track\/./.test(q.path)).map((q) => q.path);
  assert.equal(new Set(ids).size, ids.length);
  const uaByAddr = new Map<string, Set<string>>();
  for (const q of srv.requests) uaByAddr.set(q.addr, (uaByAddr.get(q.addr) ?? new Set()).add(String(q.headers['user-agent'])));
  assert.equal(uaByAddr.size, 3, '12 users behind 3 carrier-NAT addresses (4 per address)');
});

test('tracking users reload a slow page: the abandoned attempt and the reload are both recorded; the reload comes a person\'s reaction later, whatever the time scale', async (t) => {
  let first = true;
  const lookups: { path: string; at: number }[] = [];
  const srv = await startRecordingServer(async (req, res) => {
    if (/^\/track\/./.test(req.url ?? '')) {
      lookups.push({ path: req.url ?? '', at: performance.now() });
      if (first) { first = false; await sleep(1500); }
    }
    res.end('{}');
  });
  t.after(srv.close);
  const r = await runDrill({
    target: srv.url, scenario: 'none', durationS: 5, leadS: 0, trackingUsers: 1, bankingUsers: 0, timeScale: 20, seed: 5,
    userSettings: { patienceMs: 500, reloads: [2, 2] }, graceMs: 2000,
  });
  assert.equal(r.legit.classes.normal.outcomes.abandoned, 1);
  assert.ok((r.legit.goals.lookup?.ok ?? 0) >= 1);
  // Abandoned after the 500 ms patience, reloaded 0.5-1.5 s later in real time (scaled by 20, 25-75 ms).
  const [abandoned, reload] = lookups;
  assert.ok(abandoned !== undefined && reload !== undefined && reload.path === abandoned.path, JSON.stringify(lookups));
  assert.ok(reload.at - abandoned.at >= 990, `reloaded ${Math.round(reload.at - abandoned.at)} ms after the first attempt`);
});

test('banking users log in (303 + cookie), browse, and poll a payment until approved, against the demo origin', async (t) => {
  const origin = await startOrigin({ serviceMs: 1, approveAfterS: 0.3 });
  t.after(origin.close);
  const r = await runDrill({
    target: origin.url, scenario: 'none', durationS: 4, leadS: 0, trackingUsers: 0, bankingUsers: 4, timeScale: 20, seed: 9,
    userSettings: { paymentShare: 1 }, originStats: `${origin.url}/__origin/stats`,
  });
  assert.ok((r.legit.goals.login?.attempts ?? 0) >= 4);
  assert.equal(r.legit.goals.login?.successRatio, 1);
  assert.ok((r.legit.goals.payment?.ok ?? 0) >= 2, JSON.stringify(r.legit.goals));
  assert.equal(r.legit.classes.critical.successRatio, 1);
  assert.equal(r.legit.classes.high.successRatio, 1);
  assert.ok(r.legit.routes['GET /api/pay/authorizations/:id']!.attempts >= 2, 'status polled');
  assert.ok(r.origin.available && r.origin.servedByGroup.account! >= 4, 'account pages served (cookie kept)');
  assert.equal(r.origin.legitReached, r.origin.served + r.origin.rejected);
  assert.equal(r.origin.attackReached, 0);
});

test('the account page\'s script fetches its data at once, with the session; the demo origin answers 401 without one', async (t) => {
  const origin = await startOrigin({ serviceMs: 1 });
  t.after(origin.close);
  // Requests open at the origin at once, per route: the page's data comes in parallel.
  let open = 0;
  let peak = 0;
  origin.server.prependListener('request', (req, res) => {
    if (!String(req.url).startsWith('/bank/api/')) return;
    peak = Math.max(peak, ++open);
    res.once('finish', () => { open--; });
  });
  const r = await runDrill({
    target: origin.url, scenario: 'none', durationS: 3, leadS: 0, trackingUsers: 0, bankingUsers: 2, timeScale: 20, seed: 9,
    userSettings: { paymentShare: 0, pageRequests: [4, 4] }, originStats: `${origin.url}/__origin/stats`,
  });
  const pages = r.legit.routes['GET /bank/account'];
  const data = r.legit.routes['GET /bank/api/:name'];
  assert.ok(pages && pages.attempts >= 2, JSON.stringify(r.legit.routes));
  assert.ok(data, JSON.stringify(r.legit.routes));
  // Four per account page answered (a page still loading when the run ends may leave some unfinished).
  assert.ok(data.attempts >= 4 * pages.ok - 4 && data.attempts <= 4 * pages.attempts, `${data.attempts} data requests for ${pages.attempts} pages`);
  assert.equal(data.statuses['200'], data.ok);
  assert.ok(data.ok >= 4);
  assert.ok(peak >= 2, `at most ${peak} open at once: not in parallel`);
  // Private data is never cacheable, and needs the session.
  const anon = await fetch(`${origin.url}/bank/api/accounts`);
  assert.equal(anon.status, 401);
  assert.equal(anon.headers.get('cache-control'), 'no-store');
});

test('tracking users follow parcels live against the demo origin: a WebSocket with the browser\'s cookies and identity, a refresh answered by name', async (t) => {
  const origin = await startOrigin({ serviceMs: 1 });
  t.after(origin.close);
  const handshakes: Array<Record<string, unknown>> = [];
  origin.server.prependListener('upgrade', (req) => handshakes.push({ ...req.headers }));
  const r = await runDrill({
    target: origin.url, scenario: 'none', durationS: 4, leadS: 0, trackingUsers: 4, bankingUsers: 0, timeScale: 20, seed: 4,
    userSettings: { liveShare: 1 }, originStats: `${origin.url}/__origin/stats`,
  });
  const open = r.legit.routes[LIVE_OPEN_ROUTE];
  const refresh = r.legit.routes[LIVE_REFRESH_ROUTE];
  assert.ok(open && open.attempts >= 4, JSON.stringify(r.legit.routes));
  assert.equal(open.successRatio, 1);
  assert.deepEqual(open.statuses, { 101: open.attempts });
  assert.ok(refresh && refresh.attempts >= 2, JSON.stringify(refresh));
  assert.equal(refresh.successRatio, 1);
  assert.equal(r.legit.goals.lookup?.successRatio, 1);
  // Each handshake and each refresh is a lookup at the origin (group live), as the report's samples say.
  assert.ok(r.origin.servedByGroup.live! >= open.attempts + refresh.attempts, JSON.stringify(r.origin.servedByGroup));
  // The handshakes carried what a browser's do: its identity and the page's origin.
  assert.ok(handshakes.length >= open.attempts);
  for (const h of handshakes) {
    assert.equal(h.origin, origin.url);
    assert.match(String(h['user-agent']), /^Mozilla\/5\.0/);
    assert.equal(h['sec-websocket-version'], '13');
  }
});

test('a browser opens a WebSocket with its cookies; a refused handshake is its status, an unanswered one a timeout', async (t) => {
  const origin = await startOrigin({ serviceMs: 1 });
  t.after(origin.close);
  const seen: Array<string | undefined> = [];
  origin.server.prependListener('upgrade', (req) => seen.push(req.headers.cookie));
  const browser = createBrowser({ origin: origin.url, identity: ALL_IDENTITIES[0]!, cookies: [['rp_rep', 'v1.abc'], ['sid', '42']] });
  t.after(() => browser.close());
  const ok = await browser.openWebSocket('/live/parcel/XY1', { timeoutMs: 2_000 });
  assert.equal(ok.status, 101);
  assert.deepEqual(seen, ['rp_rep=v1.abc; sid=42']);
  ok.socket!.terminate();
  assert.equal((await browser.openWebSocket('/live/nowhere', { timeoutMs: 2_000 })).status, 404);
  // A listener that never answers: the handshake times out.
  const { createServer } = await import('node:net');
  const silent = createServer(() => {}).listen(0, '127.0.0.1');
  await new Promise((r) => silent.once('listening', r));
  t.after(() => silent.close());
  const port = (silent.address() as import('node:net').AddressInfo).port;
  const mute = createBrowser({ origin: `http://127.0.0.1:${port}`, identity: ALL_IDENTITIES[0]! });
  const none = await mute.openWebSocket('/live/parcel/XY1', { timeoutMs: 200 });
  assert.deepEqual({ status: none.status, failure: none.failure }, { status: 0, failure: 'timeout' });
  await mute.close();
});

test('a browser keeps cookies, follows same-origin redirects only, and solves a challenge paying the CPU', async (t) => {
  let verifies = 0;
  // The shield's real challenge (level 2, 8 bits) in front of the test origin.
  const filter = createChallengeFilter(createChallengeSettings({ keys: createKeyring(Buffer.alloc(32, 1)) }), () => ({ level: 2, difficulty: 8 }));
  const srv = await startRecordingServer((req, res, body) => {
    const cookie = req.headers.cookie ?? '';
    if (req.url?.startsWith('/.rempart/')) verifies++;
    const f = filter(req, body);
    if (f.kind === 'answer') return sendPlain(res, f.response);
    if (req.url === '/login') { res.writeHead(303, { location: '/home', 'set-cookie': 'sid=42; Path=/' }); return void res.end(); }
    if (req.url === '/away') { res.writeHead(302, { location: 'http://192.0.2.1/' }); return void res.end(); }
    res.end(`home ${cookie}`);
  });
  t.after(srv.close);
  const b = createBrowser({ origin: srv.url, localAddress: '127.8.9.10', identity: ALL_IDENTITIES[0]!, solver: createPowSolver() });
  t.after(() => b.close());
  const a = await b.fetch('POST', '/login', { body: 'x=1', kind: 'form' });
  assert.equal(a.challenged, true);
  assert.equal(a.status, 200);
  assert.equal(a.redirects, 1);
  assert.match(a.body, /sid=42/);
  assert.equal(verifies, 1);
  const again = await b.fetch('GET', '/home');
  assert.equal(again.challenged, false, 'clearance cookie reused');
  const off = await b.fetch('GET', '/away');
  assert.equal(off.status, 302, 'never follows a redirect off the target');
  assert.ok(srv.requests.every((q) => q.addr === '127.8.9.10'));
  const afterLogin = srv.requests.find((q) => q.path === '/home')!;
  assert.equal(afterLogin.method, 'GET', '303 turns POST into GET');
  // A stylesheet has no script to solve its challenge: a browser goes without it.
  const fresh = createBrowser({ origin: srv.url, localAddress: '127.8.9.11', identity: ALL_IDENTITIES[0]!, solver: createPowSolver() });
  t.after(() => fresh.close());
  const css = await fresh.fetch('GET', '/static/site.css', { kind: 'css' });
  assert.equal(css.status, 429);
  assert.equal(css.challenged, false);
  assert.equal(verifies, 1, 'not solved');
});

test('tracking users type a sentence into the search box as often as asked (longSearchShare), a word or two otherwise', async (t) => {
  const srv = await startRecordingServer(async (_req, res) => { res.end('<html></html>'); });
  t.after(srv.close);
  const termsOf = (path: string): number => (new URL(path, 'http://x').searchParams.get('q') ?? '').split(/[ +]/).filter(Boolean).length;
  const searches = async (longSearchShare: number, seed: number): Promise<number[]> => {
    const before = srv.requests.length;
    await runDrill({
      target: srv.url, scenario: 'none', durationS: 3, leadS: 0, trackingUsers: 40, bankingUsers: 0, timeScale: 20, seed,
      userSettings: { liveShare: 0, longSearchShare }, graceMs: 2000,
    });
    return srv.requests.slice(before).filter((q) => q.path.startsWith('/search?')).map((q) => termsOf(q.path));
  };
  const long = await searches(1, 11);
  assert.ok(long.length >= 2, `searches: ${long.length}`);
  assert.ok(long.every((n) => n >= 4 && n <= 10), `terms: ${long.join(',')}`);
  const short = await searches(0, 11);
  assert.ok(short.length >= 2, `searches: ${short.length}`);
  assert.ok(short.every((n) => n >= 1 && n <= 3), `terms: ${short.join(',')}`);
});
