import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rawExchange, startRecordingUpstream, startTestShield, statusOf } from '../helpers/servers.js';

// Each case is sent byte-for-byte on its own connection. RFC 9112 §6.1 and §6.3 (message framing),
// §3.2 (Host), §5.2 (obs-fold), §3.2 (request target), RFC 9110 §5.5 (field values).
const H = 'Host: shop.example\r\n';
const cases: Array<{ name: string; bytes: string | Buffer; status?: number }> = [
  { name: 'Content-Length with Transfer-Encoding', bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n` },
  { name: 'conflicting Content-Length', bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!` },
  { name: 'repeated identical Content-Length', bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello` },
  { name: 'Content-Length list in one field', bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\nhello` },
  { name: 'signed Content-Length', bytes: `POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\nhello` },
  { name: 'invalid chunk size', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n` },
  { name: 'chunk size with 0x prefix', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n` },
  { name: 'invalid chunk extension', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;\x01bad\r\nhello\r\n0\r\n\r\n` },
  { name: 'obs-fold', bytes: `GET / HTTP/1.1\r\n${H}X-Note: first\r\n  folded\r\n\r\n` },
  { name: 'space in header name', bytes: `GET / HTTP/1.1\r\n${H}Bad Header: x\r\n\r\n` },
  { name: 'whitespace before colon', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n` },
  { name: 'NUL in header value', bytes: `GET / HTTP/1.1\r\n${H}X-Note: a\x00b\r\n\r\n` },
  { name: 'header line without colon', bytes: `GET / HTTP/1.1\r\n${H}NoColonHere\r\n\r\n` },
  { name: 'missing Host on HTTP/1.1', bytes: 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n' },
  { name: 'two Host headers', bytes: `GET / HTTP/1.1\r\n${H}Host: evil.example\r\n\r\n` },
  { name: 'final coding not chunked', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\nxxxxx` },
  { name: 'unsupported coding before chunked', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n` },
  { name: 'Transfer-Encoding repeated', bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n` },
  { name: 'Transfer-Encoding in HTTP/1.0', bytes: `POST / HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n` },
  { name: 'request target not origin-form', bytes: `GET index.html HTTP/1.1\r\n${H}\r\n` },
  { name: 'absolute-form disagreeing with Host', bytes: `GET http://internal.example/admin HTTP/1.1\r\n${H}\r\n` },
  { name: 'fragment in target', bytes: `GET /a#frag HTTP/1.1\r\n${H}\r\n` },
  { name: 'dot-segment escaping a route prefix', bytes: `GET /track/../pay/x HTTP/1.1\r\n${H}\r\n` },
  { name: 'percent-encoded dot-segment', bytes: `GET /track/%2e%2E/pay/x HTTP/1.1\r\n${H}\r\n` },
  { name: 'space inside target', bytes: `GET /a b HTTP/1.1\r\n${H}\r\n` },
  { name: 'invalid method token', bytes: `G(T / HTTP/1.1\r\n${H}\r\n` },
  { name: 'asterisk-form outside OPTIONS', bytes: `GET * HTTP/1.1\r\n${H}\r\n` },
  // RFC 9110 §7.6.2: Max-Forwards is one number; two lines (joined) or a word are not.
  { name: 'Max-Forwards not a number', bytes: `OPTIONS /a HTTP/1.1\r\n${H}Max-Forwards: many\r\n\r\n` },
  { name: 'Max-Forwards twice', bytes: `OPTIONS /a HTTP/1.1\r\n${H}Max-Forwards: 3\r\nMax-Forwards: 0\r\n\r\n` },
  { name: 'HTTP/2.0 on an HTTP/1 request line', bytes: `GET / HTTP/2.0\r\n${H}\r\n`, status: 505 },
  // RFC 9110 §9.3.8: TRACE would echo cookies and forwarding fields back (cross-site tracing).
  { name: 'TRACE', bytes: `TRACE /account HTTP/1.1\r\n${H}Cookie: sid=secret\r\n\r\n`, status: 405 },
  // RFC 6585 §5. Past limits.maxHeaderCount (100) the request is refused, not cut to its first lines.
  { name: 'more header lines than maxHeaderCount', bytes: `GET / HTTP/1.1\r\n${H}${'X-A: 1\r\n'.repeat(100)}\r\n`, status: 431 },
  // Node alone keeps 2,000 lines and drops the rest: a second Host there would go unseen.
  { name: 'a second Host past the 2,000th line', bytes: `GET / HTTP/1.1\r\n${H}${'a:1\r\n'.repeat(2100)}Host: evil.example\r\n\r\n`, status: 431 },
  // RFC 9113 §3.4: an HTTP/2 client with prior knowledge opens with this preface and a SETTINGS frame;
  // the preface is built so that an HTTP/1.1 server rejects it (400, as nginx without http2). The shield speaks HTTP/1.1 only.
  { name: 'HTTP/2 prior-knowledge preface', bytes: Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]) },
];

test('malformed and ambiguous requests get 400 (TRACE 405) and never reach the upstream', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url);
  const failures: string[] = [];
  for (const c of cases) {
    const raw = await rawExchange(shield.port, c.bytes, { timeoutMs: 2_000 });
    const want = c.status ?? 400;
    if (statusOf(raw) !== want) failures.push(`${c.name}: expected ${want}, got ${JSON.stringify(raw.slice(0, 60))}`);
    else assert.match(raw, /request id: [0-9a-f]+-[0-9a-z]+/, `${c.name}: the answer carries a request id`);
  }
  assert.deepEqual(failures, []);
  assert.equal(upstream.seen.length, 0, `upstream saw: ${upstream.seen.map((s) => `${s.method} ${s.url}`).join(', ')}`);
  // The same shield forwards a well-formed request, so the 400s above are about the bytes, not a broken proxy.
  const ok = await rawExchange(shield.port, `POST /ok HTTP/1.1\r\n${H}Content-Length: 5\r\nConnection: close\r\n\r\nhello`);
  assert.equal(statusOf(ok), 200);
  const chunked = await rawExchange(shield.port, `POST /ok HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
  assert.equal(statusOf(chunked), 200);
  const absolute = await rawExchange(shield.port, `GET http://shop.example/abs?q=1 HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
  assert.equal(statusOf(absolute), 200);
  // Exactly maxHeaderCount lines pass, every one forwarded.
  const hundred = await rawExchange(shield.port, `GET /many HTTP/1.1\r\n${H}${Array.from({ length: 98 }, (_, i) => `X-N${i}: ${i}\r\n`).join('')}Connection: close\r\n\r\n`);
  assert.equal(statusOf(hundred), 200);
  assert.equal(upstream.seen.at(-1)?.headers['x-n97'], '97');
  const wellKnown = await rawExchange(shield.port, `GET /.well-known/security.txt?v=1.2 HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
  assert.equal(statusOf(wellKnown), 200);
  assert.deepEqual(upstream.seen.map((s) => [s.method, s.url, s.bodyBytes]),
    [['POST', '/ok', 5], ['POST', '/ok', 5], ['GET', '/abs?q=1', 0], ['GET', '/many', 0], ['GET', '/.well-known/security.txt?v=1.2', 0]]);
});

test('OPTIONS: the shield answers OPTIONS * and Max-Forwards: 0 itself (RFC 9110 §9.3.7, §7.6.2) and forwards Max-Forwards less one', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url);
  for (const bytes of [`OPTIONS * HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, `OPTIONS /pay/x HTTP/1.1\r\n${H}Max-Forwards: 0\r\nConnection: close\r\n\r\n`]) {
    const raw = await rawExchange(shield.port, bytes);
    assert.equal(statusOf(raw), 200, raw);
    assert.match(raw, /\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n/i);
  }
  assert.equal(upstream.seen.length, 0, 'neither reached the origin');
  const forwarded = await rawExchange(shield.port, `OPTIONS /a HTTP/1.1\r\n${H}Max-Forwards: 5\r\nConnection: close\r\n\r\n`);
  assert.equal(statusOf(forwarded), 200);
  assert.equal(upstream.seen[0]?.headers['max-forwards'], '4');
  // Other methods carry Max-Forwards through untouched (it is defined for OPTIONS and TRACE only).
  await rawExchange(shield.port, `GET /b HTTP/1.1\r\n${H}Max-Forwards: 0\r\nConnection: close\r\n\r\n`);
  assert.deepEqual([upstream.seen[1]?.url, upstream.seen[1]?.headers['max-forwards']], ['/b', '0']);
});
