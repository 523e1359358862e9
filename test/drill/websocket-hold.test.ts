import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { runDrill } from '../../src/drill/run.js';
import { ALL_IDENTITIES } from '../../src/drill/headers.js';
import { startOrigin } from '../../src/demo/origin/server.js';

/** A ws server that records each handshake and counts pings per connection; refuses past `accept` tunnels with 503. */
async function startWsServer(accept: number) {
  const handshakes: Array<{ addr: string; path: string; ua: string }> = [];
  const pings: number[] = [];
  let open = 0;
  let peakOpen = 0;
  const wss = new WebSocketServer({
    host: '127.0.0.1', port: 0,
    verifyClient: (_info, cb) => (open >= accept ? cb(false, 503) : cb(true)),
  });
  wss.on('connection', (ws, req) => {
    handshakes.push({ addr: (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''), path: req.url ?? '', ua: String(req.headers['user-agent']) });
    open++;
    peakOpen = Math.max(peakOpen, open);
    const i = pings.push(0) - 1;
    ws.on('ping', () => { pings[i]!++; });
    ws.on('close', () => { open--; });
  });
  await once(wss, 'listening');
  return {
    url: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    handshakes, pings, get peakOpen() { return peakOpen; },
    close: async () => { for (const c of wss.clients) c.terminate(); await new Promise<void>((r) => wss.close(() => r())); },
  };
}

test('websocket-hold: real WebSocket handshakes from the sources, each tunnel kept alive by pings; refusals are answers, and the pool refills', async (t) => {
  const srv = await startWsServer(6);
  t.after(srv.close);
  const r = await runDrill({
    target: srv.url, scenario: 'websocket-hold', durationS: 2.5, leadS: 0.5, trackingUsers: 0, bankingUsers: 0, seed: 3, graceMs: 200,
    params: { connections: 10, sources: 5, openRate: 200, intervalMs: 200, floodRate: 0 },
  });
  const c = r.attack.components.find((x) => x.label === 'websocket-hold')!;
  // The server (ws) accepted each handshake as RFC 6455 asks: key, version 13, upgrade headers.
  assert.equal(srv.peakOpen, 6, 'six tunnels held at once, the server\'s limit');
  assert.ok(srv.handshakes.every((h) => /^\/live\/parcel\/[A-Za-z0-9]+$/.test(h.path) && ALL_IDENTITIES.some((i) => i.userAgent === h.ua)));
  // A handshake the server completes after the drill destroyed its socket (the run's end) has no address left.
  const addrs = srv.handshakes.map((h) => h.addr).filter((a) => a !== '');
  assert.equal(new Set(addrs).size, 5, `spread over the sources: ${JSON.stringify(addrs)}`);
  assert.equal(c.statuses['101'], 6);
  assert.ok((c.statuses['503'] ?? 0) >= 4, `refused handshakes are counted as answers: ${JSON.stringify(c.statuses)}`);
  // Refused connections are closed and opened again while the attack lasts: more handshakes than places.
  assert.ok(c.sent > 10, `${c.sent} handshakes sent`);
  // Each tunnel pinged about every 200 ms over ~2 s: a tunnel is held, not just opened.
  assert.ok(srv.pings.filter((n) => n >= 5).length === 6, `pings per tunnel: ${srv.pings.join(',')}`);
});

test('websocket-flood: tunnels from the sources each send the live page\'s refresh every interval; the origin looks each one up', async (t) => {
  const origin = await startOrigin({ serviceMs: 1, maxInFlight: 8, maxQueue: 2_000 });
  t.after(() => origin.close());
  const r = await runDrill({
    target: origin.url, scenario: 'websocket-flood', durationS: 2.5, leadS: 0.5, trackingUsers: 0, bankingUsers: 0, seed: 4, graceMs: 300,
    params: { connections: 20, sources: 4, openRate: 400, intervalMs: 100 },
  });
  const c = r.attack.components.find((x) => x.label === 'websocket-flood')!;
  assert.equal(c.statuses['101'], 20, `every tunnel opened: ${JSON.stringify(c.statuses)}`);
  // 20 tunnels × 10 messages/s for 2 s: about 200/s while the attack lasts (a loaded machine sends fewer, never more).
  assert.ok(c.messagesPerS !== undefined && c.messagesPerS > 120 && c.messagesPerS <= 215, `${c.messagesPerS} messages/s`);
  const s = origin.stats();
  const sent = Math.round((c.messagesPerS ?? 0) * 2);
  // The origin looks up each handshake (20) and each message; `sent` is a rate times the window, an estimate.
  const messages = s.served.live - (c.statuses['101'] ?? 0);
  assert.ok(messages >= sent * 0.8 && messages <= sent * 1.1 + 10, `origin looked up ${messages} messages of about ${sent}`);
  assert.equal(s.served.track + s.served.home + s.served.other, 0, 'nothing but the tunnels reached the origin');
  assert.ok(!r.generator.warnings.some((w) => w.includes('messages/s')), r.generator.warnings.join('; '));
});

test('websocket-browse-flood: each source browses first and keeps the cookie the site set; its tunnels\' handshakes carry it, then flood messages', async (t) => {
  const { createServer } = await import('node:http');
  const handshakes: Array<{ addr: string; cookie: string | undefined }> = [];
  const issued = new Map<string, string>(); // source address → the cookie value the site gave it
  let pages = 0;
  let messages = 0;
  const http = createServer((req, res) => {
    pages++;
    const addr = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const v = issued.get(addr) ?? `v${issued.size + 1}`;
    issued.set(addr, v);
    res.writeHead(200, { 'content-type': 'text/html', 'set-cookie': `rp=${v}; Path=/; HttpOnly` });
    res.end('<p>page</p>');
  });
  const wss = new WebSocketServer({ noServer: true });
  http.on('upgrade', (req, socket, head) => {
    handshakes.push({ addr: (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''), cookie: req.headers.cookie });
    wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', () => { messages++; }));
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  t.after(() => { for (const c of wss.clients) c.terminate(); http.close(); });
  const r = await runDrill({
    target: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, scenario: 'websocket-browse-flood', durationS: 3, trackingUsers: 0, bankingUsers: 0, seed: 6, graceMs: 300,
    params: { connections: 8, sources: 4, openRate: 400, intervalMs: 100, warmupS: 1, pages: 2 },
  });
  const c = r.attack.components.find((x) => x.label === 'websocket-browse-flood')!;
  assert.equal(pages, 8, 'two pages per source before the attack');
  assert.deepEqual(c.warmup, { pages: 8, ok: 8, botsWithCookies: 4 });
  assert.equal(c.statuses['101'], 8);
  const withAddr = handshakes.filter((h) => h.addr !== '');
  assert.ok(withAddr.length >= 8);
  for (const h of withAddr) assert.equal(h.cookie, `rp=${issued.get(h.addr)}`, `the handshake from ${h.addr} carries its own source's cookie`);
  assert.ok(messages > 50, `${messages} messages`);
});
