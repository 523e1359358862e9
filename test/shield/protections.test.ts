import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { request, Agent } from 'undici';
import { openSocket, rawExchange, startRecordingUpstream, startTestShield, statusOf, waitClose } from '../helpers/servers.js';
import { buildProxyV1, buildProxyV2 } from '../../src/shield/proxy-protocol/parse.js';

/** An undici dispatcher whose sockets come from a given 127.x source address. */
function from(t: { after(fn: () => unknown): void }, localAddress: string): Agent {
  const agent = new Agent({ localAddress });
  t.after(() => agent.close());
  return agent;
}

test('slowloris: a request head trickled byte by byte is cut by the headers timeout', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, { listen: { limits: { headersTimeoutMs: 800 } } });
  const socket = await openSocket(shield.port);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
  // Keep sending one header every 200 ms, far longer than the timeout (bounded: 40 lines at most).
  let sent = 0;
  const trickle = setInterval(() => { if (!socket.destroyed && sent++ < 40) socket.write(`X-Pad-${sent}: a\r\n`); }, 200);
  t.after(() => clearInterval(trickle));
  const outcome = await waitClose(socket, 8_000);
  clearInterval(trickle);
  assert.equal(outcome, 'closed', 'the shield closed the connection');
  assert.ok(sent < 40, `closed after ${sent} header lines`);
  const raw = Buffer.concat(chunks).toString();
  assert.ok(raw === '' || statusOf(raw) === 408, raw);
  // A connection that never sends a byte is held to the same deadline.
  const silent = await openSocket(shield.port);
  assert.equal(await waitClose(silent, 8_000), 'closed');
  assert.equal(upstream.seen.length, 0);
});

test('slow POST: a body below the minimum rate is cut with 408, a stalled body too', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, {
    listen: { limits: { minBodyRateBytesPerS: 2_000, bodyGraceMs: 600, bodyIdleTimeoutMs: 700 } },
  });
  // 1) Trickle: 10 bytes every 100 ms = 100 B/s, well under 2000 B/s; it never stalls, so only the rate rule catches it.
  const slow = await openSocket(shield.port);
  const got: Buffer[] = [];
  slow.on('data', (c: Buffer) => got.push(c));
  slow.write('POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n');
  let n = 0;
  const trickle = setInterval(() => { if (!slow.destroyed && n++ < 100) slow.write('a'.repeat(10)); }, 100);
  t.after(() => clearInterval(trickle));
  assert.equal(await waitClose(slow, 8_000), 'closed');
  clearInterval(trickle);
  const raw = Buffer.concat(got).toString();
  assert.equal(statusOf(raw), 408, raw);
  assert.match(raw, /x-rempart-error: RMP_ERR_BODY_TOO_SLOW/i);
  // 2) Stall: half a body, then silence.
  const stalled = await openSocket(shield.port);
  const got2: Buffer[] = [];
  stalled.on('data', (c: Buffer) => got2.push(c));
  stalled.write('POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345');
  assert.equal(await waitClose(stalled, 8_000), 'closed');
  assert.equal(statusOf(Buffer.concat(got2).toString()), 408);
  // Neither body was ever completed upstream.
  assert.ok(upstream.seen.every((s) => s.bodyBytes < 100000));
});

test('blocklisted addresses are refused at connection time, before any HTTP parsing', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, { blocklist: [{ cidr: '127.0.77.0/24', reason: 'test' }] });
  const raw = await rawExchange(shield.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', { localAddress: '127.0.77.5' });
  assert.equal(raw, '', 'no HTTP response at all: the socket was reset unparsed');
  const ok = await request(`${shield.url}/`, { dispatcher: from(t, '127.0.78.5') });
  assert.equal(ok.statusCode, 200);
  await ok.body.text();
  assert.equal(upstream.seen.length, 1);
  const metrics = await (await request(`${shield.adminUrl}/metrics`)).body.text();
  assert.match(metrics, /rempart_connections_refused_total\{reason="blocklist"\} 1/);
});

test('a block added through the admin API cuts open keep-alive connections too', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url);
  const socket = await openSocket(shield.port, '127.0.79.9');
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((r) => socket.once('data', r));
  const res = await request(`${shield.adminUrl}/api/blocks`, {
    method: 'POST', headers: { authorization: 'Bearer test-admin-token-0123456789', 'content-type': 'application/json' },
    body: JSON.stringify({ cidr: '127.0.79.0/24', ttlS: 60, reason: 'attack' }),
  });
  assert.equal(res.statusCode, 201);
  assert.deepEqual(await res.body.json(), { cidr: '127.0.79.0/24', disconnected: 1 });
  assert.equal(await waitClose(socket, 2_000), 'closed');
});

test('concurrent connections per client address are capped; other addresses are unaffected', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, { listen: { limits: { maxConnectionsPerClient: 3 } } });
  const held = await Promise.all([1, 2, 3].map(() => openSocket(shield.port, '127.0.90.1')));
  t.after(() => held.forEach((s) => s.destroy()));
  await new Promise((r) => setTimeout(r, 50));
  const fourth = await rawExchange(shield.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', { localAddress: '127.0.90.1', timeoutMs: 2_000 });
  assert.equal(fourth, '', 'the fourth connection from the same address is reset');
  const other = await rawExchange(shield.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { localAddress: '127.0.90.2' });
  assert.equal(statusOf(other), 200);
  // Closing one held connection frees a slot.
  held[0]?.destroy();
  await new Promise((r) => setTimeout(r, 50));
  const again = await rawExchange(shield.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { localAddress: '127.0.90.1' });
  assert.equal(statusOf(again), 200);
});

test('connections that carry no request are rate-limited per client at the gate (GCRA): past the allowance its new connections are reset before a byte is read; connections with requests never count', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, { listen: { limits: { emptyConnectionsPerClient: { ratePerS: 2, burst: 3 } } } });
  const request = (address: string): Promise<string> => rawExchange(shield.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { localAddress: address, timeoutMs: 2_000 });
  const empty = async (address: string): Promise<void> => { const s = await openSocket(shield.port, address); s.destroy(); await new Promise((r) => setTimeout(r, 20)); };
  // A customer opening a connection per request, many times the allowance: never limited.
  for (let i = 0; i < 12; i++) assert.equal(statusOf(await request('127.0.93.1')), 200, `request ${i}`);
  // Connect and close, nothing sent: burst + 1 of them take the whole allowance.
  for (let i = 0; i < 4; i++) await empty('127.0.93.2');
  assert.equal(await request('127.0.93.2'), '', 'over its allowance: reset, even with a request');
  assert.equal(statusOf(await request('127.0.93.3')), 200, 'another address is not concerned');
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(statusOf(await request('127.0.93.2')), 200, 'admitted again once the rate allows (1 / ratePerS)');
  const metrics = await (await fetch(`${shield.adminUrl}/metrics`)).text();
  assert.match(metrics, /rempart_connections_refused_total\{reason="empty-connections"\} 1\n/);
});

test('at the global connection cap the longest-idle connection makes room for a new one; a connection serving a request never does', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, { listen: { limits: { maxConnections: 10 } } });
  // Ten connections that never send a byte (an idle-connection flood) hold the whole cap.
  const held: Socket[] = [];
  for (let i = 1; i <= 10; i++) { held.push(await openSocket(shield.port, `127.0.91.${i}`)); await new Promise((r) => setTimeout(r, 5)); }
  t.after(() => held.forEach((s) => s.destroy()));
  await new Promise((r) => setTimeout(r, 50));
  const closed = held.map((s) => new Promise<number>((resolve) => { s.resume(); s.once('close', () => resolve(held.indexOf(s))); }));
  // A customer still gets in: the oldest idle connection is closed for it.
  const customer = await rawExchange(shield.port, 'GET /page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { localAddress: '127.0.91.50', timeoutMs: 2_000 });
  assert.equal(statusOf(customer), 200);
  assert.equal(await Promise.race(closed), 0, 'the longest idle went first');
  assert.equal(held.filter((s) => s.destroyed).length, 1, 'one connection closed, no more');

  // Ten connections each waiting for an answer: none is idle, so an eleventh is refused.
  const release: Array<() => void> = [];
  upstream.handler = (_req, res) => { release.push(() => res.end('late')); };
  t.after(() => release.forEach((f) => f()));
  held.forEach((s) => s.destroy());
  await new Promise((r) => setTimeout(r, 100));
  const busy = await Promise.all(Array.from({ length: 10 }, (_, i) => openSocket(shield.port, `127.0.92.${i + 1}`)));
  t.after(() => busy.forEach((s) => s.destroy()));
  for (const s of busy) s.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
  const deadline = Date.now() + 2_000;
  while (release.length < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(release.length, 10, 'ten requests reached the upstream and wait there');
  const eleventh = await rawExchange(shield.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', { localAddress: '127.0.92.50', timeoutMs: 1_000 });
  assert.equal(eleventh, '', 'no idle connection to close: the newcomer is reset');
  assert.equal(busy.filter((s) => s.destroyed).length, 0, 'no connection serving a request was closed');
});

test('GCRA per client and class answers 429 with Retry-After; another client is not affected', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, {
    rateLimits: { perClient: { normal: { ratePerS: 1, burst: 2 }, critical: { ratePerS: 100, burst: 100 } } },
  });
  const a = from(t, '127.0.91.1');
  const statuses: number[] = [];
  let retryAfter: string | undefined;
  for (let i = 0; i < 6; i++) {
    const res = await request(`${shield.url}/page`, { dispatcher: a });
    statuses.push(res.statusCode);
    if (res.statusCode === 429) retryAfter = String(res.headers['retry-after']);
    await res.body.text();
  }
  assert.equal(statuses[0], 200);
  assert.ok(statuses.filter((s) => s === 200).length <= 3, `at most 1 + burst allowed at once: ${statuses}`);
  assert.ok(statuses.includes(429), `${statuses}`);
  assert.match(retryAfter ?? '', /^[1-9]\d*$/, 'Retry-After is delay-seconds (RFC 9110 §10.2.3)');
  // The critical class has its own budget for the same client.
  const pay = await request(`${shield.url}/pay/x`, { dispatcher: a });
  assert.equal(pay.statusCode, 200);
  await pay.body.text();
  const b = await request(`${shield.url}/page`, { dispatcher: from(t, '127.0.91.2') });
  assert.equal(b.statusCode, 200);
  await b.body.text();
});

test('X-Forwarded-For from an untrusted peer is ignored for limits and forwarding', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, { rateLimits: { perClient: { normal: { ratePerS: 0.1, burst: 0 } } } });
  const a = from(t, '127.0.92.1');
  const first = await request(`${shield.url}/`, { dispatcher: a, headers: { 'x-forwarded-for': '198.51.100.1' } });
  await first.body.text();
  // A new spoofed address does not buy a new budget.
  const second = await request(`${shield.url}/`, { dispatcher: a, headers: { 'x-forwarded-for': '198.51.100.2' } });
  await second.body.text();
  assert.deepEqual([first.statusCode, second.statusCode], [200, 429]);
  assert.equal(upstream.seen[0]?.headers['x-forwarded-for'], '127.0.92.1');
});

test('X-Forwarded-For from a trusted proxy names the client: appended upstream, used for blocks', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, {
    trustedProxies: ['127.0.93.0/24'], blocklist: [{ cidr: '203.0.113.66/32' }],
  });
  const lb = from(t, '127.0.93.1');
  const ok = await request(`${shield.url}/`, { dispatcher: lb, headers: { 'x-forwarded-for': '203.0.113.9' } });
  await ok.body.text();
  assert.equal(ok.statusCode, 200);
  assert.equal(upstream.seen[0]?.headers['x-forwarded-for'], '203.0.113.9, 127.0.93.1');
  // RFC 7239 §5.2: our Forwarded element names the node we received the request from.
  assert.match(String(upstream.seen[0]?.headers.forwarded), /^for=127\.0\.93\.1;proto=http/);
  const blocked = await request(`${shield.url}/`, { dispatcher: lb, headers: { 'x-forwarded-for': '203.0.113.66' } });
  await blocked.body.text();
  assert.equal(blocked.statusCode, 403);
  assert.equal(upstream.seen.length, 1);
});

test('PROXY protocol v1 and v2 are honoured from a trusted peer only', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, {
    listen: { proxyProtocol: true }, trustedProxies: ['127.0.94.1/32'], blocklist: [{ cidr: '198.51.100.66/32' }],
  });
  const req = 'GET /pp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
  const v1 = buildProxyV1({ family: 'TCP4', source: { address: '198.51.100.7', port: 5555 }, destination: { address: '127.0.0.1', port: 80 } });
  const r1 = await rawExchange(shield.port, Buffer.concat([Buffer.from(v1), Buffer.from(req)]), { localAddress: '127.0.94.1' });
  assert.equal(statusOf(r1), 200, r1);
  const v2 = buildProxyV2({ command: 'proxy', source: { address: '2001:db8::8', port: 6666 }, destination: { address: '2001:db8::1', port: 443 } });
  const r2 = await rawExchange(shield.port, Buffer.concat([v2, Buffer.from(req)]), { localAddress: '127.0.94.1' });
  assert.equal(statusOf(r2), 200, r2);
  assert.deepEqual(upstream.seen.map((s) => s.headers['x-forwarded-for']), ['198.51.100.7', '2001:db8::8']);
  // The PROXY source is what the blocklist sees.
  const v1Blocked = buildProxyV1({ family: 'TCP4', source: { address: '198.51.100.66', port: 1 }, destination: { address: '127.0.0.1', port: 80 } });
  assert.equal(await rawExchange(shield.port, Buffer.concat([Buffer.from(v1Blocked), Buffer.from(req)]), { localAddress: '127.0.94.1' }), '');
  // From an untrusted peer a PROXY line is just garbage in front of HTTP: 400, nothing forwarded.
  const spoof = await rawExchange(shield.port, Buffer.concat([Buffer.from(v1), Buffer.from(req)]), { localAddress: '127.0.94.2' });
  assert.equal(statusOf(spoof), 400);
  const spoof2 = await rawExchange(shield.port, Buffer.concat([v2, Buffer.from(req)]), { localAddress: '127.0.94.2' });
  assert.equal(statusOf(spoof2), 400);
  assert.equal(upstream.seen.length, 2);
});
