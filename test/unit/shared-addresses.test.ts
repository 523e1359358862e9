import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSharedAddresses } from '../../src/shield/detect/shared-addresses.js';

test('an address is shared once two distinct personal tokens were seen behind it, within the window', () => {
  const s = createSharedAddresses({ minClients: 2, windowMs: 60_000 });
  s.see('198.51.100.7', 'rep:a', 0);
  s.see('198.51.100.7', 'rep:a', 1_000);
  assert.equal(s.isShared('198.51.100.7', 1_000), false, 'one customer, however many requests');
  s.see('198.51.100.7', 'clr:b', 2_000);
  assert.equal(s.isShared('198.51.100.7', 2_000), true);
  assert.equal(s.isShared('198.51.100.8', 2_000), false, 'another address');
  // Tokens age out: the first one was last seen at 1 s.
  assert.equal(s.isShared('198.51.100.7', 61_500), false);
  s.see('198.51.100.7', 'rep:c', 61_500);
  assert.equal(s.isShared('198.51.100.7', 61_500), true, 'b (seen at 2 s) and c');
});

test('memory is bounded: the least recently seen addresses are forgotten first', () => {
  const s = createSharedAddresses({ maxAddresses: 3 });
  for (let i = 0; i < 10; i++) { s.see(`10.0.0.${i}`, 'rep:x', i); s.see(`10.0.0.${i}`, 'rep:y', i); }
  assert.equal(s.size, 3);
  assert.equal(s.isShared('10.0.0.9', 10), true);
  assert.equal(s.isShared('10.0.0.0', 10), false);
});

test('personal identities only behind a shared address where no token was revoked within the window', () => {
  const s = createSharedAddresses({ minClients: 2, windowMs: 60_000 });
  s.see('198.51.100.7', 'rep:a', 0);
  assert.equal(s.personalIdentities('198.51.100.7', 0), false, 'not shared yet');
  s.see('198.51.100.7', 'rep:b', 0);
  assert.equal(s.personalIdentities('198.51.100.7', 0), true);
  assert.equal(s.flooded('198.51.100.7', 0), false);
  s.revoked('198.51.100.7', 1_000);
  assert.equal(s.isShared('198.51.100.7', 1_000), true, 'still shared: never blocked');
  assert.equal(s.personalIdentities('198.51.100.7', 1_000), false, 'a flooder behind it');
  assert.equal(s.flooded('198.51.100.7', 1_000), true);
  assert.equal(s.flooded('198.51.100.8', 1_000), false, 'another address');
  s.revoked('198.51.100.9', 1_000);
  assert.equal(s.flooded('198.51.100.9', 1_000), false, 'one client behind it: its own cookie is its own');
  assert.equal(s.personalIdentities('198.51.100.7', 60_000), false);
  s.see('198.51.100.7', 'rep:a', 60_500);
  s.see('198.51.100.7', 'rep:b', 60_500);
  assert.equal(s.personalIdentities('198.51.100.7', 61_001), true, 'the revocation aged out');
  assert.equal(s.flooded('198.51.100.7', 61_001), false);
});

test('an address over its rate limit is flooded for overRateMs, shared or not', () => {
  const s = createSharedAddresses({ overRateMs: 30_000 });
  assert.equal(s.flooded('198.51.100.20', 0), false);
  s.overRate('198.51.100.20', 1_000);
  assert.equal(s.flooded('198.51.100.20', 1_000), true, 'no token seen there: not known as shared, flooded all the same');
  assert.equal(s.isShared('198.51.100.20', 1_000), false);
  assert.equal(s.flooded('198.51.100.20', 31_000), true);
  assert.equal(s.flooded('198.51.100.20', 31_001), false, 'aged out');
  assert.equal(s.flooded('198.51.100.21', 1_000), false, 'another address');
});
