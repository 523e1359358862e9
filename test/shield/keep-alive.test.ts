import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { openSocket, startRecordingUpstream, startTestShield, statusOf } from '../helpers/servers.js';

/** Sends one GET on an open socket and resolves with the raw answer (one response with a body). */
function get(socket: Socket, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let raw = '';
    const onData = (c: Buffer): void => {
      raw += c.toString('latin1');
      const head = raw.indexOf('\r\n\r\n');
      const len = /\r\ncontent-length: (\d+)/i.exec(raw);
      if (head >= 0 && len && raw.length >= head + 4 + Number(len[1])) { socket.off('data', onData); resolve(raw); }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed after ${JSON.stringify(raw.slice(0, 80))}`)));
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
  });
}

test('idle keep-alive connections are kept 75 s by default, as nginx does, and the client is told (Keep-Alive: timeout=75)', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url);
  const s = await openSocket(shield.port);
  t.after(() => s.destroy());
  const raw = await get(s, '/a');
  assert.equal(statusOf(raw), 200);
  // Longer than any load balancer's usual idle timeout (60 s for an AWS ALB): the one in front
  // must close first, or it sends a request into a connection the shield is closing (a 502).
  assert.match(raw, /\r\nkeep-alive: timeout=75\b/i);
});

test('a kept-alive connection idle past the header timeout still carries the next request; past the keep-alive timeout the shield closes it', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, { listen: { limits: { headersTimeoutMs: 500, keepAliveTimeoutMs: 2_000 } } });
  const s = await openSocket(shield.port);
  t.after(() => s.destroy());
  assert.equal(statusOf(await get(s, '/a')), 200);
  // Idle three header timeouts: the header timeout counts from a request's first byte, not from the last answer.
  await new Promise((r) => setTimeout(r, 1_500));
  assert.ok(!s.destroyed);
  assert.equal(statusOf(await get(s, '/b')), 200);
  // Idle past the keep-alive timeout: closed by the shield.
  const t0 = performance.now();
  await once(s, 'close');
  const idle = performance.now() - t0;
  assert.ok(idle >= 1_500, `closed after ${idle.toFixed(0)} ms idle`);
  assert.deepEqual(upstream.seen.map((r) => r.url), ['/a', '/b']);
});
