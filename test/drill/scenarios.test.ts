import { test } from 'node:test';
import assert from 'node:assert/strict';
import { queryShape } from '../../src/shield/detect/query-shape.js';
import { isIdSegment } from '../../src/shield/detect/path-template.js';
import { PROTOCOL_QUERY_KEYS } from '../../src/shield/challenge/settings.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { getEventListeners, once } from 'node:events';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { runDrill, type DrillOptions, type DrillProgress } from '../../src/drill/run.js';
import { ALL_IDENTITIES } from '../../src/drill/headers.js';
import { createChallengeSettings } from '../../src/shield/challenge/settings.js';
import { createKeyring } from '../../src/shield/reputation/token.js';
import { createChallengeFilter, sendPlain } from '../challenge/server.js';
import { startRecordingServer, type Recorded } from './recording-server.js';

const drill = (url: string, scenario: string, params: Record<string, number>, extra: Partial<DrillOptions> = {}) => runDrill({
  target: url, scenario, params, durationS: 2.5, leadS: 0.5, trackingUsers: 0, bankingUsers: 0, seed: 42, graceMs: 300, ...extra,
});

const BROWSER_HEADERS = new Set(['host', 'connection', 'user-agent', 'accept', 'accept-language', 'accept-encoding', 'referer', 'origin', 'cookie',
  'content-type', 'content-length', 'upgrade-insecure-requests', 'sec-ch-ua', 'sec-ch-ua-mobile', 'sec-fetch-site', 'sec-fetch-mode', 'sec-fetch-dest']);
const UAS = new Set(ALL_IDENTITIES.map((i) => i.userAgent));

function assertBrowserLike(reqs: Recorded[]): void {
  for (const r of reqs) {
    assert.ok(UAS.has(String(r.headers['user-agent'])), `user agent ${r.headers['user-agent']}`);
    assert.ok(r.headers.accept && r.headers['accept-language'] && r.headers['accept-encoding'], 'browser accept headers');
    for (const h of Object.keys(r.headers)) assert.ok(BROWSER_HEADERS.has(h), `unexpected header ${h}`);
  }
}

/** Most requests one source sent within any 1-second window. */
function maxPerSourcePerSecond(reqs: Recorded[]): number {
  const by = new Map<string, number[]>();
  for (const r of reqs) by.set(r.addr, [...(by.get(r.addr) ?? []), r.t]);
  let max = 0;
  for (const ts of by.values()) {
    ts.sort((a, b) => a - b);
    for (let i = 0, j = 0; i < ts.length; i++) { while (ts[i]! - ts[j]! >= 1000) j++; max = Math.max(max, i - j + 1); }
  }
  return max;
}

/**
 * A recording server behind the shield's real challenge (level 2, 6 bits); `verified` counts the
 * challenges answered correctly.
 */
async function startChallengedServer(t: { after(fn: () => unknown): void }, keyByte: number): Promise<{ srv: Awaited<ReturnType<typeof startRecordingServer>>; verified(): number }> {
  let verified = 0;
  const filter = createChallengeFilter(createChallengeSettings({ keys: createKeyring(Buffer.alloc(32, keyByte)) }), () => ({ level: 2, difficulty: 6 }));
  const srv = await startRecordingServer((req, res, body) => {
    const f = filter(req, body);
    if (f.kind === 'answer') {
      if (req.url?.startsWith('/.rempart/') && f.response.status < 400) verified++;
      return sendPlain(res, f.response);
    }
    res.end('ok');
  });
  t.after(srv.close);
  return { srv, verified: () => verified };
}

test('single-flood: one source, the requested rate, browser-like headers, sent = received', async (t) => {
  const srv = await startRecordingServer();
  t.after(srv.close);
  const r = await drill(srv.url, 'single-flood', { rate: 200, connections: 8 });
  const c = r.attack.components[0]!;
  assert.equal(new Set(srv.requests.map((q) => q.addr)).size, 1);
  assert.ok(srv.requests[0]!.addr !== '127.0.0.1' && srv.requests[0]!.addr.startsWith('127.'));
  assert.ok(Math.abs(c.achievedRatePerS - 200) < 30, `achieved ${c.achievedRatePerS}`);
  assert.ok(Math.abs(c.requestedRatePerS - 200) < 10, `requested ${c.requestedRatePerS}`);
  // Every answer counted was seen by the server; requests still in flight when the run stops (at
  // most one per connection) may have reached it without their answer being counted.
  const answered = c.statuses['200'] ?? 0;
  assert.ok(answered <= srv.requests.length && srv.requests.length - answered <= 8, `answered ${answered}, seen ${srv.requests.length}`);
  assert.ok(c.sent - srv.requests.length <= 8, 'sent never exceeds what the server saw by more than the in-flight');
  assertBrowserLike(srv.requests);
  assert.ok(srv.requests.every((q) => q.method === 'GET'));
});

test('distributed-low-rate: 2,000 sources each under 10 req/s, target-list paths with ~38% placeholders', async (t) => {
  const srv = await startRecordingServer();
  t.after(srv.close);
  const r = await drill(srv.url, 'distributed-low-rate', { rate: 1000, sources: 2000 }, { durationS: 4.5 });
  const addrs = new Set(srv.requests.map((q) => q.addr));
  assert.ok(addrs.size >= 2000, `${addrs.size} sources`);
  assert.equal(r.attack.totals.sources, 2000);
  assert.ok(maxPerSourcePerSecond(srv.requests) < 10);
  const gets = srv.requests.filter((q) => q.method === 'GET');
  const posts = srv.requests.filter((q) => q.method === 'POST');
  assert.ok(posts.every((q) => q.path === '/bank/login'));
  assert.ok(posts.length > 0.1 * srv.requests.length && posts.length < 0.3 * srv.requests.length);
  const busted = gets.filter((q) => !/^\/(search\?q=[a-z]+|track\/[A-Z0-9]{13}|bank\/login)?$/.test(q.path)).length / gets.length;
  assert.ok(busted > 0.28 && busted < 0.48, `placeholders on ${busted}`);
  assertBrowserLike(srv.requests);
  await assert.rejects(drill(srv.url, 'distributed-low-rate', { rate: 1000, sources: 100 }), /under 10/);
});

test('cache-buster: only search/tracking URLs, each with a random query parameter', async (t) => {
  const srv = await startRecordingServer();
  t.after(srv.close);
  await drill(srv.url, 'cache-buster', { rate: 300, sources: 50 });
  assert.ok(srv.requests.length > 400);
  assert.ok(srv.requests.every((q) => /^\/(search|track\/)/.test(q.path) && q.path.includes('?') && /[?&][a-z0-9_]+=[a-z0-9]{4,}/.test(q.path)));
  assert.ok(new Set(srv.requests.map((q) => q.path)).size > 0.98 * srv.requests.length, 'no two URLs alike');
  assert.equal(new Set(srv.requests.map((q) => q.addr)).size, 50);
});

test('connection-churn: every request on a connection of its own, closed after the answer', async (t) => {
  const srv = await startRecordingServer();
  t.after(srv.close);
  const r = await drill(srv.url, 'connection-churn', { rate: 200, sources: 100, connections: 2 });
  assert.ok(srv.requests.length > 250, `${srv.requests.length} requests`);
  assert.equal(new Set(srv.requests.map((q) => q.addr)).size, 100);
  // One connection per request: the server saw (about) as many connections as requests.
  assert.ok(srv.connections.length >= srv.requests.length && srv.connections.length <= srv.requests.length + 200, `${srv.connections.length} connections for ${srv.requests.length} requests`);
  assert.ok(srv.requests.every((q) => q.headers.connection === 'close'));
  assert.ok((r.attack.components[0]!.statuses['200'] ?? 0) > 250);
  assertBrowserLike(srv.requests);
});

test('login-flood: form POSTs of random credentials to /bank/login', async (t) => {
  const srv = await startRecordingServer((_q, res) => { res.statusCode = 401; res.end('{}'); });
  t.after(srv.close);
  const r = await drill(srv.url, 'login-flood', { rate: 300, sources: 100 });
  assert.ok(srv.requests.length > 400);
  const creds = srv.requests.map((q) => {
    assert.equal(q.method, 'POST');
    assert.equal(q.path, '/bank/login');
    assert.equal(q.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(q.headers.origin, srv.url);
    const f = new URLSearchParams(q.body);
    assert.ok(f.get('user') && f.get('password') && f.get('password') !== 'demo-password');
    return `${f.get('user')}:${f.get('password')}`;
  });
  assert.ok(new Set(creds).size > 0.99 * creds.length);
  // Every answer counted was seen by the server; requests still in flight when the run stops
  // (at most one per source here) may have reached the server without their answer being counted.
  const answered = r.attack.components[0]!.statuses['401'] ?? 0;
  assert.ok(answered <= srv.requests.length && srv.requests.length - answered <= 100, `answered ${answered}, seen ${srv.requests.length}`);
  assertBrowserLike(srv.requests);
});

test('upload-flood: login form POSTs carrying the requested padding, from many sources', async (t) => {
  const srv = await startRecordingServer((_q, res) => { res.statusCode = 401; res.end('{}'); });
  t.after(srv.close);
  await drill(srv.url, 'upload-flood', { rate: 100, sources: 50, kib: 64 });
  assert.ok(srv.requests.length > 100, `${srv.requests.length} uploads`);
  for (const q of srv.requests) {
    assert.deepEqual([q.method, q.path, q.headers['content-type']], ['POST', '/bank/login', 'application/x-www-form-urlencoded']);
    const f = new URLSearchParams(q.body);
    assert.ok(f.get('user') && f.get('password'), 'credentials first, as in a login form');
    assert.equal(f.get('comment')?.length, 64 * 1024, 'the padding asked for');
    assert.equal(Number(q.headers['content-length']), Buffer.byteLength(q.body));
  }
  assert.ok(new Set(srv.requests.map((q) => q.addr)).size > 20, 'many sources');
  assertBrowserLike(srv.requests);
});

test('preflight-flood: CORS preflights from many sources (OPTIONS, Origin, Access-Control-Request-*, no cookie, no body) at the login, the payment API and lookups', async (t) => {
  const srv = await startRecordingServer((_q, res) => { res.statusCode = 204; res.end(); });
  t.after(srv.close);
  await drill(srv.url, 'preflight-flood', { rate: 300, sources: 200, connections: 2 });
  assert.ok(srv.requests.length > 400, `${srv.requests.length} preflights`);
  const paths = new Set<string>();
  for (const q of srv.requests) {
    assert.equal(q.method, 'OPTIONS');
    assert.ok(['POST', 'GET'].includes(String(q.headers['access-control-request-method'])));
    assert.match(String(q.headers.origin), /^https:\/\/[a-z.]+\.example/);
    assert.notEqual(q.headers.origin, srv.url, 'cross-origin');
    assert.equal(q.headers['sec-fetch-mode'], 'cors');
    assert.equal(q.headers.cookie, undefined, 'a preflight never carries cookies');
    assert.equal(q.body, '');
    assert.ok(UAS.has(String(q.headers['user-agent'])));
    paths.add(q.path.startsWith('/track/') ? '/track/:id' : q.path);
  }
  assert.deepEqual([...paths].sort(), ['/api/pay/authorizations', '/bank/login', '/track/:id']);
  assert.ok(new Set(srv.requests.map((q) => q.addr)).size > 100, 'many sources');
});

test('header-randomizer: a source rotates user agents and languages across requests', async (t) => {
  const srv = await startRecordingServer();
  t.after(srv.close);
  await drill(srv.url, 'header-randomizer', { rate: 300, sources: 20 });
  const uaBy = new Map<string, Set<string>>();
  for (const q of srv.requests) uaBy.set(q.addr, (uaBy.get(q.addr) ?? new Set()).add(String(q.headers['user-agent'])));
  assert.ok([...uaBy.values()].every((s) => s.size >= 3), 'every source used several user agents');
  assert.equal(new Set(srv.requests.map((q) => q.headers['user-agent'])).size, UAS.size);
  assert.ok(new Set(srv.requests.map((q) => q.headers['accept-language'])).size >= 4);
  assertBrowserLike(srv.requests);
});

test('slowloris: held connections from several sources that never complete a request', async (t) => {
  const srv = await startRecordingServer();
  t.after(srv.close);
  const r = await drill(srv.url, 'slowloris', { connections: 60, sources: 6, openRate: 200, intervalMs: 300 });
  assert.equal(srv.requests.length, 0, 'no request head ever completed');
  assert.ok(srv.connections.length >= 60);
  assert.equal(new Set(srv.connections.map((c) => c.addr)).size, 6);
  const c = r.attack.components[0]!;
  assert.equal(c.kind, 'slow');
  assert.ok((c.peakHeld ?? 0) >= 55, `peak held ${c.peakHeld}`);
});

test('connect-flood: connections from many sources, each closed by the client right after the handshake without a byte', async (t) => {
  // A bare TCP server: what a connection flood costs is below HTTP.
  const conns: Array<{ addr: string; bytes: number; endedByClient: boolean }> = [];
  const server = createNetServer((s) => {
    const c = { addr: (s.remoteAddress ?? '').replace(/^::ffff:/, ''), bytes: 0, endedByClient: false };
    conns.push(c);
    s.on('data', (b: Buffer) => { c.bytes += b.length; });
    s.on('end', () => { c.endedByClient = true; s.end(); });
    s.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const r = await drill(url, 'connect-flood', { openRate: 300, sources: 8, connections: 50, floodRate: 0 });
  // 2 s of attack at 300/s: about 600 (a loaded machine may open fewer, never more).
  assert.ok(conns.length >= 300 && conns.length <= 620, `${conns.length} connections`);
  assert.equal(new Set(conns.map((c) => c.addr)).size, 8, 'spread over the sources');
  assert.equal(conns.reduce((a, c) => a + c.bytes, 0), 0, 'not a byte sent');
  const ended = conns.filter((c) => c.endedByClient).length;
  assert.ok(ended >= conns.length - 50, `${ended} of ${conns.length} closed by the client (at most the last 50 cut at the end)`);
  const c = r.attack.components[0]!;
  assert.equal(c.label, 'connect-flood');
  assert.ok(Math.abs(c.sent - conns.length) <= 50, `sent ${c.sent} vs ${conns.length} accepted`);
  assert.ok(!r.generator.warnings.some((w) => w.includes('held at most')), 'a connection flood holds nothing on purpose');
});

test('slow attacks: each connection trickles on its own phase, an interval after it opened, not all in one tick', async (t) => {
  // A bare TCP server timing every chunk after the first (the request line and first headers).
  const at: number[] = [];
  const t0 = performance.now();
  const server = createNetServer((s) => {
    let first = true;
    s.on('data', () => { if (first) first = false; else at.push(performance.now() - t0); });
    s.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => { server.close(); });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // 60 connections opened over ~0.3 s, one header line each every 600 ms.
  await drill(url, 'slowloris', { connections: 60, sources: 6, openRate: 200, intervalMs: 600 }, { durationS: 2.6 });
  assert.ok(at.length >= 100, `${at.length} header lines trickled`);
  // With one timer for all, every round lands in the same few ms; with a phase each, a round spreads as the opening did.
  let most = 0;
  for (let i = 0, j = 0; i < at.length; i++) { while (at[i]! - at[j]! >= 50) j++; most = Math.max(most, i - j + 1); }
  assert.ok(most <= 30, `at most ${most} header lines within 50 ms (60 connections)`);
});

test('slow-post: complete heads announcing a body that never finishes arriving', async (t) => {
  const srv = await startRecordingServer();
  t.after(srv.close);
  const r = await drill(srv.url, 'slow-post', { connections: 20, sources: 4, openRate: 100, intervalMs: 200, bodyBytes: 100_000, floodRate: 0 });
  assert.equal(srv.requests.length, 0);
  assert.ok(srv.connections.length >= 20);
  assert.equal(new Set(srv.connections.map((c) => c.addr)).size, 4);
  assert.ok((r.attack.components[0]!.peakHeld ?? 0) >= 18);
});

test('challenge-solver: each bot solves the challenge once through the solver, then floods with its clearance', async (t) => {
  const { srv, verified } = await startChallengedServer(t, 1);
  const r = await drill(srv.url, 'challenge-solver', { rate: 200, sources: 10 });
  assert.equal(verified(), 10);
  assert.equal(r.attack.components[0]!.challengesSolved, 10);
  // ~400 asked over the 2 s attack; each bot meets its challenge at the flood's start and solves it then
  // (first the no-JS redirect's cookie, then the proof of work for the clearance cookie).
  const flood = srv.requests.filter((q) => !q.path.startsWith('/.rempart/') && /rempart_clr=/.test(q.headers.cookie ?? ''));
  assert.ok(flood.length > 50, `${flood.length} cleared requests`);
  // Cleared requests are served; each solve's own follow-up (the verify answer's redirect) is not a flood request.
  assert.ok((r.attack.components[0]!.statuses['200'] ?? 0) >= flood.length - 10 - 10, `${r.attack.components[0]!.statuses['200']} served`);
});

test('costly-search: searches of the asked number of terms (one random: no two alike), with `vary` ignored parameters making nearly every query shape new and a `cheap` share of one-word decoys as long, at a person\'s pace per source, each bot solving its challenge', async (t) => {
  const { srv, verified } = await startChallengedServer(t, 3);
  const r = await drill(srv.url, 'costly-search', { rate: 100, sources: 40, terms: 6, vary: 8, cheap: 0.25 });
  assert.equal(verified(), 40, 'every bot solved its challenge once');
  const searches = srv.requests.filter((q) => q.path.startsWith('/search?'));
  assert.ok(searches.length > 60, `${searches.length} searches`);
  let decoys = 0;
  for (const q of searches) {
    const terms = new URL(q.path, 'http://x').searchParams.get('q')!.split(' ');
    // A decoy is one word as long as a search of 6 terms (at least 6 x 4 + 5 characters).
    if (terms.length === 1) { decoys++; assert.ok(terms[0]!.length >= 29, q.path); } else assert.equal(terms.length, 6, q.path);
    assert.ok(terms.every((w) => /^[a-z0-9]+$/.test(w)), q.path);
  }
  assert.ok(decoys > 0.15 * searches.length && decoys < 0.35 * searches.length, `${decoys} decoys in ${searches.length} searches`);
  assert.ok(new Set(searches.map((q) => q.path)).size > 0.98 * searches.length, 'no two searches alike');
  // Words a site accepts, not ids a shield folds into one key; values of every size class 1-6.
  const extras = searches.flatMap((q) => [...new URL(q.path, 'http://x').searchParams.keys()].filter((k) => k !== 'q' && !PROTOCOL_QUERY_KEYS.has(k)));
  assert.ok(extras.length > 3 * searches.length, `${extras.length} extra parameters on ${searches.length} searches`);
  assert.deepEqual(extras.filter((k) => !/^[a-z]+$/.test(k) || isIdSegment(k)), []);
  const shapes = new Set(searches.map((q) => queryShape(q.path, PROTOCOL_QUERY_KEYS, true)));
  assert.ok(shapes.size > 0.8 * searches.length, `${shapes.size} query shapes in ${searches.length} searches`);
  assertBrowserLike(searches);
  // 100 req/s over 40 sources: 2.5 req/s each, never a burst of a connection's worth more.
  assert.ok(maxPerSourcePerSecond(searches) <= 6, `${maxPerSourcePerSecond(searches)} in a second from one source`);
  assert.ok((r.attack.components[0]!.statuses['200'] ?? 0) > 40);
});

test('costly-search as the site takes its searches: sent as HEAD, posted as a form, or with the terms in an inner path segment', async (t) => {
  const { srv } = await startChallengedServer(t, 3);
  await drill(srv.url, 'costly-search', { rate: 60, sources: 20, terms: 6, head: 1 });
  // The flood's own requests (a solver following the no-JavaScript redirect sends its GET, marked).
  const heads = srv.requests.filter((q) => q.path.startsWith('/search?') && ![...new URL(q.path, 'http://x').searchParams.keys()].some((k) => PROTOCOL_QUERY_KEYS.has(k)));
  assert.ok(heads.length > 20 && heads.every((q) => q.method === 'HEAD'), `${heads.length} searches: ${[...new Set(heads.map((q) => q.method))].join(', ')}`);
  srv.requests.length = 0;
  await drill(srv.url, 'costly-search', { rate: 60, sources: 20, terms: 6 }, { userSettings: { searchByPost: true } });
  const posts = srv.requests.filter((q) => q.method === 'POST' && q.path === '/search');
  assert.ok(posts.length > 20, `${posts.length} posted searches`);
  for (const q of posts) {
    assert.equal(q.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(new URLSearchParams(q.body).get('q')!.split(' ').length, 6, q.body);
  }
  srv.requests.length = 0;
  await drill(srv.url, 'costly-search', { rate: 60, sources: 20, terms: 6 }, { userSettings: { searchInPath: true, searchPathSuffix: '/page/1' } });
  const inner = srv.requests.filter((q) => q.path.startsWith('/search/') && q.path.endsWith('/page/1'));
  assert.ok(inner.length > 20, `${inner.length} searches in an inner segment`);
  for (const q of inner) assert.equal(decodeURIComponent(q.path.split('/')[2]!).split('+').length, 6, q.path);
});

test('solver-crowd: many sources, each at a person\'s pace, each solving its challenge once; newcomers arrive at the onset', async (t) => {
  const { srv, verified } = await startChallengedServer(t, 2);
  const r = await drill(srv.url, 'solver-crowd', { rate: 60, sources: 60 }, { durationS: 3, leadS: 1, trackingUsers: 4, usersPerAddress: 1, timeScale: 20 });
  // Every bot met the challenge and solved it once.
  assert.equal(r.attack.components[0]!.challengesSolved, 60);
  assert.ok(verified() >= 60, `${verified()} verified (bots, then customers)`);
  const legit = new Set(r.meta.population.legitAddresses);
  const botRequests = srv.requests.filter((q) => !legit.has(q.addr) && !q.path.startsWith('/.rempart/'));
  assert.ok(botRequests.length > 40, `${botRequests.length} bot requests`);
  // A person's pace per source: 1 req/s asked, never a burst.
  assert.ok(maxPerSourcePerSecond(botRequests) <= 4, `at most ${maxPerSourcePerSecond(botRequests)} per source per second`);
  assert.equal(new Set(botRequests.map((q) => q.addr)).size, 60);
  assertBrowserLike(botRequests);
  // The legitimate population doubles at the onset: newcomers from addresses not seen before it.
  const before = new Set(srv.requests.filter((q) => legit.has(q.addr) && q.t < 950).map((q) => q.addr));
  const after = new Set(srv.requests.filter((q) => legit.has(q.addr)).map((q) => q.addr));
  assert.ok(after.size > before.size, `${before.size} customer addresses before the onset, ${after.size} in all`);
});

test('solver-crowd forge=1: every bot GET claims to be a page\'s own image (Fetch Metadata no-cors, same-origin), still browser-like; forge=0 sends what the page kind says', async (t) => {
  const srv = await startRecordingServer();
  t.after(srv.close);
  const run = async (forge: number): Promise<Recorded[]> => {
    srv.requests.length = 0;
    const r = await drill(srv.url, 'solver-crowd', { rate: 60, sources: 30, forge, solves: 0 }, { trackingUsers: 0 });
    const legit = new Set(r.meta.population.legitAddresses);
    return srv.requests.filter((q) => !legit.has(q.addr));
  };
  const forged = await run(1);
  assert.ok(forged.length > 40, `${forged.length} bot requests`);
  for (const q of forged) {
    assert.equal(q.headers['sec-fetch-mode'], 'no-cors');
    assert.equal(q.headers['sec-fetch-site'], 'same-origin');
    assert.equal(q.headers['sec-fetch-dest'], 'image');
    assert.match(String(q.headers.accept), /^image\//);
    assert.equal(q.headers['upgrade-insecure-requests'], undefined);
  }
  assertBrowserLike(forged);
  const honest = await run(0);
  assert.ok(honest.some((q) => q.headers['sec-fetch-mode'] === 'navigate'), 'page loads navigate');
  assert.ok(honest.every((q) => q.headers['sec-fetch-mode'] !== 'no-cors'));
});

test('sleeper-crowd: every bot sends from its first request the reputation the target issued it `ageS` before, for its own address and agent; without the target\'s key the scenario refuses to start', async (t) => {
  const srv = await startRecordingServer((_req, res) => { res.end('ok'); });
  t.after(srv.close);
  const minted: Array<{ address: string; userAgent: string; ageS: number }> = [];
  const r = await drill(srv.url, 'sleeper-crowd', { rate: 40, sources: 20, ageS: 3600 }, {
    durationS: 2, farmedCookie: (address, userAgent, ageS) => { minted.push({ address, userAgent, ageS }); return ['rempart_rep', `farmed|${address}|${userAgent}`]; },
  });
  const legitFirst = new Set(r.meta.population.legitAddresses);
  const botRequests = srv.requests.filter((q) => !legitFirst.has(q.addr));
  assert.ok(botRequests.length > 20, `${botRequests.length} bot requests`);
  assert.equal(minted.length, 20, 'one reputation per bot');
  assert.ok(minted.every((m) => m.ageS === 3600));
  for (const q of botRequests) {
    assert.equal(q.headers.cookie, `rempart_rep=farmed|${q.addr}|${String(q.headers['user-agent'])}`, 'its own reputation, bound to its address and agent, from the first request on');
  }
  assertBrowserLike(botRequests);
  await assert.rejects(drill(srv.url, 'sleeper-crowd', { rate: 10, sources: 5 }, { durationS: 1 }), /needs the target's key/);
  /** A run after a marker request: its bots' requests, and when it began (the marker, server clock). */
  const sleeperRun = async (params: Record<string, number>, extra: Partial<DrillOptions>) => {
    await fetch(`${srv.url}/run-starts`).then((x) => x.text());
    const mark = srv.requests.length;
    const t0 = srv.requests[mark - 1]!.t;
    const run = await drill(srv.url, 'sleeper-crowd', params, { ...extra, farmedCookie: (address, userAgent) => ['rempart_rep', `farmed|${address}|${userAgent}`] });
    const legit = new Set(run.meta.population.legitAddresses);
    return { t0, bots: srv.requests.slice(mark).filter((q) => !legit.has(q.addr)) };
  };
  // prewakeS: each bot loads one page with its reputation in the seconds before the onset.
  const woke = await sleeperRun({ rate: 20, sources: 10, prewakeS: 1 }, { durationS: 3, leadS: 1.5 });
  const before = woke.bots.filter((q) => q.t < woke.t0 + 1450); // the onset: 1.5 s
  assert.equal(new Set(before.map((q) => q.addr)).size, 10, 'every bot was seen before the onset');
  assert.ok(before.every((q) => q.headers.cookie?.startsWith('rempart_rep=farmed|')), 'with its reputation');
  // rampS: the flood grows from nothing to its rate over rampS, the bots joining one by one.
  const { t0, bots } = await sleeperRun({ rate: 40, sources: 40, rampS: 2 }, { durationS: 3, leadS: 0.5 });
  const firstS = bots.filter((q) => q.t < t0 + 1500); // the ramp's first second: a quarter of its requests
  const secondS = bots.filter((q) => q.t >= t0 + 1500 && q.t < t0 + 2500);
  assert.ok(firstS.length < secondS.length, `${firstS.length} requests in the ramp's first second, ${secondS.length} in its second`);
  assert.ok(new Set(firstS.map((q) => q.addr)).size <= 25, `${new Set(firstS.map((q) => q.addr)).size} of 40 bots joined in the first second`);
  assert.ok(new Set(bots.map((q) => q.addr)).size >= 35, 'and the others after');
});

test('login-crowd: each bot at a person\'s pace loads the login form, then posts a guess from it, one request at a time; newcomers arrive at the onset', async (t) => {
  const { srv } = await startChallengedServer(t, 3);
  const r = await drill(srv.url, 'login-crowd', { rate: 60, sources: 30 }, { durationS: 3, leadS: 1, trackingUsers: 4, usersPerAddress: 1, timeScale: 20 });
  assert.equal(r.attack.components[0]!.challengesSolved, 30);
  const legit = new Set(r.meta.population.legitAddresses);
  // The challenge's own follow-ups (the no-JavaScript redirect, the proof-of-work's verify) aside.
  const bots = srv.requests.filter((q) => !legit.has(q.addr) && !q.path.startsWith('/.rempart/') && !q.path.includes('rempart-nojs'));
  assert.equal(new Set(bots.map((q) => q.addr)).size, 30);
  assertBrowserLike(bots.filter((q) => q.method === 'GET'));
  const bySource = new Map<string, Recorded[]>();
  for (const q of bots) bySource.set(q.addr, [...(bySource.get(q.addr) ?? []), q]);
  let posts = 0;
  for (const [addr, reqs] of bySource) {
    reqs.sort((a, b) => a.t - b.t);
    // The form, then a post from it, then the form again: never two posts (or two forms) in a row.
    reqs.forEach((q, i) => {
      assert.equal(q.path, '/bank/login', `${addr}: ${q.method} ${q.path}`);
      assert.equal(q.method, i % 2 === 0 ? 'GET' : 'POST', `${addr}: request ${i} is ${q.method}`);
    });
    for (const q of reqs.filter((x) => x.method === 'POST')) {
      posts++;
      assert.equal(q.headers.referer, `${srv.url}/bank/login`, 'posted from the form it loaded');
      assert.equal(q.headers['content-type'], 'application/x-www-form-urlencoded');
      const form = new URLSearchParams(q.body);
      assert.ok(form.get('user') && form.get('password'), 'a guessed login');
    }
  }
  assert.ok(posts >= 20, `${posts} posts`);
  assert.ok(maxPerSourcePerSecond(bots) <= 4, `at most ${maxPerSourcePerSecond(bots)} per source per second`);
  const before = new Set(srv.requests.filter((q) => legit.has(q.addr) && q.t < 950).map((q) => q.addr));
  const after = new Set(srv.requests.filter((q) => legit.has(q.addr)).map((q) => q.addr));
  assert.ok(after.size > before.size, `${before.size} customer addresses before the onset, ${after.size} in all`);
});

test('flash-crowd: the legitimate population grows fivefold at the surge, no attack traffic', async (t) => {
  const srv = await startRecordingServer();
  t.after(srv.close);
  const r = await drill(srv.url, 'flash-crowd', { factor: 5 }, { durationS: 3, leadS: 1.5, trackingUsers: 8, bankingUsers: 2, usersPerAddress: 1, timeScale: 20 });
  // The surge starts with the attack window, after the lead asked for (at most 3/4 of the run).
  assert.equal(r.meta.window.fromS, 1.5);
  const before = new Set(srv.requests.filter((q) => q.t < 1450).map((q) => q.addr));
  const all = new Set(srv.requests.map((q) => q.addr));
  assert.ok(before.size <= 10, `${before.size} before`);
  assert.equal(all.size, 50);
  assert.equal(r.attack.components.length, 0);
  assert.equal(r.meta.population.crowdFactor, 5);
  assert.ok(srv.requests.some((q) => q.path === '/bank/login' && q.method === 'POST'));
});

test('waves: pulses and quiet gaps', async (t) => {
  const srv = await startRecordingServer();
  t.after(srv.close);
  await drill(srv.url, 'waves', { rate: 200, sources: 50, pulseMinS: 1, pulseMaxS: 1, gapMinS: 1, gapMaxS: 1 }, { durationS: 4, leadS: 0.5 });
  const count = (a: number, b: number) => srv.requests.filter((q) => q.t >= a && q.t < b).length;
  assert.ok(count(700, 1400) > 100, 'first pulse');
  assert.ok(count(1600, 2400) <= 3, 'quiet gap');
  assert.ok(count(2700, 3400) > 100, 'second pulse');
});

test('mixed: distributed, cache-buster, login flood and slowloris together; attackers never use legitimate addresses', async (t) => {
  const srv = await startRecordingServer();
  t.after(srv.close);
  const r = await drill(srv.url, 'mixed', { rate: 400, sources: 300, slowConnections: 30 }, { trackingUsers: 8, usersPerAddress: 2, timeScale: 20 });
  assert.deepEqual(r.attack.components.map((c) => c.label), ['mixed/distributed', 'mixed/cache-buster', 'mixed/login-flood', 'mixed/slowloris']);
  const legit = new Set(srv.requests.filter((q) => q.path === '/track' || q.path.startsWith('/static/')).map((q) => q.addr));
  assert.equal(legit.size, 4, 'eight users behind four carrier-NAT addresses');
  const attackers = new Set(srv.requests.filter((q) => q.method === 'POST').map((q) => q.addr));
  for (const a of legit) assert.ok(!attackers.has(a));
  assert.ok(srv.connections.length > srv.requests.length * 0 + 30);
});

test('honest generator: a slow target gets what was actually sent, and the shortfall is explained', async (t) => {
  const srv = await startRecordingServer(async (_q, res) => { await sleep(800); res.end('slow'); });
  t.after(srv.close);
  const r = await drill(srv.url, 'single-flood', { rate: 100, connections: 2 });
  const c = r.attack.components[0]!;
  assert.ok(c.requestedRatePerS > 90);
  assert.ok(c.achievedRatePerS < 5, `achieved ${c.achievedRatePerS}`);
  assert.ok(c.sent <= 8 && srv.requests.length <= c.sent);
  assert.ok(c.notSentBusy > 150);
  assert.equal(c.requested, c.sent + c.notSentBusy + c.notSentBehind);
  assert.ok(r.generator.warnings.some((w) => /back-pressure/.test(w)));
});

test('abort (Ctrl-C) stops the run early and still returns a report', async (t) => {
  const srv = await startRecordingServer();
  t.after(srv.close);
  const ac = new AbortController();
  // A second into the run's own clock (its customers' thread loads before it starts).
  const onProgress = (p: DrillProgress): void => { if (p.elapsedS >= 1) ac.abort(); };
  const t0 = Date.now();
  const r = await drill(srv.url, 'single-flood', { rate: 100 }, { durationS: 30, signal: ac.signal, trackingUsers: 4, timeScale: 20, onProgress });
  assert.ok(Date.now() - t0 < 5000);
  assert.equal(r.meta.stoppedEarly, true);
  assert.ok(r.meta.elapsedS < 2);
  assert.ok(r.attack.totals.sent > 20);
});

test('a run leaves no listener on a signal that outlives it (a bench passes one signal to every cell)', async (t) => {
  const srv = await startRecordingServer();
  t.after(srv.close);
  const ac = new AbortController();
  for (let i = 0; i < 2; i++) {
    await drill(srv.url, 'single-flood', { rate: 20 }, { durationS: 1, leadS: 0.3, signal: ac.signal, trackingUsers: 2, timeScale: 20 });
  }
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
});

test('pipeline-flood: each connection writes requests ahead of the answers (the server sees several in flight on one connection)', async (t) => {
  let peak = 0;
  const inFlight = new Map<object, number>();
  const srv = await startRecordingServer(async (req, res) => {
    const s = req.socket;
    inFlight.set(s, (inFlight.get(s) ?? 0) + 1);
    peak = Math.max(peak, inFlight.get(s)!);
    await sleep(50);
    inFlight.set(s, inFlight.get(s)! - 1);
    res.end('ok');
  });
  t.after(srv.close);
  const r = await drill(srv.url, 'pipeline-flood', { rate: 300, sources: 3, connections: 1, depth: 8 });
  assert.ok(srv.requests.length > 150, `${srv.requests.length} requests`);
  assert.ok(srv.requests.every((q) => q.method === 'GET'));
  assert.ok(srv.connections.length <= 3, `${srv.connections.length} connections`);
  assert.ok(peak > 1 && peak <= 8, `peak ${peak} requests in flight on one connection`);
  assert.ok((r.attack.components[0]!.statuses['200'] ?? 0) > 150);
  assertBrowserLike(srv.requests);
});
