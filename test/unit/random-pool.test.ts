import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRandomPool } from '../../src/core/random-pool.js';

test('random pool: slices never overlap or change once returned, across refills; large requests come whole', () => {
  const random = createRandomPool(64);
  const got: Buffer[] = [];
  for (let i = 0; i < 200; i++) got.push(random(12));
  const copies = got.map((b) => Buffer.from(b));
  for (let i = 0; i < 50; i++) random(12); // more refills after
  got.forEach((b, i) => assert.ok(b.equals(copies[i]!), `slice ${i} changed`));
  assert.equal(new Set(got.map((b) => b.toString('hex'))).size, 200, 'no two 12-byte draws alike');
  // Bytes look uniform: over 2,400 bytes every value's count stays far from 0 and from the total.
  const counts = new Array(256).fill(0) as number[];
  for (const b of got) for (const x of b) counts[x]!++;
  assert.ok(Math.max(...counts) < 40, `max count ${Math.max(...counts)}`);
  assert.equal(random(100).length, 100);
  assert.equal(random(0).length, 0);
  assert.throws(() => random(-1), RangeError);
  assert.throws(() => createRandomPool(8), RangeError);
});
