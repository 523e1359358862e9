import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/core/logger.js';
import { startShield } from '../../src/shield/start.js';
import { named, type RequestFilter } from '../../src/shield/pipeline/phases.js';
import { rawExchange, startRecordingUpstream, startTestShield } from '../helpers/servers.js';

const responses = (raw: string): number[] => [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

test('a throwing filter answers 500 with the request id, and the next request on the same connection succeeds', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const boom: RequestFilter = named('boom', (ctx) => {
    if (ctx.req.headers['x-boom'] === 'sync') throw new Error('filter bug');
    if (ctx.req.headers['x-boom'] === 'async') return Promise.reject(new Error('async filter bug'));
    return undefined;
  });
  const config = parseConfig({
    listen: { address: '127.0.0.1', port: 0 }, admin: { address: '127.0.0.1', port: 0 },
    upstreams: { origin: { url: upstream.url } }, routes: [{ match: { path: '/' }, upstream: 'origin' }],
    log: { level: 'silent', access: false },
  });
  const s = await startShield({ config, logger: silentLogger(), extensions: { request: [boom] } });
  t.after(() => s.close());
  // Three pipelined requests on one connection: sync throw, async rejection, then a normal one.
  const raw = await rawExchange(s.port, [
    'GET /a HTTP/1.1\r\nHost: x\r\nX-Boom: sync\r\n\r\n',
    'GET /b HTTP/1.1\r\nHost: x\r\nX-Boom: async\r\n\r\n',
    'GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  ].join(''));
  assert.deepEqual(responses(raw), [500, 500, 200]);
  assert.equal((raw.match(/x-rempart-error: RMP_ERR_INTERNAL/gi) ?? []).length, 2);
  assert.match(raw, /request id: [0-9a-f]{8}-1\n/);
  assert.deepEqual(upstream.seen.map((r) => r.url), ['/c']);
});

test('a reload that reorders host-matched cached routes never serves one host the other host\'s entry', async (t) => {
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
    res.end(`page for ${req.headers.host}`);
  };
  const routes = [
    { match: { host: 'a.test', path: '/' }, upstream: 'origin', cache: { ttlS: 60 } },
    { match: { host: 'b.test', path: '/' }, upstream: 'origin', cache: { ttlS: 60 } },
  ];
  const shield = await startTestShield(t, upstream.url, { routes });
  const get = async (host: string): Promise<string> => {
    const r = await request(`${shield.url}/home`, { headers: { host } });
    return `${r.headers['x-rempart-cache']} ${await r.body.text()}`;
  };
  assert.equal(await get('a.test'), 'MISS page for a.test');
  assert.equal(await get('a.test'), 'HIT page for a.test');
  shield.reload(parseConfig({ ...shield.config(), routes: [routes[1], routes[0]] }));
  assert.equal(await get('b.test'), 'MISS page for b.test');
  assert.equal(await get('a.test'), 'HIT page for a.test', 'the cache survives the reload under the route identity');
});

test('concurrent misses for one cache key reach the upstream once (request coalescing)', async (t) => {
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=30' });
      res.end(`parcel ${req.url}`);
    }, 150);
  };
  const shield = await startTestShield(t, upstream.url, {
    routes: [{ match: { path: '/track/' }, upstream: 'origin', cache: { ttlS: 30, query: ['id'] } }, { match: { path: '/' }, upstream: 'origin' }],
  });
  const results = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
    const r = await request(`${shield.url}/track/x?id=42&bust=${i}`);
    return { status: r.statusCode, body: await r.body.text() };
  }));
  assert.equal(upstream.seen.length, 1, `upstream saw ${upstream.seen.length} requests`);
  for (const r of results) {
    assert.equal(r.status, 200);
    assert.match(r.body, /^parcel \/track\/x\?id=42&bust=\d+$/);
  }
});

test('coalesced requests go upstream themselves when the first answer may not be stored', async (t) => {
  const upstream = await startRecordingUpstream(t);
  let active = 0;
  let maxActive = 0;
  upstream.handler = (_req, res) => {
    active++;
    maxActive = Math.max(maxActive, active);
    setTimeout(() => { active--; res.writeHead(200, { 'cache-control': 'private' }); res.end('personal'); }, 100);
  };
  const shield = await startTestShield(t, upstream.url, {
    routes: [{ match: { path: '/' }, upstream: 'origin', cache: { ttlS: 30 } }],
  });
  const statuses = await Promise.all(Array.from({ length: 5 }, async () => {
    const r = await request(`${shield.url}/me`);
    await r.body.dump();
    return r.statusCode;
  }));
  assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
  assert.ok(maxActive >= 2, `waiters must be released together, not one after another (max concurrent ${maxActive})`);
  assert.equal(upstream.seen.length, 5, 'a private answer is never shared between waiters');
});
