import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { request, Agent } from 'undici';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/core/logger.js';
import { startShield } from '../../src/shield/start.js';
import { startRecordingUpstream } from '../helpers/servers.js';

test('a saturated upstream: bounded queue, critical first, 503 + Retry-After instead of an endless wait', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const held: ServerResponse[] = [];
  upstream.handler = (req, res) => {
    if (req.url === '/slow') { held.push(res); return; } // occupies the only slot until released
    res.end(`ok ${req.url}`);
  };
  const config = parseConfig({
    listen: { address: '127.0.0.1', port: 0 },
    admin: { port: 0 },
    upstreams: { origin: { url: upstream.url, connections: 1, maxQueue: 2, queueTimeoutMs: 400 } },
    routes: [{ match: { path: '/pay/' }, upstream: 'origin', class: 'critical' }, { match: { path: '/' }, upstream: 'origin', class: 'normal' }],
    rateLimits: { enabled: false },
    log: { level: 'silent' },
  });
  const shield = await startShield({ config, logger: silentLogger() });
  t.after(() => shield.close());
  const agent = new Agent({ connections: 20 });
  t.after(() => agent.close());
  const get = (path: string) => request(`${shield.url}${path}`, { dispatcher: agent }).then(async (r) => ({ status: r.statusCode, retry: r.headers['retry-after'], body: await r.body.text() }));

  const slow = get('/slow');
  await new Promise((r) => setTimeout(r, 100));
  const n1 = get('/n1');
  const n2 = get('/n2');
  await new Promise((r) => setTimeout(r, 50));
  // Queue full (2): a third normal request is shed at once; a critical one pushes out the newest normal.
  const n3 = await get('/n3');
  assert.equal(n3.status, 503);
  assert.equal(n3.retry, '1');
  assert.match(n3.body, /request id/);
  const pay = get('/pay/ok');
  assert.equal((await n2).status, 503, 'n2 was pushed out by the critical request');
  // Free the slot: the critical request goes before n1, which waited longer.
  held.shift()?.end('slow done');
  assert.equal((await slow).status, 200);
  assert.equal((await pay).body, 'ok /pay/ok');
  assert.equal((await n1).body, 'ok /n1');
  assert.deepEqual(upstream.seen.map((s) => s.url), ['/slow', '/pay/ok', '/n1']);

  // Nothing frees the slot now: a queued request gets 503 when its queue timeout runs out.
  const slow2 = get('/slow');
  await new Promise((r) => setTimeout(r, 50));
  const t0 = Date.now();
  const waited = await get('/n4');
  assert.equal(waited.status, 503);
  assert.ok(Date.now() - t0 < 3_000, 'answered by the queue timeout, not by the client giving up');
  held.shift()?.end('done');
  assert.equal((await slow2).status, 200);
  const metrics = await (await request(`${shield.adminUrl}/metrics`)).body.text();
  assert.match(metrics, /rempart_requests_total\{class="normal",outcome="RMP_ERR_UPSTREAM_BUSY"\} 2/);
  assert.match(metrics, /rempart_requests_total\{class="normal",outcome="RMP_ERR_QUEUE_TIMEOUT"\} 1/);
});

test('a client that leaves after its request was sent keeps the upstream slot until the upstream answers (no pile-up in the upstream queue)', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const held: ServerResponse[] = [];
  let inUpstream = 0;
  let peak = 0;
  upstream.handler = (req, res) => {
    inUpstream++;
    peak = Math.max(peak, inUpstream);
    res.once('close', () => { inUpstream--; });
    if (req.url === '/slow') { held.push(res); return; }
    res.end(`ok ${req.url}`);
  };
  const config = parseConfig({
    listen: { address: '127.0.0.1', port: 0 },
    admin: { port: 0 },
    upstreams: { origin: { url: upstream.url, connections: 1, maxQueue: 4, queueTimeoutMs: 3000 } },
    routes: [{ match: { path: '/' }, upstream: 'origin', class: 'normal' }],
    rateLimits: { enabled: false },
    log: { level: 'silent' },
  });
  const shield = await startShield({ config, logger: silentLogger() });
  t.after(() => shield.close());
  const gone = new AbortController();
  const left = request(`${shield.url}/slow`, { signal: gone.signal }).catch((e: Error) => e.name);
  await new Promise((r) => setTimeout(r, 100));
  gone.abort(); // the client gives up while the upstream works on /slow
  assert.equal(await left, 'AbortError');
  await new Promise((r) => setTimeout(r, 100));
  const next = request(`${shield.url}/next`).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }));
  await new Promise((r) => setTimeout(r, 150));
  assert.deepEqual(upstream.seen.map((s) => s.url), ['/slow'], 'the next request waits: the upstream still works on /slow');
  held.shift()?.end('slow done'); // the upstream answers the abandoned request: now the slot is free
  assert.deepEqual(await next, { status: 200, body: 'ok /next' });
  assert.equal(peak, 1, 'never more requests at the upstream than its connections');
});

/**
 * A shield with one upstream slot and its access log read back: `/slow` holds the slot until the
 * test ends it (`held`); every other path is answered at once. Requests carry `userAgent`.
 */
async function oneSlotShield(t: TestContext, userAgent: string, upstreamOptions: { queueTimeoutMs?: number } = {}) {
  const upstream = await startRecordingUpstream(t);
  const held: ServerResponse[] = [];
  upstream.handler = (req, res) => {
    if (req.url === '/slow') { held.push(res); return; }
    res.end(`ok ${req.url}`);
  };
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>); done(); } });
  const config = parseConfig({
    listen: { address: '127.0.0.1', port: 0 },
    admin: { port: 0 },
    upstreams: { origin: { url: upstream.url, connections: 1, ...upstreamOptions } },
    routes: [{ match: { path: '/' }, upstream: 'origin', class: 'normal' }],
    rateLimits: { enabled: false },
    detection: { adaptiveConcurrency: false },
    log: { level: 'info', access: true },
  });
  const shield = await startShield({ config, logger: pino({ level: 'info' }, sink) });
  t.after(() => shield.close());
  const agent = new Agent({ connections: 4 });
  t.after(() => agent.close());
  const get = (path: string) => request(`${shield.url}${path}`, { dispatcher: agent, headers: { 'user-agent': userAgent } }).then(async (r) => { await r.body.dump(); return r.statusCode; });
  return { shield, agent, held, lines, get };
}

test('the access log tells how long each request waited for an upstream slot, at which tier, and whose pace it counted in', async (t) => {
  const { shield, agent, held, lines, get } = await oneSlotShield(t, 'test-agent/1');

  const slow = get('/slow');
  for (let i = 0; i < 100 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  const waiting = get('/waits');
  await new Promise((r) => setTimeout(r, 200));
  held.shift()?.end('done');
  assert.equal(await slow, 200);
  assert.equal(await waiting, 200);
  for (let i = 0; i < 100 && lines.filter((l) => l.msg === 'access').length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  const access = (path: string) => lines.find((l) => l.msg === 'access' && l.path === path);
  const first = access('/slow');
  const second = access('/waits');
  assert.ok(first && second, 'one access line per request');
  assert.ok(typeof first.queueMs === 'number' && first.queueMs < 150, `the first request took the free slot at once (${String(first.queueMs)} ms)`);
  assert.ok(typeof second.queueMs === 'number' && second.queueMs >= 150, `the second waited for the slot (${String(second.queueMs)} ms)`);
  assert.equal(typeof second.tier, 'number');
  assert.match(String(second.identity), /^[0-9a-f]{16}$/, 'the identity is a digest, never the token or address itself');
  assert.equal(first.identity, second.identity, 'one client, no token: both counted in its source\'s pace');
  // The TCP peer's port ($remote_port): the second request came on a connection of its own.
  assert.ok(Number.isInteger(first.port) && Number(first.port) > 0 && Number.isInteger(second.port), `ports ${String(first.port)}, ${String(second.port)}`);
  assert.notEqual(first.port, second.port);

  // A client that gives up while its request waits: 499, with the wait and the tier it waited at.
  const busy = get('/slow');
  for (let i = 0; i < 100 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  const gone = new AbortController();
  const leaving = request(`${shield.url}/leaves`, { dispatcher: agent, signal: gone.signal, headers: { 'user-agent': 'test-agent/1' } }).catch(() => 'aborted');
  await new Promise((r) => setTimeout(r, 200));
  gone.abort();
  assert.equal(await leaving, 'aborted');
  for (let i = 0; i < 100 && !access('/leaves'); i++) await new Promise((r) => setTimeout(r, 10));
  const left = access('/leaves');
  assert.ok(left, 'the abandoned request is logged');
  assert.equal(left.status, 499);
  assert.ok(typeof left.queueMs === 'number' && left.queueMs >= 150, `with its wait (${String(left.queueMs)} ms)`);
  assert.equal(typeof left.tier, 'number', 'and the tier it waited at');
  held.shift()?.end('done');
  assert.equal(await busy, 200);
});

test('the access log tells how long the shield itself held an answer back (stallMs): a loop held busy is not the upstream\'s time', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const held: ServerResponse[] = [];
  upstream.handler = (req, res) => { if (req.url === '/slow') { held.push(res); return; } res.end('ok'); };
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>); done(); } });
  const config = parseConfig({
    listen: { address: '127.0.0.1', port: 0 }, admin: { port: 0 },
    upstreams: { origin: { url: upstream.url, connections: 4 } },
    routes: [{ match: { path: '/' }, upstream: 'origin', class: 'normal' }],
    rateLimits: { enabled: false }, log: { level: 'info', access: true },
  });
  const shield = await startShield({ config, logger: pino({ level: 'info' }, sink) });
  t.after(() => shield.close());
  const agent = new Agent({ connections: 2 });
  t.after(() => agent.close());
  const slow = request(`${shield.url}/slow`, { dispatcher: agent }).then(async (r) => { await r.body.dump(); return r.statusCode; });
  for (let i = 0; i < 100 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  // The upstream (in this process) answers, and the loop is held busy before the shield can read it.
  held.shift()?.end('done');
  const until = performance.now() + 150;
  while (performance.now() < until) { /* the stall under test */ }
  assert.equal(await slow, 200);
  for (let i = 0; i < 100 && !lines.some((l) => l.msg === 'access' && l.path === '/slow'); i++) await new Promise((r) => setTimeout(r, 10));
  const line = lines.find((l) => l.msg === 'access' && l.path === '/slow');
  assert.ok(line, 'an access line');
  assert.ok(Number(line.stallMs) >= 100, `stallMs ${String(line.stallMs)} for an answer read after a 150 ms stall`);
  assert.ok(Number(line.upstreamMs) >= Number(line.stallMs), `within upstreamMs ${String(line.upstreamMs)}`);
});

test('a request refused at the queue timeout with its client still there weighs on its identity\'s pace: the next one it sends ranks with flooding paces (admission rule 7)', async (t) => {
  const { held, lines, get } = await oneSlotShield(t, 'loop-tool/1', { queueTimeoutMs: 300 });
  const access = (path: string) => lines.find((l) => l.msg === 'access' && l.path === path);
  const logged = async (path: string) => {
    for (let i = 0; i < 100 && !access(path); i++) await new Promise((r) => setTimeout(r, 10));
    return access(path);
  };

  const slow = get('/slow');
  for (let i = 0; i < 100 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(await get('/refused'), 503, 'nothing frees the slot: refused at the queue timeout');
  const refused = await logged('/refused');
  assert.equal(refused?.outcome, 'RMP_ERR_QUEUE_TIMEOUT');
  assert.ok(Number(refused?.pace) <= 1, `light when it came (pace ${String(refused?.pace)})`);
  // The tool asks again at once, as it does after every answer (the slot is still held: refused too).
  assert.equal(await get('/again'), 503);
  const next = await logged('/again');
  held.shift()?.end('done');
  assert.equal(await slow, 200);
  assert.ok(next, 'the next request is logged');
  assert.ok(Number(next.pace) >= 2, `its next request counts as a flood's (pace ${String(next.pace)}, tier ${String(next.tier)})`);
});
