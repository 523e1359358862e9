import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createTrustedMatcher, formatForwardedFor, parseForwardedFor, resolveClientAddress,
} from '../../src/shield/client-address.js';

const trusted = createTrustedMatcher(['10.0.0.0/8', '2001:db8:ffff::/48', '192.0.2.10']);

test('the trusted matcher answers by CIDR, for any spelling, and never for non-addresses', () => {
  assert.equal(trusted.has('10.200.0.1'), true);
  assert.equal(trusted.has('::ffff:10.0.0.1'), true);
  assert.equal(trusted.has('2001:DB8:FFFF::7'), true);
  assert.equal(trusted.has('192.0.2.10'), true);
  assert.equal(trusted.has('192.0.2.11'), false);
  assert.equal(trusted.has(''), false);
  assert.equal(trusted.has('unknown'), false);
  assert.equal(trusted.empty, false);
  const none = createTrustedMatcher([]);
  assert.equal(none.empty, true);
  assert.equal(none.has('10.0.0.1'), false);
  assert.throws(() => createTrustedMatcher(['10.0.0.0/33']), /invalid CIDR "10\.0\.0\.0\/33"/);
});

test('an untrusted peer is the client, whatever it claims', () => {
  assert.equal(resolveClientAddress('198.51.100.7', '203.0.113.1', trusted), '198.51.100.7');
  assert.equal(resolveClientAddress('198.51.100.7', ['10.0.0.1', '203.0.113.1'], trusted), '198.51.100.7');
  assert.equal(resolveClientAddress('::ffff:198.51.100.7', undefined, trusted), '198.51.100.7');
  assert.equal(resolveClientAddress('/run/rempart.sock', '203.0.113.1', trusted), '/run/rempart.sock');
});

test('behind trusted proxies the rightmost untrusted hop is the client', () => {
  assert.equal(resolveClientAddress('10.0.0.2', '203.0.113.9', trusted), '203.0.113.9');
  assert.equal(resolveClientAddress('::ffff:10.0.0.2', '203.0.113.9, 10.0.0.1, 192.0.2.10', trusted), '203.0.113.9');
  // Whatever the client put in front is left of its own address and never reached.
  assert.equal(resolveClientAddress('10.0.0.2', '1.1.1.1, 10.9.9.9, 203.0.113.9, 10.0.0.1', trusted), '203.0.113.9');
  // Header lines are one list, in order (RFC 9110 §5.3).
  assert.equal(resolveClientAddress('10.0.0.2', ['1.1.1.1', '203.0.113.9,10.0.0.1'], trusted), '203.0.113.9');
  assert.equal(resolveClientAddress('10.0.0.2', ['203.0.113.9', '10.0.0.1'], trusted), '203.0.113.9');
  assert.equal(resolveClientAddress('2001:db8:ffff::1', '2001:DB8:0:0::5, 2001:db8:ffff::2', trusted), '2001:db8::5');
  assert.equal(resolveClientAddress('10.0.0.2', '::ffff:203.0.113.9', trusted), '203.0.113.9');
});

test('ports and brackets that proxies add are understood', () => {
  assert.equal(resolveClientAddress('10.0.0.2', '203.0.113.9:51234', trusted), '203.0.113.9');
  assert.equal(resolveClientAddress('10.0.0.2', '[2001:db8::5]:443', trusted), '2001:db8::5');
  assert.equal(resolveClientAddress('10.0.0.2', '[2001:db8::5]', trusted), '2001:db8::5');
});

test('empty elements are skipped; a malformed hop stops the walk at the last trusted hop', () => {
  assert.equal(resolveClientAddress('10.0.0.2', ' , 203.0.113.9 ,, ', trusted), '203.0.113.9');
  assert.equal(resolveClientAddress('10.0.0.2', '203.0.113.9, garbage', trusted), '10.0.0.2');
  assert.equal(resolveClientAddress('10.0.0.2', '203.0.113.9, unknown, 10.0.0.1', trusted), '10.0.0.1');
  for (const bad of ['[1.2.3.4]', '203.0.113.9:port', '203.0.113.9:123456', '[2001:db8::5', '[2001:db8::5]x', '1.2.3.4:5:6', '01.2.3.4']) {
    assert.equal(resolveClientAddress('10.0.0.2', bad, trusted), '10.0.0.2', bad);
  }
  assert.equal(resolveClientAddress('10.0.0.2', '', trusted), '10.0.0.2');
  assert.equal(resolveClientAddress('10.0.0.2', [], trusted), '10.0.0.2');
});

test('when every hop is a trusted proxy, the leftmost one is the answer', () => {
  assert.equal(resolveClientAddress('10.0.0.3', '10.0.0.1, 10.0.0.2', trusted), '10.0.0.1');
  assert.equal(resolveClientAddress('10.0.0.3', undefined, trusted), '10.0.0.3');
});

test('parseForwardedFor reads RFC 7239 for= nodes, one per element', () => {
  // RFC 7239 §4 and §7.4 examples.
  assert.deepEqual(parseForwardedFor('for="_gazonk"'), ['_gazonk']);
  assert.deepEqual(parseForwardedFor('For="[2001:db8:cafe::17]:4711"'), ['2001:db8:cafe::17']);
  assert.deepEqual(parseForwardedFor('for=192.0.2.60;proto=http;by=203.0.113.43'), ['192.0.2.60']);
  assert.deepEqual(parseForwardedFor('for=192.0.2.43, for=198.51.100.17'), ['192.0.2.43', '198.51.100.17']);
  assert.deepEqual(parseForwardedFor('for=unknown, for="192.0.2.43:47011", for="_hidden:_port"'), ['unknown', '192.0.2.43', '_hidden']);
  assert.deepEqual(parseForwardedFor(['for=192.0.2.1', 'proto=https;for="[::ffff:192.0.2.2]"']), ['192.0.2.1', '192.0.2.2']);
  assert.deepEqual(parseForwardedFor(' FOR = 192.0.2.1 ;by=x,,'), ['192.0.2.1']);
  assert.deepEqual(parseForwardedFor(undefined), []);
});

test('parseForwardedFor keeps positions: absent, repeated or malformed for= is unknown', () => {
  assert.deepEqual(parseForwardedFor('by=203.0.113.43, for=192.0.2.1'), ['unknown', '192.0.2.1']);
  assert.deepEqual(parseForwardedFor('for=192.0.2.1;for=192.0.2.2'), ['unknown']); // §4: at most once per element
  assert.deepEqual(parseForwardedFor('for="[2001:db8::1], for=192.0.2.1'), ['unknown', '192.0.2.1']);
  assert.deepEqual(parseForwardedFor('for=bogus!, for=[2001:db8::1'), ['unknown', 'unknown']);
  // A client's unterminated quote cannot swallow what the trusted proxy appended.
  const hops = parseForwardedFor('for="198.51.100.1, for=203.0.113.9');
  assert.deepEqual(hops, ['unknown', '203.0.113.9']);
  assert.equal(resolveClientAddress('10.0.0.2', hops, trusted), '203.0.113.9');
});

test('resolveClientAddress walks Forwarded hops the same way', () => {
  const hops = parseForwardedFor('for=198.51.100.1, for="[2001:db8::7]:1234", for=10.0.0.1');
  assert.equal(resolveClientAddress('10.0.0.2', hops, trusted), '2001:db8::7');
  assert.equal(resolveClientAddress('10.0.0.2', parseForwardedFor('for=_hidden, for=10.0.0.1'), trusted), '10.0.0.1');
});

test('formatForwardedFor writes RFC 7239 §6 nodes that parse back to the same address', () => {
  assert.equal(formatForwardedFor('192.0.2.1'), '192.0.2.1');
  assert.equal(formatForwardedFor('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(formatForwardedFor('2001:DB8::1'), '"[2001:db8::1]"');
  assert.equal(formatForwardedFor('/run/rempart.sock'), 'unknown');
  for (const ip of ['192.0.2.1', '2001:db8::1', '::1', 'fe80::1']) {
    assert.deepEqual(parseForwardedFor(`for=${formatForwardedFor(ip)};proto=https`), [ip]);
  }
});
