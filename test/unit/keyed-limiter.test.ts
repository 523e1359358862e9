import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createKeyedLimiter } from '../../src/shield/limits/keyed-limiter.js';
import { gcraStep } from '../../src/shield/limits/gcra.js';
import { createPrng } from './prng.js';

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

test('same decisions, size and evictions as a Map kept in admission order by delete-and-set (random arrivals)', () => {
  // The reference: the order kept in the Map itself, re-inserting a key on each admission.
  const reference = (maxKeys: number, clock: { now(): number }) => {
    const tats = new Map<string, number>();
    let evicted = 0;
    return {
      check(key: string, p: typeof params) {
        const now = clock.now();
        const stored = tats.get(key);
        const r = gcraStep(stored, now, p);
        if (!r.allowed) return r;
        if (stored !== undefined) tats.delete(key);
        else if (tats.size >= maxKeys) {
          let examined = 0;
          for (const [k, tat] of tats) { if (tat <= now) tats.delete(k); if (++examined === 16) break; }
          if (tats.size >= maxKeys) { tats.delete(tats.keys().next().value as string); evicted++; }
        }
        tats.set(key, r.tat);
        return r;
      },
      get size() { return tats.size; },
      get evicted() { return evicted; },
    };
  };
  for (const seed of [1, 2, 3]) {
    const rnd = createPrng(seed);
    const clock = manualClock();
    const limiter = createKeyedLimiter({ maxKeys: 40, clock });
    const model = reference(40, clock);
    for (let n = 0; n < 20_000; n++) {
      // A few hot keys and a long tail, so keys are both re-admitted and pushed out.
      const key = rnd() < 0.5 ? `hot-${Math.floor(rnd() * 4)}` : `k-${Math.floor(rnd() * 200)}`;
      const p = rnd() < 0.2 ? { ratePerS: 1, burst: 0 } : params;
      assert.deepEqual(limiter.check(key, p), model.check(key, p), `seed ${seed}, arrival ${n}`);
      assert.equal(limiter.size, model.size);
      if (rnd() < 0.3) clock.advance(rnd() * 40);
    }
    assert.equal(limiter.evictedActive, model.evicted);
    assert.ok(model.evicted > 0, 'the sequence must exercise eviction of active keys');
  }
});

test('refund gives one admission back to its key only, and forgets a key with nothing ahead', () => {
  const clock = manualClock();
  const limiter = createKeyedLimiter({ maxKeys: 10, clock });
  for (let i = 0; i < 3; i++) limiter.check('a', params);
  limiter.check('b', params);
  assert.equal(limiter.check('a', params).allowed, false);
  limiter.refund('a', params);
  assert.equal(limiter.check('a', params).allowed, true);
  limiter.refund('b', params);
  assert.equal(limiter.size, 1, 'b had one admission: given back, nothing left, forgotten');
  limiter.refund('never-seen', params);
  assert.equal(limiter.size, 1);
});
