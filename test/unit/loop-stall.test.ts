import { test } from 'node:test';
import assert from 'node:assert/strict';
import { monotonicClock } from '../../src/core/clock.js';
import { createLoopStallMeter, stallOf } from '../../src/shield/upstream/loop-stall.js';

test('a stall is how late the timer fired past its due time, never negative', () => {
  assert.equal(stallOf(100, 290), 190);
  assert.equal(stallOf(100, 100), 0);
  assert.equal(stallOf(100, 95), 0);
});

test('the meter reads a loop held busy as a stall at least that long, and forgets it when stopped', async () => {
  const meter = createLoopStallMeter(monotonicClock, 10);
  assert.equal(meter.stallMs, 0, 'nothing measured before start');
  meter.start();
  await new Promise((r) => setTimeout(r, 30));
  // Hold the loop for 150 ms: the timer, due within 10 ms of the start, fires only after it.
  const until = performance.now() + 150;
  while (performance.now() < until) { /* busy: the stall under test */ }
  await new Promise((r) => setImmediate(r));
  // The next turn's timers ran before this check: the meter has seen the stall.
  await new Promise((r) => setTimeout(r, 0));
  assert.ok(meter.stallMs >= 130, `read ${meter.stallMs.toFixed(1)} ms of a 150 ms stall`);
  meter.stop();
  assert.equal(meter.stallMs, 0);
});
