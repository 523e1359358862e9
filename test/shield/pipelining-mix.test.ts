import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { rawExchange, startTestShield, statusOf } from '../helpers/servers.js';
import { createPrng } from '../unit/prng.js';

// What one connection may write ahead: well-formed requests, bodies, upgrades (to a WebSocket
// route and to any other), CONNECT, requests that do not parse, an incomplete head.
const PARTS = [
  'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 'HEAD / HTTP/1.1\r\nHost: a\r\n\r\n', 'GET / HTTP/1.0\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello',
  'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc',
  'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n',
  'GET /live/x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  'GET /other HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n',
  'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n', 'GARBAGE\r\n\r\n', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', 'GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1,0-1,0-1\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', '\x81\x85abcd', 'GET / HTTP/1.1\r\nHost: a\r\n',
];

test('150 connections, each writing a random mix of requests ahead (upgrades, CONNECT, bad requests, cut anywhere): the shield survives and serves on', async (t) => {
  const wss = new WebSocketServer({ noServer: true });
  const up = createServer((req, res) => { req.resume(); setTimeout(() => res.end('ok'), 5); });
  up.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => { ws.on('error', () => undefined); ws.on('message', (d) => ws.send(d)); }));
  up.listen(0, '127.0.0.1');
  await once(up, 'listening');
  t.after(() => { for (const c of wss.clients) c.terminate(); up.closeAllConnections(); up.close(); });
  const shield = await startTestShield(t, `http://127.0.0.1:${(up.address() as AddressInfo).port}`, {
    listen: { limits: { maxPipelined: 3 } },
    routes: [{ match: { path: '/live/' }, upstream: 'origin', class: 'normal', websocket: true }, { match: { path: '/' }, upstream: 'origin', class: 'normal' }],
  });
  const random = createPrng(20261202);
  for (let i = 0; i < 150; i++) {
    let bytes = '';
    const k = 1 + Math.floor(random() * 6);
    for (let j = 0; j < k; j++) bytes += PARTS[Math.floor(random() * PARTS.length)];
    const cut = random() < 0.2 ? Math.floor(random() * bytes.length) : bytes.length;
    const raw = await rawExchange(shield.port, bytes.slice(0, cut), { timeoutMs: 150 });
    // Whatever came back starts with a status line: no answer is interleaved into another.
    if (raw.length > 0) assert.match(raw, /^HTTP\/1\.1 \d{3} /, `exchange ${i}: ${JSON.stringify(bytes.slice(0, cut))}`);
  }
  assert.equal(statusOf(await rawExchange(shield.port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')), 200);
});
