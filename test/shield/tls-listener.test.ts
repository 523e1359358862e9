import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket, type ConnectionOptions } from 'node:tls';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startShield } from '../../src/shield/start.js';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { X509Certificate } from 'node:crypto';
import { parseConfig, parseConfigText, isConfigError } from '../../src/config/load.js';
import { configWarnings } from '../../src/config/warnings.js';
import { rawExchange, startRecordingUpstream, startTestShield } from '../helpers/servers.js';
import { tempDir } from '../helpers/temp-dir.js';
import type { ShieldHandle } from '../../src/shield/start.js';
import { emptyConnectionsFor } from '../../src/shield/listener/http1.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/tls/${name}`, import.meta.url));
const SITE_A = { cert: fixture('site-a.cert.pem'), key: fixture('site-a.key.pem') };
const SITE_B = { cert: fixture('site-b.cert.pem'), key: fixture('site-b.key.pem') };
const CA = [readFileSync(SITE_A.cert), readFileSync(SITE_B.cert)];
const TOKEN = 'test-admin-token-0123456789';

/** A TLS connection to the shield, the certificates checked against our two fixture sites. */
async function tlsOpen(port: number, opts: ConnectionOptions = {}): Promise<TLSSocket> {
  const socket = tlsConnect({ host: '127.0.0.1', port, ca: CA, servername: 'a.example', ALPNProtocols: ['http/1.1'], ...opts });
  await once(socket, 'secureConnect');
  // Once established, a reset when the shield stops after the test is no failure of the test.
  socket.on('error', () => {});
  return socket;
}

/** Writes one request on an open socket and reads one whole response (Content-Length framed). */
async function exchange(socket: Socket, request: string): Promise<{ status: number; head: string; body: string }> {
  let buf = Buffer.alloc(0);
  const done = new Promise<{ status: number; head: string; body: string }>((resolve, reject) => {
    const onData = (c: Buffer): void => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = buf.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      socket.off('data', onData);
      resolve({ status: Number(head.slice(9, 12)), head, body: buf.subarray(end + 4, end + 4 + length).toString() });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`closed before a whole response: ${buf.toString('latin1')}`)));
  });
  socket.write(request);
  return done;
}

const get = (path: string, host = 'a.example', extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: tls-test\r\n${extra}\r\n`;

async function adminJson(shield: ShieldHandle, path: string): Promise<unknown> {
  return (await fetch(`${shield.adminUrl}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
}
const metrics = async (shield: ShieldHandle): Promise<string> => (await fetch(`${shield.adminUrl}/metrics`)).text();

async function tlsShield(t: TestContext, upstreamUrl: string, tls: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<ShieldHandle> {
  return startTestShield(t, upstreamUrl, { listen: { tls: { certificates: [SITE_A, SITE_B], ...tls }, ...(extra.listen as object ?? {}) }, ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'listen')) });
}

test('TLS listener: HTTPS is proxied as https, the certificate chosen by SNI (the first without a name), one handshake per connection, all of it visible to the operator', async (t) => {
  const up = await startRecordingUpstream(t);
  const shield = await tlsShield(t, up.url);
  assert.match(shield.url, /^https:\/\/127\.0\.0\.1:\d+$/);

  const a = await tlsOpen(shield.port);
  assert.equal(a.alpnProtocol, 'http/1.1');
  assert.equal(a.getPeerCertificate().subject.CN, 'a.example');
  const first = await exchange(a, get('/hello'));
  assert.equal(first.status, 200);
  // Keep-alive: a second request on the same TLS connection.
  assert.equal((await exchange(a, get('/again'))).status, 200);
  assert.deepEqual(up.seen.map((s) => s.url), ['/hello', '/again']);
  assert.equal(up.seen[0]?.headers['x-forwarded-proto'], 'https', 'the origin learns the client used TLS');
  assert.match(String(up.seen[0]?.headers.forwarded), /proto=https/);
  const state = await adminJson(shield, '/api/state') as { connections: { open: number }; listen: { tls: { certificates: Array<{ names: string[]; expiresInDays: number }> } } };
  assert.equal(state.connections.open, 1, 'the TLS connection is counted by the gate as its TCP connection');
  assert.deepEqual(state.listen.tls.certificates.map((c) => c.names[0]), ['a.example', 'b.example']);
  assert.ok((state.listen.tls.certificates[0]?.expiresInDays ?? 0) > 3650);
  a.end();

  // SNI picks the second site's certificate, wildcard included; no SNI (an address) gets the first.
  const b = await tlsOpen(shield.port, { servername: 'www.b.example' });
  assert.equal(b.getPeerCertificate().subject.CN, 'b.example');
  assert.equal((await exchange(b, get('/b', 'www.b.example'))).status, 200);
  b.end();
  const byAddress = await tlsOpen(shield.port, { servername: '' as string, checkServerIdentity: () => undefined });
  assert.equal(byAddress.getPeerCertificate().subject.CN, 'a.example');
  byAddress.end();

  // Three connections, three full handshakes, counted by version; each certificate's end, to alert on.
  const m = await metrics(shield);
  assert.match(m, /rempart_tls_handshakes_total\{version="TLSv1\.3",resumed="false"\} 3/);
  const notAfter = Number(/rempart_tls_certificate_not_after_seconds\{subject="CN=b\.example"\} (\d+)/.exec(m)?.[1]);
  assert.equal(notAfter, Math.floor(Date.parse(new X509Certificate(CA[1] as Buffer).validTo) / 1000));
  // Closed TLS connections are counted out of the gate.
  for (let i = 0; i < 50 && (await adminJson(shield, '/api/state') as { connections: { open: number } }).connections.open > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal((await adminJson(shield, '/api/state') as { connections: { open: number } }).connections.open, 0);
});

test('TLS listener: plain HTTP on the TLS port gets a 400 it can read, a silent connection is closed at the handshake timeout, a client offering only h2 is refused — none reaches the origin', async (t) => {
  const up = await startRecordingUpstream(t);
  const shield = await tlsShield(t, up.url, { handshakeTimeoutMs: 300 });

  const plain = await rawExchange(shield.port, get('/plain'), { timeoutMs: 2_000 });
  assert.match(plain, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(plain, /https:\/\//);

  const silent = netConnect({ host: '127.0.0.1', port: shield.port });
  silent.on('error', () => {});
  const opened = Date.now();
  await once(silent, 'close');
  const heldMs = Date.now() - opened;
  assert.ok(heldMs >= 250 && heldMs < 3_000, `closed after ${heldMs} ms (handshakeTimeoutMs 300)`);

  const h2only = tlsConnect({ host: '127.0.0.1', port: shield.port, ca: CA, servername: 'a.example', ALPNProtocols: ['h2'] });
  const outcome = await new Promise<string>((resolve) => {
    h2only.once('secureConnect', () => resolve(`connected with ${String(h2only.alpnProtocol)}`));
    h2only.once('error', (e: Error & { code?: string }) => resolve(`error ${e.code ?? e.message}`));
  });
  h2only.destroy();
  assert.match(outcome, /^error /, `a client that speaks only h2 has no protocol in common with the shield: ${outcome}`);

  const m = await metrics(shield);
  assert.match(m, /rempart_connections_refused_total\{reason="plain-http"\} 1/);
  assert.match(m, /rempart_connections_refused_total\{reason="tls-timeout"\} 1/);
  assert.match(m, /rempart_connections_refused_total\{reason="tls-handshake"\} 1/);
  assert.equal(up.seen.length, 0);
});

test('TLS listener: a blocked source is reset before any handshake byte; PROXY protocol from a trusted balancer comes before the TLS hello', async (t) => {
  const up = await startRecordingUpstream(t);
  const shield = await tlsShield(t, up.url, {}, { blocklist: [{ cidr: '127.0.9.0/24', reason: 'test' }], trustedProxies: ['127.0.0.1/32'], listen: { proxyProtocol: true } });

  // From a blocked address: the connection is reset, the server never sent a byte of TLS.
  const blocked = netConnect({ host: '127.0.0.1', port: shield.port, localAddress: '127.0.9.9' });
  let received = 0;
  blocked.on('data', (c: Buffer) => { received += c.length; });
  const closed = new Promise<void>((resolve) => blocked.once('close', () => resolve()));
  blocked.on('error', () => {}); // a reset, as it should be
  blocked.once('connect', () => blocked.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])));
  await closed;
  assert.equal(received, 0);
  assert.doesNotMatch(await metrics(shield), /rempart_tls_handshakes_total\{/, 'no handshake was made for it');

  // The balancer's PROXY v1 header names the client; then the client's TLS hello on the same connection.
  const tcp = netConnect({ host: '127.0.0.1', port: shield.port });
  await once(tcp, 'connect');
  tcp.write('PROXY TCP4 203.0.113.7 127.0.0.1 50123 443\r\n');
  const viaBalancer = tlsConnect({ socket: tcp, ca: CA, servername: 'a.example', ALPNProtocols: ['http/1.1'] });
  await once(viaBalancer, 'secureConnect');
  assert.equal((await exchange(viaBalancer, get('/via-balancer'))).status, 200);
  viaBalancer.end();
  assert.equal(up.seen[0]?.headers['x-forwarded-for'], '203.0.113.7');
  assert.equal(up.seen[0]?.headers['x-forwarded-proto'], 'https');
});

test('TLS listener: cookies the shield sets over TLS carry Secure', async (t) => {
  const up = await startRecordingUpstream(t);
  const shield = await tlsShield(t, up.url);
  const forced = await fetch(`${shield.adminUrl}/api/attack`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ ttlS: 60, reason: 'test' }) });
  assert.equal(forced.status, 200);
  const s = await tlsOpen(shield.port);
  const r = await exchange(s, get('/track/1', 'a.example', 'Accept: text/html\r\nSec-Fetch-Mode: navigate\r\n'));
  s.end();
  assert.equal(r.status, 307, 'a navigation under a forced attack gets the no-JavaScript check');
  assert.match(r.head, /\r\nset-cookie: [^\r]*; Secure/i);
  assert.equal(up.seen.length, 0);
});

test('TLS listener: a reload serves renewed certificates to new connections; one whose key does not match is refused and the old one stays', async (t) => {
  const up = await startRecordingUpstream(t);
  const shield = await tlsShield(t, up.url, { certificates: [SITE_A] });
  const cn = async (): Promise<string> => { const s = await tlsOpen(shield.port, { servername: '' as string, checkServerIdentity: () => undefined }); const name = s.getPeerCertificate().subject.CN; s.end(); return String(name); };
  assert.equal(await cn(), 'a.example');
  const base = shield.config();
  const withCerts = (certificates: Array<{ cert: string; key: string }>) => parseConfig({ ...JSON.parse(JSON.stringify(base)), listen: { ...JSON.parse(JSON.stringify(base.listen)), tls: { ...base.listen.tls, certificates } } });
  shield.reload(withCerts([SITE_B]));
  assert.equal(await cn(), 'b.example', 'the new certificate, no restart');
  // A key of another certificate: the configuration is refused where it is read...
  assert.throws(() => withCerts([{ cert: SITE_A.cert, key: SITE_B.key }]), (e: unknown) => isConfigError(e) && /is not the private key of/.test(e.problems[0]?.message ?? ''));
  // ...and a reload handed files that changed since they were checked is refused whole.
  const dir = tempDir(t, 'rempart-tls-');
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  writeFileSync(cert, readFileSync(SITE_A.cert));
  writeFileSync(key, readFileSync(SITE_A.key));
  const checked = withCerts([{ cert, key }]);
  writeFileSync(key, readFileSync(SITE_B.key));
  assert.throws(() => shield.reload(checked), /is not the private key of/);
  assert.equal(await cn(), 'b.example', 'the running certificate stays');
  assert.equal(shield.config().listen.tls?.certificates[0]?.cert, SITE_B.cert, 'and the running configuration');
});

test('TLS configuration: a missing file or a key of another certificate is an error at its key and line; relative paths are read from the file\'s directory', () => {
  const dir = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
  const file = join(dir, 'rempart.yaml');
  const yaml = (cert: string, key: string): string => [
    'upstreams: { o: { url: "http://127.0.0.1:1" } }',
    'routes: [ { match: { path: / }, upstream: o } ]',
    'listen:',
    '  tls:',
    '    certificates:',
    `      - cert: ${cert}`,
    `        key: ${key}`,
  ].join('\n');
  const ok = parseConfigText(yaml('site-a.cert.pem', 'site-a.key.pem'), file);
  assert.equal(ok.listen.tls?.certificates[0]?.cert, SITE_A.cert, 'resolved against the configuration file\'s directory');
  // A certificate near its end is said at start, on reload and by `config check`.
  const end = Date.parse(new X509Certificate(CA[0] as Buffer).validTo);
  assert.deepEqual(configWarnings(ok, end - 40 * 86_400_000).filter((w) => w.path.startsWith('listen.tls')), []);
  assert.deepEqual(configWarnings(ok, end - 5.5 * 86_400_000).filter((w) => w.path.startsWith('listen.tls')).map((w) => [w.path, /expires in 5 day/.test(w.message)]), [['listen.tls.certificates[0].cert', true]]);
  assert.match(configWarnings(ok, end + 1000).find((w) => w.path.startsWith('listen.tls'))?.message ?? '', /expired on .*clients refuse it/);
  try {
    parseConfigText(yaml('missing.pem', 'site-b.key.pem'), file);
    assert.fail('a missing certificate file must be refused');
  } catch (e) {
    assert.ok(isConfigError(e));
    assert.deepEqual(e.problems.map((p) => [p.path, p.line]), [['listen.tls.certificates[0].cert', 6]]);
    assert.match(e.problems[0]?.message ?? '', /cannot read .*missing\.pem: ENOENT/);
  }
  try {
    parseConfigText(yaml('site-a.cert.pem', 'site-b.key.pem'), file);
    assert.fail('a key of another certificate must be refused');
  } catch (e) {
    assert.ok(isConfigError(e));
    assert.deepEqual(e.problems.map((p) => [p.path, p.line]), [['listen.tls.certificates[0].key', 7]]);
  }
});

test('TLS listener: at the connection cap the idle TLS connection makes room, never the one whose request is being served', async (t) => {
  const up = await startRecordingUpstream(t);
  up.handler = (_req, res) => { setTimeout(() => { res.writeHead(200, { 'content-length': '4' }); res.end('slow'); }, 400); };
  const shield = await tlsShield(t, up.url, {}, { listen: { limits: { maxConnections: 2 } } });
  const busy = await tlsOpen(shield.port);
  const answer = exchange(busy, get('/slow'));
  // The request is in progress at the origin before the other connections come.
  for (let i = 0; i < 100 && up.seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  const idle = await tlsOpen(shield.port);
  const idleClosed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
  const third = await tlsOpen(shield.port);
  await idleClosed;
  assert.equal((await answer).status, 200, 'the oldest connection was serving a request: not the one evicted');
  assert.match(await metrics(shield), /rempart_connections_refused_total\{reason="evicted-idle"\} 1/);
  busy.end();
  third.end();
});

test('TLS listener: a WebSocket over TLS (wss://) is tunnelled to the origin and echoes', async (t) => {
  const echo = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(echo, 'listening');
  const seen: Array<Record<string, unknown>> = [];
  echo.on('connection', (ws, req) => { seen.push(req.headers); ws.on('message', (data, binary) => ws.send(data, { binary })); });
  t.after(() => { for (const c of echo.clients) c.terminate(); echo.close(); });
  const shield = await tlsShield(t, `http://127.0.0.1:${(echo.address() as AddressInfo).port}`, {}, {
    routes: [{ match: { path: '/live/' }, upstream: 'origin', class: 'normal', websocket: true }, { match: { path: '/' }, upstream: 'origin', class: 'normal' }],
  });
  const ws = new WebSocket(`wss://127.0.0.1:${shield.port}/live/parcel`, { ca: CA, headers: { host: 'a.example' } });
  await once(ws, 'open');
  ws.send('over tls');
  const [msg] = await once(ws, 'message') as [Buffer];
  assert.equal(msg.toString(), 'over tls');
  assert.equal(seen[0]?.['x-forwarded-proto'], 'https');
  ws.close();
  await once(ws, 'close');
});

test('TLS listener: a returning client resumes its session (TLS 1.3 ticket): no full handshake, counted as resumed', async (t) => {
  const up = await startRecordingUpstream(t);
  const shield = await tlsShield(t, up.url);
  const first = tlsConnect({ host: '127.0.0.1', port: shield.port, ca: CA, servername: 'a.example' });
  first.on('error', () => {});
  // The server's tickets travel with its first bytes (OpenSSL sends them on its first write).
  const ticket = once(first, 'session') as Promise<[Buffer]>;
  await once(first, 'secureConnect');
  assert.equal((await exchange(first, get('/first'))).status, 200);
  const [session] = await ticket;
  first.end();
  const again = await tlsOpen(shield.port, { session });
  assert.equal(again.isSessionReused(), true);
  assert.equal((await exchange(again, get('/again'))).status, 200);
  again.end();
  const m = await metrics(shield);
  assert.match(m, /rempart_tls_handshakes_total\{version="TLSv1\.3",resumed="false"\} 1\n/);
  assert.match(m, /rempart_tls_handshakes_total\{version="TLSv1\.3",resumed="true"\} 1\n/);
});

test('TLS listener: a source that handshakes and leaves, in a loop, is cut at the gate past its allowance of empty connections, before any handshake; a client with requests on each connection is not', async (t) => {
  const up = await startRecordingUpstream(t);
  const shield = await tlsShield(t, up.url, {}, { listen: { limits: { emptyConnectionsPerClient: { ratePerS: 1, burst: 2 } } } });
  const attempt = async (address: string, withRequest: boolean): Promise<string> => {
    const tcp = netConnect({ host: '127.0.0.1', port: shield.port, localAddress: address });
    const s = tlsConnect({ socket: tcp, ca: CA, servername: 'a.example' });
    return new Promise<string>((resolve) => {
      s.once('secureConnect', () => {
        if (!withRequest) { s.destroy(); setTimeout(() => resolve('secure'), 30); return; }
        void exchange(s, get('/each')).then((r) => { s.destroy(); resolve(`status ${r.status}`); }, () => resolve('cut'));
      });
      s.once('error', () => { s.destroy(); resolve('refused'); });
    });
  };
  const looping: string[] = [];
  for (let i = 0; i < 6; i++) looping.push(await attempt('127.0.94.1', false));
  assert.deepEqual(looping, ['secure', 'secure', 'secure', 'refused', 'refused', 'refused']);
  const customer: string[] = [];
  for (let i = 0; i < 6; i++) customer.push(await attempt('127.0.94.2', true));
  assert.deepEqual(customer, Array.from({ length: 6 }, () => 'status 200'));
  assert.match(await metrics(shield), /rempart_connections_refused_total\{reason="empty-connections"\} 3\n/);
});

test('empty connections: limited by default on a TLS listener only (a handshake each); configured, on any listener; ratePerS 0 turns it off', () => {
  const base = { upstreams: { o: { url: 'http://127.0.0.1:1' } }, routes: [{ match: { path: '/' }, upstream: 'o' }] };
  const tls = { certificates: [SITE_A] };
  assert.deepEqual(emptyConnectionsFor(parseConfig({ ...base, listen: { tls } })), { ratePerS: 10, burst: 100 });
  assert.equal(emptyConnectionsFor(parseConfig(base)), undefined);
  assert.deepEqual(emptyConnectionsFor(parseConfig({ ...base, listen: { limits: { emptyConnectionsPerClient: { ratePerS: 5, burst: 50 } } } })), { ratePerS: 5, burst: 50 });
  assert.equal(emptyConnectionsFor(parseConfig({ ...base, listen: { tls, limits: { emptyConnectionsPerClient: { ratePerS: 0, burst: 0 } } } })), undefined);
});

test('TLS listener: the access log says the protocol version and the name asked (as nginx\'s $ssl_protocol and $ssl_server_name)', async (t) => {
  const up = await startRecordingUpstream(t);
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>); done(); } });
  const config = parseConfig({
    listen: { address: '127.0.0.1', port: 0, tls: { certificates: [SITE_A, SITE_B] } }, admin: { port: 0 },
    upstreams: { origin: { url: up.url } }, routes: [{ match: { path: '/' }, upstream: 'origin' }],
    log: { level: 'info', access: true },
  });
  const shield = await startShield({ config, logger: pino({ level: 'info' }, sink) });
  t.after(() => shield.close());
  const s = await tlsOpen(shield.port, { servername: 'shop.b.example' });
  assert.equal((await exchange(s, get('/logged', 'shop.b.example'))).status, 200);
  s.end();
  for (let i = 0; i < 50 && !lines.some((l) => l.msg === 'access'); i++) await new Promise((r) => setTimeout(r, 10));
  const line = lines.find((l) => l.msg === 'access');
  assert.deepEqual([line?.path, line?.tls, line?.sni], ['/logged', 'TLSv1.3', 'shop.b.example']);
});
