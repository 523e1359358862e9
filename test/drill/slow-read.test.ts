import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { runDrill } from '../../src/drill/run.js';
import { feedResponse, newResponse } from '../../src/drill/slow-read.js';
import { ALL_IDENTITIES } from '../../src/drill/headers.js';

/** A server answering every GET with `body`; counts requests per connection and responses fully handed to the kernel. */
async function startBodyServer(body: Buffer) {
  const perSocket = new Map<Socket, number>();
  const requests: Array<{ addr: string; path: string; ua: string; accept: string }> = [];
  const open = new Set<ServerResponse>();
  let finished = 0;
  const server = createServer((req, res) => {
    perSocket.set(req.socket, (perSocket.get(req.socket) ?? 0) + 1);
    requests.push({ addr: (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''), path: req.url ?? '', ua: String(req.headers['user-agent']), accept: String(req.headers.accept) });
    open.add(res);
    // 'finish': the last byte left Node for the kernel, i.e. the writer no longer waits on the client.
    res.once('finish', () => { finished++; open.delete(res); });
    res.writeHead(200, { 'content-type': 'text/javascript', 'content-length': body.length });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests, perSocket, get finished() { return finished; }, get waiting() { return open.size; },
    close: async () => { server.closeAllConnections(); await new Promise<void>((r) => server.close(() => r())); },
  };
}

test('response framing read a few bytes at a time: content-length, chunked, no body, connection close', () => {
  const feedAll = (text: string, step: number) => {
    const p = newResponse();
    const buf = Buffer.from(text, 'latin1');
    for (let i = 0; i < buf.length; i += step) if (feedResponse(p, buf.subarray(i, i + step))) return { p, end: Math.min(buf.length, i + step) };
    return { p, end: -1 };
  };
  const cl = 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789';
  for (const step of [1, 3, 7, 1000]) assert.equal(feedAll(cl, step).end, cl.length, `content-length, ${step}-byte reads`);
  assert.equal(feedAll(cl, 1).p.status, 200);
  const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n';
  for (const step of [1, 2, 5]) assert.equal(feedAll(chunked, step).end, chunked.length, `chunked, ${step}-byte reads`);
  assert.equal(feedAll('HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n', 4).end > 0, true, '304 has no body');
  const closing = feedAll('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno', 3);
  assert.equal(closing.p.close, true);
  assert.equal(closing.p.status, 503);
  assert.equal(feedAll('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234', 2).end, -1, 'an unfinished body is not done');
});

test('slow-read: complete browser GETs of the large asset, read at most readBytes per interval, and the server\'s writer is held', async (t) => {
  // 24 MiB: larger than the ~4 MB loopback buffers, so no response can be handed to the kernel whole.
  const srv = await startBodyServer(Buffer.alloc(24 * 1024 * 1024, 97));
  t.after(srv.close);
  const connections = 8;
  const readBytes = 8;
  const intervalMs = 100;
  // Sampled during the attack: at the end the drill destroys its sockets, which ends every response.
  let during: { finished: number; waiting: number } | null = null;
  const r = await runDrill({
    target: srv.url, scenario: 'slow-read', durationS: 2.5, leadS: 0.5, trackingUsers: 0, bankingUsers: 0, seed: 7, graceMs: 200,
    params: { connections, sources: 4, openRate: 200, intervalMs, readBytes, floodRate: 0 },
    onProgress: (p) => { if (p.elapsedS >= 1.8 && !during) during = { finished: srv.finished, waiting: srv.waiting }; },
  });
  const c = r.attack.components.find((x) => x.label === 'slow-read')!;
  assert.equal(srv.requests.length, connections, 'one request per connection: none finished, none asked again');
  assert.ok(srv.requests.every((q) => q.path === '/static/app.js' && q.accept === '*/*' && ALL_IDENTITIES.some((i) => i.userAgent === q.ua)));
  assert.equal(new Set(srv.requests.map((q) => q.addr)).size, 4);
  assert.deepEqual(during, { finished: 0, waiting: connections }, 'no response was fully written: every writer still waits on its slow reader');
  assert.equal(c.peakHeld, connections);
  // At most one read per interval per connection (plus the one at connect), each of at most readBytes.
  const windowS = r.meta.durationS - r.meta.window.fromS;
  const maxReads = Math.ceil((windowS * 1000) / intervalMs) + 2;
  assert.ok(c.bytesRead! <= connections * readBytes * maxReads, `read ${c.bytesRead} B, at most ${connections * readBytes * maxReads}`);
  const perSecondPerConn = c.bytesRead! / windowS / connections;
  assert.ok(perSecondPerConn <= (readBytes * 1000) / intervalMs * 1.25, `${perSecondPerConn.toFixed(0)} B/s per connection`);
  assert.ok(c.bytesRead! >= connections * readBytes * 3, `read ${c.bytesRead} B: the readers did read`);
  assert.equal(c.responsesCompleted, 0);
});

test('slow-read: a response read to its end is asked again on the same keep-alive connection', async (t) => {
  const srv = await startBodyServer(Buffer.alloc(40, 98));
  t.after(srv.close);
  const r = await runDrill({
    target: srv.url, scenario: 'slow-read', durationS: 2.5, leadS: 0.5, trackingUsers: 0, bankingUsers: 0, seed: 8, graceMs: 200,
    params: { connections: 4, sources: 2, openRate: 200, intervalMs: 20, readBytes: 64, floodRate: 0 },
  });
  const c = r.attack.components.find((x) => x.label === 'slow-read')!;
  assert.equal(srv.perSocket.size, 4, 'no new connection was needed');
  assert.ok([...srv.perSocket.values()].every((n) => n >= 3), `requests per connection: ${[...srv.perSocket.values()].join(', ')}`);
  assert.ok(c.responsesCompleted! >= 8);
  assert.ok((c.statuses['200'] ?? 0) >= c.responsesCompleted!);
});

test('slow-read: the light flood beside it comes from its own sources', async (t) => {
  const srv = await startBodyServer(Buffer.alloc(16, 99));
  t.after(srv.close);
  const r = await runDrill({
    target: srv.url, scenario: 'slow-read', durationS: 2.5, leadS: 0.5, trackingUsers: 0, bankingUsers: 0, seed: 9, graceMs: 200,
    params: { connections: 4, sources: 2, openRate: 200, intervalMs: 50, readBytes: 64, floodRate: 50, floodSources: 10 },
  });
  assert.deepEqual(r.attack.components.map((c) => c.label), ['slow-read/flood', 'slow-read']);
  const floodAddrs = new Set(srv.requests.filter((q) => q.path !== '/static/app.js').map((q) => q.addr));
  const readAddrs = new Set(srv.requests.filter((q) => q.path === '/static/app.js').map((q) => q.addr));
  assert.equal(floodAddrs.size, 10);
  assert.ok([...readAddrs].every((a) => !floodAddrs.has(a)));
});

test('the demo origin serves /static/app.js: a cacheable bundle of largeAssetBytes (16 MiB by default), HEAD without a body', async (t) => {
  const { startOrigin } = await import('../../src/demo/origin/server.js');
  const origin = await startOrigin({ largeAssetBytes: 300_000 });
  t.after(origin.close);
  const res = await fetch(`${origin.url}/static/app.js`);
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(res.status, 200);
  assert.equal(body.length, 300_000);
  assert.match(res.headers.get('cache-control') ?? '', /max-age=3600/);
  assert.ok(res.headers.get('etag'));
  const head = await fetch(`${origin.url}/static/app.js`, { method: 'HEAD' });
  assert.equal(head.headers.get('content-length'), '300000');
  const big = await startOrigin();
  t.after(big.close);
  assert.equal((await fetch(`${big.url}/static/app.js`, { method: 'HEAD' })).headers.get('content-length'), String(16 * 1024 * 1024));
});
