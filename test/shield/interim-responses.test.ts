import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { openSocket, startRecordingUpstream, startTestShield, waitClose } from '../helpers/servers.js';

/** Collects what a raw connection receives; `until` resolves once the text matches (bounded). */
function reader(socket: Socket) {
  let text = '';
  socket.on('data', (c: Buffer) => { text += c.toString('latin1'); });
  return {
    get text() { return text; },
    until: (pattern: RegExp, ms = 3_000): Promise<string> => new Promise((resolve, reject) => {
      const started = Date.now();
      const poll = (): void => {
        if (pattern.test(text)) { resolve(text); return; }
        if (Date.now() - started > ms) { reject(new Error(`not seen ${pattern} in ${JSON.stringify(text)}`)); return; }
        setTimeout(poll, 5);
      };
      poll();
    }),
  };
}

const statuses = (raw: string): number[] => [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

async function upstreamCountingBodies(t: Parameters<typeof startRecordingUpstream>[0]) {
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (req, res, body) => {
    const text = `got ${body.length} bytes, expect=${String(req.headers.expect)}`;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  return upstream;
}

for (const buffering of [true, false]) {
  test(`Expect: 100-continue gets its 100 when the body is to be read, the body reaches the origin, the expectation does not (${buffering ? 'buffered' : 'streamed'} body)`, async (t) => {
    const upstream = await upstreamCountingBodies(t);
    const shield = await startTestShield(t, upstream.url, {
      routes: [{ match: { path: '/upload' }, upstream: 'origin', class: 'normal', requestBuffering: buffering }],
    });
    const socket = await openSocket(shield.port);
    t.after(() => socket.destroy());
    const r = reader(socket);
    const body = 'b'.repeat(3000);
    socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`);
    // The client sends nothing more until it is told to: the 100 must come first.
    await r.until(/^HTTP\/1\.1 100 Continue\r\n\r\n/);
    assert.equal(upstream.seen.length, 0, 'nothing forwarded before the body');
    socket.write(body);
    await r.until(/got 3000 bytes, expect=undefined$/);
    assert.deepEqual(statuses(r.text), [100, 200]);
    // The connection goes on: a second request on it, without an expectation.
    socket.write('GET /upload HTTP/1.1\r\nHost: x\r\n\r\n');
    await r.until(/got 0 bytes[\s\S]*got 0 bytes|got 3000 bytes[\s\S]*got 0 bytes/);
    assert.deepEqual(statuses(r.text), [100, 200, 200]);
  });
}

test('a request refused on its head gets its final status without a 100, and its connection closes (the body is never read)', async (t) => {
  const upstream = await upstreamCountingBodies(t);
  const shield = await startTestShield(t, upstream.url, { listen: { limits: { maxBodyBytes: 1000 } } });
  const socket = await openSocket(shield.port);
  const r = reader(socket);
  socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n');
  assert.equal(await waitClose(socket, 3_000), 'closed');
  assert.deepEqual(statuses(r.text), [413]);
  assert.match(r.text, /connection: close/i);
  assert.equal(upstream.seen.length, 0);
});

test('interim answers of the origin are relayed: 103 Early Hints (its Link) and 102, then the final answer whole, the connection kept', async (t) => {
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (req, res) => {
    if (req.url === '/hints') res.writeEarlyHints({ link: ['</app.css>; rel=preload; as=style', '</app.js>; rel=preload; as=script'], 'x-origin-note': 'kept back' });
    if (req.url === '/slow') res.writeProcessing();
    setTimeout(() => { res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 10 }); res.end(`final ${req.url?.slice(1, 5)}`); }, 30);
  };
  const shield = await startTestShield(t, upstream.url);
  const socket = await openSocket(shield.port);
  t.after(() => socket.destroy());
  const r = reader(socket);
  socket.write('GET /hints HTTP/1.1\r\nHost: x\r\n\r\n');
  await r.until(/final hint$/);
  assert.deepEqual(statuses(r.text), [103, 200]);
  const early = r.text.slice(0, r.text.indexOf('HTTP/1.1 200'));
  assert.match(early, /^HTTP\/1\.1 103 Early Hints\r\n/);
  assert.match(early, /link: <\/app\.css>; rel=preload; as=style, <\/app\.js>; rel=preload; as=script|link: <\/app\.css>[^\r]*\r\nlink: <\/app\.js>/i);
  assert.doesNotMatch(early, /x-origin-note/i, 'only Link goes in a hint');
  socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
  await r.until(/final slow$/);
  assert.deepEqual(statuses(r.text), [103, 200, 102, 200]);
});

test('an HTTP/1.0 client gets no interim answer (RFC 9110 §15.2), only the final one', async (t) => {
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (_req, res) => {
    res.writeEarlyHints({ link: '</app.css>; rel=preload; as=style' });
    setTimeout(() => { res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5 }); res.end('final'); }, 20);
  };
  const shield = await startTestShield(t, upstream.url);
  const socket = await openSocket(shield.port);
  const r = reader(socket);
  socket.write('GET /hints HTTP/1.0\r\nHost: x\r\n\r\n');
  assert.equal(await waitClose(socket, 3_000), 'closed');
  assert.match(r.text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nfinal$/);
});
