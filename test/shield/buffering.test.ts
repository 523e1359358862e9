import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { openSocket, startRecordingUpstream, startTestShield, statusOf, waitClose } from '../helpers/servers.js';

/** Polls `cond` every 20 ms for at most `ms`; returns whether it became true. */
async function eventually(cond: () => boolean, ms = 3_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}

/** Files inside the spool directory (the shield makes its own directory inside the configured one). */
function spooled(dir: string): string[] {
  const out: string[] = [];
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    if (d.isDirectory()) for (const f of readdirSync(join(dir, d.name))) out.push(f);
    else out.push(d.name);
  }
  return out;
}

test('the upstream receives a slowly sent POST only after its last byte', async (t) => {
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (_req, res, body) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end(`got ${body.length} ${body.toString()}`); };
  const shield = await startTestShield(t, upstream.url);
  const socket = await openSocket(shield.port);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const parts = ['alpha-', 'bravo-', 'charlie-', 'delta'];
  const total = parts.join('').length;
  socket.write(`POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${total}\r\nConnection: close\r\n\r\n`);
  for (const p of parts) {
    await sleep(120);
    // Until the last byte is in, the upstream has seen nothing — not even the request head.
    assert.equal(upstream.seen.length, 0, 'request reached the upstream before its body was complete');
    socket.write(p);
  }
  await waitClose(socket, 3_000);
  const raw = Buffer.concat(chunks).toString();
  assert.equal(statusOf(raw), 200);
  assert.match(raw, new RegExp(`got ${total} alpha-bravo-charlie-delta\r\n`));
  assert.equal(upstream.seen.length, 1);
  assert.equal(upstream.seen[0]?.headers['content-length'], String(total));
});

test('a chunked request body is buffered and sent upstream with its Content-Length', async (t) => {
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (_req, res, body) => { res.end(body.toString()); };
  const shield = await startTestShield(t, upstream.url);
  const socket = await openSocket(shield.port);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.write('POST /form HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n');
  await waitClose(socket, 3_000);
  assert.match(Buffer.concat(chunks).toString(), /abcdefg$/);
  assert.equal(upstream.seen[0]?.headers['content-length'], '7');
  assert.equal(upstream.seen[0]?.headers['transfer-encoding'], undefined);
});

test('a body larger than the memory share is spooled to a file that is removed after completion and after an abort', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-spool-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (_req, res, body) => { res.end(`bytes=${body.length}`); };
  const shield = await startTestShield(t, upstream.url, { buffering: { requestMemoryBytes: 1024, spoolDir: dir } });

  // Completion: 200 KiB, spooled, forwarded intact, then the file is gone.
  const body = Buffer.alloc(200 * 1024, 7);
  const res = await request(`${shield.url}/upload`, { method: 'POST', body });
  assert.equal(res.statusCode, 200);
  assert.equal(await res.body.text(), `bytes=${body.length}`);
  assert.ok(await eventually(() => spooled(dir).length === 0), `spool files left after completion: ${spooled(dir).join(', ')}`);

  // Abort: half a body, the file exists while the client is still sending, then the client leaves.
  const socket = await openSocket(shield.port);
  socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`);
  socket.write(body.subarray(0, 100 * 1024));
  assert.ok(await eventually(() => spooled(dir).length === 1), 'a partly received large body is spooled');
  socket.destroy();
  assert.ok(await eventually(() => spooled(dir).length === 0), `spool file left after the client aborted: ${spooled(dir).join(', ')}`);
  assert.equal(upstream.seen.length, 1, 'the aborted request never reached the upstream');
});

test('spooled request bodies stay within their disk budget: a large body beyond it gets 503, small bodies still pass in memory', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-spool-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const upstream = await startRecordingUpstream(t);
  const held: Array<() => void> = [];
  upstream.handler = (req, res, body) => {
    const answer = (): void => { res.end(`bytes=${body.length}`); };
    if (req.url === '/hold') held.push(answer); else answer();
  };
  const shield = await startTestShield(t, upstream.url, { buffering: { requestMemoryBytes: 1024, requestSpoolBudgetBytes: 300 * 1024, spoolDir: dir } });
  const large = Buffer.alloc(200 * 1024, 7);

  // 200 KiB spooled and held by the upstream: its file stays until the exchange ends.
  const first = request(`${shield.url}/hold`, { method: 'POST', body: large });
  assert.ok(await eventually(() => held.length === 1), 'the first large body reached the upstream');
  assert.equal(spooled(dir).length, 1);

  // Another 200 KiB would pass the 300 KiB budget: refused, never forwarded, its file removed.
  const refused = await request(`${shield.url}/upload`, { method: 'POST', body: large });
  assert.equal(refused.statusCode, 503);
  assert.match(await refused.body.text(), /RMP_ERR_BODY_STORAGE|Service Unavailable/);
  assert.ok(await eventually(() => spooled(dir).length === 1), `only the held body's file remains: ${spooled(dir).join(', ')}`);

  // A customer's small body needs no disk: it passes.
  const small = await request(`${shield.url}/login`, { method: 'POST', body: Buffer.alloc(500, 1) });
  assert.equal(small.statusCode, 200);
  assert.equal(await small.body.text(), 'bytes=500');
  assert.deepEqual(upstream.seen.map((r) => r.url), ['/hold', '/login']);

  // Once the held exchange ends its file goes, and the budget is free again.
  held[0]?.();
  assert.equal((await first).statusCode, 200);
  assert.ok(await eventually(() => spooled(dir).length === 0), 'the held body\'s file is removed');
  const again = await request(`${shield.url}/upload`, { method: 'POST', body: large });
  assert.equal(again.statusCode, 200);
  assert.equal(await again.body.text(), `bytes=${large.length}`);
});

test('with request spooling off, a body larger than its memory share gets 503 and a small one passes', async (t) => {
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (_req, res, body) => { res.end(`bytes=${body.length}`); };
  const shield = await startTestShield(t, upstream.url, { buffering: { requestMemoryBytes: 4096, requestSpoolBudgetBytes: 0 } });
  const big = await request(`${shield.url}/upload`, { method: 'POST', body: Buffer.alloc(64 * 1024, 2) });
  assert.equal(big.statusCode, 503);
  await big.body.dump();
  const small = await request(`${shield.url}/upload`, { method: 'POST', body: Buffer.alloc(1000, 2) });
  assert.equal(small.statusCode, 200);
  assert.equal(await small.body.text(), 'bytes=1000');
  assert.deepEqual(upstream.seen.map((r) => r.bodyBytes), [1000]);
});

test('a body that stalls is cut with 408 without ever taking an upstream slot', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, { listen: { limits: { bodyIdleTimeoutMs: 300 } } });
  const socket = await openSocket(shield.port);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.write('POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc');
  assert.equal(await waitClose(socket, 3_000), 'closed');
  const raw = Buffer.concat(chunks).toString();
  assert.equal(statusOf(raw), 408);
  assert.match(raw, /x-rempart-error: RMP_ERR_BODY_TIMEOUT/i);
  assert.equal(upstream.seen.length, 0);
});

test('a client that does not read its response releases the upstream slot once the response is buffered', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const big = Buffer.alloc(8 * 1024 * 1024, 97); // larger than what loopback socket buffers absorb
  upstream.handler = (req, res) => {
    if (req.url === '/big') { res.writeHead(200, { 'content-length': big.length }); res.end(big); return; }
    res.end('small');
  };
  const shield = await startTestShield(t, upstream.url, {
    upstreams: { origin: { url: upstream.url, connections: 1, queueTimeoutMs: 1_000 } },
    buffering: { responseBytes: 32 * 1024 * 1024 },
  });
  const reader = await openSocket(shield.port);
  reader.pause(); // never reads
  t.after(() => reader.destroy());
  reader.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.ok(await eventually(() => upstream.seen.length === 1));
  // The only upstream slot must be free again although the client has read (almost) nothing.
  const res = await request(`${shield.url}/other`);
  assert.equal(res.statusCode, 200);
  assert.equal(await res.body.text(), 'small');
});

test('a response larger than the memory read-ahead is spooled: the slot is freed at once and the file removed when the client leaves', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-resp-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const upstream = await startRecordingUpstream(t);
  const big = Buffer.alloc(16 * 1024 * 1024, 97);
  upstream.handler = (req, res) => {
    if (req.url === '/big') { res.writeHead(200, { 'content-length': big.length }); res.end(big); return; }
    res.end('small');
  };
  const shield = await startTestShield(t, upstream.url, {
    upstreams: { origin: { url: upstream.url, connections: 1, queueTimeoutMs: 1_000 } },
    buffering: { responseBytes: 64 * 1024, spoolDir: dir },
  });
  const reader = await openSocket(shield.port);
  reader.pause();
  reader.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.ok(await eventually(() => spooled(dir).length === 1), 'the part the client has not taken is on disk');
  const res = await request(`${shield.url}/other`);
  assert.equal(res.statusCode, 200, 'the only upstream slot is free while the slow reader still reads');
  assert.equal(await res.body.text(), 'small');
  reader.destroy();
  assert.ok(await eventually(() => spooled(dir).length === 0), `spool file left: ${spooled(dir).join(', ')}`);
});

test('a spooled response reaches a client that reads it all, byte for byte', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const big = Buffer.alloc(6 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 12)) & 0xff;
  upstream.handler = (_req, res) => { res.writeHead(200, { 'content-length': big.length }); res.end(big); };
  const shield = await startTestShield(t, upstream.url, { buffering: { responseBytes: 16 * 1024 } });
  const res = await request(`${shield.url}/big`);
  // Read slowly at first so the shield has to spool, then at full speed.
  await sleep(300);
  const got = Buffer.from(await res.body.arrayBuffer());
  assert.equal(got.length, big.length);
  assert.ok(got.equals(big), 'the bytes arrive intact and in order');
});

test('with spooling off, a stalled reader holding the slot another request waits for is evicted', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const big = Buffer.alloc(16 * 1024 * 1024, 97);
  upstream.handler = (req, res) => {
    if (req.url === '/big') { res.writeHead(200, { 'content-length': big.length }); res.end(big); return; }
    res.end('small');
  };
  const shield = await startTestShield(t, upstream.url, {
    upstreams: { origin: { url: upstream.url, connections: 1, queueTimeoutMs: 5_000 } },
    buffering: { responseBytes: 64 * 1024, responseSpoolBytes: 0, stallEvictMs: 300 },
  });
  const reader = await openSocket(shield.port);
  reader.pause();
  t.after(() => reader.destroy());
  reader.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.ok(await eventually(() => upstream.seen.length === 1));
  const res = await request(`${shield.url}/other`);
  assert.equal(res.statusCode, 200, 'the waiting request got the slot once the stalled reader was cut');
  await res.body.dump();
  assert.equal(await waitClose(reader, 3_000), 'closed', 'the stalled reader was disconnected');
});
