import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClientKey } from '../../src/shield/client-key.js';

test('client key: IPv4 is the address, IPv6 its /64, 128 is per address', () => {
  const key = createClientKey(64);
  assert.equal(key('203.0.113.7'), '203.0.113.7');
  assert.equal(key('2001:db8:1:2::5'), '2001:db8:1:2::/64');
  // RFC 8981 temporary addresses of one host, and another host on the same LAN: one client.
  assert.equal(key('2001:db8:1:2:a8f3:19c2:7e01:4d2b'), '2001:db8:1:2::/64');
  assert.equal(key('2001:db8:1:3::5'), '2001:db8:1:3::/64', 'the next /64 is another client');
  // Asked twice (the memo) gives the same answer.
  assert.equal(key('2001:db8:1:2::5'), '2001:db8:1:2::/64');
  assert.equal(createClientKey(56)('2001:db8:1:2ff::5'), '2001:db8:1:200::/56');
  assert.equal(createClientKey(128)('2001:db8:1:2::5'), '2001:db8:1:2::5');
  // Not an address (a Unix socket peer is empty): itself.
  assert.equal(key(''), '');
  assert.equal(key('not:an:address:zz'), 'not:an:address:zz');
  assert.throws(() => createClientKey(0), RangeError);
  assert.throws(() => createClientKey(129), RangeError);
});

test('client key: the memo is bounded and stays correct past its size', () => {
  const key = createClientKey(64);
  for (let i = 0; i < 10_000; i++) assert.equal(key(`2001:db8:${(i % 50).toString(16)}:1::${(i + 1).toString(16)}`), `2001:db8:${(i % 50).toString(16)}:1::/64`);
});
