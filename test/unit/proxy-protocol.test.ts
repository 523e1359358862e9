import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildProxyV1, buildProxyV2, parseProxyHeader, type ProxyParseResult } from '../../src/shield/proxy-protocol/parse.js';
import { formatIp } from '../../src/core/ip.js';
import { createPrng, randomInt, randomUint32 } from './prng.js';

const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');
const reasonOf = (r: ProxyParseResult): string => (r.kind === 'invalid' ? r.reason : `not invalid: ${r.kind}`);

function v2(verCmd: number, fam: number, body: Buffer | number[]): Buffer {
  const block = Buffer.from(body);
  const head = Buffer.alloc(16);
  SIGNATURE.copy(head);
  head[12] = verCmd;
  head[13] = fam;
  head.writeUInt16BE(block.length, 14);
  return Buffer.concat([head, block]);
}

test('v1 TCP4, TCP6 and UNKNOWN lines parse, leaving the bytes after the CRLF alone', () => {
  const line = 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n';
  assert.deepEqual(parseProxyHeader(ascii(`${line}GET / HTTP/1.1\r\n`)), {
    kind: 'ok', version: 1, consumed: line.length, command: 'proxy',
    source: { address: '192.168.0.1', port: 56324 }, destination: { address: '192.168.0.11', port: 443 },
  });
  const six = parseProxyHeader(ascii('PROXY TCP6 2001:DB8:0:0::1 ::ffff:10.0.0.1 0 65535\r\n'));
  assert.equal(six.kind, 'ok');
  assert.deepEqual(six.kind === 'ok' && [six.source, six.destination], [{ address: '2001:db8::1', port: 0 }, { address: '10.0.0.1', port: 65535 }]);
  assert.deepEqual(parseProxyHeader(ascii('PROXY UNKNOWN\r\nGET')), { kind: 'ok', version: 1, consumed: 15, command: 'proxy' });
  // proxy-protocol.txt §2.1: the worst case is 107 bytes, with whatever follows UNKNOWN ignored.
  const worst = `PROXY UNKNOWN ${'ffff:'.repeat(7)}ffff ${'ffff:'.repeat(7)}ffff 65535 65535\r\n`;
  assert.equal(worst.length, 107);
  assert.deepEqual(parseProxyHeader(ascii(worst)), { kind: 'ok', version: 1, consumed: 107, command: 'proxy' });
});

test('v1 lines that break the spec are invalid', () => {
  const cases: [string, RegExp][] = [
    ['GET / HTTP/1.1\r\n', /not a PROXY protocol header/],
    ['proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n', /not a PROXY protocol header/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', /LF without CR/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX', /CR not followed by LF/],
    ['PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n', /"TCP5" is not TCP4, TCP6 or UNKNOWN/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', /needs 6/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n', /needs 6/],
    ['PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n', /needs 6/],
    ['PROXY TCP4 1.2.3.4 2001:db8::1 1 2\r\n', /canonical TCP4 address/],
    ['PROXY TCP6 1.2.3.4 2001:db8::1 1 2\r\n', /canonical TCP6 address/],
    ['PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n', /canonical TCP4 address/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n', /port/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n', /port/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n', /port/],
    [`PROXY UNKNOWN ${'x'.repeat(100)}\r\n`, /no CRLF within 107 bytes/],
    [`PROXY UNKNOWN ${'x'.repeat(92)}\r\n`, /no CRLF within 107 bytes/], // CR at byte 107, LF at 108
  ];
  for (const [text, reason] of cases) assert.match(reasonOf(parseProxyHeader(ascii(text))), reason, JSON.stringify(text));
  assert.equal(parseProxyHeader(ascii(`PROXY UNKNOWN ${'x'.repeat(91)}\r\n`)).kind, 'ok');
});

test('a v1 line is rejected as soon as it cannot become valid', () => {
  const cases: [string, RegExp][] = [
    ['G', /not a PROXY protocol header/],
    ['PROXX', /not a PROXY protocol header/],
    ['PROXY TCP5', /"TCP5"/],
    ['PROXY UDP4 ', /"UDP4"/],
    ['PROXY TCP4 1.2.3.x', /canonical TCP4 address/],
    ['PROXY TCP4 1.2.3 ', /canonical TCP4 address/],
    ['PROXY TCP6 2001:db8::g', /canonical TCP6 address/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 012', /port/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 99999', /port/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ', /more than 6 fields/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1\r', /needs 6/],
    [`PROXY UNKNOWN ${'x'.repeat(93)}`, /no CRLF within 107 bytes/],
  ];
  for (const [text, reason] of cases) assert.match(reasonOf(parseProxyHeader(ascii(text))), reason, JSON.stringify(text));
});

test('v2 PROXY over TCP4 and TCP6 parses, with TLVs skipped and trailing bytes left alone', () => {
  const four = v2(0x21, 0x11, [192, 0, 2, 1, 198, 51, 100, 2, 0x1f, 0x90, 0x01, 0xbb, /* TLV */ 0x04, 0x00, 0x02, 0xaa, 0xbb]);
  assert.deepEqual(parseProxyHeader(Buffer.concat([four, ascii('GET')])), {
    kind: 'ok', version: 2, consumed: 33, command: 'proxy',
    source: { address: '192.0.2.1', port: 8080 }, destination: { address: '198.51.100.2', port: 443 },
  });
  const addresses = Buffer.alloc(36);
  Buffer.from('20010db8000000000000000000000001', 'hex').copy(addresses, 0);
  Buffer.from('00000000000000000000ffffc0000201', 'hex').copy(addresses, 16);
  addresses.writeUInt16BE(1, 32);
  addresses.writeUInt16BE(2, 34);
  const six = parseProxyHeader(v2(0x21, 0x21, addresses));
  assert.deepEqual(six.kind === 'ok' && [six.source, six.destination], [{ address: '2001:db8::1', port: 1 }, { address: '192.0.2.1', port: 2 }]);
  assert.equal(parseProxyHeader(v2(0x21, 0x12, addresses.subarray(0, 12))).kind, 'ok'); // UDP4 carries addresses too
});

test('v2 LOCAL, UNSPEC and UNIX headers carry no client address', () => {
  assert.deepEqual(parseProxyHeader(v2(0x20, 0x00, [])), { kind: 'ok', version: 2, consumed: 16, command: 'local' });
  // §2.2: LOCAL must skip `length` bytes whatever the family says, and ignore them.
  assert.deepEqual(parseProxyHeader(v2(0x20, 0x11, [1, 2, 3])), { kind: 'ok', version: 2, consumed: 19, command: 'local' });
  assert.deepEqual(parseProxyHeader(v2(0x21, 0x00, [9, 9])), { kind: 'ok', version: 2, consumed: 18, command: 'proxy' });
  assert.deepEqual(parseProxyHeader(v2(0x21, 0x31, Buffer.alloc(216))), { kind: 'ok', version: 2, consumed: 232, command: 'proxy' });
});

test('v2 headers that break the spec are invalid from the first byte that shows it', () => {
  const cases: [Buffer, RegExp][] = [
    [Buffer.from([0x0d, 0x0a, 0x0d, 0x0b]), /not a PROXY protocol header/],
    [Buffer.concat([SIGNATURE, Buffer.from([0x11])]), /version 1 is not 2/],
    [Buffer.concat([SIGNATURE, Buffer.from([0x22])]), /command 2/],
    [Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x41])]), /0x41 is not defined/],
    [Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x13])]), /0x13 is not defined/],
    [Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x11, 0x10, 0x01])]), /4097 exceeds the 4096-byte limit/],
    [Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x11, 0x00, 0x0b])]), /shorter than the 12-byte address block/],
    [Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x21, 0x00, 0x0c])]), /shorter than the 36-byte address block/],
  ];
  for (const [bytes, reason] of cases) assert.match(reasonOf(parseProxyHeader(bytes)), reason, bytes.toString('hex'));
  assert.match(reasonOf(parseProxyHeader(v2(0x21, 0x00, Buffer.alloc(200)), { maxV2Length: 100 })), /200 exceeds the 100-byte limit/);
});

test('every proper prefix of a valid header is incomplete, and the whole is ok (seeded)', () => {
  const random = createPrng(7);
  const headers: Buffer[] = [
    ascii('PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n'),
    ascii(`PROXY TCP6 ${'ffff:'.repeat(7)}ffff ${'ffff:'.repeat(7)}ffff 65535 65535\r\n`),
    ascii('PROXY TCP6 ::1 ::ffff:1.2.3.4 0 0\r\n'),
    ascii('PROXY UNKNOWN\r\n'),
    ascii('PROXY UNKNOWN anything at all\r\n'),
    buildProxyV2({ command: 'local' }),
    v2(0x21, 0x31, Buffer.alloc(216)),
  ];
  for (let n = 0; n < 40; n++) {
    const endpoint = (v6: boolean) => ({
      address: v6 ? formatIp({ family: 6, value: (BigInt(randomUint32(random)) << 96n) | BigInt(randomUint32(random)) }) : formatIp({ family: 4, value: randomUint32(random) }),
      port: randomInt(random, 0, 65535),
    });
    const v6 = random() < 0.5;
    const tlvs = Array.from({ length: randomInt(random, 0, 3) }, () => ({ type: randomInt(random, 1, 0xff), value: Buffer.alloc(randomInt(random, 0, 40), 0x5a) }));
    headers.push(buildProxyV2({ command: 'proxy', source: endpoint(v6), destination: endpoint(v6), tlvs }));
    headers.push(ascii(buildProxyV1({ family: v6 ? 'TCP6' : 'TCP4', source: endpoint(v6), destination: endpoint(v6) })));
  }
  for (const header of headers) {
    for (let len = 0; len < header.length; len++) {
      assert.deepEqual(parseProxyHeader(header.subarray(0, len)), { kind: 'incomplete' }, `${len} of ${header.toString('hex')}`);
    }
    const whole = parseProxyHeader(Buffer.concat([header, ascii('GET / HTTP/1.1\r\n')]));
    assert.equal(whole.kind === 'ok' && whole.consumed, header.length);
  }
});

test('v1 and v2 headers round-trip through the builders (seeded)', () => {
  const random = createPrng(99);
  for (let n = 0; n < 500; n++) {
    const family = randomInt(random, 0, 2); // 0: IPv4, 1: IPv6, 2: mixed (v2 only, as IPv4-mapped IPv6)
    const address = (v6: boolean): string => (v6
      ? formatIp({ family: 6, value: (0x20010db8n << 96n) | (BigInt(randomUint32(random)) << 32n) | BigInt(randomUint32(random) & 0xff) })
      : formatIp({ family: 4, value: randomUint32(random) }));
    const source = { address: address(family === 1), port: randomInt(random, 0, 65535) };
    const destination = { address: address(family >= 1), port: randomInt(random, 0, 65535) };
    const transport = random() < 0.5 ? 'tcp' as const : 'udp' as const;
    const tlvs = [{ type: 0x20, value: Buffer.from([randomInt(random, 0, 255)]) }];
    const parsed = parseProxyHeader(buildProxyV2({ command: 'proxy', source, destination, transport, tlvs }));
    assert.deepEqual(parsed.kind === 'ok' && [parsed.version, parsed.command, parsed.source, parsed.destination], [2, 'proxy', source, destination]);
    if (family === 2) continue;
    const line = buildProxyV1({ family: family === 1 ? 'TCP6' : 'TCP4', source, destination });
    const one = parseProxyHeader(ascii(line));
    assert.deepEqual(one.kind === 'ok' && [one.version, one.consumed, one.source, one.destination], [1, line.length, source, destination]);
  }
});

test('builders refuse what they cannot encode', () => {
  const ok = { address: '192.0.2.1', port: 80 };
  assert.throws(() => buildProxyV1({ family: 'TCP4', source: { address: '2001:db8::1', port: 1 }, destination: ok }), /not a TCP4 address/);
  assert.throws(() => buildProxyV1({ family: 'TCP6', source: ok, destination: ok }), /not a TCP6 address/);
  assert.throws(() => buildProxyV1({ family: 'TCP4', source: { address: '192.0.2.1', port: 65536 }, destination: ok }), /port 65536/);
  assert.throws(() => buildProxyV2({ command: 'proxy', source: { address: 'example.com', port: 1 }, destination: ok }), /not an IP address/);
  assert.throws(() => buildProxyV2({ command: 'proxy', tlvs: [{ type: 1, value: Buffer.alloc(70_000) }] }), /65535/);
  assert.equal(buildProxyV1({ family: 'UNKNOWN' }), 'PROXY UNKNOWN\r\n');
  assert.deepEqual(buildProxyV2({ command: 'local' }), Buffer.concat([SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]));
});
