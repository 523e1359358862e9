import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createManualClock } from '../../src/core/clock.js';
import { createTrafficSketch, type Observation } from '../../src/shield/detect/source-tracker.js';
import { createEwma, createShareBaseline, ewmaStep, ewmaZ, EWMA_EMPTY, alphaOf } from '../../src/shield/detect/baseline.js';
import { createPrng, randomInt } from './prng.js';

const obs = (client: string, extra: Partial<Observation> = {}): Observation => ({
  client, prefix: client.replace(/\.\d+$/, '.0/24'), fingerprint: 'fp-browser', pathTemplate: '/', userAgent: 'UA',
  queryShape: '', cookie: 'valid', routeClass: 'normal', ...extra,
});

test('traffic sketch: window shares and rates, rotation forgets old seconds', () => {
  const clock = createManualClock(1_000_000);
  const sketch = createTrafficSketch({ clock, capacity: 64, countMinWidth: 1024 });
  for (let s = 0; s < 10; s++) {
    for (let i = 0; i < 90; i++) sketch.observe(obs(`10.0.${i % 3}.${i}`));
    for (let i = 0; i < 10; i++) sketch.observe(obs('192.0.2.1', { fingerprint: 'fp-bot', pathTemplate: '/login' }));
    clock.advance(s < 9 ? 1000 : 999);
  }
  const snap = sketch.snapshot(5);
  assert.equal(snap.total, 1000);
  assert.equal(snap.windowS, 9.999); // the newest bucket is 999 ms old
  assert.ok(Math.abs(snap.ratePerS - 100) < 0.1);
  const bot = snap.dimensions.fingerprint.find((e) => e.value === 'fp-bot');
  assert.ok(bot);
  assert.equal(bot.share, 0.1);
  assert.ok(Math.abs(bot.ratePerS - 10) < 0.01);
  assert.equal(snap.dimensions.client[0]?.value, '192.0.2.1');
  assert.equal(snap.dimensions.prefix48.length, 0, 'IPv4 traffic has no /48');
  assert.equal(sketch.clientCount('192.0.2.1'), 100);
  assert.ok(sketch.prefixCount('10.0.1.0/24') >= 300);
  // At the next boundary the window is the newest (empty) bucket plus the 9 seconds before it.
  clock.advance(1);
  const atBoundary = sketch.snapshot(5);
  assert.equal(atBoundary.total, 900);
  assert.equal(atBoundary.ratePerS, 100);
  // 5 s later half the window has gone; 20 s later all of it.
  clock.advance(5000);
  assert.equal(sketch.snapshot().total, 400);
  clock.advance(20_000);
  assert.equal(sketch.snapshot().total, 0);
  assert.equal(sketch.clientCount('192.0.2.1'), 0);
});

test('traffic sketch: counts stay upper bounds when a dimension overflows its capacity', () => {
  const clock = createManualClock(0);
  const sketch = createTrafficSketch({ clock, capacity: 16, buckets: 3, countMinWidth: 256 });
  const random = createPrng(5);
  const exact = new Map<string, number>();
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < 2000; i++) {
      const client = random() < 0.3 ? `198.51.100.${randomInt(random, 1, 3)}` : `10.${randomInt(random, 0, 255)}.${randomInt(random, 0, 255)}.1`;
      exact.set(client, (exact.get(client) ?? 0) + 1);
      sketch.observe(obs(client));
      assert.ok(sketch.clientCount(client) >= (exact.get(client) ?? 0));
    }
    clock.advance(1000);
  }
  clock.advance(-1); // still inside the window's last bucket
  for (const e of sketch.snapshot(10).dimensions.client) {
    const t = exact.get(e.value) ?? 0;
    assert.ok(e.count >= t, `${e.value}: ${e.count} < ${t}`);
    assert.ok(e.count - e.error <= t, `${e.value}: lower bound ${e.count - e.error} > ${t}`);
  }
  assert.deepEqual(sketch.snapshot(3).dimensions.client.map((e) => e.value).sort(), ['198.51.100.1', '198.51.100.2', '198.51.100.3']);
});

test('traffic sketch: a sampled observation counts with its weight', () => {
  const clock = createManualClock(0);
  const sketch = createTrafficSketch({ clock, capacity: 8, countMinWidth: 256 });
  for (let i = 0; i < 10; i++) sketch.observe(obs('192.0.2.1', { fingerprint: 'fp-bot' }), 10);
  for (let i = 0; i < 100; i++) sketch.observe(obs(`10.0.0.${i}`));
  const snap = sketch.snapshot(3);
  assert.equal(snap.total, 200);
  assert.equal(snap.dimensions.fingerprint.find((e) => e.value === 'fp-bot')?.count, 100);
  assert.equal(snap.dimensions.client[0]?.value, '192.0.2.1');
  assert.ok(sketch.clientCount('192.0.2.1') >= 100);
});

test('EWMA: half-life, mean, variance, z-score, warm-up', () => {
  assert.ok(Math.abs(alphaOf({ halfLife: 1 }) - 0.5) < 1e-12);
  const e = createEwma({ alpha: 0.1, warmupSamples: 5 });
  const random = createPrng(9);
  for (let i = 0; i < 4; i++) e.update(100);
  assert.equal(e.isWarm, false);
  assert.equal(e.zscore(1000), 0, 'no z-score before warm-up');
  for (let i = 0; i < 2000; i++) e.update(100 + (random() - 0.5) * 20); // uniform ±10: σ ≈ 5.8
  assert.ok(Math.abs(e.mean - 100) < 2, `mean ${e.mean}`);
  assert.ok(e.std > 4 && e.std < 8, `std ${e.std}`);
  assert.ok(e.zscore(200) > 10);
  assert.ok(Math.abs(e.zscore(e.mean)) < 1e-9);
  assert.deepEqual(ewmaStep(EWMA_EMPTY, 7, 0.5), { mean: 7, variance: 0, samples: 1 });
  assert.equal(ewmaStep(EWMA_EMPTY, NaN, 0.5), EWMA_EMPTY);
  assert.equal(ewmaZ({ mean: 10, variance: 0, samples: 3 }, 12, 1), 2);
  assert.throws(() => createEwma({ alpha: 0 }), RangeError);
});

test('share baseline learns shares, decays absent values, stays bounded', () => {
  const b = createShareBaseline({ halfLife: 5, maxValues: 3, warmupSamples: 3 });
  for (let i = 0; i < 50; i++) b.learn('fp', [{ value: 'a', share: 0.6 }, { value: 'b', share: 0.3 }]);
  assert.ok(Math.abs(b.share('fp', 'a') - 0.6) < 1e-6);
  assert.ok(Math.abs(b.tailShare('fp') - 0.1) < 1e-6);
  assert.equal(b.isWarm('fp'), true);
  assert.equal(b.isWarm('path'), false);
  assert.equal(b.share('fp', 'zzz'), 0);
  for (let i = 0; i < 50; i++) b.learn('fp', [{ value: 'a', share: 0.6 }]);
  assert.ok(b.share('fp', 'b') < 0.01, 'an absent value fades');
  b.learn('fp', [{ value: 'c', share: 0.2 }, { value: 'd', share: 0.2 }, { value: 'e', share: 0.2 }, { value: 'a', share: 0.4 }]);
  assert.ok(b.values('fp').length <= 3);
  assert.equal(b.values('fp')[0]?.value, 'a');
});

test('EWMA warm-up is the exact mean and variance of what it saw; a long half-life does not freeze the first sample', () => {
  const e = createEwma({ halfLife: 600 });
  for (const x of [0, 0, 10, 10]) e.update(x);
  assert.ok(Math.abs(e.mean - 5) < 1e-9, `mean ${e.mean}`);
  assert.ok(Math.abs(e.std - 5) < 1e-9, `std ${e.std} (population variance of 0, 0, 10, 10 is 25)`);
  // A shield that started on a quiet second: 1 arrival, then 30 seconds at ~20/s.
  const rate = createEwma({ halfLife: 600 });
  rate.update(1);
  for (let i = 0; i < 30; i++) rate.update(20);
  assert.ok(rate.mean > 19, `mean ${rate.mean} (the first second no longer holds it near 1)`);
  assert.ok(rate.zscore(24) < 4, 'a burst of customers is not k = 4 sigma above normal');
});

test('share baseline warm-up: a value first seen in the second snapshot is learned at its mean share', () => {
  const b = createShareBaseline({ halfLife: 300 });
  b.learn('fp', [{ value: 'a', share: 1 }]);
  for (let i = 0; i < 9; i++) b.learn('fp', [{ value: 'a', share: 0.5 }, { value: 'b', share: 0.5 }]);
  // Mean over ten snapshots: a = (1 + 9 × 0.5) / 10, b = 9 × 0.5 / 10.
  assert.ok(Math.abs(b.share('fp', 'a') - 0.55) < 1e-9, String(b.share('fp', 'a')));
  assert.ok(Math.abs(b.share('fp', 'b') - 0.45) < 1e-9, String(b.share('fp', 'b')));
});
