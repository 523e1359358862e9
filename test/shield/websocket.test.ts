import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { request, type Dispatcher } from 'undici';
import { openSocket, rawExchange, startTestShield, statusOf } from '../helpers/servers.js';
import { ANONYMOUS_TIER } from '../../src/shield/upstream/admission.js';

/** A ws echo server on 127.0.0.1:0; remembers the close codes it received. */
async function startEcho(t: TestContext): Promise<{ url: string; closes: number[]; server: WebSocketServer; headers: Array<Record<string, unknown>> }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  const closes: number[] = [];
  const headers: Array<Record<string, unknown>> = [];
  server.on('connection', (ws, req) => {
    headers.push(req.headers);
    ws.on('message', (data, binary) => ws.send(data, { binary }));
    ws.on('close', (code) => closes.push(code));
  });
  t.after(() => { for (const c of server.clients) c.terminate(); server.close(); });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, closes, server, headers };
}

const wsRoutes = (upstream = 'origin') => [
  { match: { path: '/live/' }, upstream, class: 'normal', websocket: true },
  { match: { path: '/' }, upstream, class: 'normal' },
];

/** Opens a client; resolves with it once open, or with the refusal's status. */
async function connectWs(url: string, opts: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<{ ws: WebSocket; status: number }> {
  const ws = new WebSocket(url, opts);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, status: 101 }));
    ws.once('unexpected-response', (_req, res) => { resolve({ ws, status: res.statusCode ?? 0 }); res.resume(); ws.terminate(); });
    ws.once('error', (e) => reject(e));
  });
}

const closed = (ws: WebSocket): Promise<{ code: number; reason: string }> =>
  new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));

/** Each tunnel still echoes; the metrics count `evictions` tunnels given up and, if given, `open` tunnels open. */
async function assertTunnelsKept(adminUrl: string, kept: WebSocket[], evictions: number, open?: number): Promise<void> {
  for (const ws of kept) {
    ws.send('still here');
    const [msg] = await once(ws, 'message') as [Buffer];
    assert.equal(msg.toString(), 'still here');
  }
  const metrics = await (await fetch(`${adminUrl}/metrics`)).text();
  assert.match(metrics, new RegExp(`^rempart_websocket_evictions_total ${evictions}$`, 'm'));
  if (open !== undefined) assert.match(metrics, new RegExp(`^rempart_websocket_connections ${open}$`, 'm'));
}

test('a WebSocket echo works through the shield (text, and a 1 MB binary message in many frames)', async (t) => {
  const echo = await startEcho(t);
  const shield = await startTestShield(t, echo.url, { routes: wsRoutes() });
  const { ws, status } = await connectWs(`${shield.url.replace('http', 'ws')}/live/parcel/42`);
  assert.equal(status, 101);
  t.after(() => ws.terminate());
  ws.send('hello');
  const [msg] = await once(ws, 'message') as [Buffer];
  assert.equal(msg.toString(), 'hello');
  const big = Buffer.alloc(1 << 20, 7);
  ws.send(big);
  const [back] = await once(ws, 'message') as [Buffer];
  assert.equal(back.length, big.length);
  assert.ok(back.equals(big));
  // The upstream saw the forwarding headers like any proxied request.
  assert.equal(echo.headers[0]?.['x-forwarded-for'], '127.0.0.1');
  ws.close(1000, 'bye');
  assert.equal((await closed(ws)).code, 1000);
});

test('upgrades are refused on routes without websocket, and for other Upgrade values', async (t) => {
  const echo = await startEcho(t);
  const shield = await startTestShield(t, echo.url, { routes: wsRoutes() });
  assert.equal((await connectWs(`${shield.url.replace('http', 'ws')}/other`)).status, 400);
  const raw = await rawExchange(shield.port, 'GET /live/x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n');
  assert.equal(statusOf(raw), 400);
  assert.match(raw, /x-rempart-error: RMP_ERR_UPGRADE/);
  assert.equal(echo.headers.length, 0, 'nothing reached the upstream');
});

test('a blocked client and a rate-limited client cannot upgrade (the handshake goes through the request filters)', async (t) => {
  const echo = await startEcho(t);
  const shield = await startTestShield(t, echo.url, {
    routes: wsRoutes(),
    trustedProxies: ['127.0.0.1/32'],
    blocklist: [{ cidr: '203.0.113.0/24' }],
    rateLimits: { perClient: { normal: { ratePerS: 1, burst: 2 } } },
  });
  const url = `${shield.url.replace('http', 'ws')}/live/parcel/1`;
  assert.equal((await connectWs(url, { headers: { 'x-forwarded-for': '203.0.113.9' } })).status, 403);
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    const r = await connectWs(url, { headers: { 'x-forwarded-for': '198.51.100.7' } });
    statuses.push(r.status);
    r.ws.terminate();
  }
  assert.ok(statuses.slice(0, 2).every((s) => s === 101), `statuses ${statuses}`);
  assert.ok(statuses.includes(429), `statuses ${statuses}`);
  assert.equal(echo.headers.length, statuses.filter((s) => s === 101).length, 'only accepted handshakes reached the upstream');
});

test('upgraded connections are capped per client and in total', async (t) => {
  const echo = await startEcho(t);
  const shield = await startTestShield(t, echo.url, { routes: wsRoutes(), websocket: { maxPerClient: 2, maxTotal: 3 }, trustedProxies: ['127.0.0.1/32'] });
  const url = `${shield.url.replace('http', 'ws')}/live/p`;
  const as = (ip: string) => connectWs(url, { headers: { 'x-forwarded-for': ip } });
  const a1 = await as('198.51.100.1');
  const a2 = await as('198.51.100.1');
  const a3 = await as('198.51.100.1');
  t.after(() => { for (const c of [a1, a2, a3]) c.ws.terminate(); });
  assert.deepEqual([a1.status, a2.status, a3.status], [101, 101, 503]);
  const b1 = await as('198.51.100.2');
  const b2 = await as('198.51.100.2');
  t.after(() => { b1.ws.terminate(); b2.ws.terminate(); });
  assert.deepEqual([b1.status, b2.status], [101, 503], 'the total cap (3) holds');
  // A closed tunnel frees its place.
  a1.ws.close();
  await closed(a1.ws);
  await new Promise((r) => setTimeout(r, 50));
  const b3 = await as('198.51.100.2');
  t.after(() => b3.ws.terminate());
  assert.equal(b3.status, 101);
});

test('at the total cap a client holding fewer tunnels takes the place of the heaviest holder\'s newest (1013), never of an equal share', async (t) => {
  const echo = await startEcho(t);
  const shield = await startTestShield(t, echo.url, { routes: wsRoutes(), websocket: { maxPerClient: 3, maxTotal: 3 }, trustedProxies: ['127.0.0.1/32'] });
  const url = `${shield.url.replace('http', 'ws')}/live/p`;
  const as = (ip: string) => connectWs(url, { headers: { 'x-forwarded-for': ip } });
  // One source holds every place (each source under its own cap: the drill's websocket-hold).
  const a = [await as('198.51.100.1'), await as('198.51.100.1'), await as('198.51.100.1')];
  t.after(() => a.forEach((c) => c.ws.terminate()));
  assert.deepEqual(a.map((c) => c.status), [101, 101, 101]);
  const a3closed = closed(a[2]!.ws);
  // A customer's live page gets in; the source's newest tunnel is told to try again later.
  const b1 = await as('198.51.100.2');
  t.after(() => b1.ws.terminate());
  assert.equal(b1.status, 101);
  assert.deepEqual(await a3closed, { code: 1013, reason: 'tunnels full: fair share' });
  // The customer's second tunnel would hold as many as the source keeps (2 against 2): refused.
  const b2 = await as('198.51.100.2');
  t.after(() => b2.ws.terminate());
  assert.equal(b2.status, 503);
  // Another newcomer takes the source's next newest; then shares are equal (1, 1, 1) and the source's retry is refused.
  const a2closed = closed(a[1]!.ws);
  const c1 = await as('198.51.100.3');
  t.after(() => c1.ws.terminate());
  assert.equal(c1.status, 101);
  assert.equal((await a2closed).code, 1013);
  const again = await as('198.51.100.1');
  t.after(() => again.ws.terminate());
  assert.equal(again.status, 503);
  // The tunnels kept work, the source's oldest included.
  await assertTunnelsKept(shield.adminUrl, [a[0]!, b1, c1].map((c) => c.ws), 2, 3);
});

test('at an address\'s own cap, an identity holding fewer tunnels takes the place of the address\'s heaviest holder\'s newest (1013), never of an equal one', async (t) => {
  const echo = await startEcho(t);
  const shield = await startTestShield(t, echo.url, { routes: wsRoutes(), websocket: { maxPerClient: 3, maxTotal: 100 } });
  const url = `${shield.url.replace('http', 'ws')}/live/p`;
  // One address, identities told apart by their agents (no token: the address and agent are the identity).
  const ADDR = '127.0.95.1';
  const as = (ua: string) => connectWs(url, { localAddress: ADDR, headers: { 'user-agent': ua } });
  const bot = [await as('bot/1'), await as('bot/1'), await as('bot/1')];
  t.after(() => bot.forEach((c) => c.ws.terminate()));
  assert.deepEqual(bot.map((c) => c.status), [101, 101, 101]);
  // Another client behind the same address: the address is at its cap, the bot holds three.
  const bot3closed = closed(bot[2]!.ws);
  const c1 = await as('Mozilla/5.0 customer-1');
  t.after(() => c1.ws.terminate());
  assert.equal(c1.status, 101);
  assert.deepEqual(await bot3closed, { code: 1013, reason: 'tunnels full: fair share within the address' });
  // The bot's retry would take the customer's only place while it keeps two: refused.
  const retry = await as('bot/1');
  t.after(() => retry.ws.terminate());
  assert.equal(retry.status, 503);
  // A second customer takes the bot's next newest (2 against 0); then every holder has one and the third is refused.
  const bot2closed = closed(bot[1]!.ws);
  const c2 = await as('Mozilla/5.0 customer-2');
  t.after(() => c2.ws.terminate());
  assert.equal(c2.status, 101);
  assert.equal((await bot2closed).code, 1013);
  const c3 = await as('Mozilla/5.0 customer-3');
  t.after(() => c3.ws.terminate());
  assert.equal(c3.status, 503);
  await assertTunnelsKept(shield.adminUrl, [bot[0]!, c1, c2].map((c) => c.ws), 2, 3);
});

test('behind a shared address (a carrier NAT) tunnels are held as by many clients: bots from fresh addresses take none of its customers\' places', async (t) => {
  // An origin with pages (a customer's reputation is issued on one) and the live route's echo.
  const origin = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<p>page</p>'); });
  const wss = new WebSocketServer({ server: origin });
  wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
  origin.listen(0, '127.0.0.1');
  await once(origin, 'listening');
  t.after(() => { for (const c of wss.clients) c.terminate(); origin.close(); });
  const shield = await startTestShield(t, `http://127.0.0.1:${(origin.address() as AddressInfo).port}`, { routes: wsRoutes(), websocket: { maxPerClient: 2, maxTotal: 4 } });
  const NAT = '127.0.94.1';
  const nav = (ua: string, cookie?: string): Record<string, string> => ({ accept: 'text/html', 'sec-fetch-mode': 'navigate', 'user-agent': ua, ...(cookie ? { cookie } : {}) });
  const page = async (ua: string, cookie?: string): Promise<string | undefined> => {
    const raw = await rawExchange(shield.port, `GET /page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${Object.entries(nav(ua, cookie)).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`, { localAddress: NAT });
    assert.equal(statusOf(raw), 200);
    return /\r\nset-cookie: (rempart_rep=[^;]+)/i.exec(raw)?.[1];
  };
  // Two customers behind the NAT, each with a reputation of its own, seen using it: the address is shared.
  const ua = ['Mozilla/5.0 customer-a', 'Mozilla/5.0 customer-b'];
  const cookies = [await page(ua[0]!), await page(ua[1]!)];
  assert.ok(cookies[0] && cookies[1]);
  for (let i = 0; i < 2; i++) await page(ua[i]!, cookies[i]);
  // Four live pages from the NAT: beyond the per-client cap of 2 (a shared address holds 16 times it), and the total cap is reached.
  const url = `${shield.url.replace('http', 'ws')}/live/p`;
  const nat: Array<{ ws: WebSocket; status: number }> = [];
  for (let i = 0; i < 4; i++) nat.push(await connectWs(url, { localAddress: NAT, headers: { 'user-agent': ua[i % 2]!, cookie: cookies[i % 2]! } }));
  t.after(() => nat.forEach((c) => c.ws.terminate()));
  assert.deepEqual(nat.map((c) => c.status), [101, 101, 101, 101]);
  let closedEarly = 0;
  for (const c of nat) c.ws.once('close', () => { closedEarly++; });
  // Bots from fresh addresses: counted as one client, the NAT (4 against 0) would give up a tunnel
  // to each; weighted as the many it carries (4/16 each), it is no heavier than a newcomer.
  for (const bot of ['127.0.94.9', '127.0.94.10']) {
    const b = await connectWs(url, { localAddress: bot });
    t.after(() => b.ws.terminate());
    assert.equal(b.status, 503);
  }
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(closedEarly, 0, 'no customer tunnel closed');
  await assertTunnelsKept(shield.adminUrl, nat.map((c) => c.ws), 0);
});

test('what a client sends into a tunnel is throttled (frames and bytes per tunnel): nothing lost, order kept, the excess paced', async (t) => {
  const echo = await startEcho(t);
  const arrivals: number[] = [];
  echo.server.on('connection', (ws) => ws.on('message', () => arrivals.push(performance.now())));
  const shield = await startTestShield(t, echo.url, { routes: wsRoutes(), websocket: { clientFrames: { ratePerS: 100, burst: 10 }, clientBytes: { ratePerS: 256 * 1024, burst: 64 * 1024 } } });
  const url = `${shield.url.replace('http', 'ws')}/live/p`;
  // 50 small messages at once: 10 within the burst, 40 at 100 a second (~400 ms).
  const a = await connectWs(url);
  t.after(() => a.ws.terminate());
  const echoed: string[] = [];
  a.ws.on('message', (m: Buffer) => echoed.push(m.toString()));
  const t0 = performance.now();
  for (let i = 0; i < 50; i++) a.ws.send(`m${i}`);
  for (let i = 0; i < 200 && echoed.length < 50; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(echoed, Array.from({ length: 50 }, (_, i) => `m${i}`));
  const spread = (arrivals.at(-1) ?? 0) - t0;
  assert.ok(spread >= 300, `the upstream got 50 frames over ${spread.toFixed(0)} ms`);
  // One 384 KiB message: 64 KiB of burst, then 256 KiB a second (~1.25 s) — whole when it arrives.
  arrivals.length = 0;
  const b = await connectWs(url);
  t.after(() => b.ws.terminate());
  const big = Buffer.alloc(384 * 1024, 3);
  const t1 = performance.now();
  b.ws.send(big);
  const [back] = await once(b.ws, 'message') as [Buffer];
  assert.ok(back.equals(big));
  assert.ok((arrivals[0] ?? 0) - t1 >= 900, `384 KiB arrived after ${((arrivals[0] ?? 0) - t1).toFixed(0)} ms`);
  const metrics = await (await fetch(`${shield.adminUrl}/metrics`)).text();
  const throttled = Number(/^rempart_websocket_throttled_total (\d+)$/m.exec(metrics)?.[1]);
  assert.ok(throttled >= 2, `throttled ${throttled}`);
});

test('tunnel throttles off (ratePerS 0): the same 50 messages and 384 KiB pass at once', async (t) => {
  const echo = await startEcho(t);
  const shield = await startTestShield(t, echo.url, { routes: wsRoutes(), websocket: { clientFrames: { ratePerS: 0 }, clientBytes: { ratePerS: 0 } } });
  const a = await connectWs(`${shield.url.replace('http', 'ws')}/live/p`);
  t.after(() => a.ws.terminate());
  const echoed: string[] = [];
  a.ws.on('message', (m: Buffer) => echoed.push(m.toString()));
  for (let i = 0; i < 50; i++) a.ws.send(`m${i}`);
  a.ws.send(Buffer.alloc(384 * 1024, 3));
  for (let i = 0; i < 250 && echoed.length < 51; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(echoed.length, 51);
  const metrics = await (await fetch(`${shield.adminUrl}/metrics`)).text();
  assert.match(metrics, /^rempart_websocket_throttled_total 0$/m);
});

test('a tunnel holds two descriptors: tunnels are capped at a quarter of the connection cap, and their upstream sockets count against it', async (t) => {
  const echo = await startEcho(t);
  // maxTotal is 10,000 by default; under a cap of 8 connections, 2 tunnels (4 descriptors).
  const shield = await startTestShield(t, echo.url, { routes: wsRoutes(), listen: { limits: { maxConnections: 8 } }, trustedProxies: ['127.0.0.1/32'] });
  const url = `${shield.url.replace('http', 'ws')}/live/p`;
  const as = (ip: string) => connectWs(url, { headers: { 'x-forwarded-for': ip } });
  const tunnels = [await as('198.51.100.1'), await as('198.51.100.2'), await as('198.51.100.3')];
  t.after(() => tunnels.forEach((c) => c.ws.terminate()));
  assert.deepEqual(tunnels.map((c) => c.status), [101, 101, 503]);
  // Two tunnels count four; four idle connections fill the cap of eight.
  const idle: import('node:net').Socket[] = [];
  for (let i = 0; i < 4; i++) { idle.push(await openSocket(shield.port)); await new Promise((r) => setTimeout(r, 5)); }
  t.after(() => idle.forEach((s) => s.destroy()));
  await new Promise((r) => setTimeout(r, 50));
  const closedIdle = idle.map((s) => new Promise<number>((resolve) => { s.resume(); s.once('close', () => resolve(idle.indexOf(s))); }));
  const customer = await rawExchange(shield.port, 'GET /page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { timeoutMs: 2_000 });
  assert.equal(statusOf(customer), 426, 'admitted and forwarded (the upstream speaks only WebSocket)');
  assert.equal(await Promise.race(closedIdle), 0, 'at the cap, counting the tunnels\' upstream sockets: the longest idle made room');
  assert.equal(idle.filter((s) => s.destroyed).length, 1);
});

test('an idle upgraded connection is closed at its timeout with a close frame; traffic keeps it open', async (t) => {
  const echo = await startEcho(t);
  const shield = await startTestShield(t, echo.url, { routes: wsRoutes(), websocket: { idleTimeoutMs: 400 } });
  const { ws } = await connectWs(`${shield.url.replace('http', 'ws')}/live/p`);
  t.after(() => ws.terminate());
  const t0 = Date.now();
  const ending = closed(ws);
  // Messages every 150 ms for 900 ms: never idle for 400 ms.
  let last = 0;
  for (let i = 0; i < 6; i++) {
    await new Promise((r) => setTimeout(r, 150));
    ws.send(`tick ${i}`);
    await once(ws, 'message');
    last = Date.now() - t0;
  }
  const { code, reason } = await ending;
  const total = Date.now() - t0;
  // Open for longer than the timeout while busy; closed no sooner than the timeout after the last byte.
  assert.ok(last >= 800 && total >= last + 380, `closed after ${total} ms (last message at ${last} ms)`);
  assert.equal(code, 1000);
  assert.equal(reason, 'idle timeout');
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(echo.closes, [1000], 'the upstream got the close frame too');
});

test('shutdown closes upgraded connections with a close frame (1001) on both sides', async (t) => {
  const echo = await startEcho(t);
  const shield = await startTestShield(t, echo.url, { routes: wsRoutes() });
  const { ws } = await connectWs(`${shield.url.replace('http', 'ws')}/live/p`);
  t.after(() => ws.terminate());
  ws.send('before');
  await once(ws, 'message');
  const ending = closed(ws);
  await shield.close({ graceMs: 3_000 });
  const { code, reason } = await ending;
  assert.equal(code, 1001);
  assert.equal(reason, 'shutting down');
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(echo.closes, [1001]);
});

test('a close frame never lands inside a frame: a large message in transit at shutdown arrives whole, then 1001', async (t) => {
  const echo = await startEcho(t);
  let shield: Awaited<ReturnType<typeof startTestShield>> | undefined;
  let closing: Promise<void> | undefined;
  // 32 MB: more than loopback's socket buffers hold (send + receive, ~10 MB), so once the echo server
  // has handed it all to the kernel the shield is relaying the frame — the shutdown lands inside it.
  const big = Buffer.alloc(32 << 20, 3);
  echo.server.on('connection', (ws) => ws.on('message', (m) => {
    if (m.toString() !== 'big') return;
    ws.send(big, () => { closing = shield?.close({ graceMs: 3_000 }); });
  }));
  shield = await startTestShield(t, echo.url, { routes: wsRoutes() });
  const { ws } = await connectWs(`${shield.url.replace('http', 'ws')}/live/p`);
  t.after(() => ws.terminate());
  const got: number[] = [];
  ws.on('message', (m: Buffer) => got.push(m.length));
  const ending = closed(ws);
  ws.send('big');
  const { code } = await ending;
  await closing;
  assert.equal(code, 1001);
  assert.ok(got.includes(big.length), `messages received: ${got}`);
});

test('a reload closes (1001) the tunnels whose server left the configuration and keeps the others; disabling a server closes its tunnels', async (t) => {
  const one = await startEcho(t);
  const two = await startEcho(t);
  const upstreams = (urls: string[]) => ({ origin: { servers: urls.map((url) => ({ url })), balance: 'round-robin' } });
  const { parseConfig } = await import('../../src/config/load.js');
  const shield = await startTestShield(t, one.url, { routes: wsRoutes(), upstreams: upstreams([one.url, two.url]) });
  const url = `${shield.url.replace('http', 'ws')}/live/p`;
  const a = await connectWs(url);
  const b = await connectWs(url);
  t.after(() => { a.ws.terminate(); b.ws.terminate(); });
  assert.equal(one.headers.length + two.headers.length, 2);
  // Which client went to which server: each echo answers on its own tunnel.
  const onTwo = two.headers.length === 1 && one.headers.length === 1;
  assert.ok(onTwo, 'round-robin put one tunnel on each server');
  const aEnds = closed(a.ws);
  const bEnds = closed(b.ws);
  const base = shield.config();
  shield.reload(parseConfig({ ...JSON.parse(JSON.stringify(base)), upstreams: { origin: { servers: [{ url: one.url }] } } }));
  const first = await Promise.race([aEnds.then((r) => ({ who: 'a', ...r })), bEnds.then((r) => ({ who: 'b', ...r }))]);
  assert.equal(first.code, 1001);
  assert.equal(first.reason, 'configuration reloaded');
  // The tunnel to the server that stayed still echoes.
  const survivor = first.who === 'a' ? b.ws : a.ws;
  survivor.send('still here');
  const [msg] = await once(survivor, 'message') as [Buffer];
  assert.equal(msg.toString(), 'still here');
  const survivorEnds = first.who === 'a' ? bEnds : aEnds;
  const admin = `http://127.0.0.1:${shield.adminPort}`;
  const { request } = await import('undici');
  const r = await request(`${admin}/api/upstreams/origin/servers/${encodeURIComponent(new URL(one.url).host)}`, {
    method: 'POST', headers: { authorization: 'Bearer test-admin-token-0123456789', 'content-type': 'application/json' }, body: JSON.stringify({ state: 'disabled' }),
  });
  assert.equal(r.statusCode, 200);
  await r.body.dump();
  assert.deepEqual(await survivorEnds, { code: 1001, reason: 'server disabled' });
});

test('configuration: a WebSocket route cannot cache (config check names the key)', async () => {
  const { parseConfig } = await import('../../src/config/load.js');
  assert.throws(() => parseConfig({
    upstreams: { origin: { url: 'http://127.0.0.1:9' } },
    routes: [{ match: { path: '/live/' }, upstream: 'origin', websocket: true, cache: { ttlS: 5 } }],
  }), /routes\[0\]\.cache|routes\.0\.cache/);
});

test('an upgrade pipelined behind a request waits for that answer: the 101 goes out after it, in order (RFC 9112 §9.3.2)', async (t) => {
  const wss = new WebSocketServer({ noServer: true });
  const upstream = createServer((_req, res) => setTimeout(() => { res.writeHead(200, { 'content-length': 9, 'cache-control': 'no-store' }); res.end('slow-done'); }, 150));
  upstream.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (d) => ws.send(d))));
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  t.after(() => { for (const c of wss.clients) c.terminate(); upstream.closeAllConnections(); upstream.close(); });
  const shield = await startTestShield(t, `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, { routes: wsRoutes() });
  const raw = await rawExchange(shield.port, 'GET /slow HTTP/1.1\r\nHost: shop.example\r\n\r\n'
    + 'GET /live/parcel/42 HTTP/1.1\r\nHost: shop.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
    + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n', { timeoutMs: 1_000 });
  const ok = raw.indexOf('HTTP/1.1 200');
  const switched = raw.indexOf('HTTP/1.1 101');
  assert.ok(ok >= 0 && switched >= 0, raw);
  assert.ok(ok < switched, `the 200 first: ${JSON.stringify(raw.slice(0, 200))}`);
  assert.ok(raw.slice(ok, switched).endsWith('slow-done'), 'the whole answer, then the 101');
});

test('while the upstream is contended, frames a client sends into a tunnel wait behind its requests — none lost, order kept; with admitMessages off they do not', async (t) => {
  // One upstream serving pages (300 ms each, one at a time) and a live socket that answers each message.
  const seen: Array<{ what: string; at: number }> = [];
  const http = createServer((req, res) => {
    setTimeout(() => {
      seen.push({ what: `done ${req.url}`, at: performance.now() });
      res.writeHead(200, { 'content-length': 2, 'cache-control': 'no-store' });
      res.end('ok');
    }, 300);
  });
  const wss = new WebSocketServer({ noServer: true });
  http.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (d) => {
    seen.push({ what: String(d), at: performance.now() });
    setTimeout(() => ws.send(`re ${String(d)}`), 20);
  })));
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  t.after(() => { for (const c of wss.clients) c.terminate(); http.close(); });
  const origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  for (const admitMessages of [true, false]) {
    seen.length = 0;
    const shield = await startTestShield(t, origin, { routes: wsRoutes(), upstreams: { origin: { url: origin, timeoutMs: 5_000, connections: 1 } }, websocket: { admitMessages },
      // Pages queued 600 ms would raise suspicion and challenge the third (429): not what this test is about.
      detection: { enabled: false } });
    const { ws } = await connectWs(`${shield.url.replace('http', 'ws')}/live/p`);
    const answers: string[] = [];
    ws.on('message', (m: Buffer) => answers.push(m.toString()));
    // Not contended: ten frames pass at once.
    for (let i = 0; i < 10; i++) ws.send(`a${i}`);
    for (let i = 0; i < 100 && answers.length < 10; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(answers.length, 10);
    // Three pages on a one-slot upstream (~900 ms): contended throughout; five frames meanwhile.
    const pages = [1, 2, 3].map((i) => fetch(`${shield.url}/page/${i}`).then((r) => r.status));
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 5; i++) ws.send(`b${i}`);
    // And a message in three fragments: it waits as one message, and arrives whole.
    ws.send('c1', { fin: false });
    ws.send('c2', { fin: false });
    ws.send('c3', { fin: true });
    assert.deepEqual(await Promise.all(pages), [200, 200, 200]);
    for (let i = 0; i < 100 && answers.length < 16; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(answers.slice(10), ['re b0', 're b1', 're b2', 're b3', 're b4', 're c1c2c3'], 'every message, in order');
    const firstFrame = seen.find((s) => s.what === 'b0')!.at;
    const pagesDone = seen.filter((s) => s.what.startsWith('done')).map((s) => s.at);
    if (admitMessages) assert.ok(firstFrame >= Math.max(...pagesDone) - 1, 'the frames reached the upstream after the pages waiting for it');
    else assert.ok(firstFrame < Math.min(...pagesDone), 'unmetered, the frames went at once');
    const waited = Number(/^rempart_websocket_messages_waited_total (\d+)$/m.exec(await (await fetch(`${shield.adminUrl}/metrics`)).text())?.[1]);
    if (admitMessages) assert.ok(waited >= 1, `${waited} frames waited`);
    else assert.equal(waited, 0);
    ws.terminate();
  }
});

test('a WebSocket handshake waits for an upstream slot like a request: behind the pages already queued, 503 + Retry-After when the queue is full, its place given up when the client leaves', async (t) => {
  // One slot, pages held until the test lets them go; the upgrade handler counts handshakes as they arrive.
  const seen: string[] = [];
  const held: Array<() => void> = [];
  const http = createServer((req, res) => {
    seen.push(`page ${req.url}`);
    held.push(() => { res.writeHead(200, { 'content-length': 2, 'cache-control': 'no-store' }); res.end('ok'); });
  });
  const wss = new WebSocketServer({ noServer: true });
  http.on('upgrade', (req, socket, head) => { seen.push(`upgrade ${req.url}`); wss.handleUpgrade(req, socket, head, () => {}); });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  t.after(() => { for (const c of wss.clients) c.terminate(); http.close(); });
  const origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  // Two tunnels per client: the abandoned handshake below must give its place back.
  const shield = await startTestShield(t, origin, { routes: wsRoutes(), upstreams: { origin: { url: origin, timeoutMs: 5_000, connections: 1, maxQueue: 2 } },
    websocket: { maxPerClient: 2 }, detection: { enabled: false } });
  const until = async (f: () => boolean): Promise<void> => { for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 10)); };
  const ended: Array<{ path: string; aborted: boolean; queueMs: number | undefined; tier: number | undefined }> = [];
  shield.bus.on('request:end', (e) => ended.push({ path: e.ctx.path, aborted: e.aborted, queueMs: e.ctx.queueMs, tier: e.ctx.admittedTier }));
  const first = fetch(`${shield.url}/page/1`).then((r) => r.status);
  await until(() => seen.length === 1);
  const second = fetch(`${shield.url}/page/2`).then((r) => r.status);
  await new Promise((r) => setTimeout(r, 50));
  // The handshake takes the queue's last place; a second one finds it full.
  const live = connectWs(`${shield.url.replace('http', 'ws')}/live/a`);
  await new Promise((r) => setTimeout(r, 50));
  const refused = await rawExchange(shield.port, 'GET /live/b HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  assert.equal(statusOf(refused), 503);
  assert.match(refused, /\r\nretry-after: 1\r\n/i);
  assert.deepEqual(seen, ['page /page/1'], 'nothing reached the upstream past its one slot');
  // Pages go in their turn, then the handshake.
  held.shift()!();
  await until(() => seen.length === 2);
  held.shift()!();
  const { ws, status } = await live;
  assert.equal(status, 101);
  assert.deepEqual(seen, ['page /page/1', 'page /page/2', 'upgrade /live/a']);
  assert.deepEqual(await Promise.all([first, second]), [200, 200]);
  // The 101 gave the slot back: a page is served while the tunnel stays open.
  const third = fetch(`${shield.url}/page/3`).then((r) => r.status);
  await until(() => seen.length === 4);
  held.shift()!();
  assert.equal(await third, 200);
  // A client that leaves while its handshake waits gives up its place: the upstream never sees it.
  const fourth = fetch(`${shield.url}/page/4`).then((r) => r.status);
  await until(() => seen.length === 5);
  const leaving = await openSocket(shield.port);
  leaving.write('GET /live/c HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  await new Promise((r) => setTimeout(r, 50));
  leaving.destroy();
  await new Promise((r) => setTimeout(r, 50));
  held.shift()!();
  assert.equal(await fourth, 200);
  const fifth = fetch(`${shield.url}/page/5`).then((r) => r.status);
  await until(() => seen.length === 6);
  held.shift()!();
  assert.equal(await fifth, 200);
  assert.deepEqual(seen.slice(3), ['page /page/3', 'page /page/4', 'page /page/5'], 'the abandoned handshake never went upstream');
  const abandoned = ended.find((e) => e.path === '/live/c');
  assert.ok(abandoned, 'the abandoned handshake is logged, as an abandoned request is');
  assert.equal(abandoned.aborted, true);
  assert.ok((abandoned.queueMs ?? 0) >= 40, `with its wait in the queue (${abandoned.queueMs} ms)`);
  assert.equal(abandoned.tier, ANONYMOUS_TIER, 'and the tier it waited at (detection off: every request anonymous)');
  // Its tunnel place came back: with one tunnel open, the client's second opens (maxPerClient 2).
  const again = await connectWs(`${shield.url.replace('http', 'ws')}/live/d`);
  assert.equal(again.status, 101);
  again.ws.terminate();
  ws.terminate();
});

test('a live page\'s WebSocket under a path challenged as a signature: with the no-JS cookie of a browser that was answered its page it opens (a browser\'s WebSocket can answer no challenge), told by Fetch Metadata or by its Origin; without the cookie, before any page, or from another site it gets the API challenge', async (t) => {
  const origin = createServer((_req, res) => { res.setHeader('content-type', 'text/html'); res.end('<!doctype html><p>page</p>'); });
  const live = new WebSocketServer({ server: origin });
  live.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  t.after(() => { for (const c of live.clients) c.terminate(); live.close(); origin.close(); });
  const shield = await startTestShield(t, `http://127.0.0.1:${(origin.address() as AddressInfo).port}`, { routes: wsRoutes() });
  const ADMIN = { authorization: 'Bearer test-admin-token-0123456789', 'content-type': 'application/json' };
  for (const value of ['/static/site.css', '/live/parcel/{id}']) {
    const c = await fetch(`${shield.adminUrl}/api/challenges`, { method: 'POST', headers: ADMIN, body: JSON.stringify({ dimension: 'path', value, reason: 'signature' }) });
    assert.equal(c.status, 201, value);
  }
  const UA = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0';
  const SOCKET = { 'user-agent': UA, 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'websocket', 'sec-fetch-dest': 'websocket' };
  // undici's request, not fetch(): fetch sets Sec-Fetch-Mode itself.
  const cookieNamed = (r: Dispatcher.ResponseData, name: string): string => [r.headers['set-cookie'] ?? []].flat().map((c) => c.split(';')[0] ?? '').find((c) => c.startsWith(`${name}=`)) ?? '';
  const socketUrl = `${shield.url.replace('http', 'ws')}/live/parcel/42`;
  // The browser's no-JS cookie, from the redirect its stylesheet got.
  const css = await request(`${shield.url}/static/site.css`, { headers: { 'user-agent': UA, accept: 'text/css', 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'no-cors' } });
  await css.body.dump();
  assert.equal(css.statusCode, 307);
  const nojs = cookieNamed(css, 'rempart_nojs');
  assert.ok(nojs);
  assert.equal((await connectWs(socketUrl, { headers: SOCKET })).status, 429, 'no cookie: the API challenge (a redirect would fail the handshake as surely)');
  assert.equal((await connectWs(socketUrl, { headers: { ...SOCKET, cookie: nojs } })).status, 429, 'no page answered to this browser: only claims to be a page\'s socket');
  const page = await request(`${shield.url}/track/42`, { headers: { 'user-agent': UA, accept: 'text/html', 'sec-fetch-site': 'none', 'sec-fetch-mode': 'navigate', cookie: nojs } });
  assert.equal(page.statusCode, 200);
  await page.body.dump();
  const pv = cookieNamed(page, 'rempart_pv');
  assert.ok(pv, 'the page gave a page-visit cookie');
  const { ws, status } = await connectWs(socketUrl, { headers: { ...SOCKET, cookie: `${nojs}; ${pv}` } });
  assert.equal(status, 101, 'the page\'s own socket opens');
  ws.send('hello');
  const [msg] = await once(ws, 'message') as [Buffer];
  assert.equal(msg.toString(), 'hello');
  ws.close(1000);
  assert.equal((await connectWs(socketUrl, { headers: { ...SOCKET, 'sec-fetch-site': 'cross-site', cookie: `${nojs}; ${pv}` } })).status, 429, 'another site\'s socket: the API challenge');
  // As Chromium sends it: no Fetch Metadata on a handshake, an Origin naming the site.
  const chromium = await connectWs(socketUrl, { headers: { 'user-agent': UA, cookie: `${nojs}; ${pv}` }, origin: shield.url });
  assert.equal(chromium.status, 101, 'its Origin is the site\'s');
  chromium.ws.close(1000);
  assert.equal((await connectWs(socketUrl, { headers: { 'user-agent': UA, cookie: `${nojs}; ${pv}` }, origin: 'https://elsewhere.example' })).status, 429, 'another site\'s Origin');
  assert.equal((await connectWs(socketUrl, { headers: { 'user-agent': UA, cookie: `${nojs}; ${pv}` } })).status, 429, 'no Origin: not a browser');
});
