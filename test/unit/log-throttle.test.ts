import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createManualClock } from '../../src/core/clock.js';
import { createLogThrottle } from '../../src/core/log-throttle.js';

test('at most N lines per key per window; the next written line reports what was suppressed', () => {
  const clock = createManualClock(0);
  const th = createLogThrottle(clock, 3, 1000);
  const got = Array.from({ length: 10 }, () => th.take('RMP_ERR_UPSTREAM_REFUSED'));
  assert.deepEqual(got, [0, 0, 0, undefined, undefined, undefined, undefined, undefined, undefined, undefined]);
  assert.equal(th.take('RMP_ERR_UPSTREAM_TIMEOUT'), 0, 'keys are independent');
  clock.advance(999);
  assert.equal(th.take('RMP_ERR_UPSTREAM_REFUSED'), undefined);
  clock.advance(1);
  assert.equal(th.take('RMP_ERR_UPSTREAM_REFUSED'), 8, 'seven dropped in the first window, one more just before it ended');
  assert.equal(th.take('RMP_ERR_UPSTREAM_REFUSED'), 0);
});
