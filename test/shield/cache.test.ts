import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { gunzipSync, gzipSync } from 'node:zlib';
import { request, Agent } from 'undici';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/core/logger.js';
import { createManualClock } from '../../src/core/clock.js';
import { startShield } from '../../src/shield/start.js';
import { startRecordingUpstream, type RecordingUpstream } from '../helpers/servers.js';

async function setup(t: { after(fn: () => unknown): void }, upstream: RecordingUpstream, extra: Record<string, unknown> = {}) {
  const clock = createManualClock(1_000_000);
  const config = parseConfig({
    listen: { port: 0 }, admin: { port: 0 },
    upstreams: { o: { url: upstream.url, connections: 1, maxQueue: 0, ...(extra.upstream as object ?? {}) } },
    routes: [
      { match: { path: '/track/' }, upstream: 'o', class: 'normal', cache: { ttlS: 30, staleS: 600, query: ['id'] } },
      { match: { path: '/rails/' }, upstream: 'o', class: 'normal', cache: { ttlS: 20, staleS: 600, override: true } },
      { match: { path: '/' }, upstream: 'o' },
    ],
    rateLimits: { enabled: false },
    log: { level: 'silent' },
  });
  const shield = await startShield({ config, logger: silentLogger(), clock });
  t.after(() => shield.close());
  const agent = new Agent({ connections: 4 });
  t.after(() => agent.close());
  const get = async (path: string, init: { method?: string; headers?: Record<string, string> } = {}) => {
    const r = await request(`${shield.url}${path}`, { dispatcher: agent, method: (init.method ?? 'GET') as 'GET', headers: init.headers ?? {} });
    return { status: r.statusCode, cache: r.headers['x-rempart-cache'], age: r.headers.age, body: await r.body.text() };
  };
  return { clock, shield, get };
}

test('cache-busting parameters hit the same entry; only listed parameters make a new one', async (t) => {
  const upstream = await startRecordingUpstream(t);
  let n = 0;
  upstream.handler = (req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify({ url: req.url, n: ++n })); };
  const { clock, get } = await setup(t, upstream);
  const a = await get('/track/6A1?id=1&_=123');
  assert.deepEqual([a.status, a.cache], [200, 'MISS']);
  clock.advance(5_000);
  const b = await get('/track/6A1?id=1&_=999&utm=x', { headers: { host: 'random-1234.example' } });
  assert.deepEqual([b.status, b.cache, b.age, b.body], [200, 'HIT', '5', a.body]);
  const head = await get('/track/6A1?id=1', { method: 'HEAD' });
  assert.deepEqual([head.status, head.cache, head.body], [200, 'HIT', '']);
  const c = await get('/track/6A1?id=2');
  assert.equal(c.cache, 'MISS');
  assert.equal(upstream.seen.length, 2);
  // After ttlS the entry is no longer fresh: the next request goes to the upstream again.
  clock.advance(26_000);
  assert.equal((await get('/track/6A1?id=1')).cache, 'MISS');
  assert.equal(upstream.seen.length, 3);
  // Routes without a cache setting are untouched.
  const plain = await get('/other');
  assert.equal(plain.cache, undefined);
});

test('personal or uncacheable answers are never stored', async (t) => {
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (req, res) => {
    if (req.url?.startsWith('/track/cookie')) res.setHeader('set-cookie', 'sid=1');
    if (req.url?.startsWith('/track/private')) res.setHeader('cache-control', 'private, max-age=60');
    // An answer chosen by who asks (a cache keyed by it is one entry per person), or by anything.
    if (req.url?.startsWith('/track/by-cookie')) res.setHeader('vary', 'Accept-Encoding, Cookie');
    if (req.url?.startsWith('/track/by-anything')) res.setHeader('vary', '*');
    res.end('x');
  };
  const { get } = await setup(t, upstream);
  for (const p of ['/track/cookie', '/track/private', '/track/by-cookie', '/track/by-anything']) { await get(p); await get(p); }
  await get('/track/auth', { headers: { authorization: 'Bearer u1' } });
  await get('/track/auth', { headers: { authorization: 'Bearer u2' } });
  assert.equal(upstream.seen.length, 10);
});

test('stale-if-error: an expired copy answers instead of 502 or of a 503 from a saturated upstream', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const held: ServerResponse[] = [];
  upstream.handler = (req, res) => {
    if (req.url === '/slow') { held.push(res); return; }
    res.end(`v1 ${req.url}`);
  };
  const { clock, get } = await setup(t, upstream);
  assert.equal((await get('/track/9')).body, 'v1 /track/9');
  clock.advance(60_000); // past ttlS, within staleS
  // Saturated: the only slot is taken and the queue is 0 → this request would be a 503.
  const slow = get('/slow');
  await new Promise((r) => setTimeout(r, 100));
  const whileBusy = await get('/track/9');
  assert.deepEqual([whileBusy.status, whileBusy.cache, whileBusy.body], [200, 'STALE', 'v1 /track/9']);
  assert.equal(whileBusy.age, '60');
  const noCopy = await get('/track/never-seen');
  assert.equal(noCopy.status, 503);
  held.shift()?.end('done');
  await slow;
  // Upstream gone: refused → would be 502; the stale copy answers.
  await new Promise<void>((r) => { upstream.server.closeAllConnections(); upstream.server.close(() => r()); });
  const down = await get('/track/9');
  assert.deepEqual([down.status, down.cache], [200, 'STALE']);
  clock.advance(600_000); // past staleS: nothing left to serve
  assert.equal((await get('/track/9')).status, 502);
});

test('stale-if-error also covers an upstream that answers 500-504 itself', async (t) => {
  const upstream = await startRecordingUpstream(t);
  let failing = false;
  upstream.handler = (_req, res) => {
    if (failing) { res.writeHead(503, { 'retry-after': '5' }); res.end('origin overloaded'); return; }
    res.end('tracking v1');
  };
  const { clock, get } = await setup(t, upstream);
  assert.equal((await get('/track/1')).body, 'tracking v1');
  clock.advance(40_000);
  failing = true;
  const r = await get('/track/1');
  assert.deepEqual([r.status, r.cache, r.body], [200, 'STALE', 'tracking v1']);
  // Without a stored copy the upstream's own 503 goes through unchanged.
  const miss = await get('/track/2');
  assert.deepEqual([miss.status, miss.body], [503, 'origin overloaded']);
  // The connection stays usable after a replaced answer.
  failing = false;
  assert.equal((await get('/track/3')).body, 'tracking v1');
});

test('an origin that compresses and says Vary: Accept-Encoding is cached per accepted codings; random values are no way past it', async (t) => {
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (req, res) => {
    const body = Buffer.from(`tracking ${req.url} `.repeat(40));
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    // As nginx with gzip_vary, or Express's compression: Vary on every answer, coded or not.
    res.writeHead(200, { 'content-type': 'text/html', vary: 'Accept-Encoding', ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
    res.end(gzip ? gzipSync(body) : body);
  };
  const { clock, shield } = await setup(t, upstream);
  const raw = async (path: string, ae?: string) => {
    const r = await request(`${shield.url}${path}`, { headers: ae === undefined ? {} : { 'accept-encoding': ae } });
    return { status: r.statusCode, cache: r.headers['x-rempart-cache'], coding: r.headers['content-encoding'], vary: r.headers.vary, body: Buffer.from(await r.body.arrayBuffer()) };
  };
  const chrome = await raw('/track/7', 'gzip, deflate, br, zstd');
  assert.deepEqual([chrome.status, chrome.cache, chrome.coding], [200, 'MISS', 'gzip']);
  const again = await raw('/track/7', 'zstd, br, gzip, deflate;q=0.8');
  assert.deepEqual([again.cache, again.coding, again.vary], ['HIT', 'gzip', 'Accept-Encoding']);
  assert.equal(gunzipSync(again.body).toString(), gunzipSync(chrome.body).toString());
  // A client that asked for no coding never gets the coded copy: its own variant, stored beside it.
  const curl = await raw('/track/7');
  assert.deepEqual([curl.cache, curl.coding, curl.body.toString().startsWith('tracking /track/7')], ['MISS', undefined, true]);
  assert.equal((await raw('/track/7')).cache, 'HIT');
  // A flood's random Accept-Encoding values fall on the variants of the codings they accept.
  for (let i = 0; i < 20; i++) assert.equal((await raw('/track/7', `gzip, deflate, br, zstd, x-${i};q=0.${i % 9}`)).cache, 'HIT');
  assert.equal(upstream.seen.length, 2, 'two variants, two trips to the origin');
  // stale-if-error answers with the requester's own variant.
  clock.advance(60_000);
  await new Promise<void>((r) => { upstream.server.closeAllConnections(); upstream.server.close(() => r()); });
  const downGz = await raw('/track/7', 'gzip, deflate, br, zstd');
  assert.deepEqual([downGz.status, downGz.cache, downGz.coding], [200, 'STALE', 'gzip']);
  const downPlain = await raw('/track/7');
  assert.deepEqual([downPlain.status, downPlain.cache, downPlain.coding], [200, 'STALE', undefined]);
});

test('cache.override: an origin that marks every answer private (a framework\'s default) is still cached and served stale on the route that says so', async (t) => {
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (req, res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'max-age=0, private, must-revalidate' });
    res.end(`page ${req.url}`);
  };
  const { clock, get } = await setup(t, upstream);
  assert.equal((await get('/track/1')).cache, 'MISS');
  assert.equal((await get('/track/1')).cache, 'MISS', 'respected where the route does not override it');
  assert.equal((await get('/rails/1')).cache, 'MISS');
  const hit = await get('/rails/1');
  assert.deepEqual([hit.cache, hit.body], ['HIT', 'page /rails/1']);
  assert.equal(upstream.seen.length, 3);
  clock.advance(25_000); // past the route's ttl
  await new Promise<void>((r) => { upstream.server.closeAllConnections(); upstream.server.close(() => r()); });
  const down = await get('/rails/1');
  assert.deepEqual([down.status, down.cache, down.body], [200, 'STALE', 'page /rails/1']);
  assert.equal((await get('/track/1')).status, 502, 'nothing stored to serve there');
});

test('returning visitors fill the cache too: a revalidation or a range is not forwarded with its conditions, then answered from the stored copy (304, 206, 412)', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const body = 'tracking 6A1: in transit (Paris hub)';
  upstream.handler = (req, res) => {
    // An origin that honours conditions itself: forwarded as they came, a revalidation got a 304, which is not storable.
    if (req.headers['if-none-match'] === '"v1"') { res.writeHead(304, { etag: '"v1"' }); res.end(); return; }
    res.writeHead(200, { 'content-type': 'text/plain', etag: '"v1"', 'last-modified': 'Mon, 07 Dec 2026 09:00:00 GMT', 'accept-ranges': 'bytes' });
    res.end(body);
  };
  const { shield } = await setup(t, upstream);
  const raw = async (headers: Record<string, string>) => {
    const r = await request(`${shield.url}/track/6A1`, { headers });
    return { status: r.statusCode, cache: r.headers['x-rempart-cache'], range: r.headers['content-range'], etag: r.headers.etag, body: await r.body.text() };
  };
  const first = await raw({ 'if-none-match': '"v1"' });
  assert.deepEqual([first.status, first.cache, first.body], [200, 'MISS', body], 'the whole answer, and it is stored');
  assert.equal(upstream.seen[0]?.headers['if-none-match'], undefined, 'not forwarded');
  const again = await raw({ 'if-none-match': 'W/"v1"' });
  assert.deepEqual([again.status, again.cache, again.etag, again.body], [304, 'HIT', '"v1"', '']);
  assert.equal((await raw({ 'if-modified-since': 'Mon, 07 Dec 2026 09:00:00 GMT' })).status, 304);
  const part = await raw({ range: 'bytes=0-11' });
  assert.deepEqual([part.status, part.range, part.body], [206, `bytes 0-11/${body.length}`, 'tracking 6A1']);
  assert.deepEqual([(await raw({ 'if-none-match': '"v0"' })).status, (await raw({ 'if-match': '"v0"' })).status], [200, 412]);
  assert.equal(upstream.seen.length, 1, 'one trip to the origin for all of them');
});

test('while a refresh of an expired copy waits for the upstream, others asking get the stale copy at once (proxy_cache_use_stale updating)', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const held: Array<() => void> = [];
  let version = 1;
  let hold = false;
  upstream.handler = (_req, res) => {
    const v = version;
    const answer = (): void => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end(`status v${v}`); };
    if (hold) held.push(answer); else answer();
  };
  const { clock, get } = await setup(t, upstream);
  const waiting = (): number => held.length;
  assert.equal((await get('/track/9')).body, 'status v1');
  clock.advance(40_000); // past the 30 s ttl, within the 600 s stale window
  version = 2;
  hold = true;
  const refresh = get('/track/9');
  for (let i = 0; i < 100 && waiting() === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(waiting(), 1, 'the refresh reached the upstream and waits there');
  const meanwhile = await get('/track/9');
  assert.deepEqual([meanwhile.status, meanwhile.cache, meanwhile.body], [200, 'STALE', 'status v1'], 'answered at once, not behind the refresh');
  assert.equal(waiting(), 1, 'and no second trip to the upstream');
  held.shift()?.();
  assert.deepEqual([(await refresh).cache, (await get('/track/9')).body], ['MISS', 'status v2']);
  // Past the stale window nothing stale is served: a request waits for the refresh as before.
  clock.advance(700_000);
  const late = get('/track/9');
  for (let i = 0; i < 100 && waiting() === 0; i++) await new Promise((r) => setTimeout(r, 10));
  const behind = get('/track/9');
  await new Promise((r) => setTimeout(r, 50));
  version = 3;
  held.shift()?.();
  assert.deepEqual([(await late).body, (await behind).body], ['status v2', 'status v2'], 'the one waiting behind the refresh gets its answer');
});
