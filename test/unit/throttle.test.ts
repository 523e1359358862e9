import { test } from 'node:test';
import assert from 'node:assert/strict';
import { throttleStep } from '../../src/shield/limits/throttle.js';

test('throttle: within the burst nothing pauses; beyond it the pause is what the excess takes at the rate', () => {
  const p = { ratePerS: 100, burst: 10 }; // one unit per 10 ms, 10 units of tolerance
  let tat: number | undefined;
  // 10 units at once: within the tolerance.
  let r = throttleStep(tat, 0, 10, p);
  assert.equal(r.pauseMs, 0);
  tat = r.tat;
  // 5 more at once: 5 beyond, 50 ms at 100/s.
  r = throttleStep(tat, 0, 5, p);
  assert.equal(r.pauseMs, 50);
  tat = r.tat;
  // Read again when the pause is over: one more unit pauses one interval, never the whole debt again.
  r = throttleStep(tat, 50, 1, p);
  assert.equal(r.pauseMs, 10);
  tat = r.tat;
  // After a quiet second the debt is gone and the burst is whole again.
  r = throttleStep(tat, 1_060, 10, p);
  assert.equal(r.pauseMs, 0);
});

test('throttle: a sender at the rate never pauses; at twice the rate it pauses half the time, whatever the chunking', () => {
  const p = { ratePerS: 1_000, burst: 100 };
  let tat: number | undefined;
  for (let ms = 0; ms < 5_000; ms++) {
    const r = throttleStep(tat, ms, 1, p);
    assert.equal(r.pauseMs, 0, `at ${ms} ms`);
    tat = r.tat;
  }
  // 2 units a millisecond, in chunks of 7, honouring every pause: the reader gets 1 unit a millisecond.
  tat = undefined;
  let now = 0;
  let sent = 0;
  while (now < 10_000) {
    const r = throttleStep(tat, now, 7, p);
    tat = r.tat;
    sent += 7;
    now += 3.5 + r.pauseMs;
  }
  const rate = sent / now;
  assert.ok(rate > 0.95 && rate < 1.05 + 100 / now, `rate ${rate} per ms`);
});

test('throttle: invalid parameters are refused', () => {
  assert.throws(() => throttleStep(undefined, 0, 1, { ratePerS: 0, burst: 1 }), RangeError);
  assert.throws(() => throttleStep(undefined, 0, -1, { ratePerS: 1, burst: 1 }), RangeError);
  assert.throws(() => throttleStep(undefined, 0, 1, { ratePerS: 1, burst: Infinity }), RangeError);
});
