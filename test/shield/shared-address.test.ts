import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'undici';
import { createManualClock } from '../../src/core/clock.js';
import { createEventBus } from '../../src/core/events.js';
import { parseConfig } from '../../src/config/load.js';
import { createDetector } from '../../src/shield/defence/detector.js';
import type { RequestContext, RequestTraits } from '../../src/shield/context.js';
import type { ShieldEvents } from '../../src/shield/events.js';
import { solveChallenge } from '../../src/shield/challenge/solver.js';
import { openSocket, rawExchange, startRecordingUpstream, startTestShield, statusOf } from '../helpers/servers.js';
import { createClientKey } from '../../src/shield/client-key.js';

// A carrier-grade NAT (RFC 6888): many customers, and here a bot, behind one address.
const NAT = '127.0.93.1';
const nav = (ua: string, cookie?: string): Record<string, string> => ({
  accept: 'text/html,application/xhtml+xml', 'sec-fetch-mode': 'navigate', 'user-agent': ua, ...(cookie ? { cookie } : {}),
});
const repCookie = (setCookie: string | string[] | undefined): string | undefined =>
  (Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []).find((c) => c.startsWith('rempart_rep='))?.split(';')[0];

test('behind a shared address, customers with a reputation are limited by their token, not by the address; the connection cap grows', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, {
    listen: { limits: { maxConnectionsPerClient: 3 } },
    rateLimits: { perClient: { normal: { ratePerS: 1, burst: 1 } } },
  });
  const nat = new Agent({ localAddress: NAT, connections: 2 });
  t.after(() => nat.close());
  const get = async (headers: Record<string, string>): Promise<{ status: number; cookie: string | undefined; challenge: string | undefined; setCookie: string | string[] | undefined }> => {
    const r = await request(`${shield.url}/page`, { dispatcher: nat, headers });
    await r.body.dump();
    return { status: r.statusCode, cookie: repCookie(r.headers['set-cookie']), challenge: r.headers['rempart-challenge'] as string | undefined, setCookie: r.headers['set-cookie'] };
  };
  // Two customers' first page loads (the address's allowance: 1 + burst 1): each gets its reputation.
  const a = await get(nav('Mozilla/5.0 customer-a'));
  const b = await get(nav('Mozilla/5.0 customer-b'));
  assert.deepEqual([a.status, b.status], [200, 200]);
  assert.ok(a.cookie && b.cookie);
  // Requests without a token are still limited per address: over it, a page load gets proof-of-work
  // (a token of its own) instead of a bare 429 ...
  const anonymous = await get(nav('Mozilla/5.0 someone-else'));
  assert.equal(anonymous.status, 503);
  assert.ok(anonymous.challenge, 'the interstitial, with its machine-readable challenge');
  const solved = await get({ ...nav('Mozilla/5.0 someone-else'), 'rempart-challenge-response': solveChallenge(anonymous.challenge) });
  assert.equal(solved.status, 200);
  const clearance = (Array.isArray(solved.setCookie) ? solved.setCookie : [solved.setCookie ?? '']).find((c) => c.startsWith('rempart_clr='))?.split(';')[0];
  assert.ok(clearance);
  assert.equal((await get(nav('Mozilla/5.0 someone-else', clearance))).status, 200, 'its own clearance: limited at its own rate, not the address\'s');
  // ... the customers are not: each is judged by its own token (limit 5/s, burst 50 by default).
  for (let i = 0; i < 4; i++) {
    assert.equal((await get(nav('Mozilla/5.0 customer-a', a.cookie))).status, 200);
    assert.equal((await get(nav('Mozilla/5.0 customer-b', b.cookie))).status, 200);
  }
  // Two customers with their own tokens seen behind it: the address is shared, and a fourth
  // connection is accepted where a one-client address is capped at three.
  const held = await Promise.all([1, 2, 3, 4].map(() => openSocket(shield.port, NAT)));
  t.after(() => held.forEach((s) => s.destroy()));
  await new Promise((r) => setTimeout(r, 50));
  const more = await rawExchange(shield.port, 'GET /page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { localAddress: NAT });
  assert.equal(statusOf(more), 429, 'accepted (and, without a token, limited per address: an API client\'s proof-of-work 429)');
  assert.match(more, /\r\nrempart-challenge: /i);
  const lone = await Promise.all([1, 2, 3].map(() => openSocket(shield.port, '127.0.93.2')));
  t.after(() => lone.forEach((s) => s.destroy()));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(await rawExchange(shield.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', { localAddress: '127.0.93.2', timeoutMs: 2_000 }), '', 'a one-client address keeps its cap');
});

test('an address whose connections carry requests (here one seen shared) is not held to the empty-connection allowance: its customers\' new connections are not reset for a bot\'s empty ones; an address that only opens and drops is', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, { listen: { limits: { emptyConnectionsPerClient: { ratePerS: 1, burst: 2 } } } });
  const nat = new Agent({ localAddress: NAT, connections: 1 });
  t.after(() => nat.close());
  const get = async (headers: Record<string, string>): Promise<{ status: number; cookie: string | undefined }> => {
    const r = await request(`${shield.url}/page`, { dispatcher: nat, headers });
    await r.body.dump();
    return { status: r.statusCode, cookie: repCookie(r.headers['set-cookie']) };
  };
  // Two customers with tokens of their own behind the NAT address: it is seen shared.
  const a = await get(nav('Mozilla/5.0 customer-a'));
  const b = await get(nav('Mozilla/5.0 customer-b'));
  assert.ok(a.cookie && b.cookie);
  assert.equal((await get(nav('Mozilla/5.0 customer-a', a.cookie))).status, 200);
  assert.equal((await get(nav('Mozilla/5.0 customer-b', b.cookie))).status, 200);
  // A bot behind the same address opens and drops 60 connections, beyond even 16 times the
  // allowance (what an address seen shared was once given). Connect and close; a reset at the
  // gate may already fail the connect.
  const empty = async (address: string): Promise<void> => {
    try { (await openSocket(shield.port, address)).destroy(); } catch { /* reset */ }
    await new Promise((r) => setTimeout(r, 2));
  };
  for (let i = 0; i < 60; i++) await empty(NAT);
  const customer = await rawExchange(shield.port, `GET /page HTTP/1.1\r\nHost: x\r\nCookie: ${a.cookie}\r\nConnection: close\r\n\r\n`, { localAddress: NAT, timeoutMs: 2_000 });
  assert.equal(statusOf(customer), 200, 'a customer\'s new connection behind the shared address is admitted');
  for (let i = 0; i < 10; i++) await empty('127.0.93.9');
  assert.equal(await rawExchange(shield.port, 'GET /page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { localAddress: '127.0.93.9', timeoutMs: 2_000 }), '', 'a one-client address is reset past its allowance');
});

test('under attack the detector blocks a repeat offender (an IPv6 one by its /64), never a shared address', () => {
  const clock = createManualClock(1_000_000);
  const bus = createEventBus<ShieldEvents>();
  const config = parseConfig({ upstreams: { o: { url: 'http://127.0.0.1:1' } }, routes: [{ match: { path: '/' }, upstream: 'o' }] });
  const blocked: string[] = [];
  const detector = createDetector({
    clock, bus, config: () => config,
    pressure: { read: () => ({ saturation: 1, queueWaitMs: 400 }) },
    blocks: { block: (cidr) => { blocked.push(cidr); }, unblock() {} },
  });
  const traits = { prefix: '127.0.93.0/24', prefix48: undefined, fingerprint: 'f', pathTemplate: '/', userAgent: '', queryShape: '', standing: 'established' as const, pace: 0, level: 0 as const, challenged: 0 as const, wouldHave: undefined } satisfies RequestTraits;
  const ctx = (client: string, paceKey?: string, refused: false | 'deny' | 'challenge' = false): RequestContext =>
    ({
      client, clientKey: createClientKey(64)(client), routeClass: 'normal', paceKey,
      verdict: refused === 'deny' ? { kind: 'deny', code: 'RMP_ERR_RATE_LIMITED' } : refused === 'challenge' ? { kind: 'challenge', level: 2, overLimit: true } : undefined,
    }) as unknown as RequestContext;
  // Two customers with their own reputations behind the NAT address.
  detector.arrive(ctx(NAT, 'rep:one'), traits);
  detector.arrive(ctx(NAT, 'rep:two'), traits);
  detector.force(clock.now() + 60_000, 'test');
  for (let s = 0; s < 5; s++) {
    // The NAT address and a lone flooder are both refused again and again (a bot behind the NAT).
    // A third is answered proof-of-work for going over its address's rate, and never solves it.
    for (let i = 0; i < 10; i++) {
      detector.finish(ctx(NAT, undefined, 'deny'), { status: 429, durationMs: 1, aborted: false } as never);
      detector.finish(ctx('127.0.94.9', undefined, 'deny'), { status: 429, durationMs: 1, aborted: false } as never);
      detector.finish(ctx('127.0.94.10', undefined, 'challenge'), { status: 503, durationMs: 1, aborted: false } as never);
      // An IPv6 bot walking its /64: a new address for every refusal, one client all the same.
      detector.finish(ctx(`2001:db8:7:8::${(s * 10 + i + 1).toString(16)}`, undefined, 'deny'), { status: 429, durationMs: 1, aborted: false } as never);
    }
    clock.advance(1000);
    detector.tick();
  }
  assert.deepEqual(blocked.sort(), ['127.0.94.10/32', '127.0.94.9/32', '2001:db8:7:8::/64']);
});

test('rateLimits.overLimit refuse: a page load over its address\'s limit gets the bare 429, no challenge', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, { rateLimits: { perClient: { normal: { ratePerS: 1, burst: 1 } }, overLimit: 'refuse' } });
  const one = new Agent({ localAddress: '127.0.93.3' });
  t.after(() => one.close());
  const statuses: Array<[number, unknown]> = [];
  for (let i = 0; i < 3; i++) {
    const r = await request(`${shield.url}/page`, { dispatcher: one, headers: nav('Mozilla/5.0 someone') });
    statuses.push([r.statusCode, r.headers['rempart-challenge']]);
    await r.body.dump();
  }
  assert.deepEqual(statuses, [[200, undefined], [200, undefined], [429, undefined]]);
});
