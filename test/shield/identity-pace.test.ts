import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Pool, request } from 'undici';
import { startTestShield } from '../helpers/servers.js';

const BROWSER = { accept: 'text/html,application/xhtml+xml', 'sec-fetch-mode': 'navigate', 'user-agent': 'Mozilla/5.0 test' };

/** An origin that serves each request in `serviceMs`: with 2 upstream slots, 2000/serviceMs requests a second. */
async function startSlowOrigin(t: { after(fn: () => unknown): void }, serviceMs: number): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    setTimeout(() => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<p>page</p>'); }, serviceMs);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => { server.closeAllConnections(); server.close(); });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('token holders that flood wait behind customers holding the same kind of token (identity pace)', async (t) => {
  const origin = await startSlowOrigin(t, 25);
  const shield = await startTestShield(t, origin, {
    upstreams: { origin: { url: origin, connections: 2, maxQueue: 16, queueTimeoutMs: 1500, timeoutMs: 2000 } },
    // Only the pace ordering is under test: no per-address limit, no per-token cap.
    rateLimits: { enabled: false },
    detection: { perToken: { ratePerS: 10_000, burst: 10_000 } },
  });
  // Every client is its own address and earns a reputation cookie by loading a page in normal times,
  // as a customer does — and as a bot that browsed before the attack does.
  const clients = Array.from({ length: 6 }, (_, i) => new Pool(shield.url, { localAddress: `127.0.${40 + i}.${10 + i}`, connections: 16 }));
  t.after(() => Promise.all(clients.map((c) => c.close())));
  const cookies: string[] = [];
  for (const c of clients) {
    const r = await c.request({ path: '/', method: 'GET', headers: BROWSER });
    const set = ([] as string[]).concat(r.headers['set-cookie'] ?? []);
    const rep = set.find((v) => v.startsWith('rempart_rep='))?.split(';')[0];
    await r.body.dump();
    assert.ok(rep, 'a reputation cookie is issued in normal times');
    cookies.push(rep);
  }
  const customers = clients.slice(0, 3);
  const bots = clients.slice(3);
  const endAt = Date.now() + 4000;
  const botStatuses: number[] = [];
  // Each bot keeps 12 requests in flight with its one cookie: ~36 waiting for 2 slots.
  const flood = bots.flatMap((c, b) => Array.from({ length: 12 }, async () => {
    for (let i = 0; i < 10_000 && Date.now() < endAt; i++) {
      const r = await c.request({ path: `/page?b=${b}&i=${i}`, method: 'GET', headers: { ...BROWSER, cookie: cookies[3 + b] as string } });
      botStatuses.push(r.statusCode);
      await r.body.dump();
    }
  }));
  await new Promise((r) => setTimeout(r, 300)); // the flood is under way
  const customerStatuses: number[] = [];
  const customerMs: number[] = [];
  await Promise.all(customers.map(async (c, k) => {
    // A person: one page a second.
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const r = await c.request({ path: `/account?c=${k}&i=${i}`, method: 'GET', headers: { ...BROWSER, cookie: cookies[k] as string } });
      customerStatuses.push(r.statusCode);
      customerMs.push(performance.now() - t0);
      await r.body.dump();
      await new Promise((res) => setTimeout(res, 1000));
    }
  }));
  await Promise.all(flood);
  assert.deepEqual(customerStatuses, Array(9).fill(200), `customers: ${customerStatuses.join(',')}`);
  const botShed = botStatuses.filter((s) => s === 503).length;
  assert.ok(botShed > 0, `the flooding tokens absorb the shedding (bot statuses: ${botStatuses.length} sent, ${botShed} 503)`);
  // Served ahead of the queue: a customer waits for a free slot, not behind the flood's queue.
  const sorted = [...customerMs].sort((a, b) => a - b);
  assert.ok((sorted[Math.floor(sorted.length / 2)] as number) < 1000, `customer median ${sorted[Math.floor(sorted.length / 2)]} ms`);
  // Standing and pace are visible to operators.
  const metrics = await (await request(`${shield.adminUrl.replace(/\/$/, '')}/metrics`)).body.text();
  assert.match(metrics, /rempart_requests_by_standing_total\{standing="checked"\} \d+/);
  const heaviest = Number(/rempart_requests_by_pace_total\{level="4"\} (\d+)/.exec(metrics)?.[1] ?? 0);
  assert.ok(heaviest > 0, 'the flooding tokens show in the heaviest pace level');
});

test('pace counts the requests that reach the upstream: cache hits leave a customer light', async (t) => {
  const origin = await startSlowOrigin(t, 1);
  const shield = await startTestShield(t, origin, {
    routes: [
      { match: { path: '/static/' }, upstream: 'origin', class: 'low', cache: { ttlS: 60 } },
      { match: { path: '/' }, upstream: 'origin', class: 'normal' },
    ],
    rateLimits: { enabled: false },
    detection: { perToken: { ratePerS: 10_000, burst: 10_000 } },
  });
  const metricsUrl = `${shield.adminUrl.replace(/\/$/, '')}/metrics`;
  const paced = async (): Promise<number> => {
    const text = await (await request(metricsUrl)).body.text();
    let n = 0;
    for (const m of text.matchAll(/rempart_requests_by_pace_total\{level="([1-4])"\} (\d+)/g)) n += Number(m[2]);
    return n;
  };
  const get = async (pool: Pool, path: string, cookie?: string): Promise<{ status: number; cookie?: string }> => {
    const r = await pool.request({ path, method: 'GET', headers: { ...BROWSER, ...(cookie ? { cookie } : {}) } });
    const rep = ([] as string[]).concat(r.headers['set-cookie'] ?? []).find((v) => v.startsWith('rempart_rep='))?.split(';')[0];
    await r.body.dump();
    return { status: r.statusCode, ...(rep ? { cookie: rep } : {}) };
  };
  // A customer's browser: one page, then twenty files of the page, all from the cache but the first.
  const browser = new Pool(shield.url, { localAddress: '127.0.51.7' });
  t.after(() => browser.close());
  const cookie = (await get(browser, '/')).cookie;
  assert.ok(cookie, 'a reputation cookie is issued in normal times');
  for (let i = 0; i < 20; i++) assert.equal((await get(browser, '/static/app.css', cookie)).status, 200);
  assert.equal((await get(browser, '/account', cookie)).status, 200);
  assert.equal(await paced(), 0, 'cache hits did not count: every request was at pace level 0');
  // The same number of requests that each reach the upstream do count.
  for (let i = 0; i < 20; i++) assert.equal((await get(browser, `/page?i=${i}`, cookie)).status, 200);
  assert.ok(await paced() > 0, 'requests sent upstream raise the pace');
});
