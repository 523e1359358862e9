import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOutlierDetector } from '../../src/shield/upstream/health/outlier.js';
import { createProbeState, slowStartFactor } from '../../src/shield/upstream/health/probe-state.js';
import { createRetryBudget } from '../../src/shield/upstream/retry-budget.js';

const params = { consecutiveFailures: 3, windowMs: 10_000, baseEjectionMs: 1_000, maxEjectionMs: 2_500, maxEjectedPercent: 50 };

test('outlier: consecutive failures eject, a success resets the run, old failures expire from the window', () => {
  const d = createOutlierDetector(params, 4);
  assert.equal(d.onFailure(0, 0), undefined);
  assert.equal(d.onFailure(0, 1), undefined);
  d.onSuccess(0, 2);
  assert.equal(d.onFailure(0, 3), undefined);
  assert.equal(d.onFailure(0, 4), undefined);
  assert.equal(d.onFailure(0, 20_000), undefined, 'the earlier two are outside the window');
  assert.equal(d.onFailure(0, 20_001), undefined);
  assert.deepEqual(d.onFailure(0, 20_002), { kind: 'ejected', forMs: 1_000 });
  assert.ok(d.isEjected(0));
  assert.deepEqual(d.expire(21_001), []);
  assert.deepEqual(d.expire(21_002), [0]);
  assert.ok(!d.isEjected(0));
});

test('outlier: ejection time grows with each ejection up to the maximum, and decays while healthy', () => {
  const d = createOutlierDetector(params, 2);
  let t = 0;
  const eject = (): number | undefined => {
    let r;
    for (let i = 0; i < 3; i++) r = d.onFailure(0, t++);
    return r?.forMs;
  };
  assert.equal(eject(), 1_000);
  t += 1_000; d.expire(t);
  assert.equal(eject(), 2_000);
  t += 2_000; d.expire(t);
  assert.equal(eject(), 2_500, 'capped at maxEjectionMs');
  t += 2_500; d.expire(t);
  assert.equal(d.describe(0).ejections, 3);
  for (let i = 0; i < 3; i++) { t += 1_000; d.expire(t); }
  assert.equal(d.describe(0).ejections, 0, 'one ejection forgiven per baseEjectionMs healthy');
});

test('outlier: never more than maxEjectedPercent of the servers at once; one server alone is never ejected', () => {
  const d = createOutlierDetector(params, 4);
  const fail = (i: number): unknown => { let r; for (let k = 0; k < 3; k++) r = d.onFailure(i, k); return r; };
  assert.ok(fail(0));
  assert.ok(fail(1));
  assert.equal(fail(2), undefined);
  assert.equal(d.ejectedCount, 2);
  const single = createOutlierDetector(params, 1);
  for (let k = 0; k < 100; k++) assert.equal(single.onFailure(0, k), undefined);
});

test('probe state: rise successes bring a server up, fall failures take it down, a single blip changes nothing', () => {
  const p = createProbeState(2, 3);
  assert.ok(p.up);
  assert.equal(p.record(false), undefined);
  assert.equal(p.record(true), undefined);
  assert.equal(p.record(false), undefined);
  assert.equal(p.record(false), undefined);
  assert.equal(p.record(false), 'down');
  assert.equal(p.record(true), undefined);
  assert.equal(p.record(false), undefined);
  assert.equal(p.record(true), undefined);
  assert.equal(p.record(true), 'up');
});

test('slow start ramps from 10% to 100% of the weight over its time', () => {
  assert.equal(slowStartFactor(0, 0, 10_000), 0.1);
  assert.equal(slowStartFactor(5_000, 0, 10_000), 0.5);
  assert.equal(slowStartFactor(10_000, 0, 10_000), 1);
  assert.equal(slowStartFactor(1, 0, 0), 1);
});

test('retry budget: retries stay within ratio × requests + floor over the window, whatever the failure rate', () => {
  const b = createRetryBudget({ ratio: 0.2, windowMs: 10_000, minRetries: 3 });
  let granted = 0;
  let requests = 0;
  // 1,000 requests/s for 30 s, every one failing and asking for a retry.
  for (let t = 0; t < 30_000; t += 1) {
    b.onRequest(t);
    requests++;
    if (b.tryRetry(t)) granted++;
    const s = b.snapshot(t);
    assert.ok(s.retries <= 3 + 0.2 * s.requests, `window at ${t}: ${s.retries} retries for ${s.requests} requests`);
  }
  assert.ok(granted <= 0.2 * requests + 3 * 4, `granted ${granted} of ${requests}`);
  assert.ok(granted >= 0.19 * requests, `granted ${granted}: the budget is usable`);
  // After a quiet minute the window is empty: only the floor remains.
  const quiet = 100_000;
  assert.ok(b.tryRetry(quiet) && b.tryRetry(quiet) && b.tryRetry(quiet));
  assert.equal(b.tryRetry(quiet), false);
});

test('outlier: active probes may end an ejection early; the multiplier is kept', () => {
  const d = createOutlierDetector(params, 2);
  for (let k = 0; k < 3; k++) d.onFailure(1, k);
  assert.ok(d.isEjected(1));
  assert.equal(d.reinstate(1, 10), true);
  assert.equal(d.isEjected(1), false);
  assert.equal(d.reinstate(1, 11), false);
  assert.equal(d.describe(1).ejections, 1);
  let r;
  for (let k = 0; k < 3; k++) r = d.onFailure(1, 20 + k);
  assert.deepEqual(r, { kind: 'ejected', forMs: 2_000 });
});
