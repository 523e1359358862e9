import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { openSocket, startRecordingUpstream, startTestShield, waitClose } from '../helpers/servers.js';

/** Writes `bytes` on a new connection and returns everything read until the shield closes it. */
async function exchange(port: number, bytes: string): Promise<string> {
  const socket = await openSocket(port);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.write(bytes);
  assert.equal(await waitClose(socket, 5_000), 'closed');
  return Buffer.concat(chunks).toString('latin1');
}

/**
 * Answers every request `delayMs` later with `body(url)`, counting the requests at the upstream at
 * once (until each response closes); `peak()` is the most seen since the last `resetPeak()`.
 */
function slowAnswers(up: Awaited<ReturnType<typeof startRecordingUpstream>>, delayMs: number, body: (url: string) => string): { peak(): number; inFlight(): number; resetPeak(): void } {
  let inFlight = 0;
  let peak = 0;
  up.handler = (req, res) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    res.once('close', () => inFlight--);
    setTimeout(() => {
      const b = body(req.url ?? '');
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(b), 'cache-control': 'no-store' });
      res.end(b);
    }, delayMs);
  };
  return { peak: () => peak, inFlight: () => inFlight, resetPeak: () => { peak = 0; } };
}

test('pipelined requests on one connection reach the upstream one at a time, in order (as nginx and HAProxy serve them)', async (t) => {
  const up = await startRecordingUpstream(t);
  const load = slowAnswers(up, 20, (url) => url);
  const shield = await startTestShield(t, up.url);
  const n = 12;
  let bytes = '';
  for (let i = 0; i < n; i++) bytes += `GET /item/${i} HTTP/1.1\r\nHost: shop.example\r\n${i === n - 1 ? 'Connection: close\r\n' : ''}\r\n`;
  const text = await exchange(shield.port, bytes);
  const bodies = [...text.matchAll(/\r\n\r\n(\/item\/\d+)/g)].map((m) => m[1]);
  assert.deepEqual(bodies, Array.from({ length: n }, (_, i) => `/item/${i}`), 'every response, in order');
  assert.equal(up.seen.length, n);
  assert.equal(load.peak(), 1, 'one request of the connection at the upstream at a time');
});

test('a pipelined POST and the GET after it: the body reaches the upstream whole, the answers come in order', async (t) => {
  const up = await startRecordingUpstream(t);
  const shield = await startTestShield(t, up.url);
  const body = 'x'.repeat(5000);
  const text = await exchange(shield.port, `POST /form HTTP/1.1\r\nHost: shop.example\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`
    + 'GET /after HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n');
  assert.deepEqual([...text.matchAll(/"url":"([^"]+)"/g)].map((m) => m[1]), ['/form', '/after']);
  assert.deepEqual(up.seen.map((s) => [s.url, s.bodyBytes]), [['/form', 5000], ['/after', 0]]);
});

test('past limits.maxPipelined the connection closes after the last admitted request; the rest never reach the upstream', async (t) => {
  const up = await startRecordingUpstream(t);
  up.handler = (req, res) => setTimeout(() => { res.writeHead(200, { 'content-length': 2, 'cache-control': 'no-store' }); res.end('ok'); }, 30);
  const shield = await startTestShield(t, up.url, { listen: { limits: { maxPipelined: 2 } } });
  const refused: string[] = [];
  shield.bus.on('connection:refused', (e) => refused.push(e.reason));
  let bytes = '';
  for (let i = 0; i < 8; i++) bytes += `GET /item/${i} HTTP/1.1\r\nHost: shop.example\r\n\r\n`;
  const text = await exchange(shield.port, bytes); // the shield closes the connection
  const statuses = text.match(/HTTP\/1\.1 \d{3} /g) ?? [];
  assert.equal(statuses.length, 3, 'the one served and the two that waited');
  assert.match(text.split(/HTTP\/1\.1 /).at(-1) ?? '', /^200[^]*\r\nConnection: close\r\n/i);
  assert.deepEqual(up.seen.map((s) => s.url), ['/item/0', '/item/1', '/item/2']);
  assert.deepEqual(refused, ['pipeline-depth']);
});

test('a client that pipelines and does not read holds one upstream exchange, not one per request written ahead', async (t) => {
  const up = await startRecordingUpstream(t);
  // A long download: 64 MiB announced, 1 MiB written — the client never reads, so it never ends
  // (a complete answer sitting in the kernel's buffers would rightly let the next request go).
  up.handler = (_req, res) => { res.writeHead(200, { 'content-length': 64 << 20, 'cache-control': 'no-store' }); res.write(Buffer.alloc(1 << 20, 0x61)); };
  const shield = await startTestShield(t, up.url);
  const socket = await openSocket(shield.port);
  socket.pause(); // never reads
  let bytes = '';
  for (let i = 0; i < 10; i++) bytes += `GET /big/${i} HTTP/1.1\r\nHost: shop.example\r\n\r\n`;
  socket.write(bytes);
  await sleep(800);
  assert.deepEqual(up.seen.map((s) => s.url), ['/big/0'], 'the next request waits until the response before it is taken');
  socket.destroy();
});

test('a request that does not parse, or a CONNECT, pipelined behind one being served is refused after its answer, in order', async (t) => {
  const up = await startRecordingUpstream(t);
  up.handler = (_req, res) => setTimeout(() => { res.writeHead(200, { 'content-length': 9, 'cache-control': 'no-store' }); res.end('slow-done'); }, 100);
  const shield = await startTestShield(t, up.url);
  for (const [tail, status] of [
    ['GARBAGE\r\n\r\n', 400],
    ['CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', 405],
    // Its head parses, its body does not: the 400 is its answer, and it never reaches the upstream.
    ['POST /form HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n', 400],
  ] as const) {
    const text = await exchange(shield.port, 'GET /slow HTTP/1.1\r\nHost: shop.example\r\n\r\n' + tail);
    const statuses = (text.match(/HTTP\/1\.1 \d{3} /g) ?? []).map((l) => Number(l.slice(9, 12)));
    assert.deepEqual(statuses, [200, status], `${JSON.stringify(tail)}: ${JSON.stringify(text.slice(0, 120))}`);
    assert.ok(text.indexOf('slow-done') < text.lastIndexOf('HTTP/1.1 '), 'the whole answer first');
  }
  assert.deepEqual(up.seen.map((r) => r.url), ['/slow', '/slow', '/slow']);
});

test('requests a client pipelined count in its pace: a request of another client queued after its first goes before it', async (t) => {
  const up = await startRecordingUpstream(t);
  up.handler = (req, res) => setTimeout(() => { res.writeHead(200, { 'content-length': 2, 'cache-control': 'no-store' }); res.end('ok'); }, req.url === '/block' ? 300 : 20);
  // One upstream slot, no per-address limit: only the order of the waiters is under test.
  const shield = await startTestShield(t, up.url, {
    upstreams: { origin: { url: up.url, connections: 1, maxQueue: 64, queueTimeoutMs: 5000, timeoutMs: 5000 } },
    rateLimits: { enabled: false },
  });
  const get = (path: string, last = false): string => `GET ${path} HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: Mozilla/5.0 test\r\n${last ? 'Connection: close\r\n' : ''}\r\n`;
  const blocker = await openSocket(shield.port, '127.0.97.10');
  blocker.write(get('/block', true)); // holds the one slot for 300 ms
  await sleep(50);
  // One connection, twelve requests written ahead: the shield serves them one at a time, so only
  // the first waits in the queue — with eleven more behind it on the connection.
  const pipelining = await openSocket(shield.port, '127.0.97.11');
  let bytes = '';
  for (let i = 0; i < 12; i++) bytes += get(`/p/${i}`, i === 11);
  pipelining.write(bytes);
  await sleep(50);
  const person = await openSocket(shield.port, '127.0.97.12');
  person.write(get('/person', true));
  await Promise.all([blocker, pipelining, person].map((s) => waitClose(s, 5_000)));
  const order = up.seen.map((s) => s.url);
  assert.equal(order[0], '/block');
  assert.equal(order[1], '/person', `served after the blocker: ${order.slice(1, 4).join(', ')} (a client holding 12 requests is heavier than one holding 1)`);
  assert.deepEqual(order.filter((u) => u.startsWith('/p/')), Array.from({ length: 12 }, (_, i) => `/p/${i}`), 'the pipelined ones are all served, in order');
});

test('a client that pipelines and leaves with answers still owed gives back every upstream slot it held', async (t) => {
  // Node never emits 'close' for a response queued behind another on a connection that went away:
  // anything held per waiting request would leak. The shield runs one exchange of a connection at a
  // time and frees it when its response closes, so a pipeline flood cannot eat the upstream's slots.
  const up = await startRecordingUpstream(t);
  const load = slowAnswers(up, 150, () => 'ok');
  const shield = await startTestShield(t, up.url, { upstreams: { origin: { url: up.url, timeoutMs: 2_000, connections: 2, queueTimeoutMs: 1_000 } } });
  for (let round = 0; round < 4; round++) {
    const before = up.seen.length;
    const socket = await openSocket(shield.port);
    socket.write(`GET /item/${round} HTTP/1.1\r\nHost: shop.example\r\n\r\n`.repeat(6));
    for (let i = 0; i < 200 && up.seen.length === before; i++) await sleep(5);
    assert.equal(up.seen.length, before + 1, 'the first request is at the upstream');
    socket.destroy();
  }
  for (let i = 0; i < 200 && load.inFlight() > 0; i++) await sleep(10);
  load.resetPeak();
  const answers = await Promise.all([1, 2].map((i) => fetch(`http://127.0.0.1:${shield.port}/after/${i}`).then((r) => r.status)));
  assert.deepEqual(answers, [200, 200]);
  assert.equal(load.peak(), 2, 'both upstream slots free: the two requests ran at once');
});
