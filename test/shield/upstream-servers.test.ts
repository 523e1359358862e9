import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Pool, request } from 'undici';
import { startRecordingUpstream, startTestShield, type RecordingUpstream } from '../helpers/servers.js';
import type { ShieldHandle } from '../../src/shield/start.js';
import type { ServerTransition } from '../../src/shield/upstream/health/monitor.js';

const ADMIN = { authorization: 'Bearer test-admin-token-0123456789' };
const QUIET = { rateLimits: { enabled: false }, detection: { enabled: false } };
const name = (u: RecordingUpstream): string => `127.0.0.1:${u.port}`;

/** Each recording upstream answers with its own name so the client can tell who served it. */
async function origins(t: TestContext, n: number): Promise<RecordingUpstream[]> {
  const list: RecordingUpstream[] = [];
  for (let i = 0; i < n; i++) {
    const u = await startRecordingUpstream(t);
    u.handler = (_req, res) => { res.writeHead(200, { 'content-type': 'text/plain', 'x-served-by': name(u) }); res.end(name(u)); };
    list.push(u);
  }
  return list;
}

/** Makes an upstream cut every request before answering (a crashed worker behind a live socket). */
const resetting = (u: RecordingUpstream): void => { u.handler = (req) => req.socket.destroy(); };

function client(t: TestContext, shield: ShieldHandle, connections = 8): Pool {
  const pool = new Pool(shield.url, { connections, pipelining: 1 });
  t.after(() => pool.destroy());
  return pool;
}

async function get(pool: Pool, path: string, headers: Record<string, string> = {}, method: 'GET' | 'POST' = 'GET', body?: string): Promise<{ status: number; by: string; headers: Record<string, unknown> }> {
  const r = await pool.request({ method, path, headers: { host: 'shield.test', ...headers }, ...(body !== undefined ? { body } : {}) });
  await r.body.dump();
  return { status: r.statusCode, by: String(r.headers['x-served-by'] ?? ''), headers: r.headers };
}

/** Runs `n` requests, `concurrency` at a time (bounded), and returns their results in order. */
async function many<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) { const i = next++; out[i] = await fn(i); }
  }));
  return out;
}

const tally = (xs: string[]): Record<string, number> => xs.reduce<Record<string, number>>((m, x) => { m[x] = (m[x] ?? 0) + 1; return m; }, {});

function transitions(shield: ShieldHandle): ServerTransition[] {
  const seen: ServerTransition[] = [];
  shield.bus.on('upstream:server', (e) => seen.push(e));
  return seen;
}

async function until(cond: () => boolean, maxMs: number): Promise<boolean> {
  const deadline = Date.now() + maxMs;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return cond();
}

test('weighted round-robin distributes exactly by weight over 10,000 requests', async (t) => {
  const [a, b] = await origins(t, 2) as [RecordingUpstream, RecordingUpstream];
  const shield = await startTestShield(t, a.url, { ...QUIET, upstreams: { origin: { servers: [{ url: a.url, weight: 3 }, { url: b.url, weight: 1 }], balance: 'round-robin' } } });
  const pool = client(t, shield, 16);
  const results = await many(10_000, 16, (i) => get(pool, `/item/${i}`));
  assert.ok(results.every((r) => r.status === 200));
  assert.deepEqual(tally(results.map((r) => r.by)), { [name(a)]: 7_500, [name(b)]: 2_500 });
});

test('consistent hashing keeps each path (or client) on one server, spread by weight, over 10,000 requests', async (t) => {
  const [a, b, c] = await origins(t, 3) as [RecordingUpstream, RecordingUpstream, RecordingUpstream];
  const servers = [{ url: a.url, weight: 2 }, { url: b.url }, { url: c.url }];
  const byPath = await startTestShield(t, a.url, { ...QUIET, upstreams: { origin: { servers, balance: 'hash', hashKey: 'path' } } });
  const pool = client(t, byPath, 16);
  const results = await many(10_000, 16, (i) => get(pool, `/parcel/${i % 1_000}`).then((r) => ({ ...r, key: i % 1_000 })));
  const owner = new Map<number, string>();
  for (const r of results) {
    assert.equal(r.status, 200);
    assert.equal(owner.get(r.key) ?? r.by, r.by, `path ${r.key} moved`);
    owner.set(r.key, r.by);
  }
  const share = tally([...owner.values()]);
  assert.ok(Math.abs((share[name(a)] ?? 0) - 500) < 90 && (share[name(b)] ?? 0) > 160 && (share[name(c)] ?? 0) > 160, `paths per server ${JSON.stringify(share)}`);

  const byClient = await startTestShield(t, a.url, { ...QUIET, trustedProxies: ['127.0.0.1/32'], upstreams: { origin: { servers, balance: 'hash', hashKey: 'client' } } });
  const pool2 = client(t, byClient, 16);
  const seen = new Map<string, string>();
  await many(2_000, 16, async (i) => {
    const ip = `198.51.${(i % 200) >> 8}.${i % 200}`;
    const r = await get(pool2, `/any/${i}`, { 'x-forwarded-for': ip });
    assert.equal(seen.get(ip) ?? r.by, r.by, `client ${ip} moved`);
    seen.set(ip, r.by);
  });
  assert.equal(new Set(seen.values()).size, 3);
});

test('a GET that meets a refused connection is answered by the other server; the refusing one is ejected after the threshold', async (t) => {
  const [a, b] = await origins(t, 2) as [RecordingUpstream, RecordingUpstream];
  const shield = await startTestShield(t, a.url, { ...QUIET, upstreams: { origin: {
    servers: [{ url: a.url }, { url: b.url }], health: { passive: { consecutiveFailures: 3, baseEjectionMs: 60_000 } },
    // Up to 4 requests can meet the refusing server at once before it is ejected; the retry budget
    // (3 + 20% of the few requests seen in the first instant) is tested on its own below, not here.
    retries: { minRetries: 10 },
  } } });
  const events = transitions(shield);
  b.server.closeAllConnections();
  b.server.close();
  await once(b.server, 'close');
  const pool = client(t, shield, 4);
  const results = await many(200, 4, (i) => get(pool, `/x/${i}`));
  assert.deepEqual(tally(results.map((r) => `${r.status} ${r.by}`)), { [`200 ${name(a)}`]: 200 });
  assert.deepEqual(events.map((e) => `${e.server} ${e.from}→${e.to}`), [`${name(b)} up→ejected`]);
  const metrics = await (await request(`http://127.0.0.1:${shield.adminPort}/metrics`)).body.text();
  assert.match(metrics, new RegExp(`rempart_upstream_server_up\\{upstream="origin",server="${name(b).replace(/\./g, '\\.')}"\\} 0`));
  assert.match(metrics, /rempart_upstream_retries_total\{upstream="origin"\} [1-9]/);
});

test('a server cutting requests gets none after the passive threshold while ejected; probes bring it back after `rise` successes and slow start ramps it', async (t) => {
  const [a, b] = await origins(t, 2) as [RecordingUpstream, RecordingUpstream];
  const shield = await startTestShield(t, a.url, { ...QUIET, upstreams: { origin: {
    servers: [{ url: a.url }, { url: b.url }], balance: 'round-robin',
    health: {
      passive: { consecutiveFailures: 3, baseEjectionMs: 600_000 },
      active: { path: '/healthz', intervalMs: 100, timeoutMs: 500, rise: 3, fall: 2 },
      slowStartMs: 4_000,
    },
  } } });
  const events = transitions(shield);
  const bHandler = b.handler;
  resetting(b);
  const pool = client(t, shield, 2);
  const first = await many(60, 2, (i) => get(pool, `/x/${i}`));
  assert.ok(first.every((r) => r.status === 200 && r.by === name(a)), 'every GET answered by a (retried)');
  const reached = () => b.seen.filter((s) => s.url.startsWith('/x/')).length;
  // The third cut ejects b (after at most 2 requests in flight past it): then nothing more reaches it.
  assert.ok(reached() <= 3 + 2, `b saw ${reached()} client requests`);
  const atEjection = reached();
  await many(100, 2, (i) => get(pool, `/y/${i}`));
  assert.equal(reached(), atEjection, 'no client request reached the ejected server');

  // Probes see b fail (it cuts them too), then pass once it is healthy again: `rise` passes bring it back.
  assert.ok(await until(() => events.some((e) => e.to === 'probe-down'), 3_000), JSON.stringify(events));
  b.handler = bHandler;
  const probesBefore = b.seen.filter((s) => s.url === '/healthz').length;
  assert.ok(await until(() => events.some((e) => e.to === 'up'), 5_000), JSON.stringify(events));
  const passing = b.seen.filter((s) => s.url === '/healthz').length - probesBefore;
  assert.ok(passing >= 3, `came back after ${passing} passing probes (rise 3)`);
  assert.deepEqual(events.map((e) => e.to), ['ejected', 'probe-down', 'up']);

  // Slow start: right after coming back b takes a small share, growing to its full half.
  const share = async (n: number): Promise<number> => (await many(n, 1, (i) => get(pool, `/z/${i}`))).filter((r) => r.by === name(b)).length / n;
  const state = await (await request(`http://127.0.0.1:${shield.adminPort}/api/state`, { headers: ADMIN })).body.json() as { upstreams: { origin: { servers: Array<{ name: string; effectiveWeight: number }> } } };
  assert.ok((state.upstreams.origin.servers[1]?.effectiveWeight ?? 1) < 1, JSON.stringify(state.upstreams.origin.servers));
  const early = await share(20);
  await new Promise((r) => setTimeout(r, 4_000));
  const late = await share(40);
  // Round-robin at full weight alternates exactly; during the ramp b gets less (how much less depends on the machine's pace).
  assert.ok(early < late && late === 0.5, `share of b: ${early} right after its return, ${late} after slow start`);
});

test('a POST without an idempotency key is never retried; one with the key the route declares is', async (t) => {
  const [a, b] = await origins(t, 2) as [RecordingUpstream, RecordingUpstream];
  resetting(b);
  const shield = await startTestShield(t, a.url, { ...QUIET, upstreams: { origin: {
    servers: [{ url: a.url }, { url: b.url }], balance: 'round-robin', health: { passive: { enabled: false } },
  } }, routes: [{ match: { path: '/' }, upstream: 'origin', idempotencyKey: 'Idempotency-Key' }] });
  const pool = client(t, shield, 1);
  const plain = await many(20, 1, (i) => get(pool, `/pay/${i}`, {}, 'POST', `order-${i}`));
  // Round-robin alternates: every other POST meets b, and is answered 502 without another try.
  assert.deepEqual(tally(plain.map((r) => String(r.status))), { 200: 10, 502: 10 });
  for (let i = 0; i < 20; i++) {
    const onA = a.seen.filter((s) => s.url === `/pay/${i}`).length;
    const onB = b.seen.filter((s) => s.url === `/pay/${i}`).length;
    assert.equal(onA + onB, 1, `POST /pay/${i} sent ${onA + onB} times`);
  }
  const keyed = await many(20, 1, (i) => get(pool, `/keyed/${i}`, { 'idempotency-key': `k-${i}` }, 'POST', `order-${i}`));
  assert.ok(keyed.every((r) => r.status === 200 && r.by === name(a)), JSON.stringify(tally(keyed.map((r) => `${r.status}`))));
  const replayed = a.seen.filter((s) => s.url.startsWith('/keyed/'));
  assert.equal(replayed.length, 20);
  for (const s of replayed) assert.equal(s.bodyBytes, `order-${s.url.slice('/keyed/'.length)}`.length, 'the buffered body was replayed whole');
});

test('under an origin overload, retries add at most the budget share of requests', async (t) => {
  const [a, b] = await origins(t, 2) as [RecordingUpstream, RecordingUpstream];
  resetting(a);
  resetting(b);
  const shield = await startTestShield(t, a.url, { ...QUIET, upstreams: { origin: {
    servers: [{ url: a.url }, { url: b.url }], health: { passive: { enabled: false } },
    retries: { budgetPercent: 20, minRetries: 3 },
  } } });
  const pool = client(t, shield, 4);
  const n = 300;
  const results = await many(n, 4, (i) => get(pool, `/x/${i}`));
  assert.ok(results.every((r) => r.status === 502));
  const sent = a.seen.length + b.seen.length;
  const extra = sent - n;
  assert.ok(extra <= 0.2 * n + 3, `${extra} retries for ${n} requests`);
  assert.ok(extra >= 0.15 * n, `${extra} retries: the budget is used`);
});

test('every server down: 503 with Retry-After at once, or the stale copy where one is cached', async (t) => {
  const [a, b] = await origins(t, 2) as [RecordingUpstream, RecordingUpstream];
  const shield = await startTestShield(t, a.url, { ...QUIET, upstreams: { origin: {
    servers: [{ url: a.url }, { url: b.url }], connectTimeoutMs: 1_000,
    health: { active: { path: '/healthz', intervalMs: 100, timeoutMs: 300, rise: 2, fall: 2 } },
  } }, routes: [
    { match: { path: '/cached/' }, upstream: 'origin', cache: { ttlS: 1, staleS: 600 } },
    { match: { path: '/' }, upstream: 'origin' },
  ] });
  const events = transitions(shield);
  const pool = client(t, shield, 2);
  assert.equal((await get(pool, '/cached/page')).status, 200);
  for (const u of [a, b]) { u.server.closeAllConnections(); u.server.close(); }
  assert.ok(await until(() => events.filter((e) => e.to === 'probe-down').length === 2, 5_000), JSON.stringify(events));
  await new Promise((r) => setTimeout(r, 1_100)); // the cached copy is now stale
  const t0 = performance.now();
  const down = await get(pool, '/live');
  const elapsed = performance.now() - t0;
  assert.equal(down.status, 503);
  assert.equal(down.headers['retry-after'], '1');
  assert.equal(down.headers['x-rempart-error'], 'RMP_ERR_UPSTREAM_DOWN');
  assert.ok(elapsed < 1_000, `answered in ${elapsed.toFixed(0)} ms (connect timeout 1000 ms)`);
  const stale = await get(pool, '/cached/page');
  assert.equal(stale.status, 200);
  assert.equal(stale.headers['x-rempart-cache'], 'STALE');
});

test('operators drain and disable a server through the admin API; state and metrics show it', async (t) => {
  const [a, b] = await origins(t, 2) as [RecordingUpstream, RecordingUpstream];
  const shield = await startTestShield(t, a.url, { ...QUIET, upstreams: { origin: { servers: [{ url: a.url }, { url: b.url, name: 'b' }], balance: 'round-robin', health: { slowStartMs: 0 } } } });
  const events = transitions(shield);
  const admin = `http://127.0.0.1:${shield.adminPort}`;
  const set = async (server: string, state: string): Promise<number> => {
    const r = await request(`${admin}/api/upstreams/origin/servers/${encodeURIComponent(server)}`, { method: 'POST', headers: { ...ADMIN, 'content-type': 'application/json' }, body: JSON.stringify({ state }) });
    await r.body.dump();
    return r.statusCode;
  };
  assert.equal(await set('b', 'draining'), 200);
  assert.equal(await set('nope', 'draining'), 404);
  assert.equal(await set('b', 'sleeping'), 400);
  const pool = client(t, shield, 2);
  const drained = await many(50, 2, (i) => get(pool, `/d/${i}`));
  assert.ok(drained.every((r) => r.by === name(a)));
  assert.equal(b.seen.length, 0);
  const state = await (await request(`${admin}/api/state`, { headers: ADMIN })).body.json() as { upstreams: { origin: { servers: Array<{ name: string; state: string; up: boolean }> } } };
  assert.deepEqual(state.upstreams.origin.servers.map((s) => [s.name, s.state, s.up]), [[name(a), 'up', true], ['b', 'draining', false]]);
  assert.equal(await set(name(a), 'disabled'), 200);
  const none = await get(pool, '/none');
  assert.equal(none.status, 503);
  assert.equal(await set('b', 'enabled'), 200);
  assert.equal(await set(name(a), 'enabled'), 200);
  const back = await many(20, 1, (i) => get(pool, `/e/${i}`));
  assert.deepEqual(tally(back.map((r) => r.by)), { [name(a)]: 10, [name(b)]: 10 });
  assert.deepEqual(events.map((e) => `${e.server}:${e.to}`), ['b:draining', `${name(a)}:disabled`, 'b:up', `${name(a)}:up`]);
  const metrics = await (await request(`${admin}/metrics`)).body.text();
  assert.match(metrics, /rempart_upstream_server_transitions_total\{upstream="origin",server="b",to="draining"\} 1/);
});

test('a parsed configuration parses again to itself (one server and several), and both forms in one upstream are refused', async () => {
  const { parseConfig } = await import('../../src/config/load.js');
  const raw = {
    upstreams: { one: { url: 'http://127.0.0.1:9001' }, two: { servers: [{ url: 'http://127.0.0.1:9002' }, { url: 'http://127.0.0.1:9003', weight: 3 }] } },
    routes: [{ match: { path: '/a' }, upstream: 'one' }, { match: { path: '/' }, upstream: 'two' }],
  };
  const once1 = parseConfig(raw);
  assert.deepEqual(parseConfig(JSON.parse(JSON.stringify(once1))), once1);
  assert.equal(once1.upstreams.one?.servers.length, 1);
  assert.equal(once1.upstreams.two?.url, undefined);
  assert.throws(() => parseConfig({ ...raw, upstreams: { one: { url: 'http://127.0.0.1:9001', servers: [{ url: 'http://127.0.0.1:9002' }] } } }), /give either `url`/);
});
