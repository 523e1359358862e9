import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDrill } from '../../src/drill/run.js';
import type { ChallengeSolver } from '../../src/drill/challenge.js';
import { startRecordingServer } from './recording-server.js';

const cookieOf = (header: unknown, name: string): string | undefined => new RegExp(`(?:^|;\\s*)${name}=([^;]+)`).exec(String(header ?? ''))?.[1];

test('browse-then-flood: bots browse pages with browser headers before the attack, then flood with the cookies they were given', async (t) => {
  let issued = 0;
  // The site gives every page visitor a cookie naming the address it was issued to (a reputation cookie, in miniature).
  const srv = await startRecordingServer((req, res) => {
    const addr = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    if (!cookieOf(req.headers.cookie, 'rep')) { issued++; res.setHeader('set-cookie', `rep=${addr}-${issued}; Path=/; HttpOnly`); }
    res.end('ok');
  });
  t.after(srv.close);
  const r = await runDrill({
    target: srv.url, scenario: 'browse-then-flood', durationS: 4, trackingUsers: 0, bankingUsers: 0, seed: 11, graceMs: 200,
    params: { rate: 150, sources: 10, connections: 2, warmupS: 1.5, pages: 3, solves: 0 },
  });
  assert.equal(r.meta.window.fromS, 1.5, 'the attack starts when the warm-up ends');
  const c = r.attack.components[0]!;
  // Pages are drawn before 1.25 s; only a badly loaded machine could push a few past the attack start.
  assert.ok(c.warmup!.pages >= 20 && c.warmup!.pages <= 30, `${c.warmup!.pages} warm-up page loads`);
  assert.equal(c.warmup!.ok, c.warmup!.pages);
  assert.equal(c.warmup!.botsWithCookies, 10);
  // Every bot's first request is the home page, without a cookie; every later one carries the cookie issued to it.
  const firstBy = new Map<string, typeof srv.requests[number]>();
  for (const q of srv.requests) if (!firstBy.has(q.addr)) firstBy.set(q.addr, q);
  assert.equal(firstBy.size, 10, 'the flood comes from the addresses that browsed');
  assert.ok([...firstBy.values()].every((q) => q.path === '/' && q.method === 'GET' && !q.headers.cookie));
  const later = srv.requests.filter((q) => firstBy.get(q.addr) !== q);
  for (const q of later) {
    assert.equal(cookieOf(q.headers.cookie, 'rep')?.split('-')[0], q.addr, 'the cookie issued to that address');
    assert.equal(q.headers['user-agent'], firstBy.get(q.addr)!.headers['user-agent'], 'same identity as during the warm-up');
  }
  assert.equal(issued, 10, 'one cookie per bot: every later request presented it');
  assert.ok(later.length > 100, `${later.length} requests after the first pages (~375 flood requests asked)`);
  assert.ok(srv.requests.some((q) => q.method === 'POST' && q.path === '/bank/login'), 'the flood is the distributed mix (login POSTs among GETs)');
});

test('account-holders: each bot logs in to an account of its own with the site\'s password before the attack, then floods account pages and payments with its session', async (t) => {
  // A bank in miniature: the form posted with the right password sets a session and redirects to the account.
  const sessions = new Map<string, string>();
  const srv = await startRecordingServer((req, res, body) => {
    if (req.method === 'POST' && req.url === '/bank/login') {
      const form = new URLSearchParams(body);
      if (form.get('password') !== 'pw-of-the-test') { res.statusCode = 401; res.end('no'); return; }
      const sid = `s${sessions.size + 1}`;
      sessions.set(sid, form.get('user')!);
      res.writeHead(303, { location: '/bank/account', 'set-cookie': `sid=${sid}; Path=/; HttpOnly` }).end();
      return;
    }
    res.end('ok');
  });
  t.after(srv.close);
  const r = await runDrill({
    target: srv.url, scenario: 'account-holders', durationS: 4, trackingUsers: 0, bankingUsers: 0, seed: 12, graceMs: 200,
    params: { rate: 150, sources: 8, connections: 2, warmupS: 1.5, pages: 1, solves: 0 }, userSettings: { password: 'pw-of-the-test' },
  });
  const c = r.attack.components[0]!;
  assert.equal(c.warmup!.logins, 8);
  assert.equal(c.warmup!.loggedIn, 8, 'every bot landed on its account');
  assert.equal(new Set(sessions.values()).size, 8, 'one account per bot');
  const flood = srv.requests.filter((q) => q.t > 1_600 && !(q.method === 'POST' && q.path === '/bank/login'));
  assert.ok(flood.length > 100, `${flood.length} flood requests`);
  assert.ok(flood.every((q) => sessions.has(cookieOf(q.headers.cookie, 'sid') ?? '')), 'every flood request carries its bot\'s session');
  const bySid = new Map<string, string>();
  for (const q of flood) {
    const sid = cookieOf(q.headers.cookie, 'sid')!;
    assert.equal(bySid.get(sid) ?? q.addr, q.addr, 'a session stays on the address that logged in');
    bySid.set(sid, q.addr);
  }
  const share = (f: (q: typeof flood[number]) => boolean) => flood.filter(f).length / flood.length;
  assert.ok(share((q) => q.method === 'POST' && q.path === '/api/pay/authorizations') > 0.1, 'payment creations on the critical route');
  assert.ok(share((q) => q.path === '/bank/account' || q.path.startsWith('/bank/api/')) > 0.35, 'account pages and their data');
});

test('session-replay: a few bots log in, then every bot floods with one of those sessions from its own address, keeping its own cookies beside it', async (t) => {
  const sessions = new Map<string, string>();
  let issued = 0;
  const srv = await startRecordingServer((req, res, body) => {
    const addr = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    if (req.method === 'POST' && req.url === '/bank/login') {
      const form = new URLSearchParams(body);
      if (form.get('password') !== 'pw-of-the-test') { res.statusCode = 401; res.end('no'); return; }
      const sid = `s${sessions.size + 1}`;
      sessions.set(sid, addr);
      res.writeHead(303, { location: '/bank/account', 'set-cookie': `sid=${sid}; Path=/; HttpOnly` }).end();
      return;
    }
    // Every visitor's own cookie, naming its address: it must stay the bot's own.
    if (!cookieOf(req.headers.cookie, 'rep')) { issued++; res.setHeader('set-cookie', `rep=${addr}-${issued}; Path=/; HttpOnly`); }
    res.end('ok');
  });
  t.after(srv.close);
  const r = await runDrill({
    target: srv.url, scenario: 'session-replay', durationS: 4, trackingUsers: 0, bankingUsers: 0, seed: 13, graceMs: 200,
    params: { rate: 150, sources: 9, connections: 2, warmupS: 1.5, pages: 1, solves: 0, sessions: 2 }, userSettings: { password: 'pw-of-the-test' },
  });
  const c = r.attack.components[0]!;
  assert.equal(c.warmup!.logins, 2, 'only as many logins as sessions replayed');
  assert.equal(c.warmup!.loggedIn, 2);
  assert.equal(sessions.size, 2);
  const flood = srv.requests.filter((q) => q.t > 1_600 && !(q.method === 'POST' && q.path === '/bank/login'));
  assert.ok(flood.length > 100, `${flood.length} flood requests`);
  assert.ok(flood.every((q) => sessions.has(cookieOf(q.headers.cookie, 'sid') ?? '')), 'every flood request carries one of the sessions');
  const addrsBySid = new Map<string, Set<string>>();
  for (const q of flood) {
    const sid = cookieOf(q.headers.cookie, 'sid')!;
    addrsBySid.set(sid, (addrsBySid.get(sid) ?? new Set()).add(q.addr));
    assert.equal(cookieOf(q.headers.cookie, 'rep')?.split('-')[0], q.addr, 'beside the session, the bot\'s own cookie');
  }
  assert.equal(new Set(flood.map((q) => q.addr)).size, 9, 'the flood comes from every bot');
  for (const [sid, addrs] of addrsBySid) assert.ok(addrs.size >= 4, `session ${sid} replayed from ${addrs.size} addresses`);
});

/** A test protocol: 429 + `x-test-challenge` without a `clr` cookie; GET /solve sets one. */
function testSolver(): ChallengeSolver & { solves: number } {
  const s = {
    solves: 0,
    detect: (res: { status: number; headers: Record<string, unknown> }) => res.status === 429 && res.headers['x-test-challenge'] === '1',
    async solve(_res: unknown, http: { request(m: string, p: string): Promise<{ status: number }> }) {
      s.solves++;
      const a = await http.request('GET', '/solve');
      return a.status >= 200 && a.status < 400;
    },
  };
  return s;
}

test('challenge-solver: each bot solves the first challenge it meets, once, then floods with its clearance (not loading the page the verify redirects to)', async (t) => {
  let solves = 0;
  const srv = await startRecordingServer((req, res) => {
    const addr = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    // As the shield's verify: 303 back to the page, the clearance in the same answer.
    if (req.url === '/solve') { solves++; res.writeHead(303, { 'set-cookie': `clr=${addr}; Path=/`, location: '/landing' }); return void res.end(); }
    if (cookieOf(req.headers.cookie, 'clr') !== addr) { res.writeHead(429, { 'x-test-challenge': '1' }); return void res.end('solve me'); }
    res.end('ok');
  });
  t.after(srv.close);
  const solver = testSolver();
  const r = await runDrill({
    target: srv.url, scenario: 'challenge-solver', durationS: 2.5, leadS: 0.5, trackingUsers: 0, bankingUsers: 0, seed: 12, graceMs: 200, solver,
    params: { rate: 200, sources: 10, connections: 2 },
  });
  assert.equal(solves, 10, 'one solve per bot');
  assert.equal(r.attack.components[0]!.challengesSolved, 10);
  assert.equal(srv.requests.filter((q) => q.path === '/landing').length, 0, 'the bots flood on from the verify answer');
  const cleared = srv.requests.filter((q) => q.path !== '/solve' && cookieOf(q.headers.cookie, 'clr') === q.addr);
  const challenged = srv.requests.filter((q) => q.path !== '/solve' && !q.headers.cookie);
  assert.ok(cleared.length > 100, `${cleared.length} requests with the clearance`);
  assert.ok(challenged.length <= 10 * 2, `${challenged.length} requests before the clearance (at most 2 in flight per bot)`);
});

test('pipeline-solver: each bot solves once, then writes requests ahead on its connections with its clearance', async (t) => {
  let peak = 0;
  const inFlight = new Map<object, number>();
  const srv = await startRecordingServer(async (req, res) => {
    const addr = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    if (req.url === '/solve') { res.writeHead(204, { 'set-cookie': `clr=${addr}; Path=/` }); return void res.end(); }
    if (cookieOf(req.headers.cookie, 'clr') !== addr) { res.writeHead(429, { 'x-test-challenge': '1' }); return void res.end('solve me'); }
    const s = req.socket;
    inFlight.set(s, (inFlight.get(s) ?? 0) + 1);
    peak = Math.max(peak, inFlight.get(s)!);
    await new Promise((r) => setTimeout(r, 30));
    inFlight.set(s, inFlight.get(s)! - 1);
    res.end('ok');
  });
  t.after(srv.close);
  const solver = testSolver();
  const r = await runDrill({
    target: srv.url, scenario: 'pipeline-solver', durationS: 2.5, leadS: 0.5, trackingUsers: 0, bankingUsers: 0, seed: 14, graceMs: 200, solver,
    params: { rate: 200, sources: 4, connections: 1, depth: 8 },
  });
  assert.equal(solver.solves, 4, 'one solve per bot');
  assert.equal(r.attack.components[0]!.challengesSolved, 4);
  assert.equal(srv.requests.filter((q) => q.path === '/landing').length, 0, 'the bots flood on from the verify answer');
  const cleared = srv.requests.filter((q) => q.path !== '/solve' && cookieOf(q.headers.cookie, 'clr') === q.addr);
  assert.ok(cleared.length > 100, `${cleared.length} requests with the clearance`);
  assert.ok(peak > 1 && peak <= 8, `peak ${peak} cleared requests in flight on one connection`);
});

test('challenge-solver: a bot whose clearance stops working does not solve again beyond `solves`', async (t) => {
  const solvedBy = new Map<string, number>();
  const srv = await startRecordingServer((req, res) => {
    const addr = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    if (req.url === '/solve') { solvedBy.set(addr, (solvedBy.get(addr) ?? 0) + 1); res.writeHead(204, { 'set-cookie': 'clr=1; Path=/' }); return void res.end(); }
    res.writeHead(429, { 'x-test-challenge': '1' }); // every clearance is refused
    res.end('solve me');
  });
  t.after(srv.close);
  const r = await runDrill({
    target: srv.url, scenario: 'challenge-solver', durationS: 2.5, leadS: 0.5, trackingUsers: 0, bankingUsers: 0, seed: 13, graceMs: 200, solver: testSolver(),
    params: { rate: 200, sources: 5, connections: 2, solves: 2 },
  });
  assert.equal(solvedBy.size, 5);
  assert.ok([...solvedBy.values()].every((n) => n === 2), `solves per bot: ${[...solvedBy.values()].join(', ')}`);
  assert.equal(r.attack.components[0]!.challengesSolved, 10);
  assert.ok((r.attack.components[0]!.statuses['429'] ?? 0) > 100, 'the bots flood on, challenged');
});

test('browse-then-flood: the flood starts on time even when warm-up pages hang', async (t) => {
  const t0 = performance.now();
  const hung = new Set<import('node:http').ServerResponse>();
  const srv = await startRecordingServer((_req, res) => {
    if (performance.now() - t0 < 1200) { hung.add(res); return; } // warm-up pages never answered
    res.end('ok');
  });
  t.after(async () => { for (const r of hung) r.destroy(); await srv.close(); });
  const r = await runDrill({
    target: srv.url, scenario: 'browse-then-flood', durationS: 3, trackingUsers: 0, bankingUsers: 0, seed: 14, graceMs: 200,
    params: { rate: 100, sources: 5, connections: 2, warmupS: 1.5, pages: 2, solves: 0 },
  });
  const c = r.attack.components[0]!;
  assert.equal(c.warmup!.ok, 0, 'no warm-up page was answered');
  assert.ok(c.requested >= 100, `${c.requested} flood requests due in 1.5 s at 100/s`);
  assert.ok(srv.requests.filter((q) => q.t >= 1500).length > 30, 'the flood reached the target during the attack window');
});
