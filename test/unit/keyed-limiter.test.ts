import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createKeyedLimiter } from '../../src/shield/limits/keyed-limiter.js';

function manualClock(start = 0): { now(): number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

const params = { ratePerS: 10, burst: 2 };

test('keys are limited independently, on the injected clock', () => {
  const clock = manualClock(1_000);
  const limiter = createKeyedLimiter({ maxKeys: 100, clock });
  const run = (key: string, n: number): boolean[] => Array.from({ length: n }, () => limiter.check(key, params).allowed);
  assert.deepEqual(run('a', 4), [true, true, true, false]);
  assert.deepEqual(run('b', 3), [true, true, true]);
  assert.equal(limiter.check('a', params).retryAfterMs, 100);
  clock.advance(100);
  assert.deepEqual(run('a', 2), [true, false]);
  assert.equal(limiter.size, 2);
});

test('a refused request does not create or move state', () => {
  const clock = manualClock();
  const limiter = createKeyedLimiter({ maxKeys: 10, clock });
  const strict = { ratePerS: 1, burst: 0 };
  assert.equal(limiter.check('k', strict).allowed, true);
  for (let n = 0; n < 50; n++) assert.equal(limiter.check('k', strict).allowed, false);
  clock.advance(1_000);
  assert.equal(limiter.check('k', strict).allowed, true);
});

test('memory stays bounded by maxKeys under a flood of distinct keys', () => {
  const clock = manualClock();
  const limiter = createKeyedLimiter({ maxKeys: 500, clock });
  for (let n = 0; n < 20_000; n++) {
    limiter.check(`client-${n}`, params);
    if (n % 7 === 0) clock.advance(3);
    assert.ok(limiter.size <= 500);
  }
  assert.ok(limiter.size > 450, 'only idle keys are dropped early, a bounded few at a time');
});

test('idle keys are forgotten before an older key that is still active', () => {
  const clock = manualClock();
  const limiter = createKeyedLimiter({ maxKeys: 50, clock });
  const slow = { ratePerS: 0.1, burst: 0 }; // one request per 10 s
  // 'slow' is admitted first, so it is the least recently admitted entry, at the front.
  assert.equal(limiter.check('slow', slow).allowed, true);
  for (let n = 0; n < 49; n++) limiter.check(`idle-${n}`, params);
  clock.advance(150); // past the other keys' TAT (100 ms), far from slow's (10 s)
  for (let n = 0; n < 40; n++) limiter.check(`new-${n}`, params);
  assert.equal(limiter.check('slow', slow).allowed, false, 'its state must survive eviction');
  assert.equal(limiter.evictedActive, 0);
  assert.ok(limiter.size <= 50);
});

test('when every key is active the least recently admitted is dropped and counted', () => {
  const clock = manualClock();
  const limiter = createKeyedLimiter({ maxKeys: 3, clock });
  for (const key of ['a', 'b', 'c', 'a', 'd']) limiter.check(key, params);
  assert.equal(limiter.size, 3);
  assert.equal(limiter.evictedActive, 1);
  // 'a' and 'c' kept their state; 'b' was dropped, so it starts again with a full burst.
  assert.equal(limiter.check('a', params).remaining, 0);
  assert.equal(limiter.check('c', params).remaining, 1);
  assert.equal(limiter.check('b', params).remaining, 2);
});

test('maxKeys must be a positive integer', () => {
  assert.throws(() => createKeyedLimiter({ maxKeys: 0, clock: manualClock() }), RangeError);
  assert.throws(() => createKeyedLimiter({ maxKeys: 1.5, clock: manualClock() }), RangeError);
});
