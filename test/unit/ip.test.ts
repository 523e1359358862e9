import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv6 } from 'node:net';
import {
  cidrContains, formatCidr, formatIp, formatIpv6, normalizeIp, parseCidr, parseIp, parseIpv4, parseIpv6,
} from '../../src/core/ip.js';
import { createPrng, randomInt, randomUint32 } from './prng.js';

test('parseIpv4 reads strict dotted quads', () => {
  assert.equal(parseIpv4('0.0.0.0'), 0);
  assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
  assert.equal(parseIpv4('192.0.2.1'), 0xc0000201);
  assert.equal(parseIpv4('x192.0.2.1y', 1, 10), 0xc0000201);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.04', '1..2.3', '.1.2.3', '1.2.3.', ' 1.2.3.4', '1.2.3.4 ', '0x1.2.3.4', '1.2.3.4/8', '1e2.0.0.1']) {
    assert.equal(parseIpv4(bad), -1, bad);
  }
});

test('parseIp accepts RFC 4291 IPv6 text forms and formats them as RFC 5952', () => {
  const cases: [string, string][] = [
    ['2001:db8::1', '2001:db8::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'], // RFC 5952 §4.2.3: first longest run
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // §4.2.2: a single zero group stays
    ['2001:db8:0:0:1:0:0:0', '2001:db8:0:0:1::'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ['::1.2.3.4', '::102:304'], // IPv4-compatible (deprecated) is not mapped: stays IPv6
    ['64:ff9b::192.0.2.1', '64:ff9b::c000:201'], // NAT64 stays IPv6
    ['fe80::1%eth0', 'fe80::1'], // RFC 4007 zone dropped
  ];
  for (const [input, canonical] of cases) {
    const ip = parseIp(input);
    assert.equal(ip?.family, 6, input);
    assert.equal(ip && formatIp(ip), canonical, input);
  }
});

test('IPv4-mapped IPv6 becomes IPv4, whatever its spelling', () => {
  for (const text of ['::ffff:192.0.2.1', '::FFFF:c000:0201', '0:0:0:0:0:ffff:192.0.2.1', '::ffff:192.0.2.1%lo']) {
    assert.deepEqual(parseIp(text), { family: 4, value: 0xc0000201 }, text);
  }
  assert.equal(normalizeIp('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(normalizeIp('not an ip'), undefined);
});

test('parseIp refuses malformed addresses', () => {
  for (const bad of [
    '', ':', ':::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1::2::3', ':1::', '1::2:', '12345::', 'g::1',
    '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3', '::1.2.3.04', '::ffff:1.2.3.4.5', '[::1]', '::1%', '%eth0', '1.2.3.4%eth0',
    'localhost', ' ::1',
  ]) {
    assert.equal(parseIp(bad), undefined, bad);
  }
});

test('random IPv6 values survive any valid spelling (seeded)', () => {
  const random = createPrng(6);
  for (let n = 0; n < 2000; n++) {
    const groups = Array.from({ length: 8 }, () => (random() < 0.4 ? 0 : randomInt(random, 0, 0xffff)));
    const value = groups.reduce((v, g) => (v << 16n) | BigInt(g), 0n);
    const canonical = formatIpv6(value);
    assert.ok(isIPv6(canonical), canonical);
    // Full form with random leading zeros and case, or a random zero run compressed.
    let spelled = groups.map((g) => {
      const hex = g.toString(16).padStart(randomInt(random, 1, 4), '0');
      return random() < 0.5 ? hex.toUpperCase() : hex;
    }).join(':');
    const zeroRun = spelled.match(/(^|:)0+(:0+)+(:|$)/);
    if (zeroRun && random() < 0.7) spelled = spelled.replace(zeroRun[0], '::');
    assert.equal(parseIpv6(spelled), value, spelled);
    assert.equal(parseIpv6(canonical), value, canonical);
  }
});

test('parseCidr clears host bits, defaults to a host block, and normalizes mapped blocks', () => {
  assert.deepEqual(parseCidr('10.1.2.3/8'), { family: 4, network: 0x0a000000, prefix: 8 });
  assert.equal(formatCidr(parseCidr(' 10.1.2.3/8 ')), '10.0.0.0/8');
  assert.equal(formatCidr(parseCidr('192.0.2.7')), '192.0.2.7/32');
  assert.equal(formatCidr(parseCidr('0.0.0.0/0')), '0.0.0.0/0');
  assert.equal(formatCidr(parseCidr('255.255.255.255/31')), '255.255.255.254/31');
  assert.equal(formatCidr(parseCidr('2001:DB8::1/32')), '2001:db8::/32');
  assert.equal(formatCidr(parseCidr('2001:db8::1')), '2001:db8::1/128');
  assert.equal(formatCidr(parseCidr('2001:db8:1:2:3:4:5:6/64')), '2001:db8:1:2::/64');
  assert.equal(formatCidr(parseCidr('::/0')), '::/0');
  assert.equal(formatCidr(parseCidr('::ffff:10.9.8.7/104')), '10.0.0.0/8');
  assert.equal(formatCidr(parseCidr('::ffff:0:0/96')), '0.0.0.0/0');
  assert.equal(formatCidr(parseCidr('::ffff:192.0.2.1')), '192.0.2.1/32');
  assert.equal(formatCidr(parseCidr('::ffff:192.0.2.1/64')), '::/64'); // shorter than /96: an IPv6 block
});

test('parseCidr throws a message naming the input and the problem', () => {
  const cases: [string, RegExp][] = [
    ['10.0.0.0/33', /"10\.0\.0\.0\/33".*longer than 32 bits/],
    ['2001:db8::/129', /longer than 128 bits/],
    ['10.0.0.0/', /prefix "" is not a decimal/],
    ['10.0.0.0/08', /prefix "08" is not a decimal/],
    ['10.0.0.0/-1', /not a decimal/],
    ['10.0.0.0/8/8', /not a decimal/],
    ['example.com/24', /not an IPv4 or IPv6 address/],
    ['fe80::1%eth0/64', /zones and host names are not allowed/],
    ['', /not an IPv4 or IPv6 address/],
  ];
  for (const [input, message] of cases) assert.throws(() => parseCidr(input), message, input);
});

test('cidrContains matches by family and prefix', () => {
  const net = parseCidr('192.0.2.0/24');
  const ip = (s: string) => parseIp(s) ?? assert.fail(s);
  assert.equal(cidrContains(net, ip('192.0.2.255')), true);
  assert.equal(cidrContains(net, ip('::ffff:192.0.2.1')), true);
  assert.equal(cidrContains(net, ip('192.0.3.0')), false);
  assert.equal(cidrContains(parseCidr('0.0.0.0/0'), ip('::1')), false);
  assert.equal(cidrContains(parseCidr('::/0'), ip('::1')), true);
  assert.equal(cidrContains(parseCidr('2001:db8::/32'), ip('2001:db9::')), false);
});

test('formatIp of a random IPv4 round-trips through parseIp (seeded)', () => {
  const random = createPrng(4);
  for (let n = 0; n < 2000; n++) {
    const value = randomUint32(random);
    const text = formatIp({ family: 4, value });
    assert.deepEqual(parseIp(text), { family: 4, value }, text);
  }
});
