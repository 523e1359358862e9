import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLineBudget } from '../../src/shield/log-budget.js';

test('a line budget lets perS lines a second through, counts the rest by outcome and says them once, in the next window', () => {
  const b = createLineBudget(() => 3);
  const writes = [0, 10, 20, 30, 40].map((t) => b.take('challenge-1', 1000 + t).write);
  assert.deepEqual(writes, [true, true, true, false, false]);
  assert.equal(b.take('RMP_ERR_RATE_LIMITED', 1500).write, false);
  const next = b.take('challenge-1', 2001);
  assert.equal(next.write, true);
  assert.deepEqual(next.summary, { fromMs: 1000, total: 3, byOutcome: { 'challenge-1': 2, RMP_ERR_RATE_LIMITED: 1 } });
  assert.equal(b.take('challenge-1', 2002).summary, undefined, 'said once');
  // A window that held nothing back says nothing; a quiet gap of windows is no matter.
  for (let i = 0; i < 3; i++) b.take('x', 2003);
  assert.equal(b.take('x', 9000).summary?.total, 2, 'two past the three of that window');
  assert.equal(b.drain(), undefined);
  for (let i = 0; i < 5; i++) b.take('y', 9500);
  assert.deepEqual(b.drain(), { fromMs: 9000, total: 3, byOutcome: { y: 3 } }, 'drained at shutdown (the window had written one x)');
});

test('0 lines a second means every line', () => {
  const b = createLineBudget(() => 0);
  for (let i = 0; i < 10_000; i++) assert.equal(b.take('challenge-2', 5).write, true);
  assert.equal(b.drain(), undefined);
});
