import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildProxyV1, buildProxyV2, parseProxyHeader } from '../../src/shield/proxy-protocol/parse.js';
import { rawExchange, startRecordingUpstream, startTestShield, statusOf } from '../helpers/servers.js';
import { createPrng } from '../unit/prng.js';

const LB = '127.0.95.1';
const GET = 'GET /pp HTTP/1.1\r\nHost: x\r\n\r\n';
const LAST = 'GET /pp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';

test('a trusted balancer\'s connections with random PROXY headers (valid, truncated, corrupted, oversized, split anywhere): the shield survives, forwards only declared sources', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, {
    listen: { proxyProtocol: true }, trustedProxies: [`${LB}/32`],
    // Only the parsing is under test: no per-address limit on the declared sources.
    rateLimits: { enabled: false },
  });
  const random = createPrng(20261216);
  const byte = (): number => Math.floor(random() * 256);
  let valid = 0;
  for (let i = 0; i < 150; i++) {
    const source = `198.51.${Math.floor(random() * 256)}.${1 + Math.floor(random() * 254)}`;
    const v6 = `2001:db8:${Math.floor(random() * 0xffff).toString(16)}::${(1 + Math.floor(random() * 0xfffe)).toString(16)}`;
    const roll = Math.floor(random() * 9);
    let header: Buffer;
    let ok = false; // a well-formed header, built as a balancer builds it
    switch (roll) {
      case 0: header = Buffer.from(buildProxyV1({ family: 'TCP4', source: { address: source, port: 1024 + i }, destination: { address: '127.0.0.1', port: 80 } })); ok = true; break;
      case 1: header = buildProxyV2({ command: 'proxy', source: { address: v6, port: 7000 }, destination: { address: '2001:db8::1', port: 443 }, tlvs: [{ type: 0x04, value: Buffer.alloc(Math.floor(random() * 200), 7) }] }); ok = true; break;
      // LOCAL and UNKNOWN: the balancer speaks for itself (its health checks); the peer is the client.
      case 2: header = buildProxyV2({ command: 'local' }); ok = true; break;
      case 3: header = Buffer.from('PROXY UNKNOWN\r\n'); ok = true; break;
      case 4: { // a valid header with one byte changed
        const h = buildProxyV2({ command: 'proxy', source: { address: source, port: 1 }, destination: { address: '127.0.0.1', port: 80 } });
        h[Math.floor(random() * h.length)] = byte();
        header = h;
        break;
      }
      case 5: { const h = Buffer.from(buildProxyV1({ family: 'TCP4', source: { address: source, port: 5 }, destination: { address: '127.0.0.1', port: 80 } })); header = h.subarray(0, Math.floor(random() * h.length)); break; }
      case 6: header = Buffer.concat([buildProxyV2({ command: 'proxy' }).subarray(0, 14), Buffer.from([0xff, 0xff])]); break; // length 65535
      case 7: header = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 120) }, byte)); break;
      default: header = Buffer.from(`PROXY TCP4 ${source} 127.0.0.1 0${i} 80\r\n`); break; // a port with a leading zero
    }
    const whole = Buffer.concat([header, Buffer.from(random() < 0.3 ? GET + LAST : LAST)]);
    // What the connection declares, read by the parser (unit-tested on its own): a corrupted byte
    // may still leave a header that parses, and then it names some address — the balancer's word.
    const parsed = parseProxyHeader(whole);
    const declared = parsed.kind === 'ok' ? parsed.source?.address ?? LB : undefined;
    if (ok) assert.equal(parsed.kind, 'ok');
    const seenBefore = upstream.seen.length;
    // Split at random points: the reader must assemble a header that arrives in pieces.
    const cuts = [0, ...Array.from({ length: Math.floor(random() * 3) }, () => Math.floor(random() * whole.length)).sort((a, b) => a - b), whole.length];
    const chunks = cuts.slice(1).map((c, k) => whole.subarray(cuts[k], c)).filter((c) => c.length > 0);
    const raw = await rawExchange(shield.port, chunks, { localAddress: LB, gapMs: Math.floor(random() * 4), timeoutMs: 300 });
    if (raw.length > 0) assert.match(raw, /^HTTP\/1\.1 \d{3} /, `connection ${i} (case ${roll}): ${JSON.stringify(raw.slice(0, 80))}`);
    if (ok && statusOf(raw) === 200) valid++;
    // What reached the origin from this connection came under the address its header declared;
    // after a header that does not parse, nothing did.
    const forwarded = upstream.seen.slice(seenBefore).map((q) => q.headers['x-forwarded-for']);
    if (declared === undefined) assert.deepEqual(forwarded, [], `connection ${i} (case ${roll}) had no valid header`);
    else for (const f of forwarded) assert.equal(f, declared, `connection ${i} (case ${roll})`);
  }
  assert.ok(valid > 40, `${valid} connections with a valid header were served`);
  // Still serving, with the declared source.
  const after = await rawExchange(shield.port, Buffer.concat([Buffer.from(buildProxyV1({ family: 'TCP4', source: { address: '192.0.2.77', port: 9 }, destination: { address: '127.0.0.1', port: 80 } })), Buffer.from('GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')]), { localAddress: LB });
  assert.equal(statusOf(after), 200, after);
  assert.equal(upstream.seen.at(-1)?.headers['x-forwarded-for'], '192.0.2.77');
});
