import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { runDrill } from '../../src/drill/run.js';

const fixture = (name: string): Buffer => readFileSync(fileURLToPath(new URL(`../fixtures/tls/${name}`, import.meta.url)));

/** An https server (the fixture site-a certificate) answering every request 200; counts handshakes and requests by path. */
async function startTlsServer(t: TestContext) {
  let handshakes = 0;
  const paths: string[] = [];
  const server = createServer({ cert: fixture('site-a.cert.pem'), key: fixture('site-a.key.pem') }, (req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
    res.end('ok');
  });
  server.on('secureConnection', () => { handshakes++; });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => { server.closeAllConnections(); server.close(); });
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, paths, get handshakes() { return handshakes; } };
}

test('drill over TLS: an https:// target gets every connection as a TLS handshake — customers, floods (undici) and raw-socket attacks (connect-flood: handshake and leave)', async (t) => {
  const srv = await startTlsServer(t);
  const r = await runDrill({
    target: srv.url, scenario: 'connect-flood', durationS: 2.5, leadS: 0.5, trackingUsers: 12, bankingUsers: 0, seed: 11, graceMs: 200,
    params: { openRate: 100, sources: 20, connections: 50, floodRate: 20, floodSources: 5 },
  });
  assert.ok(r.legit.all.attempts >= 3, `${r.legit.all.attempts} customer attempts`);
  assert.equal(r.legit.all.ok, r.legit.all.attempts, `customers over TLS: ${JSON.stringify(r.legit.all.outcomes)}`);
  const flood = r.attack.components.find((c) => c.label === 'connect-flood/flood');
  assert.ok((flood?.statuses['200'] ?? 0) > 10, `the light flood answered over TLS: ${JSON.stringify(flood?.statuses)}`);
  const connects = r.attack.components.find((c) => c.label === 'connect-flood');
  // Each connect-flood connection is a handshake the server made, beside the customers' and the flood's pools.
  assert.ok(srv.handshakes >= 100, `${srv.handshakes} handshakes (connect-flood opened ${JSON.stringify(connects?.peakHeld)} at most at once)`);
});

test('drill over TLS: slowloris trickles its head inside TLS, and slow-read reads one record per interval', async (t) => {
  const srv = await startTlsServer(t);
  const slow = await runDrill({
    target: srv.url, scenario: 'slowloris', durationS: 2, leadS: 0.5, trackingUsers: 0, bankingUsers: 0, seed: 12, graceMs: 200,
    params: { connections: 10, sources: 5, openRate: 200, intervalMs: 200 },
  });
  assert.equal(slow.attack.components.find((c) => c.label === 'slowloris')?.peakHeld, 10, 'held inside TLS: the server never saw a whole head');
  assert.ok(srv.handshakes >= 10);
  assert.equal(srv.paths.length, 0);
  const read = await runDrill({
    target: srv.url, scenario: 'slow-read', durationS: 2, leadS: 0.5, trackingUsers: 0, bankingUsers: 0, seed: 13, graceMs: 200,
    params: { connections: 4, sources: 2, openRate: 200, intervalMs: 50, readBytes: 64, floodRate: 0 },
  });
  const c = read.attack.components.find((x) => x.label === 'slow-read');
  assert.ok((c?.responsesCompleted ?? 0) >= 4, `small answers read to their end over TLS, asked again: ${c?.responsesCompleted}`);
  assert.ok(srv.paths.filter((p) => p === '/static/app.js').length >= 8);
});

test('drill h2-rapid-reset: streams opened and cancelled at once reach an HTTP/2 server as HEADERS then RST_STREAM; a target without h2 answers no-h2', async (t) => {
  const { createSecureServer } = await import('node:http2');
  let streams = 0;
  let cancelled = 0;
  const h2 = createSecureServer({ cert: fixture('site-a.cert.pem'), key: fixture('site-a.key.pem'), allowHTTP1: true }, (req, res) => {
    // Answered late: every stream is still open when its RST_STREAM arrives.
    setTimeout(() => { if (!res.destroyed) res.end('ok'); }, 200);
  });
  h2.on('stream', (stream) => { streams++; stream.once('aborted', () => { cancelled++; }); stream.on('error', () => {}); });
  h2.listen(0, '127.0.0.1');
  await once(h2, 'listening');
  t.after(() => h2.close());
  const r = await runDrill({
    target: `https://127.0.0.1:${(h2.address() as AddressInfo).port}`, scenario: 'h2-rapid-reset', durationS: 2, leadS: 0.5, trackingUsers: 4, bankingUsers: 0, seed: 5, graceMs: 200,
    params: { connections: 2, sources: 2, openRate: 10, intervalMs: 50, streams: 3, floodRate: 0 },
  });
  const attack = r.attack.components.find((c) => c.label === 'h2-rapid-reset');
  assert.ok(attack?.streamsPerS !== undefined && attack.streamsPerS > 50, `streams/s ${attack?.streamsPerS}`);
  assert.ok(streams >= 50, `${streams} streams reached the server`);
  assert.ok(cancelled >= streams * 0.9, `${cancelled} of ${streams} cancelled by the client`);

  const h1 = await startTlsServer(t);
  const refused = await runDrill({
    target: h1.url, scenario: 'h2-rapid-reset', durationS: 1.5, leadS: 0.5, trackingUsers: 2, bankingUsers: 0, seed: 5, graceMs: 200,
    params: { connections: 2, sources: 2, openRate: 10, intervalMs: 50, streams: 3, floodRate: 0 },
  });
  const none = refused.attack.components.find((c) => c.label === 'h2-rapid-reset');
  assert.ok((none?.statuses['no-h2'] ?? 0) >= 1, `an HTTP/1.1-only target: ${JSON.stringify(none?.statuses)}`);
  assert.equal(h1.paths.filter((p) => p.startsWith('/search')).length, 0, 'nothing was sent to it');
});

test('drill h2-multiplex-flood: each source\'s requests arrive as concurrent HTTP/2 streams on one connection', async (t) => {
  const { createSecureServer } = await import('node:http2');
  let sessions = 0;
  let inFlight = 0;
  let peak = 0;
  const versions = new Set<string>();
  const h2 = createSecureServer({ cert: fixture('site-a.cert.pem'), key: fixture('site-a.key.pem'), allowHTTP1: true }, (req, res) => {
    versions.add(req.httpVersion);
    inFlight++;
    peak = Math.max(peak, inFlight);
    setTimeout(() => { inFlight--; if (!res.destroyed) res.end('ok'); }, 300);
  });
  h2.on('session', () => { sessions++; });
  h2.listen(0, '127.0.0.1');
  await once(h2, 'listening');
  t.after(() => h2.close());
  const r = await runDrill({
    target: `https://127.0.0.1:${(h2.address() as AddressInfo).port}`, scenario: 'h2-multiplex-flood', durationS: 2, leadS: 0.5, trackingUsers: 0, bankingUsers: 0, seed: 5, graceMs: 500,
    params: { rate: 200, sources: 2, connections: 1, streams: 40 },
  });
  const flood = r.attack.components.find((c) => c.label === 'h2-multiplex-flood');
  assert.ok((flood?.statuses['200'] ?? 0) >= 100, JSON.stringify(flood?.statuses));
  assert.deepEqual([...versions], ['2.0']);
  assert.ok(sessions <= 2, `${sessions} HTTP/2 connections for 2 sources`);
  // Answers take 300 ms: 200 req/s over two connections keeps tens of streams open on each.
  assert.ok(peak >= 30, `at most ${peak} streams at once`);
});

test('drill browser with h2: a customer\'s requests go as concurrent streams on one HTTP/2 connection, with its cookies', async (t) => {
  const { createSecureServer } = await import('node:http2');
  const { createBrowser } = await import('../../src/drill/browser.js');
  const { ALL_IDENTITIES } = await import('../../src/drill/headers.js');
  let sessions = 0;
  let inFlight = 0;
  let peak = 0;
  const seen: Array<{ version: string; cookie: string | undefined }> = [];
  const h2 = createSecureServer({ cert: fixture('site-a.cert.pem'), key: fixture('site-a.key.pem'), allowHTTP1: true }, (req, res) => {
    seen.push({ version: req.httpVersion, cookie: req.headers.cookie });
    inFlight++;
    peak = Math.max(peak, inFlight);
    setTimeout(() => { inFlight--; res.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': 'sid=abc; Path=/' }); res.end('ok'); }, 100);
  });
  h2.on('session', () => { sessions++; });
  h2.listen(0, '127.0.0.1');
  await once(h2, 'listening');
  t.after(() => h2.close());
  const browser = createBrowser({ origin: `https://127.0.0.1:${(h2.address() as AddressInfo).port}`, identity: ALL_IDENTITIES[0]!, h2: true });
  t.after(() => browser.close());
  assert.equal((await browser.fetch('GET', '/')).status, 200);
  const page = await Promise.all(Array.from({ length: 12 }, (_, i) => browser.fetch('GET', `/asset/${i}`, { kind: 'json' })));
  assert.ok(page.every((r) => r.status === 200));
  assert.equal(sessions, 1, 'one connection');
  assert.ok(peak >= 10, `${peak} streams at once`);
  assert.ok(seen.every((s) => s.version === '2.0'));
  assert.ok(seen.slice(1).every((s) => s.cookie === 'sid=abc'), 'the cookie it was given goes with every later request');
});

test('drill h2-slow-post: streams held open on each HTTP/2 connection trickle their bodies; the shield\'s body guard answers each 408 and the drill counts it by its :status', async (t) => {
  const { startRecordingUpstream, startTestShield } = await import('../helpers/servers.js');
  const up = await startRecordingUpstream(t);
  const site = (name: string): string => fileURLToPath(new URL(`../fixtures/tls/${name}`, import.meta.url));
  const shield = await startTestShield(t, up.url, {
    listen: { tls: { certificates: [{ cert: site('site-a.cert.pem'), key: site('site-a.key.pem') }], http2: true }, limits: { minBodyRateBytesPerS: 1024, bodyGraceMs: 300 } },
  });
  const r = await runDrill({
    target: shield.url, scenario: 'h2-slow-post', durationS: 3, leadS: 0.5, trackingUsers: 2, bankingUsers: 0, seed: 5, graceMs: 300,
    params: { connections: 2, sources: 2, openRate: 10, intervalMs: 200, streams: 10, chunkBytes: 1, bodyBytes: 65536, floodRate: 0 },
  });
  const attack = r.attack.components.find((c) => c.label === 'h2-slow-post');
  assert.ok(attack?.streamsPerS !== undefined && attack.streamsPerS > 5, `streams/s ${attack?.streamsPerS}`);
  assert.ok((attack?.statuses['408'] ?? 0) >= 10, `answers: ${JSON.stringify(attack?.statuses)}`);
  assert.ok(!up.seen.some((s) => s.url === '/bank/login'), 'no trickled body reached the origin');
});
