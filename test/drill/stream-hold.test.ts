import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { runDrill } from '../../src/drill/run.js';
import { startOrigin } from '../../src/demo/origin/server.js';

/** GET `path` on `url` with `accept`; resolves on the head with the status, type and the first chunk, the connection left open. */
function open(url: string, path: string, accept: string): Promise<{ status: number; type: string | undefined; first: string; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { agent: false, headers: { accept } }, (res) => {
      res.setEncoding('utf8');
      res.once('data', (c: string) => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], first: c, close: () => res.destroy() }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the demo origin\'s live feed as Server-Sent Events: a lookup with a worker, then a stream that holds a connection and no worker', async (t) => {
  // Two workers: had each stream kept its worker, the third would have waited for good.
  const origin = await startOrigin({ serviceMs: 2, maxInFlight: 2, maxQueue: 10 });
  t.after(() => origin.close());
  const streams = await Promise.all(Array.from({ length: 6 }, (_, i) => open(origin.url, `/live/events/6A1234567890${i}`, 'text/event-stream')));
  t.after(() => { for (const s of streams) s.close(); });
  for (const s of streams) {
    assert.equal(s.status, 200);
    assert.match(s.type ?? '', /^text\/event-stream/);
    const event = JSON.parse(/^data: (.*)$/m.exec(s.first)?.[1] ?? '{}') as { status?: string };
    assert.ok(typeof event.status === 'string', `a status event first: ${s.first}`);
  }
  assert.equal(origin.stats().served.live, 6, 'each subscription looked up once');
  // Pages are served while the six streams are held.
  const page = await fetch(`${origin.url}/track`);
  assert.equal(page.status, 200);
});

test('stream-hold: event streams asked for as EventSource asks, from the sources, held and read as they come', async (t) => {
  const origin = await startOrigin({ serviceMs: 1, maxInFlight: 4, maxQueue: 100 });
  t.after(() => origin.close());
  const r = await runDrill({
    target: origin.url, scenario: 'stream-hold', durationS: 2.5, leadS: 0.5, trackingUsers: 0, bankingUsers: 0, seed: 5, graceMs: 300,
    params: { connections: 12, sources: 4, openRate: 200, floodRate: 0 },
  });
  const c = r.attack.components.find((x) => x.label === 'stream-hold')!;
  assert.equal(c.statuses['200'], 12, `every stream opened once and held: ${JSON.stringify(c.statuses)}`);
  assert.equal(c.sent, 12, 'held, not reopened: nothing closed them');
  assert.ok((c.peakHeld ?? 0) >= 12, `held at most ${c.peakHeld} at once`);
  const s = origin.stats();
  assert.equal(s.served.live, 12, 'the origin looked up each subscription');
  assert.equal(s.served.track + s.served.home + s.served.other + s.served.search, 0, 'nothing but the streams reached the origin');
});

test('stream-browse-hold: each source browses first and keeps the cookie the site set; its streams\' requests carry it', async (t) => {
  const { createServer } = await import('node:http');
  const streams: Array<{ addr: string; cookie: string | undefined; accept: string | undefined }> = [];
  const issued = new Map<string, string>(); // source address → the cookie value the site gave it
  let pages = 0;
  const http = createServer((req, res) => {
    const addr = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    if (req.url?.startsWith('/live/events/')) {
      streams.push({ addr, cookie: req.headers.cookie, accept: req.headers.accept });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
      return;
    }
    pages++;
    const v = issued.get(addr) ?? `v${issued.size + 1}`;
    issued.set(addr, v);
    res.writeHead(200, { 'content-type': 'text/html', 'set-cookie': `rp=${v}; Path=/; HttpOnly` });
    res.end('<p>page</p>');
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  t.after(() => { http.closeAllConnections(); http.close(); });
  const r = await runDrill({
    target: `http://127.0.0.1:${(http.address() as { port: number }).port}`, scenario: 'stream-browse-hold', durationS: 3, trackingUsers: 0, bankingUsers: 0, seed: 7, graceMs: 300,
    params: { connections: 8, sources: 4, openRate: 400, warmupS: 1, pages: 2, floodRate: 0 },
  });
  const c = r.attack.components.find((x) => x.label === 'stream-browse-hold')!;
  assert.equal(pages, 8, 'two pages per source before the attack');
  assert.deepEqual(c.warmup, { pages: 8, ok: 8, botsWithCookies: 4 });
  assert.equal(c.statuses['200'], 8);
  assert.equal(streams.length, 8);
  for (const s of streams) {
    assert.equal(s.accept, 'text/event-stream');
    assert.equal(s.cookie, `rp=${issued.get(s.addr)}`, `the stream from ${s.addr} carries its own source's cookie`);
  }
});

test('stream-hold with fetch=1 reads its streams as fetch() does: Accept */*, nothing announcing a stream', async (t) => {
  const { createServer } = await import('node:http');
  const accepts: Array<string | undefined> = [];
  const http = createServer((req, res) => {
    accepts.push(req.headers.accept);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: 1\n\n');
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  t.after(() => { http.closeAllConnections(); http.close(); });
  const r = await runDrill({
    target: `http://127.0.0.1:${(http.address() as { port: number }).port}`, scenario: 'stream-hold', durationS: 2, leadS: 0.5, trackingUsers: 0, bankingUsers: 0, seed: 3, graceMs: 300,
    params: { connections: 6, sources: 3, openRate: 200, floodRate: 0, fetch: 1 },
  });
  assert.equal(r.attack.components.find((x) => x.label === 'stream-hold')!.statuses['200'], 6);
  assert.deepEqual(accepts, accepts.map(() => '*/*'));
  assert.equal(accepts.length, 6);
});
