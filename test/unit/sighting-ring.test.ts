import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSightingRing } from '../../src/shield/reputation/sighting-ring.js';

test('sighting ring: counts since a moment, holds at most its capacity, the oldest dropped', () => {
  const r = createSightingRing(5, 60_000, 10_000);
  assert.equal(r.oldest(), undefined);
  assert.equal(r.usualRate(1000, 0), 0, 'empty: no rate');
  for (let t = 0; t < 8; t++) r.add(t * 1000);
  assert.equal(r.count, 5);
  assert.equal(r.oldest(), 3000);
  assert.equal(r.since(5000), 3);
  assert.equal(r.since(5001), 2);
  assert.equal(r.since(0), 5);
});

test('sighting ring: the usual rate is the median of its bins — a burst in a few of them does not move it, one in most does', () => {
  const r = createSightingRing(100_000, 600_000, 10_000);
  for (let t = 0; t < 600_000; t += 500) r.add(t); // two a second for ten minutes
  assert.equal(r.usualRate(600_000, 0), 2);
  const b = createSightingRing(100_000, 600_000, 10_000);
  for (let t = 0; t < 600_000; t += 500) {
    b.add(t);
    if (t >= 300_000 && t < 320_000) for (let i = 0; i < 50; i++) b.add(t); // 100 more a second for 20 s
  }
  assert.equal(b.usualRate(600_000, 0), 2, 'two bins of sixty');
  const m = createSightingRing(100_000, 600_000, 10_000);
  for (let t = 0; t < 600_000; t += 500) {
    m.add(t);
    if (t >= 200_000) m.add(t); // twice the rate over two thirds of the memory
  }
  assert.equal(m.usualRate(600_000, 0), 4);
  // A partial oldest bin counts for its length.
  const p = createSightingRing(1000, 600_000, 10_000);
  for (let t = 5000; t < 20_000; t += 1000) p.add(t); // from 5 s: one a second
  assert.equal(p.usualRate(20_000, 5000), 1);
});

test('sighting ring: bins watched with nothing in them count — a ring holding only a ramp\'s first sightings does not take the ramp for the usual', () => {
  const r = createSightingRing(10_000, 3_600_000, 10_000);
  for (let i = 0; i < 200; i++) r.add(330_000 + Math.sqrt(i) * 1000); // a ramp from 330 s, nothing before
  assert.equal(r.usualRate(344_000, 0), 0, 'watched from 0: 33 empty bins, two of the ramp');
  assert.ok(r.usualRate(344_500, 330_000) > 5, 'watched only since the ramp began, the ramp is all there is');
});
