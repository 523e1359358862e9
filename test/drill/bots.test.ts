import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDrill } from '../../src/drill/run.js';
import type { ChallengeSolver } from '../../src/drill/challenge.js';
import { startRecordingServer } from './recording-server.js';
import { renderText } from '../../src/drill/report/terminal.js';
import { renderHtml } from '../../src/drill/report/html.js';

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

/** One session the bank issued: to whom, to which address, when (server ms), and the requests that carried it. */
interface Issued { user: string; addr: string; t: number; uses: number; served: number }

/**
 * A bank in miniature that refuses a session after `limit` requests with it, as the shield does past
 * a session's rate (429, for good); the login page and form always answer. Every visitor also gets a
 * cookie of its own (`rep`, naming its address), which must survive its logins.
 */
async function startSessionBank(limit: number) {
  const sessions = new Map<string, Issued>();
  const t0 = performance.now();
  const srv = await startRecordingServer((req, res, body) => {
    const addr = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    if (!cookieOf(req.headers.cookie, 'rep')) res.setHeader('set-cookie', `rep=${addr}; Path=/`);
    if (req.url === '/bank/login' && req.method === 'POST') {
      const form = new URLSearchParams(body);
      if (form.get('password') !== 'pw-of-the-test') { res.statusCode = 401; res.end('no'); return; }
      const sid = `s${sessions.size + 1}`;
      sessions.set(sid, { user: form.get('user')!, addr, t: performance.now() - t0, uses: 0, served: 0 });
      res.writeHead(303, { location: '/bank/account', 'set-cookie': `sid=${sid}; Path=/; HttpOnly` }).end();
      return;
    }
    const s = sessions.get(cookieOf(req.headers.cookie, 'sid') ?? '');
    if (s && req.url !== '/bank/login' && ++s.uses > limit) { res.statusCode = 429; res.end('session over its rate'); return; }
    if (s) s.served++;
    res.end('ok');
  });
  return { ...srv, sessions };
}

/** The bank's sessions by the address they were issued to, in issuing order. */
function loginsByAddress(sessions: Map<string, Issued>): Map<string, Array<Issued & { sid: string }>> {
  const out = new Map<string, Array<Issued & { sid: string }>>();
  for (const [sid, s] of sessions) out.set(s.addr, [...(out.get(s.addr) ?? []), { ...s, sid }]);
  return out;
}

test('account-holders with relogins: a bot whose session is refused logs in again with its account, at most `relogins` times and `reloginGapS` apart, and floods on with the new session beside its own cookies', async (t) => {
  const bank = await startSessionBank(10);
  t.after(bank.close);
  // Each bot burns a session in ~0.3 s (37 req/s): the gap (1 s) and the count (2) are what bound its logins.
  const r = await runDrill({
    target: bank.url, scenario: 'account-holders', durationS: 4, trackingUsers: 0, bankingUsers: 0, seed: 21, graceMs: 200,
    params: { rate: 150, sources: 4, connections: 2, warmupS: 1.5, pages: 1, solves: 0, relogins: 2, reloginGapS: 1 }, userSettings: { password: 'pw-of-the-test' },
  });
  const c = r.attack.components[0]!;
  assert.equal(c.warmup!.loggedIn, 4, 'every bot logged in during the warm-up');
  const byAddr = loginsByAddress(bank.sessions);
  assert.equal(byAddr.size, 4);
  for (const [addr, logins] of byAddr) {
    assert.ok(logins.length >= 2 && logins.length <= 3, `${addr}: ${logins.length} logins (1 + at most 2 again)`);
    assert.equal(new Set(logins.map((l) => l.user)).size, 1, `${addr} logs in again with its own account`);
    for (let i = 1; i < logins.length; i++) {
      // Measured at the form post: a login's page load (~ms on loopback) may shift it a little.
      assert.ok(logins[i]!.t - logins[i - 1]!.t >= 1_000 - 150, `${addr}: logins ${(logins[i]!.t - logins[i - 1]!.t).toFixed(0)} ms apart`);
    }
    for (const l of logins.slice(1)) assert.ok(l.served >= 5, `${addr}: ${l.served} requests served with its new session ${l.sid}`);
  }
  const again = bank.sessions.size - 4;
  assert.equal(c.warmup!.relogins, again, 'every login during the flood is counted');
  assert.equal(c.warmup!.reloggedIn, again);
  // Beside each new session, the bot's own cookie: the login replaced the session only.
  const late = bank.requests.filter((q) => q.t > 1_600);
  assert.ok(late.every((q) => cookieOf(q.headers.cookie, 'rep') === q.addr), 'every bot kept its own cookie');
  // A bot floods with its latest session: nothing after a login carries the one before it.
  for (const logins of byAddr.values()) {
    for (let i = 1; i < logins.length; i++) {
      const stale = bank.requests.filter((q) => q.t > logins[i]!.t + 50 && cookieOf(q.headers.cookie, 'sid') === logins[i - 1]!.sid);
      assert.equal(stale.length, 0, `${stale.length} requests with ${logins[i - 1]!.sid} after ${logins[i]!.sid} was issued`);
    }
  }
});

test('account-holders with reloginFresh: a bot whose session is refused logs in to its account again as a new client — from another address, none of its cookies — and floods on from there', async (t) => {
  const bank = await startSessionBank(10);
  t.after(bank.close);
  const r = await runDrill({
    target: bank.url, scenario: 'account-holders', durationS: 4, trackingUsers: 0, bankingUsers: 0, seed: 23, graceMs: 200,
    params: { rate: 150, sources: 4, connections: 2, warmupS: 1.5, pages: 1, solves: 0, relogins: 2, reloginGapS: 1, reloginFresh: 1 }, userSettings: { password: 'pw-of-the-test' },
  });
  const c = r.attack.components[0]!;
  assert.equal(c.warmup!.loggedIn, 4, 'every bot logged in during the warm-up');
  const logins = [...bank.sessions.values()];
  const warmAddrs = new Set(logins.slice(0, 4).map((l) => l.addr));
  assert.equal(warmAddrs.size, 4);
  const again = logins.slice(4);
  assert.ok(again.length >= 4, `${again.length} logins during the flood`);
  assert.equal(c.warmup!.relogins, again.length, 'every login during the flood is counted');
  // Each from an address of its own, none of the warm-up's: the spares are taken in turn.
  assert.equal(new Set(again.map((l) => l.addr)).size, again.length, 'every login again from another address');
  assert.ok(again.every((l) => !warmAddrs.has(l.addr)));
  for (const user of new Set(logins.map((l) => l.user))) {
    const mine = logins.filter((l) => l.user === user);
    assert.ok(mine.length <= 3, `${user}: ${mine.length} logins (1 + at most 2 again)`);
    // Once the bot moved, its earlier address sends nothing more.
    for (let i = 1; i < mine.length; i++) {
      const left = bank.requests.filter((q) => q.addr === mine[i - 1]!.addr && q.t > mine[i]!.t);
      assert.equal(left.length, 0, `${user}: ${left.length} requests from ${mine[i - 1]!.addr} after it logged in from ${mine[i]!.addr}`);
    }
    for (const l of mine.slice(1)) assert.ok(l.served >= 5, `${user}: ${l.served} requests served with the session it got at ${l.addr}`);
  }
  // None of its cookies followed it: each address carries only the cookie the bank gave that address.
  const wrong = bank.requests.filter((q) => { const rep = cookieOf(q.headers.cookie, 'rep'); return rep !== undefined && rep !== q.addr; });
  assert.equal(wrong.length, 0, `${wrong.length} requests carried a cookie given to another address`);
});

test('session-replay with relogins: bots whose replayed session is refused each log in to the account of bot (index mod sessions), and with relogins 0 no bot logs in during the flood', async (t) => {
  const bank = await startSessionBank(10);
  t.after(bank.close);
  const params = { rate: 150, sources: 6, connections: 2, warmupS: 1.5, pages: 1, solves: 0, sessions: 2 };
  const run = (relogins: number) => runDrill({
    target: bank.url, scenario: 'session-replay', durationS: 2.5, trackingUsers: 0, bankingUsers: 0, seed: 22, graceMs: 200,
    params: { ...params, relogins, reloginGapS: 0.5 }, userSettings: { password: 'pw-of-the-test' },
  });

  const still = await run(0);
  assert.equal(bank.sessions.size, 2, 'only the warm-up\'s logins');
  assert.equal(still.attack.components[0]!.warmup!.relogins, undefined, 'no relogin counts: the flood is as it was');
  assert.ok((still.attack.components[0]!.statuses['429'] ?? 0) > 100, 'the bots flood on with their refused sessions');

  bank.sessions.clear();
  bank.requests.length = 0;
  const r = await run(1);
  const c = r.attack.components[0]!;
  const byAddr = loginsByAddress(bank.sessions);
  const warm = [...bank.sessions.values()].slice(0, 2);
  assert.deepEqual(warm.map((s) => s.user).sort(), ['member700000', 'member700001'], 'the warm-up: bots 0 and 1');
  const flood = [...bank.sessions.values()].slice(2);
  assert.equal(flood.length, 6, 'every bot logged in once during the flood (relogins 1)');
  assert.equal(c.warmup!.relogins, 6);
  assert.equal(c.warmup!.reloggedIn, 6);
  for (const [addr, logins] of byAddr) {
    assert.ok(logins.length <= 2, `${addr}: ${logins.length} logins`);
    assert.equal(new Set(logins.map((l) => l.user)).size, 1, `${addr} logs in to the account of the session it replayed`);
  }
  // Bots i and i + 2 and i + 4 replayed login i's session: three logins again to each account.
  assert.deepEqual(flood.map((s) => s.user).sort(), ['member700000', 'member700000', 'member700000', 'member700001', 'member700001', 'member700001']);
  assert.ok(flood.every((s) => s.served >= 5), `requests served with the new sessions: ${flood.map((s) => s.served).join(', ')}`);
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

test('closed-loop with forget: a bot refused with 503 throws its cookies away, solves again, and with forget=2 comes back with another agent; with forget=0 it keeps them', async (t) => {
  const run = async (forget: number) => {
    let issued = 0;
    // Each solve gives a new clearance; a request holding one is refused (503), one without is challenged.
    const srv = await startRecordingServer((req, res) => {
      if (req.url === '/solve') { issued++; res.writeHead(204, { 'set-cookie': `clr=${issued}; Path=/` }); return void res.end(); }
      if (!cookieOf(req.headers.cookie, 'clr')) { res.writeHead(429, { 'x-test-challenge': '1' }); return void res.end('solve me'); }
      res.writeHead(503, { 'retry-after': '1' }).end('busy');
    });
    t.after(srv.close);
    const solver = testSolver();
    const r = await runDrill({
      target: srv.url, scenario: 'closed-loop', durationS: 2.5, leadS: 0.5, trackingUsers: 0, bankingUsers: 0, seed: 15, graceMs: 200, solver,
      params: { rate: 200, sources: 6, connections: 1, forget, timeoutS: 2 },
    });
    return { srv, solver, c: r.attack.components[0]!, r };
  };
  const kept = await run(0);
  assert.equal(kept.solver.solves, 6, 'without forget: one solve per bot');
  assert.equal(kept.c.identitiesDropped, undefined);
  assert.ok((kept.c.statuses['503'] ?? 0) > 50, 'the bots flood on, refused, with the clearance they kept');

  for (const forget of [1, 2]) {
    const { srv, solver, c, r } = await run(forget);
    assert.match(renderText(r), new RegExp(`cookies thrown away ${c.identitiesDropped} times`), 'the terminal report tells it');
    assert.match(renderHtml(r), new RegExp(`started over ${c.identitiesDropped} times`), 'and the HTML report');
    assert.ok(solver.solves > 6 * 3, `forget=${forget}: ${solver.solves} solves (each refusal starts a bot over)`);
    assert.ok(c.identitiesDropped! >= (c.statuses['503'] ?? 0) - 6, `forget=${forget}: ${c.identitiesDropped} drops for ${c.statuses['503']} refusals`);
    const byAddr = new Map<string, typeof srv.requests>();
    for (const q of srv.requests) { const l = byAddr.get(q.addr) ?? []; l.push(q); byAddr.set(q.addr, l); }
    assert.equal(byAddr.size, 6);
    let agentsChanged = 0;
    for (const l of byAddr.values()) {
      const flood = l.filter((q) => q.path !== '/solve');
      // One connection per bot: its requests are sequential, so the one after a refused request is its next.
      for (let i = 1; i < flood.length; i++) if (cookieOf(flood[i - 1]!.headers.cookie, 'clr')) assert.equal(flood[i]!.headers.cookie, undefined, 'after a refusal, no cookie');
      if (new Set(l.map((q) => q.headers['user-agent'])).size > 1) agentsChanged++;
    }
    if (forget === 1) assert.equal(agentsChanged, 0, 'forget=1 keeps the agent');
    else assert.ok(agentsChanged >= 4, `forget=2: ${agentsChanged} of 6 bots changed agent`);
  }
});
