import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { createManualClock } from '../../src/core/clock.js';
import { createEventBus } from '../../src/core/events.js';
import { parseConfig } from '../../src/config/load.js';
import { createDetector } from '../../src/shield/defence/detector.js';
import type { ShieldEvents } from '../../src/shield/events.js';
import { solveChallenge } from '../../src/shield/challenge/solver.js';
import { mintReputationCookie } from '../../src/shield/reputation/issue.js';
import { WAKE_LEAD_MS, WAKE_MIN } from '../../src/shield/reputation/roster.js';
import type { WakeEvent, WakeState } from '../../src/shield/reputation/wake-watch.js';
import { startRecordingUpstream, startTestShield } from '../helpers/servers.js';

const ADMIN = { authorization: 'Bearer test-admin-token-0123456789', 'content-type': 'application/json' };
const BROWSER = { accept: 'text/html,application/xhtml+xml', 'sec-fetch-mode': 'navigate', 'user-agent': 'Mozilla/5.0 test' };
const API = { accept: 'application/json', 'user-agent': 'parcel-app/1.0' };

const cookieOf = (setCookie: string | string[] | undefined, name: string): string | undefined => {
  const list = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  const c = list.find((v) => v.startsWith(`${name}=`));
  return c?.split(';')[0];
};

async function forceAttack(adminUrl: string): Promise<void> {
  const r = await request(`${adminUrl}/api/attack`, { method: 'POST', headers: ADMIN, body: JSON.stringify({ ttlS: 60, reason: 'test', who: 'tester' }) });
  assert.equal(r.statusCode, 200);
  await r.body.dump();
}

/**
 * A shield in front of an upstream with one slot, held by `/hold` until `release()`: what waits
 * behind it shows the admission queue's order (`seen`, method and path as the upstream got them).
 */
async function startHoldingShield(t: TestContext, answer?: (req: IncomingMessage, res: ServerResponse) => boolean, detection: Record<string, unknown> = {}, config: Record<string, unknown> = {}) {
  const gate: { release?: (() => void) | undefined } = {};
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.url === '/hold') { gate.release = () => res.end('held'); return; }
    if (answer?.(req, res) === true) return;
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  const shield = await startTestShield(t, `http://127.0.0.1:${port}`, {
    upstreams: { origin: { url: `http://127.0.0.1:${port}`, timeoutMs: 5_000, connections: 1 } },
    detection: { adaptiveConcurrency: false, ...detection },
    ...config,
  });
  return {
    shield, seen,
    /** Waits until `/hold` reached the upstream (it holds the only slot). */
    async held(): Promise<void> {
      for (let i = 0; i < 100 && gate.release === undefined; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(gate.release, 'the hold takes the only slot');
    },
    /**
     * Waits until `n` requests wait in the upstream's admission queue, so the next one arrives after
     * them however long a new connection takes on a loaded machine (a fixed pause alone let two
     * requests from fresh agents arrive in the other order now and then).
     */
    async queued(n: number): Promise<void> {
      let queued = 0;
      for (let i = 0; i < 400; i++) {
        const state = await (await request(`${shield.adminUrl}/api/state`, { headers: ADMIN })).body.json() as { upstreams: Record<string, { queued?: number }> };
        queued = state.upstreams.origin?.queued ?? 0;
        if (queued >= n) return;
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.fail(`${n} requests queued behind the held slot (${queued} after 2 s and more)`);
    },
    release(): void { gate.release?.(); gate.release = undefined; },
    agent(address: string): Agent { const a = new Agent({ localAddress: address }); t.after(() => a.close()); return a; },
  };
}

test('a queue that stops emptying puts the shield in suspect within a second, and browsers without a cookie get the no-JavaScript check', async (t) => {
  const h = await startHoldingShield(t);
  const held = request(`${h.shield.url}/hold`, { headers: API });
  await h.held();
  // Two requests wait behind the held slot: the queue stands.
  const waiting = [request(`${h.shield.url}/w1`, { headers: API }), request(`${h.shield.url}/w2`, { headers: API })];
  let state: { detection?: { phase?: string; recentTransitions?: Array<{ to: string; reason: { signal: string; withinMs?: number } }> } } = {};
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 50));
    state = await (await request(`${h.shield.adminUrl}/api/state`, { headers: ADMIN })).body.json() as typeof state;
    if (state.detection?.phase !== 'normal') break;
  }
  assert.equal(state.detection?.phase, 'suspect', JSON.stringify(state.detection));
  const first = state.detection?.recentTransitions?.[0];
  assert.equal(first?.reason.signal, 'saturation');
  assert.ok((first?.reason.withinMs ?? 0) >= 500, `suspected on the standing queue (${JSON.stringify(first)}), not a tick's whole second`);
  const page = await request(`${h.shield.url}/track/1`, { headers: BROWSER });
  assert.equal(page.statusCode, 307, 'a browser with no cookie is sent through the no-JavaScript check');
  await page.body.dump();
  h.release();
  await (await held).body.dump();
  for (const w of waiting) await (await w).body.dump();
});

test('in normal times answers carry a reputation cookie and nothing is challenged', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url);
  const r = await request(`${shield.url}/track/1`, { headers: BROWSER });
  assert.equal(r.statusCode, 200);
  assert.ok(cookieOf(r.headers['set-cookie'], 'rempart_rep'), 'a reputation cookie is issued');
  await r.body.dump();
});

test('in normal times a page that waited for the upstream earns no reputation; the next one, answered at once, does', async (t) => {
  const h = await startHoldingShield(t);
  const holder = request(`${h.shield.url}/hold`, { dispatcher: h.agent('127.0.66.1'), headers: BROWSER });
  await h.held();
  const client = h.agent('127.0.66.2');
  const waited = request(`${h.shield.url}/track/1`, { dispatcher: client, headers: BROWSER });
  await new Promise((res) => setTimeout(res, 50));
  h.release();
  await (await holder).body.dump();
  const first = await waited;
  assert.equal(first.statusCode, 200);
  await first.body.dump();
  assert.equal(cookieOf(first.headers['set-cookie'], 'rempart_rep'), undefined, 'it waited 50 ms for the only slot: no reputation');
  const second = await request(`${h.shield.url}/track/2`, { dispatcher: client, headers: BROWSER });
  assert.equal(second.statusCode, 200);
  await second.body.dump();
  assert.ok(cookieOf(second.headers['set-cookie'], 'rempart_rep'), 'answered at once: a reputation');
});

test('under attack a browser without cookies gets the no-JavaScript check, passes with the cookie, and lands on the original URL', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url);
  await forceAttack(shield.adminUrl);
  const first = await request(`${shield.url}/track/42?x=1`, { headers: BROWSER });
  assert.equal(first.statusCode, 307);
  await first.body.dump();
  const location = String(first.headers.location);
  const nojs = cookieOf(first.headers['set-cookie'], 'rempart_nojs');
  assert.ok(nojs);
  assert.equal(upstream.seen.length, 0, 'the challenge never reaches the upstream');
  const second = await request(`${shield.url}${location}`, { headers: { ...BROWSER, cookie: nojs } });
  assert.equal(second.statusCode, 200);
  await second.body.dump();
  assert.equal(upstream.seen[0]?.url, '/track/42?x=1', 'the upstream sees the original target, marker removed');
  assert.equal(cookieOf(second.headers['set-cookie'], 'rempart_rep'), undefined, 'no reputation is handed out during an attack');
});

test('under attack an API client gets a machine-readable 429 challenge, never HTML, and the reference solver earns a clearance', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, { detection: { attack: { attackAfterS: 0 } } });
  await forceAttack(shield.adminUrl);
  // A stateless client that ignores the cookie keeps being asked; after the no-JS rung, proof-of-work.
  let r = await request(`${shield.url}/api/parcels/42`, { headers: API });
  assert.ok(r.statusCode === 429, `status ${r.statusCode}`);
  assert.doesNotMatch(String(r.headers['content-type']), /html/);
  const challenge = r.headers['rempart-challenge'];
  assert.ok(typeof challenge === 'string', 'Rempart-Challenge header present');
  await r.body.dump();
  const answer = solveChallenge(challenge);
  r = await request(`${shield.url}/api/parcels/42`, { headers: { ...API, 'rempart-challenge-response': answer } });
  assert.equal(r.statusCode, 200);
  await r.body.dump();
  const clearance = r.headers['rempart-clearance'];
  assert.ok(typeof clearance === 'string', 'the clearance comes back as a header for clients without a cookie jar');
  r = await request(`${shield.url}/api/parcels/43`, { headers: { ...API, 'rempart-clearance': clearance } });
  assert.equal(r.statusCode, 200, 'the clearance passes later requests');
  await r.body.dump();
});

test('a token flooding past its rate is revoked: its holder is challenged again', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, { detection: { perToken: { ratePerS: 1, burst: 2 } } });
  const first = await request(`${shield.url}/`, { headers: BROWSER });
  const rep = cookieOf(first.headers['set-cookie'], 'rempart_rep');
  await first.body.dump();
  assert.ok(rep);
  await forceAttack(shield.adminUrl);
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    const r = await request(`${shield.url}/page`, { headers: { ...BROWSER, cookie: rep } });
    statuses.push(r.statusCode);
    await r.body.dump();
  }
  assert.ok(statuses.includes(429), `the token's own limit answers 429: ${statuses.join(',')}`);
  assert.equal(statuses.at(-1), 307, `once revoked, the cookie counts for nothing: ${statuses.join(',')}`);
});

test('dry run decides but enforces nothing; the admin API shows the attack state and refuses unknown mitigations', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, { detection: { dryRun: true } });
  await forceAttack(shield.adminUrl);
  const r = await request(`${shield.url}/track/1`, { headers: BROWSER });
  assert.equal(r.statusCode, 200, 'dry run: no challenge');
  await r.body.dump();
  const state = await (await request(`${shield.url.replace(/:\d+$/, '')}:${shield.adminPort}/api/state`, { headers: ADMIN })).body.json() as { detection: { phase: string; dryRun: boolean } };
  assert.equal(state.detection.phase, 'under_attack');
  assert.equal(state.detection.dryRun, true);
  const del = await request(`${shield.adminUrl}/api/mitigations/nope`, { method: 'DELETE', headers: ADMIN });
  assert.equal(del.statusCode, 404);
  await del.body.dump();
  const clear = await request(`${shield.adminUrl}/api/attack?who=tester`, { method: 'DELETE', headers: ADMIN });
  assert.equal(clear.statusCode, 204);
  await clear.body.dump();
});

test('the detector goes under attack from upstream saturation alone and emits transitions with their reason', () => {
  const clock = createManualClock(1_000_000);
  const bus = createEventBus<ShieldEvents>();
  const seen: string[] = [];
  bus.on('attack:transition', (e) => seen.push(`${e.scope} ${e.from}→${e.to} ${e.reason.signal}`));
  let saturated = false;
  const config = parseConfig({ upstreams: { o: { url: 'http://127.0.0.1:1' } }, routes: [{ match: { path: '/' }, upstream: 'o' }] });
  const detector = createDetector({
    clock, bus, config: () => config,
    pressure: { read: () => (saturated ? { saturation: 1, queueWaitMs: 400 } : { saturation: 0.1, queueWaitMs: 0 }) },
    blocks: { block() {}, unblock() {} },
  });
  const traits = { prefix: '127.0.0.0/24', prefix48: undefined, fingerprint: 'f', pathTemplate: '/', userAgent: '', queryShape: '', standing: 'unknown' as const, pace: 0, level: 0 as const, challenged: 0 as const, wouldHave: undefined };
  for (let s = 0; s < 5; s++) { clock.advance(1000); detector.tick(); }
  assert.equal(detector.policyFor('normal', traits, '127.0.0.1').level, 0);
  saturated = true;
  for (let s = 0; s < 5; s++) { clock.advance(1000); detector.tick(); }
  assert.equal(detector.policyFor('normal', traits, '127.0.0.1').level, 1, 'unknown clients are challenged under attack');
  assert.ok(seen.some((e) => e.startsWith('normal normal→suspect saturation')), seen.join('; '));
  assert.ok(seen.some((e) => e.includes('→under_attack')), seen.join('; '));
  saturated = false;
  for (let s = 0; s < 60; s++) { clock.advance(1000); detector.tick(); }
  assert.equal(detector.policyFor('normal', traits, '127.0.0.1').level, 0, 'back to normal once calm for long enough');
  assert.ok(seen.some((e) => e.includes('→recovering')) && seen.some((e) => e.includes('recovering→normal')), seen.join('; '));
});

test('the detector suspects a flood within its first second, before the tick, and challenges clients without a token from then on', () => {
  const clock = createManualClock(1_000_000);
  const bus = createEventBus<ShieldEvents>();
  const seen: Array<{ to: string; signal: string; withinMs?: number }> = [];
  bus.on('attack:transition', (e) => seen.push({ to: e.to, signal: e.reason.signal, withinMs: e.reason.withinMs }));
  const config = parseConfig({ upstreams: { o: { url: 'http://127.0.0.1:1' } }, routes: [{ match: { path: '/' }, upstream: 'o' }] });
  const detector = createDetector({
    clock, bus, config: () => config,
    pressure: { read: () => ({ saturation: 0.1, queueWaitMs: 0 }) }, blocks: { block() {}, unblock() {} },
  });
  const traits = { prefix: '127.0.0.0/24', prefix48: undefined, fingerprint: 'f', pathTemplate: '/', userAgent: '', queryShape: '', standing: 'unknown' as const, pace: 0, level: 0 as const, challenged: 0 as const, wouldHave: undefined };
  const ctx = { routeClass: 'normal', clientKey: '127.0.0.1', paceKey: undefined } as unknown as Parameters<typeof detector.arrive>[0];
  // 40 s of 20 requests a second from many clients: a warm baseline (one client's would teach none).
  for (let s = 0; s < 40; s++) {
    for (let i = 0; i < 20; i++) detector.arrive({ ...ctx, clientKey: `127.0.${s}.${i + 1}` }, traits);
    clock.advance(1000); detector.tick();
  }
  assert.equal(detector.policyFor('normal', traits, '127.0.0.1').level, 0, JSON.stringify(seen));
  // A flood: 100 requests in the first 100 ms of a second.
  clock.advance(100);
  let firstAt = -1;
  for (let i = 0; i < 100; i++) {
    detector.arrive(ctx, traits);
    if (firstAt < 0 && detector.policyFor('normal', traits, '127.0.0.1').level === 1) firstAt = i + 1;
  }
  assert.ok(firstAt > 20 && firstAt < 100, `challenged from arrival ${firstAt}, within the second (20/s is normal)`);
  assert.deepEqual(seen.map((e) => [e.to, e.signal, e.withinMs]), [['suspect', 'arrival-rate', 100]]);
  assert.ok(detector.challengingForMs() !== undefined, 'the challenge clock started with the suspicion');
  clock.advance(900); detector.tick();
  assert.equal(seen.length, 1, 'the tick at the second\'s end finds it already suspect: no second transition');
});

test('a standing admission queue makes the classes its upstream serves suspect before the tick; other upstreams\' classes stay normal', () => {
  const clock = createManualClock(1_000_000);
  const bus = createEventBus<ShieldEvents>();
  const seen: string[] = [];
  bus.on('attack:transition', (e) => seen.push(`${e.scope} ${e.to} ${e.reason.signal} ${e.reason.withinMs}`));
  const config = parseConfig({
    upstreams: { shop: { url: 'http://127.0.0.1:1' }, bank: { url: 'http://127.0.0.1:2' } },
    routes: [{ match: { path: '/bank' }, upstream: 'bank', class: 'critical' }, { match: { path: '/' }, upstream: 'shop', class: 'normal' }],
  });
  const detector = createDetector({
    clock, bus, config: () => config,
    pressure: { read: () => ({ saturation: 0, queueWaitMs: 0 }) }, blocks: { block() {}, unblock() {} },
  });
  const traits = { prefix: '127.0.0.0/24', prefix48: undefined, fingerprint: 'f', pathTemplate: '/', userAgent: '', queryShape: '', standing: 'unknown' as const, pace: 0, level: 0 as const, challenged: 0 as const, wouldHave: undefined };
  clock.advance(300);
  detector.standing('shop', 200, 150);
  assert.equal(detector.policyFor('normal', traits, '127.0.0.1').level, 0, 'standing 200 ms: a burst, not yet evidence');
  detector.standing('shop', 600, 150);
  assert.equal(detector.policyFor('normal', traits, '127.0.0.1').level, 1, 'the no-JavaScript check starts at once');
  assert.equal(detector.policyFor('critical', traits, '127.0.0.1').level, 0, 'the bank\'s upstream does not stand');
  assert.deepEqual(seen, ['normal suspect saturation 600']);
  // The challenges emptied the queue before the tick (the probe reads no pressure): the tick still
  // reads the second's standing queue as saturation, and the suspicion becomes an attack.
  clock.advance(700); detector.tick();
  assert.deepEqual(seen, ['normal suspect saturation 600', 'normal under_attack saturation undefined']);
  // The next second, calm: the evidence was read once.
  clock.advance(1000); detector.tick();
  assert.equal(seen.length, 2);
  assert.equal(detector.policyFor('critical', traits, '127.0.0.1').level, 0, 'the bank\'s classes stay normal');
});

test('attack state, challenges and standings are Prometheus metrics', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url);
  await forceAttack(shield.adminUrl);
  const r = await request(`${shield.url}/x`, { headers: BROWSER });
  await r.body.dump();
  assert.equal(r.statusCode, 307);
  const text = await (await request(`${shield.adminUrl}/metrics`)).body.text();
  assert.match(text, /rempart_attack_phase\{class="normal"\} 3/);
  assert.match(text, /rempart_attack_transitions_total\{class="normal",to="under_attack",signal="operator"\} 1/);
  assert.match(text, /rempart_challenges_total\{level="1",enforced="true"\} 1/);
  assert.match(text, /rempart_requests_by_standing_total\{standing="unknown"\} 1/);
});

test('level 2 from a signature the request matches is marked as such; an operator\'s forced proof-of-work is not', () => {
  const clock = createManualClock(1_000_000);
  const config = parseConfig({ upstreams: { o: { url: 'http://127.0.0.1:1' } }, routes: [{ match: { path: '/' }, upstream: 'o' }] });
  const detector = createDetector({
    clock, bus: createEventBus<ShieldEvents>(), config: () => config,
    pressure: { read: () => ({ saturation: 0, queueWaitMs: 0 }) }, blocks: { block() {}, unblock() {} },
  });
  const traits = { prefix: '127.0.0.0/24', prefix48: undefined, fingerprint: 'f', pathTemplate: '/track/:id', userAgent: 'ua', queryShape: '', standing: 'unknown' as const, pace: 0, level: 0 as const, challenged: 0 as const, wouldHave: undefined };
  detector.challengeScope('path', '/track/:id', 60, 'tester', 'test');
  const bySig = detector.policyFor('normal', traits, '127.0.0.1');
  assert.deepEqual([bySig.level, bySig.bySignature], [2, true]);
  assert.equal(detector.policyFor('normal', { ...traits, pathTemplate: '/' }, '127.0.0.1').bySignature, undefined, 'another path: no signature');
  detector.force(clock.now() + 60_000, 'tester', true);
  const forced = detector.policyFor('normal', traits, '127.0.0.1');
  assert.deepEqual([forced.level, forced.bySignature], [2, undefined]);
});

test('a request with no token queued before the attack was seen gets the challenge once challenges begin, instead of starving behind token holders', async (t) => {
  const h = await startHoldingShield(t);
  const { shield, seen } = h;
  const first = request(`${shield.url}/hold`, { headers: BROWSER });
  await h.held();
  assert.equal(seen.length, 1, 'the first request holds the only upstream slot');
  const queued = request(`${shield.url}/track/2`, { headers: BROWSER }); // no token, no challenge yet: it waits
  await new Promise((r) => setTimeout(r, 100));
  await forceAttack(shield.adminUrl);
  const answer = await queued;
  assert.equal(answer.statusCode, 307, 'answered with the no-JavaScript check while the slot is still taken');
  assert.ok(cookieOf(answer.headers['set-cookie'], 'rempart_nojs'));
  assert.match(String(answer.headers.location), /^\/track\/2/);
  await answer.body.dump();
  assert.deepEqual(seen, ['GET /hold'], 'the queued request never reached the upstream');
  h.release();
  const r1 = await first;
  assert.equal(r1.statusCode, 200);
  await r1.body.dump();
});

test('behind a shared address each newcomer\'s no-JavaScript cookie is its own identity, within the address\'s budget; elsewhere one per address and agent', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, { detection: { sharedAddressCookies: { ratePerS: 0.01, burst: 1 } } });
  const from = (address: string): Agent => {
    const a = new Agent({ localAddress: address });
    t.after(() => a.close());
    return a;
  };
  const nat = from('127.0.0.21');
  const home = from('127.0.0.22');
  // Normal times: two customers behind the NAT address get reputations and come back with them.
  for (let i = 0; i < 2; i++) {
    const r = await request(`${shield.url}/track/${i}`, { headers: BROWSER, dispatcher: nat });
    const rep = cookieOf(r.headers['set-cookie'], 'rempart_rep');
    await r.body.dump();
    assert.ok(rep);
    const back = await request(`${shield.url}/track/${i}`, { headers: { ...BROWSER, cookie: rep }, dispatcher: nat });
    assert.equal(back.statusCode, 200);
    await back.body.dump();
  }
  await forceAttack(shield.adminUrl);
  const nojsPayload = async (dispatcher: Agent): Promise<{ id?: string; n?: number }> => {
    const r = await request(`${shield.url}/track/9`, { headers: BROWSER, dispatcher });
    assert.equal(r.statusCode, 307);
    await r.body.dump();
    const token = cookieOf(r.headers['set-cookie'], 'rempart_nojs')?.split('=')[1] ?? '';
    return JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as { id?: string; n?: number };
  };
  // Three newcomers with the same browser behind the NAT: a burst of 1 over the rate gives two their own.
  const shared = [await nojsPayload(nat), await nojsPayload(nat), await nojsPayload(nat)];
  assert.deepEqual(shared.map((p) => p.n), [1, 1, undefined]);
  assert.notEqual(shared[0]?.id, shared[1]?.id, 'two newcomers, two identities');
  const [a, b] = [await nojsPayload(home), await nojsPayload(home)];
  assert.equal(a.n, undefined, 'an address with one customer: the identity of the address and agent');
  assert.equal(a.id, b.id);
  assert.equal(shared[2]?.id, (await nojsPayload(nat)).id, 'past the budget, the address and agent\'s identity again');
});

/** The upstream's answer to a payment form: 303 to the order page (Post/Redirect/Get). */
const payRedirectsToOrder = (req: IncomingMessage, res: ServerResponse): boolean => {
  if (req.url !== '/pay/confirm') return false;
  res.writeHead(303, { location: '/orders/7' }).end();
  return true;
};

test('the page a critical request redirects to (Post/Redirect/Get) waits in the critical queue, once', async (t) => {
  const h = await startHoldingShield(t, payRedirectsToOrder);
  const { shield, seen } = h;
  const customer = h.agent('127.0.0.41');
  const other = h.agent('127.0.0.42');
  const paid = await request(`${shield.url}/pay/confirm`, { method: 'POST', headers: { ...BROWSER, 'content-type': 'application/x-www-form-urlencoded' }, body: 'ok=1', dispatcher: customer });
  assert.equal(paid.statusCode, 303);
  await paid.body.dump();
  const held = request(`${shield.url}/hold`, { headers: BROWSER, dispatcher: other });
  await h.held();
  // Another client's page is queued first; the customer's order page (a normal route) after it.
  const first = request(`${shield.url}/news`, { headers: BROWSER, dispatcher: other });
  await h.queued(1);
  await new Promise((r) => setTimeout(r, 50));
  const follow = request(`${shield.url}/orders/7`, { headers: BROWSER, dispatcher: customer });
  await h.queued(2);
  h.release();
  for (const p of [held, first, follow]) { const r = await p; assert.equal(r.statusCode, 200); await r.body.dump(); }
  assert.deepEqual(seen.slice(1), ['GET /hold', 'GET /orders/7', 'GET /news'], 'the continuation went first');
  // Used up: the same page again queues in its own class, behind what came before it.
  const held2 = request(`${shield.url}/hold`, { headers: BROWSER, dispatcher: other });
  await h.held();
  const first2 = request(`${shield.url}/news`, { headers: BROWSER, dispatcher: h.agent('127.0.0.43') });
  await h.queued(1);
  await new Promise((r) => setTimeout(r, 50));
  const again = request(`${shield.url}/orders/7`, { headers: BROWSER, dispatcher: h.agent('127.0.0.44') });
  await h.queued(2);
  h.release();
  for (const p of [held2, first2, again]) { const r = await p; await r.body.dump(); }
  assert.deepEqual(seen.slice(4), ['GET /hold', 'GET /news', 'GET /orders/7']);
});

test('a continuation is served at its critical request\'s pace, not one level heavier for the redirect itself', async (t) => {
  const h = await startHoldingShield(t, payRedirectsToOrder);
  const { shield, seen } = h;
  const repOf = async (dispatcher: Agent): Promise<string> => {
    const r = await request(`${shield.url}/start`, { headers: BROWSER, dispatcher });
    await r.body.dump();
    const rep = cookieOf(r.headers['set-cookie'], 'rempart_rep');
    assert.ok(rep);
    return rep;
  };
  const customer = h.agent('127.0.0.51');
  const other = h.agent('127.0.0.52');
  const mine = await repOf(customer);
  const theirs = await repOf(other);
  // The customer's action: two pages, then the payment form (its third request: pace 0) and its redirect (the fourth).
  for (const path of ['/basket', '/pay']) {
    const r = await request(`${shield.url}${path}`, { headers: { ...BROWSER, cookie: mine }, dispatcher: customer });
    assert.equal(r.statusCode, 200);
    await r.body.dump();
  }
  const paid = await request(`${shield.url}/pay/confirm`, { method: 'POST', headers: { ...BROWSER, cookie: mine, 'content-type': 'application/x-www-form-urlencoded' }, body: 'ok=1', dispatcher: customer });
  assert.equal(paid.statusCode, 303);
  await paid.body.dump();
  const held = request(`${shield.url}/hold`, { headers: { ...BROWSER, cookie: theirs }, dispatcher: other });
  await h.held();
  // The order page queues first; another customer's payment (critical, pace 0) 50 ms later. Both
  // hold young reputations: at pace 1 the order page would be 500 ms behind and go second.
  const follow = request(`${shield.url}/orders/7`, { headers: { ...BROWSER, cookie: mine }, dispatcher: customer });
  await h.queued(1);
  await new Promise((r) => setTimeout(r, 50));
  const payment = request(`${shield.url}/pay/other`, { method: 'POST', headers: { ...BROWSER, cookie: theirs, 'content-type': 'application/x-www-form-urlencoded' }, body: 'ok=1', dispatcher: other });
  await h.queued(2);
  h.release();
  for (const p of [held, follow, payment]) { const r = await p; assert.equal(r.statusCode, 200); await r.body.dump(); }
  assert.deepEqual(seen.slice(-3), ['GET /hold', 'GET /orders/7', 'POST /pay/other'], 'the continuation kept its action\'s pace');
});

/**
 * Four POSTs queued behind a held slot, in this order: a bot holding a reputation (earned on
 * another page) that copies a browser's form POST, Referer included; the same without a token;
 * an app's POST with no Referer and no token; a customer holding a reputation, from the page it
 * loaded. Each token holder sends every cookie it was given, as a browser does. `natBot`: the bot
 * sends from the customer's address with the same agent (a carrier NAT). Returns the order the
 * upstream saw them in.
 */
async function submissionOrder(t: TestContext, detection: Record<string, unknown> = {}, natBot = false): Promise<string[]> {
  const h = await startHoldingShield(t, undefined, detection);
  const { shield, seen } = h;
  const form = `${shield.url}/pay/form`;
  const customer = h.agent('127.0.0.51');
  const bot = h.agent(natBot ? '127.0.0.51' : '127.0.0.52');
  const repFrom = async (url: string, dispatcher: Agent): Promise<string> => {
    const r = await request(url, { headers: BROWSER, dispatcher });
    assert.equal(r.statusCode, 200);
    await r.body.dump();
    const rep = cookieOf(r.headers['set-cookie'], 'rempart_rep');
    assert.ok(rep, 'a reputation in normal times');
    const visit = cookieOf(r.headers['set-cookie'], 'rempart_pv');
    // With submissions never judged by their page, no page is recorded and no visit cookie given.
    assert.equal(visit !== undefined, detection.formPageTtlS !== 0, 'a page-visit cookie with the page');
    return visit === undefined ? rep : `${rep}; ${visit}`;
  };
  const customerRep = await repFrom(form, customer);
  const botRep = await repFrom(`${shield.url}/news`, bot);
  const post = (who: string, dispatcher: Agent, opts: { referer?: string; cookie?: string }) => request(`${shield.url}/pay/confirm?who=${who}`, {
    method: 'POST', body: 'ok=1', dispatcher,
    headers: {
      ...BROWSER, 'content-type': 'application/x-www-form-urlencoded',
      ...(opts.referer ? { referer: opts.referer, origin: shield.url } : {}), ...(opts.cookie ? { cookie: opts.cookie } : {}),
    },
  });
  const held = request(`${shield.url}/hold`, { headers: BROWSER, dispatcher: h.agent('127.0.0.54') });
  await h.held();
  const queued = [];
  for (const [who, dispatcher, opts] of [
    ['bot', bot, { referer: form, cookie: botRep }], ['anon-bot', h.agent('127.0.0.55'), { referer: form }],
    ['app', h.agent('127.0.0.53'), {}], ['customer', customer, { referer: form, cookie: customerRep }],
  ] as const) {
    queued.push(post(who, dispatcher, opts));
    await h.queued(queued.length);
    await new Promise((r) => setTimeout(r, 50));
  }
  h.release();
  for (const p of [held, ...queued]) { const r = await p; assert.equal(r.statusCode, 200); await r.body.dump(); }
  assert.deepEqual(seen.slice(0, 3), ['GET /pay/form', 'GET /news', 'GET /hold']);
  return seen.slice(3).map((s) => s.replace('POST /pay/confirm?who=', ''));
}

test('a form submitted to a critical route without its page (its Referer never loaded by that source) loses its token\'s standing; one with its page, or with no Referer, does not', async (t) => {
  assert.deepEqual(await submissionOrder(t), ['customer', 'anon-bot', 'app', 'bot'],
    'the bot\'s reputation went behind every light request, though it came first; requests with no token stay in arrival order');
});

test('behind a carrier NAT, a customer\'s page load backs only that customer\'s form post, not a bot\'s with the same address and agent (its own page-visit cookie)', async (t) => {
  assert.deepEqual(await submissionOrder(t, {}, true), ['customer', 'anon-bot', 'app', 'bot'],
    'keyed by address and agent alone, the customer\'s page would have backed the bot\'s post and it would have gone first');
});

test('behind a carrier NAT, a form page answered from the cache names its browser too: it backs that browser\'s post, not a bot\'s with the same address and agent', async (t) => {
  const h = await startHoldingShield(t, undefined, {}, {
    routes: [
      { match: { path: '/pay/form' }, upstream: 'origin', class: 'critical', cache: { ttlS: 60 } },
      { match: { path: '/pay/' }, upstream: 'origin', class: 'critical' },
      { match: { path: '/' }, upstream: 'origin', class: 'normal' },
    ],
  });
  const { shield, seen } = h;
  const form = `${shield.url}/pay/form`;
  const nat = h.agent('127.0.0.51');
  const get = async (url: string, dispatcher: Agent, cookie?: string) => {
    const r = await request(url, { headers: { ...BROWSER, ...(cookie ? { cookie } : {}) }, dispatcher });
    assert.equal(r.statusCode, 200);
    await r.body.dump();
    return r.headers;
  };
  await get(form, h.agent('127.0.0.60')); // someone elsewhere loads the form: it is stored
  // The customer, without a cookie yet, gets the form from the cache — and a page-visit cookie with it.
  const hit = await get(form, nat);
  assert.equal(hit['x-rempart-cache'], 'HIT');
  const pv = cookieOf(hit['set-cookie'], 'rempart_pv');
  assert.ok(pv, 'a page-visit cookie with the cached page');
  const customerRep = cookieOf((await get(`${shield.url}/news`, nat, pv))['set-cookie'], 'rempart_rep');
  assert.ok(customerRep, 'a reputation in normal times');
  const customer = `${customerRep}; ${pv}`;
  // The bot: same address, same agent, a reputation and a page-visit cookie of its own — and the form's Referer.
  const botHeaders = await get(`${shield.url}/other`, nat);
  const bot = [cookieOf(botHeaders['set-cookie'], 'rempart_rep'), cookieOf(botHeaders['set-cookie'], 'rempart_pv')].join('; ');
  const post = (who: string, cookie: string) => request(`${shield.url}/pay/confirm?who=${who}`, {
    method: 'POST', body: 'ok=1', dispatcher: nat,
    headers: { ...BROWSER, 'content-type': 'application/x-www-form-urlencoded', referer: form, origin: shield.url, cookie },
  });
  const held = request(`${shield.url}/hold`, { headers: BROWSER, dispatcher: h.agent('127.0.0.54') });
  await h.held();
  const bots = post('bot', bot);
  await h.queued(1);
  await new Promise((r) => setTimeout(r, 50));
  const customers = post('customer', customer);
  await h.queued(2);
  h.release();
  for (const p of [held, bots, customers]) { const r = await p; assert.equal(r.statusCode, 200); await r.body.dump(); }
  assert.deepEqual(seen.filter((x) => x.startsWith('POST')).map((x) => x.replace('POST /pay/confirm?who=', '')), ['customer', 'bot'],
    'keyed by address and agent, the cached page would have backed the bot\'s post and it would have gone first');
});

test('with detection.formPageTtlS 0 no submission is judged by its page', async (t) => {
  assert.deepEqual(await submissionOrder(t, { formPageTtlS: 0 }), ['bot', 'customer', 'anon-bot', 'app']);
});

test('behind a shared address where a token was just revoked, a newcomer\'s page load is asked for proof-of-work (a clearance of its own); its form post gets the address\'s identity', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, { detection: { perToken: { ratePerS: 1, burst: 2 } } });
  const nat = new Agent({ localAddress: '127.0.0.23' });
  t.after(() => nat.close());
  const reps: string[] = [];
  for (let i = 0; i < 2; i++) {
    const r = await request(`${shield.url}/track/${i}`, { headers: BROWSER, dispatcher: nat });
    reps.push(cookieOf(r.headers['set-cookie'], 'rempart_rep') ?? '');
    await r.body.dump();
    await (await request(`${shield.url}/track/${i}`, { headers: { ...BROWSER, cookie: reps[i] }, dispatcher: nat })).body.dump();
  }
  await forceAttack(shield.adminUrl);
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    const r = await request(`${shield.url}/page`, { headers: { ...BROWSER, cookie: reps[0] }, dispatcher: nat });
    statuses.push(r.statusCode);
    await r.body.dump();
  }
  assert.ok(statuses.includes(429), `one customer's token flooded and was revoked: ${statuses.join(',')}`);
  const NEWCOMER = { ...BROWSER, 'user-agent': 'Mozilla/5.0 newcomer' };
  // Its page load: the interstitial straight away, no no-JS cookie (it would be the bot's identity too).
  const page = await request(`${shield.url}/track/9`, { headers: NEWCOMER, dispatcher: nat });
  assert.equal(page.statusCode, 503);
  assert.equal(cookieOf(page.headers['set-cookie'], 'rempart_nojs'), undefined);
  const challenge = String(page.headers['rempart-challenge']);
  await page.body.dump();
  const solved = await request(`${shield.url}/track/9`, { headers: { ...NEWCOMER, 'rempart-challenge-response': solveChallenge(challenge) }, dispatcher: nat });
  assert.equal(solved.statusCode, 200);
  assert.ok(cookieOf(solved.headers['set-cookie'], 'rempart_clr'), 'a clearance of its own');
  await solved.body.dump();
  // A form post keeps its body: the no-JS redirect, with the address's and agent's identity.
  const post = await request(`${shield.url}/login`, { method: 'POST', headers: { ...NEWCOMER, 'content-type': 'application/x-www-form-urlencoded' }, body: 'u=a', dispatcher: nat });
  assert.equal(post.statusCode, 307);
  await post.body.dump();
  const token = cookieOf(post.headers['set-cookie'], 'rempart_nojs')?.split('=')[1] ?? '';
  const payload = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as { n?: number; id?: string };
  assert.ok(payload.id !== undefined && payload.n === undefined);
});

test('a proof-of-work solved during the attack does not make a heavy source light: its requests wait behind a newcomer\'s', async (t) => {
  const h = await startHoldingShield(t);
  const { shield, seen, agent } = h;
  const bot = agent('127.0.0.51');
  const BOT = { ...BROWSER, 'user-agent': 'Mozilla/5.0 bot' };
  await forceAttack(shield.adminUrl);
  // The bot floods with the no-JS cookie: its source (address and agent) turns heavy.
  const first = await request(`${shield.url}/page`, { headers: BOT, dispatcher: bot });
  assert.equal(first.statusCode, 307);
  const nojs = cookieOf(first.headers['set-cookie'], 'rempart_nojs') ?? '';
  await first.body.dump();
  for (let i = 0; i < 12; i++) {
    const r = await request(`${shield.url}/x${i}`, { headers: { ...BOT, cookie: nojs }, dispatcher: bot });
    assert.equal(r.statusCode, 200);
    await r.body.dump();
  }
  // Then solves a proof-of-work as an API client would, from the same source.
  const asked = await request(`${shield.url}/api/a`, { headers: { accept: 'application/json', 'user-agent': BOT['user-agent'] }, dispatcher: bot });
  assert.equal(asked.statusCode, 429);
  const challenge = String(asked.headers['rempart-challenge']);
  await asked.body.dump();
  const solved = await request(`${shield.url}/api/a`, { headers: { accept: 'application/json', 'user-agent': BOT['user-agent'], 'rempart-challenge-response': solveChallenge(challenge) }, dispatcher: bot });
  assert.equal(solved.statusCode, 200);
  const clearance = String(solved.headers['rempart-clearance']);
  await solved.body.dump();
  // The only upstream slot taken; a newcomer who followed the no-JS redirect queues, then the bot with its clearance.
  const holder = agent('127.0.0.53');
  const toHold = await request(`${shield.url}/hold`, { headers: BROWSER, dispatcher: holder });
  await toHold.body.dump();
  const held = request(`${shield.url}/hold`, { headers: { ...BROWSER, cookie: cookieOf(toHold.headers['set-cookie'], 'rempart_nojs') ?? '' }, dispatcher: holder });
  await h.held();
  const visitor = agent('127.0.0.52');
  const redirect = await request(`${shield.url}/news`, { headers: BROWSER, dispatcher: visitor });
  assert.equal(redirect.statusCode, 307);
  await redirect.body.dump();
  const newcomer = request(`${shield.url}/news`, { headers: { ...BROWSER, cookie: cookieOf(redirect.headers['set-cookie'], 'rempart_nojs') ?? '' }, dispatcher: visitor });
  await h.queued(1);
  await new Promise((r) => setTimeout(r, 50));
  const cleared = request(`${shield.url}/api/b`, { headers: { accept: 'application/json', 'user-agent': BOT['user-agent'], 'rempart-clearance': clearance }, dispatcher: bot });
  await h.queued(2);
  h.release();
  for (const p of [held, newcomer, cleared]) { const r = await p; assert.equal(r.statusCode, 200); await r.body.dump(); }
  assert.deepEqual(seen.slice(-3), ['GET /hold', 'GET /news', 'GET /api/b'], 'the newcomer went first');
});

test('under attack, an address that went over its rate sends its page loads to proof-of-work, even within its allowance; its fetches still pass with the no-JS cookie', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, { rateLimits: { perClient: { normal: { ratePerS: 1, burst: 1 } } } });
  const nat = new Agent({ localAddress: '127.0.0.29' });
  t.after(() => nat.close());
  await forceAttack(shield.adminUrl);
  const first = await request(`${shield.url}/page`, { headers: BROWSER, dispatcher: nat });
  assert.equal(first.statusCode, 307);
  await first.body.dump();
  const nojs = cookieOf(first.headers['set-cookie'], 'rempart_nojs') ?? '';
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await request(`${shield.url}/page`, { headers: { ...BROWSER, cookie: nojs }, dispatcher: nat });
    statuses.push(r.statusCode);
    await r.body.dump();
  }
  assert.deepEqual(statuses.slice(0, 2), [200, 200], 'the allowance (rate 1, burst 1)');
  assert.ok(statuses.slice(2).every((s) => s === 503), `then proof-of-work: ${statuses.join(',')}`);
  // The allowance is back; the address's identity is still the flood's for page loads.
  await new Promise((r) => setTimeout(r, 2_100));
  const page = await request(`${shield.url}/page`, { headers: { ...BROWSER, cookie: nojs }, dispatcher: nat });
  assert.equal(page.statusCode, 503);
  assert.ok(page.headers['rempart-challenge']);
  await page.body.dump();
  const fetched = await request(`${shield.url}/lookup`, { headers: { ...BROWSER, accept: 'application/json', 'sec-fetch-mode': 'cors', cookie: nojs }, dispatcher: nat });
  assert.equal(fetched.statusCode, 200);
  await fetched.body.dump();
});

test('customers whose dashboard asks for nine things at once teach the shield its pace line (learned from reputations in normal times, shown in /api/state)', async (t) => {
  const upstream = await startRecordingUpstream(t);
  // Short windows and few samples so that a test sees learning: the mechanism is the default's.
  const shield = await startTestShield(t, upstream.url, { detection: { pace: { windowS: 0.25, learn: { minSamples: 10 } } } });
  const state = async (): Promise<{ lightRequests: number; learnedLine: number | null; learnedBuckets: number }> => {
    const r = await request(`${shield.adminUrl}/api/state`, { headers: ADMIN });
    return ((await r.body.json()) as { detection: { pace: { lightRequests: number; learnedLine: number | null; learnedBuckets: number } } }).detection.pace;
  };
  // One request with no token: its hit sweeps the pace windows that are over, which reports them.
  const anonymous = async (path: string): Promise<void> => (await request(`${shield.url}${path}`, { headers: API })).body.dump();
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  assert.deepEqual(await state(), { lightRequests: 4, learnedLine: null, learnedBuckets: 0 });
  // Twelve customers load the dashboard (the reputation comes with the page), whose script then
  // asks for nine things at once, from the same browser.
  const DATA = { accept: 'application/json', 'sec-fetch-mode': 'cors', 'user-agent': BROWSER['user-agent'] };
  const customers = await Promise.all(Array.from({ length: 12 }, async (_, i) => {
    const page = await request(`${shield.url}/account/${i}`, { headers: BROWSER });
    await page.body.dump();
    const rep = cookieOf(page.headers['set-cookie'], 'rempart_rep');
    assert.ok(rep, 'a reputation with the page, in normal times');
    return rep;
  }));
  await Promise.all(customers.flatMap((rep, i) => Array.from({ length: 9 }, async (_, k) =>
    (await request(`${shield.url}/account/${i}/data/${k}`, { headers: { ...DATA, cookie: rep } })).body.dump())));
  await sleep(600);
  await anonymous('/api/sweep');
  let pace = await state();
  for (let i = 0; i < 30 && pace.learnedLine === null; i++) { await sleep(100); pace = await state(); } // the detector's next tick
  assert.ok(pace.learnedBuckets >= 12, JSON.stringify(pace));
  // Nine in a window is light now (a burst cut in two by a window's edge counts as two smaller ones).
  assert.deepEqual(pace, { lightRequests: 10, learnedLine: 10, learnedBuckets: pace.learnedBuckets });
  // Requests with no reputation (newcomers, API clients) teach it nothing.
  const before = pace.learnedBuckets;
  await Promise.all(Array.from({ length: 20 }, (_, k) => anonymous(`/api/${k}`)));
  await sleep(600);
  await anonymous('/api/sweep');
  await sleep(1_100);
  assert.ok((await state()).learnedBuckets <= before, 'no bucket added');
});

/** GET /api/state's `detection.reputations`. */
type RosterView = WakeState & { wokenReputations: boolean; remembered?: number; restored?: { reputations: number; downS: number; attackUnderWayForS?: number } | null };

/**
 * A customer seen before the attack, then `sleepers` bots whose reputations the shield issued a
 * week before but never saw, all presented after the attack began while the only upstream slot is
 * held; the customer's request last. Returns the order in which the upstream got them, and what
 * the operator saw of the wake-up: the events, GET /api/state's reputations and the metrics.
 */
async function wakeOrder(t: TestContext, sleepers: number, detection: Record<string, unknown> = {}, opts: { restart?: { database?: string; wokeBefore?: boolean } } = {}): Promise<{ order: string[]; events: WakeEvent[]; reputations: RosterView; metrics: string }> {
  const secret = 'woken-reputations-test-secret-0123456789abcdef';
  const config = opts.restart?.database !== undefined ? { storage: { database: opts.restart.database } } : {};
  let h = await startHoldingShield(t, undefined, { secret, ...detection }, config);
  const weekAgo = Date.now() - 7 * 86_400_000;
  const repOf = (address: string, userAgent: string): string => mintReputationCookie(secret, { address, userAgent }, weekAgo).join('=');
  const CUSTOMER = { ...BROWSER, 'user-agent': 'Mozilla/5.0 customer' };
  const customer = h.agent('127.0.0.61');
  const customerRep = repOf('127.0.0.61', CUSTOMER['user-agent']);
  const before = await request(`${h.shield.url}/before`, { headers: { ...CUSTOMER, cookie: customerRep }, dispatcher: customer });
  assert.equal(before.statusCode, 200);
  await before.body.dump();
  // Each sleeper keeps its reputation (one id), before and after a restart.
  const cookies = new Map<number, string>();
  const sleeper = (i: number): { path: string; headers: Record<string, string>; address: string } => {
    const address = `127.0.${2 + (i >> 7)}.${1 + (i & 127)}`;
    const ua = `Mozilla/5.0 sleeper ${i}`;
    const cookie = cookies.get(i) ?? repOf(address, ua);
    cookies.set(i, cookie);
    return { path: `/sleeper${i}`, headers: { ...BROWSER, 'user-agent': ua, cookie }, address };
  };
  if (opts.restart !== undefined) {
    if (opts.restart.wokeBefore === true) {
      // The sleepers wake with an attack before the restart (the upstream free: all served).
      await new Promise((r) => setTimeout(r, WAKE_LEAD_MS + 100));
      await forceAttack(h.shield.adminUrl);
      const woke = [];
      for (let i = 0; i < sleepers; i++) {
        const s = sleeper(i);
        woke.push(request(`${h.shield.url}${s.path}`, { headers: s.headers, dispatcher: h.agent(s.address) }).then(async (r) => { await r.body.dump(); return r.statusCode; }));
      }
      assert.ok((await Promise.all(woke)).every((c) => c === 200));
    }
    // A restart (an operator's reflex during an attack): the shield that saw them stops.
    await h.shield.close();
    h = await startHoldingShield(t, undefined, { secret, ...detection }, config);
    // What it restored was presented more than the onset's lead before the next first suspicion.
    await new Promise((r) => setTimeout(r, WAKE_LEAD_MS + 100));
  }
  const { shield, seen, agent } = h;
  const events: WakeEvent[] = [];
  shield.bus.on('reputation:wake', (e) => events.push(e));
  // Seen more than the onset's lead (roster.ts WAKE_LEAD_MS) before the attack's first suspicion.
  await new Promise((r) => setTimeout(r, WAKE_LEAD_MS + 100));
  await forceAttack(shield.adminUrl);
  // The only upstream slot taken (a dry run lets the first request through; under the forced
  // attack it is asked for the no-JavaScript check first).
  const holder = agent('127.0.0.53');
  let held = request(`${shield.url}/hold`, { headers: BROWSER, dispatcher: holder });
  for (let i = 0; i < 20 && !seen.includes('GET /hold'); i++) await new Promise((r) => setTimeout(r, 10));
  if (!seen.includes('GET /hold')) {
    const toHold = await held;
    await toHold.body.dump();
    held = request(`${shield.url}/hold`, { headers: { ...BROWSER, cookie: cookieOf(toHold.headers['set-cookie'], 'rempart_nojs') ?? '' }, dispatcher: holder });
  }
  await h.held();
  const waiting: Array<Promise<{ statusCode: number; body: { dump(): Promise<unknown> } }>> = [];
  for (let i = 0; i < sleepers; i++) {
    const s = sleeper(i);
    waiting.push(request(`${shield.url}${s.path}`, { headers: s.headers, dispatcher: agent(s.address) }));
    await new Promise((r) => setTimeout(r, i === 0 ? 30 : 2));
  }
  await h.queued(sleepers);
  await new Promise((r) => setTimeout(r, 50));
  waiting.push(request(`${shield.url}/customer`, { headers: { ...CUSTOMER, cookie: customerRep }, dispatcher: customer }));
  await h.queued(sleepers + 1);
  h.release();
  for (const p of [held, ...waiting]) { const r = await p; assert.equal(r.statusCode, 200); await r.body.dump(); }
  const state = await request(`${shield.adminUrl}/api/state`, { headers: ADMIN });
  const metrics = await request(`${shield.adminUrl}/metrics`, { headers: ADMIN });
  return {
    order: seen.slice(seen.indexOf('GET /hold') + 1).map((s) => s.slice('GET /'.length)),
    events, reputations: ((await state.body.json()) as { detection: { reputations: RosterView } }).detection.reputations, metrics: await metrics.body.text(),
  };
}

test('reputations that wake by the dozen with an attack, never seen before it, wait behind the customer the attack found on the site — even those presented before the wake-up showed', async (t) => {
  const { order, events, reputations, metrics } = await wakeOrder(t, 60);
  // sleeper0 came first and passed as established (the wake-up had not shown yet): the customer
  // goes before it only because it was judged again at the head of the queue.
  assert.equal(order[0], 'customer', `the customer seen before the attack goes first (${order.slice(0, 3).join(', ')})`);
  assert.equal(order.length, 61);
  // What the operator sees: one event for the attack, with the first sightings that showed it.
  assert.equal(events.length, 1, 'one event per attack, not one per reputation');
  const e = events[0]?.wakeUp;
  assert.equal(e?.reason.kind, 'onset');
  assert.equal(e?.dryRun, false);
  assert.ok((e?.reason.firstSightings ?? 0) >= WAKE_MIN && (e?.reason.observedPerS ?? 0) > 4 * (e?.reason.baselinePerS ?? Infinity), JSON.stringify(e?.reason));
  assert.equal(reputations.wokenReputations, true);
  assert.equal(reputations.remembered, 61, 'the customer and the 60 sleepers');
  assert.equal(reputations.totalWakeUps, 1);
  // The sleepers from the wake-up on, each counted once, and the first one too once judged again.
  const last = reputations.last;
  assert.ok(last !== null && last.reputations >= 60 - WAKE_MIN && last.reputations <= 60, JSON.stringify(last));
  assert.equal(reputations.totalReputations, last.reputations);
  assert.match(metrics, new RegExp(`rempart_woken_reputations_total ${reputations.totalReputations}\\n`));
  assert.match(metrics, /rempart_reputation_wakeups_total\{dry_run="false"\} 1\n/);
  assert.match(metrics, new RegExp(`rempart_requests_woken_total ${last.requests}\\n`));
});

test('with detection.wokenReputations false, a few reputations returning during an attack, or a dry run, a reputation\'s issue time alone decides', async (t) => {
  const off = await wakeOrder(t, 60, { wokenReputations: false });
  assert.equal(off.order[0], 'sleeper0', 'established by issue time, and earlier: first');
  assert.equal(off.events.length, 0);
  assert.equal(off.reputations.wokenReputations, false);
  const few = await wakeOrder(t, 5);
  assert.equal(few.order[0], 'sleeper0', 'five returning customers are no wake-up');
  assert.equal(few.events.length, 0);
  assert.equal(few.reputations.last, null);
  const dry = await wakeOrder(t, 60, { dryRun: true });
  assert.equal(dry.order[0], 'sleeper0', 'a dry run records the wake-up and moves nothing');
  assert.equal(dry.events[0]?.wakeUp.dryRun, true, 'and says so');
  assert.match(dry.metrics, /rempart_reputation_wakeups_total\{dry_run="true"\} 1\n/);
  assert.match(dry.metrics, /rempart_requests_woken_total 0\n/, 'no request waited for it');
});

test('the customers the shield saw before a restart are no first sightings after it (storage.database): the customer still goes before the reputations that wake with the attack; without the file it is one of them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-roster-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const kept = await wakeOrder(t, 60, {}, { restart: { database: join(dir, 'shield.db') } });
  assert.equal(kept.order[0], 'customer', `restored: the customer first (${kept.order.slice(0, 3).join(', ')})`);
  assert.equal(kept.reputations.remembered, 61);
  assert.equal(kept.reputations.restored?.reputations, 1, 'the operator sees what was restored: the customer');
  assert.equal(kept.events.length, 1, 'the wake-up still shows');
  const lost = await wakeOrder(t, 60, {}, { restart: {} });
  assert.notEqual(lost.order[0], 'customer', 'first seen after the restart, in the wake-up: waits with it');
});

test('reputations that woke with an attack before a restart stay woken after it (storage.database): the restarted shield\'s attack continues the one under way', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-roster-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { order, reputations } = await wakeOrder(t, 60, {}, { restart: { database: join(dir, 'shield.db'), wokeBefore: true } });
  assert.equal(reputations.remembered, 61);
  assert.equal(reputations.restored?.reputations, 61);
  assert.ok((reputations.restored?.attackUnderWayForS ?? -1) >= 0, `the attack carried over (${JSON.stringify(reputations.restored)})`);
  // Restored as first presented seconds before this attack's first suspicion, the sleepers would be
  // established and go first in arrival order; judged from the attack under way at the restart, they wait.
  assert.equal(order[0], 'customer', `the customer first (${order.slice(0, 3).join(', ')})`);
});

test('a logged-in customer\'s payment keeps its place during a wake-up, even when its own reputation was first presented after the onset: its session, not its reputation, makes it established there', async (t) => {
  const secret = 'woken-reputations-test-secret-0123456789abcdef';
  const h = await startHoldingShield(t, (req, res) => {
    if (req.method !== 'POST' || req.url !== '/login') return false;
    res.writeHead(303, { location: '/account', 'set-cookie': 'sid=customer-session-1; Path=/; HttpOnly' }).end();
    return true;
  }, { secret, sessionCookies: ['sid'] });
  const { shield, seen, agent } = h;
  const woken: string[] = [];
  shield.bus.on('request:end', ({ ctx }) => { if (ctx.traits?.woken === true) woken.push(ctx.path); });
  const weekAgo = Date.now() - 7 * 86_400_000;
  const repOf = (address: string, userAgent: string): string => mintReputationCookie(secret, { address, userAgent }, weekAgo).join('=');
  await forceAttack(shield.adminUrl);
  const CUSTOMER = { ...BROWSER, 'user-agent': 'Mozilla/5.0 customer' };
  const customer = agent('127.0.0.62');
  const rep = repOf('127.0.0.62', CUSTOMER['user-agent']);
  const login = await request(`${shield.url}/login`, { method: 'POST', headers: { ...CUSTOMER, cookie: rep, 'content-type': 'application/x-www-form-urlencoded' }, body: 'password=right', dispatcher: customer });
  assert.equal(login.statusCode, 303);
  await login.body.dump();
  const sid = cookieOf(login.headers['set-cookie'], 'sid') ?? '';
  const holder = agent('127.0.0.53');
  const toHold = await request(`${shield.url}/hold`, { headers: BROWSER, dispatcher: holder });
  await toHold.body.dump();
  const held = request(`${shield.url}/hold`, { headers: { ...BROWSER, cookie: cookieOf(toHold.headers['set-cookie'], 'rempart_nojs') ?? '' }, dispatcher: holder });
  await h.held();
  const waiting = [];
  for (let i = 0; i < 60; i++) {
    const address = `127.0.${2 + (i >> 7)}.${1 + (i & 127)}`;
    const ua = `Mozilla/5.0 sleeper ${i}`;
    waiting.push(request(`${shield.url}/sleeper${i}`, { headers: { ...BROWSER, 'user-agent': ua, cookie: repOf(address, ua) }, dispatcher: agent(address) }));
    await new Promise((r) => setTimeout(r, 2));
  }
  // Later than the class offsets cover (a critical request goes before pages up to 500 ms older):
  // only its group puts it first.
  await h.queued(60);
  await new Promise((r) => setTimeout(r, 700));
  waiting.push(request(`${shield.url}/pay/1`, { headers: { ...CUSTOMER, cookie: `${rep}; ${sid}` }, dispatcher: customer }));
  await h.queued(61);
  h.release();
  for (const p of [held, ...waiting]) { const r = await p; assert.equal(r.statusCode, 200); await r.body.dump(); }
  const order = seen.slice(seen.indexOf('GET /hold') + 1);
  assert.equal(order[0], 'GET /pay/1', `the payment first (${order.slice(0, 3).join(', ')})`);
  // Neither counted nor logged as waiting for its reputation: the sleepers were.
  assert.ok(!woken.includes('/pay/1'), 'the payment did not wait for its reputation');
  assert.ok(woken.filter((p) => p.startsWith('/sleeper')).length >= 60 - WAKE_MIN, `${woken.length} woken`);
});
