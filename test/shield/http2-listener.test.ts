import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { connect as h2connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders, type SecureClientSessionOptions } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { startRecordingUpstream, startTestShield } from '../helpers/servers.js';
import { goawayCode, H2_ERROR, H2_FRAME, H2_PREFACE, h2Frame, h2FrameReader, h2Headers, h2RstStream, h2Settings, hpackGet, hpackLiteral, wantsSettingsAck } from '../../src/drill/h2-frames.js';
import type { ShieldHandle } from '../../src/shield/start.js';
import { parseConfig } from '../../src/config/load.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/tls/${name}`, import.meta.url));
const SITE_A = { cert: fixture('site-a.cert.pem'), key: fixture('site-a.key.pem') };
const CA = [readFileSync(SITE_A.cert)];

async function h2Shield(t: TestContext, upstreamUrl: string, limits: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<ShieldHandle> {
  return startTestShield(t, upstreamUrl, { listen: { tls: { certificates: [SITE_A], http2: true }, limits }, ...extra });
}

/** An HTTP/2 session to the shield over TLS, named a.example (the fixture's certificate). */
async function h2Open(t: TestContext, port: number, opts: SecureClientSessionOptions = {}): Promise<ClientHttp2Session> {
  const session = h2connect(`https://127.0.0.1:${port}`, { ca: CA, servername: 'a.example', ...opts });
  session.on('error', () => { /* asserted through the events the tests wait for */ });
  t.after(() => { if (!session.destroyed) session.destroy(); });
  await once(session, 'remoteSettings');
  return session;
}

interface H2Answer { status: number; headers: Record<string, unknown>; body: string }

/** One request on a session: its answer, read whole. */
async function h2Request(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: string | Buffer[]): Promise<H2Answer> {
  const stream = session.request({ ':authority': 'a.example', ...headers }, { endStream: body === undefined });
  if (body !== undefined) {
    if (typeof body === 'string') stream.end(body);
    else { for (const part of body) stream.write(part); stream.end(); }
  }
  return readAnswer(stream);
}

async function readAnswer(stream: ClientHttp2Stream): Promise<H2Answer> {
  const [headers] = await once(stream, 'response') as [Record<string, unknown>];
  let body = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) body += chunk as string;
  return { status: Number(headers[':status']), headers, body };
}

const metrics = async (shield: ShieldHandle): Promise<string> => (await fetch(`${shield.adminUrl}/metrics`)).text();

test('HTTP/2: offered in ALPN only when listen.tls.http2 is on; HTTP/1.1 clients are still served beside it', async (t) => {
  const up = await startRecordingUpstream(t);
  const off = await startTestShield(t, up.url, { listen: { tls: { certificates: [SITE_A] } } });
  const on = await h2Shield(t, up.url);
  const alpn = async (port: number, protocols: string[]): Promise<string | false | 'refused'> => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca: CA, servername: 'a.example', ALPNProtocols: protocols });
    // events.once rejects on 'error': the handshake refused (no application protocol in common).
    const outcome = await once(s, 'secureConnect').then(() => s.alpnProtocol, () => 'refused' as const);
    s.destroy();
    return outcome as string | false | 'refused';
  };
  assert.equal(await alpn(off.port, ['h2', 'http/1.1']), 'http/1.1');
  assert.equal(await alpn(off.port, ['h2']), 'refused', 'h2 alone is refused when HTTP/2 is off');
  assert.equal(await alpn(on.port, ['h2', 'http/1.1']), 'h2');
  assert.equal(await alpn(on.port, ['http/1.1']), 'http/1.1');
  // An HTTPS client that speaks HTTP/1.1 only (fetch is undici, HTTP/1.1) still gets through.
  const res = await fetch(`https://127.0.0.1:${on.port}/h1`, { headers: { host: 'a.example' }, dispatcher: new (await import('undici')).Agent({ connect: { ca: CA, servername: 'a.example' } }) } as RequestInit);
  assert.equal(res.status, 200);
  assert.equal(up.seen.at(-1)?.url, '/h1');
});

test('HTTP/2: a reload turns it on for new connections, with new SETTINGS; turned off again, h2 is no longer offered', async (t) => {
  const up = await startRecordingUpstream(t);
  const shield = await startTestShield(t, up.url, { listen: { tls: { certificates: [SITE_A] } } });
  const alpn = async (): Promise<string | false | null> => {
    const s = tlsConnect({ host: '127.0.0.1', port: shield.port, ca: CA, servername: 'a.example', ALPNProtocols: ['h2', 'http/1.1'] });
    await once(s, 'secureConnect');
    s.destroy();
    return s.alpnProtocol;
  };
  assert.equal(await alpn(), 'http/1.1');
  const base = JSON.parse(JSON.stringify(shield.config())) as { listen: { tls: object; limits: object } };
  const withH2 = (http2: boolean, streams: number) => parseConfig({ ...base, listen: { ...base.listen, tls: { ...base.listen.tls, http2 }, limits: { ...base.listen.limits, http2MaxConcurrentStreams: streams } } });
  shield.reload(withH2(true, 9));
  assert.equal(await alpn(), 'h2');
  const session = await h2Open(t, shield.port);
  assert.equal(session.remoteSettings.maxConcurrentStreams, 9);
  assert.equal((await h2Request(session, { ':method': 'GET', ':path': '/after-reload' })).status, 200);
  shield.reload(withH2(false, 9));
  assert.equal(await alpn(), 'http/1.1');
});

test('HTTP/2: each stream is proxied as an HTTP/1.1 request — Host from :authority, no pseudo-header fields, Cookie lines joined, Via 2, https — and the answer keeps its Set-Cookie lines apart', async (t) => {
  const up = await startRecordingUpstream(t);
  up.handler = (req, res) => {
    res.writeHead(200, [['content-type', 'text/plain'], ['set-cookie', 'a=1; Path=/'], ['set-cookie', 'b=2; Path=/'], ['x-up', 'yes']].flat());
    res.end(`seen ${req.url}`);
  };
  const shield = await h2Shield(t, up.url);
  const session = await h2Open(t, shield.port);
  assert.equal(session.alpnProtocol, 'h2');
  const answer = await h2Request(session, { ':method': 'GET', ':path': '/track/123?x=1', 'user-agent': 'h2-test', cookie: ['sid=abc', 'pref=fr'] });
  assert.equal(answer.status, 200);
  assert.equal(answer.body, 'seen /track/123?x=1');
  assert.deepEqual(answer.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
  assert.equal(answer.headers['x-up'], 'yes');
  assert.equal(answer.headers.connection, undefined);
  const seen = up.seen.at(-1);
  assert.ok(seen);
  assert.equal(seen.headers.host, 'a.example');
  assert.equal(seen.headers.cookie, 'sid=abc; pref=fr');
  assert.equal(seen.rawHeaders.filter((n, i) => i % 2 === 0 && n.toLowerCase() === 'cookie').length, 1, 'one Cookie line upstream');
  assert.ok(!seen.rawHeaders.some((n, i) => i % 2 === 0 && n.startsWith(':')), `no pseudo-header upstream: ${seen.rawHeaders.join(' ')}`);
  assert.equal(seen.headers['x-forwarded-proto'], 'https');
  assert.match(String(seen.headers.via), /^2 /);
  assert.equal(seen.headers['user-agent'], 'h2-test');
});

test('HTTP/2: streams run side by side on one connection, and request bodies arrive whole with or without Content-Length', async (t) => {
  const up = await startRecordingUpstream(t);
  up.handler = (req, res, body) => {
    // Slow enough that the streams overlap at the origin.
    setTimeout(() => res.end(JSON.stringify({ url: req.url, bytes: body.length, length: req.headers['content-length'] ?? null, chunked: req.headers['transfer-encoding'] ?? null })), 100);
  };
  const shield = await h2Shield(t, up.url);
  const session = await h2Open(t, shield.port);
  const started = Date.now();
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => h2Request(session, { ':method': 'GET', ':path': `/s/${i}` })));
  assert.ok(answers.every((a) => a.status === 200), answers.map((a) => a.status).join(','));
  assert.deepEqual(answers.map((a) => (JSON.parse(a.body) as { url: string }).url), Array.from({ length: 20 }, (_, i) => `/s/${i}`));
  // Twenty 100 ms answers one after another would take 2 s.
  assert.ok(Date.now() - started < 1500, `streams were served one at a time (${Date.now() - started} ms)`);

  const framed = await h2Request(session, { ':method': 'POST', ':path': '/upload', 'content-type': 'application/octet-stream' }, [Buffer.alloc(40_000, 1), Buffer.alloc(30_000, 2)]);
  assert.equal(framed.status, 200);
  assert.equal((JSON.parse(framed.body) as { bytes: number }).bytes, 70_000, 'a body sent as DATA frames without Content-Length is forwarded whole');
  const declared = await h2Request(session, { ':method': 'POST', ':path': '/form', 'content-length': '11' }, 'hello world');
  assert.equal(declared.status, 200);
  assert.deepEqual(JSON.parse(declared.body), { url: '/form', bytes: 11, length: '11', chunked: null });
  // What the operator sees: HTTP/2 offered, one HTTP/2 connection open (of the listener's).
  const state = await (await fetch(`${shield.adminUrl}/api/state`, { headers: { authorization: 'Bearer test-admin-token-0123456789' } })).json() as { listen: { tls: { http2: unknown } } };
  assert.deepEqual(state.listen.tls.http2, { enabled: true, connections: 1 });
  assert.match(await metrics(shield), /\nrempart_http2_connections 1\n/);
});

test('HTTP/2: a malformed or refused request gets its answer on its stream and is never forwarded; the connection serves the next one', async (t) => {
  const up = await startRecordingUpstream(t);
  const shield = await h2Shield(t, up.url);
  const session = await h2Open(t, shield.port);
  const before = up.seen.length;
  const mismatch = await h2Request(session, { ':method': 'GET', ':path': '/x', host: 'b.example' });
  assert.equal(mismatch.status, 400);
  assert.equal(mismatch.headers['x-rempart-error'], 'RMP_ERR_BAD_REQUEST');
  assert.equal(mismatch.headers.connection, undefined);
  const trace = await h2Request(session, { ':method': 'TRACE', ':path': '/x' });
  assert.equal(trace.status, 405);
  const connect = session.request({ ':method': 'CONNECT', ':authority': 'a.example:443' });
  const refused = await readAnswer(connect);
  assert.equal(refused.status, 405);
  const dots = await h2Request(session, { ':method': 'GET', ':path': '/track/../pay/1' });
  assert.equal(dots.status, 400);
  const tooMany = await h2Request(session, { ':method': 'GET', ':path': '/x', ...Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`x-h${i}`, 'v'])) });
  assert.equal(tooMany.status, 431);
  assert.equal(up.seen.length, before, 'nothing was forwarded');
  const ok = await h2Request(session, { ':method': 'GET', ':path': '/fine' });
  assert.equal(ok.status, 200);
  assert.equal(up.seen.at(-1)?.url, '/fine');
});

test('HTTP/2: a client that opens and cancels streams past limits.http2ClientResets gets GOAWAY ENHANCE_YOUR_CALM, counted as refused', async (t) => {
  const up = await startRecordingUpstream(t);
  up.handler = (_req, res) => setTimeout(() => res.end('late'), 300);
  const shield = await h2Shield(t, up.url, { http2ClientResets: { ratePerS: 5, burst: 20 } });
  // Rapid reset (CVE-2023-44487) in raw frames: HEADERS then RST_STREAM CANCEL at once, 100 streams.
  const socket = tlsConnect({ host: '127.0.0.1', port: shield.port, ca: CA, servername: 'a.example', ALPNProtocols: ['h2'] });
  socket.on('error', () => {});
  t.after(() => socket.destroy());
  await once(socket, 'secureConnect');
  assert.equal(socket.alpnProtocol, 'h2');
  let goaway = -1;
  const gotGoaway = new Promise<void>((resolve) => {
    socket.on('data', h2FrameReader((f) => {
      if (wantsSettingsAck(f)) socket.write(h2Settings(true));
      // The first GOAWAY says why (Node's session destroy sends a second, NO_ERROR).
      if (f.type === H2_FRAME.GOAWAY && goaway === -1) { goaway = goawayCode(f); resolve(); }
    }));
  });
  const closed = once(socket, 'close');
  const frames: Buffer[] = [H2_PREFACE, h2Settings()];
  for (let i = 0; i < 100; i++) {
    const id = 1 + 2 * i;
    frames.push(h2Headers(id, hpackGet('a.example', `/r/${i}`)), h2RstStream(id, H2_ERROR.CANCEL));
  }
  socket.write(Buffer.concat(frames));
  await gotGoaway;
  assert.equal(goaway, H2_ERROR.ENHANCE_YOUR_CALM);
  await closed;
  assert.match(await metrics(shield), /rempart_connections_refused_total\{reason="h2-resets"\} 1/);
  // Fewer than the 100 streams reached the origin: the connection ended past the 20 allowed.
  assert.ok(up.seen.length < 100, `${up.seen.length} reached the origin`);
  // A new connection is served (the limit is the connection's, not a block).
  const again = await h2Open(t, shield.port);
  up.handler = (req, res) => res.end(`ok ${req.url}`);
  assert.equal((await h2Request(again, { ':method': 'GET', ':path': '/after' })).status, 200);
});

test('HTTP/2: a frame the protocol forbids ends the connection with GOAWAY PROTOCOL_ERROR; a client sending invalid streams over and over is cut, counted as refused', async (t) => {
  const up = await startRecordingUpstream(t);
  const shield = await h2Shield(t, up.url);
  const open = async (): Promise<{ socket: ReturnType<typeof tlsConnect>; goaway: Promise<number>; closed: Promise<unknown> }> => {
    const socket = tlsConnect({ host: '127.0.0.1', port: shield.port, ca: CA, servername: 'a.example', ALPNProtocols: ['h2'] });
    socket.on('error', () => {});
    t.after(() => socket.destroy());
    await once(socket, 'secureConnect');
    let first = -1;
    const goaway = new Promise<number>((resolve) => {
      socket.on('data', h2FrameReader((f) => {
        if (wantsSettingsAck(f)) socket.write(h2Settings(true));
        if (f.type === H2_FRAME.GOAWAY && first === -1) { first = goawayCode(f); resolve(first); }
      }));
    });
    return { socket, goaway, closed: once(socket, 'close') };
  };
  // RFC 9113 §6.1: DATA not associated with a stream is a connection error of type PROTOCOL_ERROR.
  const a = await open();
  a.socket.write(Buffer.concat([H2_PREFACE, h2Settings(), h2Frame(H2_FRAME.DATA, 0, 0, Buffer.from('x'))]));
  assert.equal(await a.goaway, H2_ERROR.PROTOCOL_ERROR);
  await a.closed;
  // §8.2.1: an upper-case field name makes the request malformed, a stream error (RST_STREAM) the
  // connection survives; 150 of them are more than the codec tolerates (maxSessionInvalidFrames).
  const b = await open();
  const frames: Buffer[] = [H2_PREFACE, h2Settings()];
  const malformed = Buffer.concat([hpackGet('a.example', '/x'), hpackLiteral('X-Bad', 'v')]);
  for (let i = 0; i < 150; i++) frames.push(h2Headers(1 + 2 * i, malformed));
  b.socket.write(Buffer.concat(frames));
  await b.closed;
  assert.equal(up.seen.length, 0, 'no malformed request was forwarded');
  assert.match(await metrics(shield), /rempart_connections_refused_total\{reason="h2-protocol"\} 1/);
});

test('HTTP/2: a browser\'s few cancelled streams are nothing to limit', async (t) => {
  const up = await startRecordingUpstream(t);
  up.handler = (req, res) => setTimeout(() => res.end(`ok ${req.url}`), 100);
  const shield = await h2Shield(t, up.url);
  const session = await h2Open(t, shield.port);
  // A page left while ten of its requests were on their way: ten cancelled streams.
  for (let i = 0; i < 10; i++) {
    const s = session.request({ ':method': 'GET', ':path': `/img/${i}`, ':authority': 'a.example' });
    s.on('error', () => {});
    s.once('ready', () => setTimeout(() => s.close(constants.NGHTTP2_CANCEL), 20));
  }
  await new Promise((r) => setTimeout(r, 200));
  const next = await h2Request(session, { ':method': 'GET', ':path': '/next-page' });
  assert.equal(next.status, 200);
  assert.doesNotMatch(await metrics(shield), /reason="h2-resets"/);
});

test('HTTP/2: the announced SETTINGS bound concurrent streams; a connection idle past its timeout gets GOAWAY and closes', async (t) => {
  const up = await startRecordingUpstream(t);
  const shield = await h2Shield(t, up.url, { http2MaxConcurrentStreams: 7, keepAliveTimeoutMs: 300, headersTimeoutMs: 400 });
  const t0 = Date.now();
  const idleFromStart = await h2Open(t, shield.port);
  const idleClosed = once(idleFromStart, 'close');
  assert.equal(idleFromStart.remoteSettings.maxConcurrentStreams, 7);
  assert.equal(idleFromStart.remoteSettings.enablePush, false);
  // No request at all: closed after headersTimeoutMs (a handshake and nothing).
  await idleClosed;
  assert.ok(Date.now() - t0 < 3000);
  const used = await h2Open(t, shield.port);
  const goaway = once(used, 'goaway') as Promise<[number]>;
  const closed = once(used, 'close');
  assert.equal((await h2Request(used, { ':method': 'GET', ':path': '/one' })).status, 200);
  const [code] = await goaway;
  assert.equal(code, constants.NGHTTP2_NO_ERROR);
  await closed;
});

test('HTTP/2: a header block never finished (HEADERS without END_HEADERS, no CONTINUATION: slowloris in HTTP/2) holds the connection only until headersTimeoutMs', async (t) => {
  const up = await startRecordingUpstream(t);
  const shield = await h2Shield(t, up.url, { headersTimeoutMs: 500 });
  const socket = tlsConnect({ host: '127.0.0.1', port: shield.port, ca: CA, servername: 'a.example', ALPNProtocols: ['h2'] });
  socket.on('error', () => {});
  t.after(() => socket.destroy());
  await once(socket, 'secureConnect');
  socket.on('data', h2FrameReader((f) => { if (wantsSettingsAck(f)) socket.write(h2Settings(true)); }));
  const closed = once(socket, 'close');
  const started = Date.now();
  // END_STREAM without END_HEADERS (flags 0x1): the block goes on in CONTINUATION frames that never come.
  socket.write(Buffer.concat([H2_PREFACE, h2Settings(), h2Frame(H2_FRAME.HEADERS, 0x1, 1, hpackGet('a.example', '/slow'))]));
  await closed;
  const heldMs = Date.now() - started;
  assert.ok(heldMs >= 400 && heldMs < 5_000, `closed after ${heldMs} ms`);
  assert.equal(up.seen.length, 0);
});

test('HTTP/2: a body trickled on a stream (slow POST) is cut by the body guard like an HTTP/1.1 one; the connection\'s other streams go on', async (t) => {
  const up = await startRecordingUpstream(t);
  const shield = await h2Shield(t, up.url, { minBodyRateBytesPerS: 1024, bodyGraceMs: 500 });
  const session = await h2Open(t, shield.port);
  const slow = session.request({ ':method': 'POST', ':path': '/bank/login', ':authority': 'a.example', 'content-length': '10000', 'content-type': 'application/x-www-form-urlencoded' }, { endStream: false });
  slow.on('error', () => {});
  const trickle = setInterval(() => { if (!slow.destroyed && slow.writable) slow.write('a'); }, 200);
  t.after(() => clearInterval(trickle));
  const answer = readAnswer(slow);
  // Another stream on the same connection is served meanwhile.
  assert.equal((await h2Request(session, { ':method': 'GET', ':path': '/beside' })).status, 200);
  const cut = await answer;
  clearInterval(trickle);
  assert.equal(cut.status, 408, `the trickled body: ${cut.status} ${cut.body}`);
  assert.ok(!up.seen.some((r) => r.url === '/bank/login' && r.bodyBytes >= 10_000), 'no whole body reached the origin');
});

test('HTTP/2: an answer the client never takes (flow-control window held at zero) is cancelled after sendTimeoutMs', async (t) => {
  const up = await startRecordingUpstream(t);
  const shield = await h2Shield(t, up.url, { sendTimeoutMs: 500 });
  // A window of zero: not one byte of a body can be sent to this client until it says so.
  const session = await h2Open(t, shield.port, { settings: { initialWindowSize: 0 } });
  const stream = session.request({ ':method': 'GET', ':path': '/x', ':authority': 'a.example', host: 'b.example' });
  stream.on('error', () => {});
  const [headers] = await once(stream, 'response') as [Record<string, unknown>];
  assert.equal(headers[':status'], 400, 'the head goes out (HEADERS are not flow-controlled), the body cannot');
  await once(stream, 'close');
  assert.equal(stream.rstCode, constants.NGHTTP2_CANCEL);
  assert.match(await metrics(shield), /rempart_connections_refused_total\{reason="h2-send-timeout"\} 1/);
});

test('HTTP/2: on shutdown a stream in progress finishes after GOAWAY', async (t) => {
  const up = await startRecordingUpstream(t);
  up.handler = (_req, res) => setTimeout(() => res.end('finished'), 300);
  const shield = await h2Shield(t, up.url);
  const session = await h2Open(t, shield.port);
  const pending = h2Request(session, { ':method': 'GET', ':path': '/slow' });
  await new Promise((r) => setTimeout(r, 50));
  const goaway = once(session, 'goaway');
  const closing = shield.close({ graceMs: 5000 });
  await goaway;
  const answer = await pending;
  assert.equal(answer.status, 200);
  assert.equal(answer.body, 'finished');
  await closing;
});
