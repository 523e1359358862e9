import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Writable, Readable } from 'node:stream';
import { request } from 'undici';
import pino from 'pino';
import { parseConfig } from '../../src/config/load.js';
import { startShield } from '../../src/shield/start.js';
import { openSocket, rawExchange, startRecordingUpstream, startTestShield, statusOf } from '../helpers/servers.js';

test('GET is proxied with forwarding headers set and hop-by-hop headers removed', async (t) => {
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', connection: 'keep-alive, x-secret-hop', 'keep-alive': 'timeout=5', 'x-secret-hop': 'drop me', 'x-kept': 'yes' });
    res.end('hello');
  };
  const shield = await startTestShield(t, upstream.url);
  const raw = await rawExchange(shield.port, [
    'GET /track/42?x=1 HTTP/1.1', `Host: 127.0.0.1:${shield.port}`, 'X-Forwarded-For: 6.6.6.6', 'Forwarded: for=6.6.6.6',
    'Connection: close, X-Client-Hop', 'X-Client-Hop: secret', 'Proxy-Authorization: Basic Zm9v', 'TE: trailers',
    'Keep-Alive: timeout=99', 'X-App: kept', '', ''].join('\r\n'));
  assert.equal(statusOf(raw), 200);
  assert.match(raw, /\r\n\r\n5\r\nhello\r\n0\r\n\r\n$/);
  assert.match(raw, /\r\nx-kept: yes\r\n/i);
  assert.doesNotMatch(raw, /x-secret-hop/i, 'response fields named in Connection are removed');
  assert.doesNotMatch(raw, /keep-alive: timeout=5/i);
  const seen = upstream.seen[0];
  assert.ok(seen);
  assert.equal(seen.url, '/track/42?x=1');
  assert.equal(seen.headers['x-app'], 'kept');
  assert.equal(seen.headers['x-client-hop'], undefined, 'fields named in Connection are hop-by-hop (RFC 9110 §7.6.1)');
  assert.equal(seen.headers['proxy-authorization'], undefined);
  assert.equal(seen.headers.te, undefined);
  assert.equal(seen.headers['keep-alive'], undefined);
  // The peer is not a trusted proxy: its X-Forwarded-For / Forwarded are replaced, never believed.
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
  assert.match(String(seen.headers.forwarded), /^for=127\.0\.0\.1;proto=http;host="127\.0\.0\.1:\d+"$/);
  assert.match(String(seen.headers['x-request-id']), /^[0-9a-f]{8}-[0-9a-z]+$/);
  assert.match(raw, new RegExp(`\\r\\nx-request-id: ${String(seen.headers['x-request-id'])}\\r\\n`, 'i'), 'the client gets the same id');
  assert.equal(seen.headers.host, `127.0.0.1:${shield.port}`, 'the client Host is kept');
  assert.equal(seen.headers.via, '1.1 rempart', 'RFC 9110 §7.6.3: the gateway adds itself to Via');
});

test('a route with requestBuffering: false streams a 50 MB upload through without buffering it whole', async (t) => {
  const upstream = await startRecordingUpstream(t, { consumeBody: false });
  let firstByteAt = 0;
  upstream.handler = (req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => { if (bytes === 0) firstByteAt = sent; bytes += c.length; hash.update(c); });
    req.on('end', () => {
      const body = JSON.stringify({ bytes, sha256: hash.digest('hex') });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
  };
  const shield = await startTestShield(t, upstream.url, {
    listen: { limits: { maxBodyBytes: 0 } },
    routes: [{ match: { path: '/upload' }, upstream: 'origin', requestBuffering: false }, { match: { path: '/' }, upstream: 'origin' }],
  });
  const total = 50 * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31) & 0xff;
  const expected = createHash('sha256');
  let sent = 0;
  const body = Readable.from((function* () {
    while (sent < total) {
      sent += chunk.length;
      expected.update(chunk);
      yield chunk;
    }
  })());
  const res = await request(`${shield.url}/upload`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
  const result = await res.body.json() as { bytes: number; sha256: string };
  assert.equal(res.statusCode, 200);
  assert.equal(result.bytes, total);
  assert.equal(result.sha256, expected.digest('hex'));
  // Streaming, not store-and-forward: the upstream got its first bytes long before the client finished.
  assert.ok(firstByteAt > 0 && firstByteAt < total / 2, `upstream first byte after ${firstByteAt} bytes sent`);
});

test('the response body streams back and POST bodies with Content-Length and chunked arrive intact', async (t) => {
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (req, res, body) => {
    res.writeHead(201, { 'content-type': 'text/plain', 'set-cookie': ['a=1; Path=/', 'b=2; Path=/'] });
    res.end(`${req.method} ${body.length} ${body.toString().slice(0, 5)}`);
  };
  const shield = await startTestShield(t, upstream.url);
  const a = await request(`${shield.url}/pay/x`, { method: 'POST', body: 'hello world' });
  assert.equal(a.statusCode, 201);
  // The upstream's cookies pass untouched (in normal times Rempart adds its own reputation cookie after them).
  assert.deepEqual((a.headers['set-cookie'] as string[]).slice(0, 2), ['a=1; Path=/', 'b=2; Path=/']);
  assert.equal(await a.body.text(), 'POST 11 hello');
  const raw = await rawExchange(shield.port, 'POST /pay/y HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n');
  assert.equal(statusOf(raw), 201);
  assert.match(raw, /POST 7 abcde/);
});

function captureLogger(): { logger: pino.Logger; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const stream = new Writable({ write(chunk, _e, cb) { out.push(String(chunk)); cb(); } });
  return { logger: pino({ level: 'info' }, stream), lines: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

test('upstream refused → 502 and upstream timeout → 504, each with a request id that is also logged', async (t) => {
  // A port that was free a moment ago: nothing listens there, so connecting is refused.
  const probe = await startRecordingUpstream(t);
  const deadPort = probe.port;
  await new Promise<void>((r) => { probe.server.closeAllConnections(); probe.server.close(() => r()); });
  const slow = await startRecordingUpstream(t);
  slow.handler = () => { /* never answers */ };
  const { logger, lines } = captureLogger();
  const config = parseConfig({
    listen: { address: '127.0.0.1', port: 0 },
    admin: { port: 0 },
    upstreams: { dead: { url: `http://127.0.0.1:${deadPort}` }, slow: { url: slow.url, timeoutMs: 300 } },
    routes: [{ match: { path: '/dead' }, upstream: 'dead' }, { match: { path: '/slow' }, upstream: 'slow' }],
    log: { access: false },
  });
  const shield = await startShield({ config, logger });
  t.after(() => shield.close());

  const dead = await request(`${shield.url}/dead`);
  const deadBody = await dead.body.text();
  assert.equal(dead.statusCode, 502);
  assert.equal(dead.headers['x-rempart-error'], 'RMP_ERR_UPSTREAM_REFUSED');
  const deadId = /request id: (\S+)/.exec(deadBody)?.[1];
  assert.ok(deadId && deadBody.length < 200, deadBody);

  const timeout = await request(`${shield.url}/slow`);
  const timeoutBody = await timeout.body.text();
  assert.equal(timeout.statusCode, 504);
  const slowId = /request id: (\S+)/.exec(timeoutBody)?.[1];
  assert.ok(slowId);
  await new Promise((r) => setImmediate(r));
  const logged = lines().filter((l) => l.msg === 'upstream error').map((l) => [l.reqId, l.code]);
  assert.deepEqual(logged.sort(), [[deadId, 'RMP_ERR_UPSTREAM_REFUSED'], [slowId, 'RMP_ERR_UPSTREAM_TIMEOUT']].sort());
});

test('an upstream reset mid-response closes the client connection instead of faking success', async (t) => {
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (_req, res) => {
    res.writeHead(200, { 'content-length': '100000' });
    res.write('partial');
    setTimeout(() => res.socket?.destroy(), 20);
  };
  const shield = await startTestShield(t, upstream.url);
  const socket = await openSocket(shield.port);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.write('GET /reset HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((r) => socket.once('close', r));
  const raw = Buffer.concat(chunks).toString();
  assert.match(raw, /^HTTP\/1\.1 200/);
  assert.ok(raw.length < 1000, 'the client did not receive a complete 100000-byte body');
});

test('bodies over maxBodyBytes get 413: at once for Content-Length, mid-stream for chunked', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, { listen: { limits: { maxBodyBytes: 1024 } } });
  const declared = await rawExchange(shield.port, 'POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n' + 'a'.repeat(100));
  assert.equal(statusOf(declared), 413);
  assert.match(declared, /connection: close/i);
  assert.equal(upstream.seen.length, 0, 'a declared oversize body is refused before contacting the upstream');
  const chunk = 'b'.repeat(600);
  const chunked = await rawExchange(shield.port, `POST /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n${chunk}\r\n258\r\n${chunk}\r\n0\r\n\r\n`);
  assert.equal(statusOf(chunked), 413);
  assert.ok(upstream.seen.every((s) => s.bodyBytes <= 1024), 'the upstream never received more than the limit');
});

test('HEAD, 204 and 304 pass through without a body and keep the connection usable', async (t) => {
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (req, res) => {
    if (req.url === '/nc') { res.writeHead(204); res.end(); return; }
    if (req.url === '/nm') { res.writeHead(304, { etag: '"v1"' }); res.end(); return; }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5', etag: '"v1"' });
    res.end(req.method === 'HEAD' ? undefined : 'hello');
  };
  const shield = await startTestShield(t, upstream.url);
  // Three requests pipelined on one connection: each response must end exactly where it should.
  const raw = await rawExchange(shield.port,
    'HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /nc HTTP/1.1\r\nHost: x\r\n\r\nGET /nm HTTP/1.1\r\nHost: x\r\nIf-None-Match: "v1"\r\nConnection: close\r\n\r\n');
  const statuses = [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
  assert.deepEqual(statuses, ['200', '204', '304']);
  assert.match(raw, /content-length: 5\r\n/i, 'HEAD keeps the length of the body it does not carry');
  assert.doesNotMatch(raw, /hello/);
});

test('an answer whose upstream stops sending mid-body is cut after timeoutMs between bytes, and its upstream connection closed', async (t) => {
  const up = await startRecordingUpstream(t);
  let closed = 0;
  up.handler = (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '20' });
    res.write('0123456789'); // half, then nothing
    req.socket.once('close', () => { closed++; });
  };
  const shield = await startTestShield(t, up.url, { upstreams: { origin: { url: up.url, timeoutMs: 400 } } });
  const t0 = Date.now();
  const res = await request(`${shield.url}/half`);
  assert.equal(res.statusCode, 200);
  await assert.rejects(res.body.text(), 'the client sees the answer end short, not a complete one');
  const took = Date.now() - t0;
  assert.ok(took >= 350 && took < 5_000, `cut after ${took} ms`);
  const deadline = Date.now() + 3_000;
  while (closed === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(closed, 1, 'the upstream connection is closed (its answer will never be whole)');
});
