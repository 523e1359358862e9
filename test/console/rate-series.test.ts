import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bucketOf, createRateSeries } from '../../src/console/rate-series.js';

test('bucketOf: each verdict lands in its chart series', () => {
  const none = { verdict: undefined, cacheState: undefined, errorCode: undefined };
  assert.equal(bucketOf(none), 'allowed');
  assert.equal(bucketOf({ ...none, verdict: { kind: 'challenge' } }), 'challenged');
  assert.equal(bucketOf({ ...none, verdict: { kind: 'deny', code: 'RMP_ERR_RATE_LIMITED' } }), 'rateLimited');
  assert.equal(bucketOf({ ...none, verdict: { kind: 'deny', code: 'RMP_ERR_BLOCKED' } }), 'blocked');
  assert.equal(bucketOf({ ...none, verdict: { kind: 'shed' } }), 'shed');
  assert.equal(bucketOf({ ...none, errorCode: 'RMP_ERR_QUEUE_TIMEOUT' }), 'shed');
  assert.equal(bucketOf({ ...none, errorCode: 'RMP_ERR_UPSTREAM_BUSY' }), 'shed');
  assert.equal(bucketOf({ ...none, verdict: { kind: 'cached' }, cacheState: 'STALE' }), 'stale');
  assert.equal(bucketOf({ ...none, verdict: { kind: 'cached' }, cacheState: 'HIT' }), 'allowed');
  assert.equal(bucketOf({ ...none, verdict: { kind: 'deny', code: 'RMP_ERR_BAD_REQUEST' } }), 'allowed');
});

test('rate series: one sample per second, idle seconds as zeros, latency mean and in-flight by Little\'s law', () => {
  const s = createRateSeries({ keep: 5, start: 10_000 });
  s.record('allowed', 'normal', 20, 10_100);
  s.record('allowed', 'normal', 40, 10_900);
  s.record('challenged', 'none', undefined, 10_950);
  s.recordRefused(3, 10_990);
  assert.equal(s.roll(10_999).length, 0, 'the current second is not closed yet');
  s.record('rateLimited', 'critical', undefined, 13_500); // 11 s and 12 s were idle
  const out = s.roll(14_000);
  assert.deepEqual(out.map((x) => x.t), [10_000, 11_000, 12_000, 13_000]);
  const first = out[0]!;
  assert.equal(first.verdicts.allowed, 2);
  assert.equal(first.verdicts.challenged, 1);
  assert.equal(first.verdicts.blocked, 3);
  assert.equal(first.latencyMs.normal, 30);
  assert.equal(first.latencyMs.critical, null);
  assert.equal(first.inFlight.normal, 0.06);
  assert.equal(out[1]!.verdicts.allowed, 0);
  assert.equal(out[3]!.verdicts.rateLimited, 1);
});

test('rate series keeps at most `keep` samples, even across a long idle gap', () => {
  const s = createRateSeries({ keep: 3, start: 0 });
  s.record('allowed', 'low', 1, 0);
  const out = s.roll(1_000_000);
  assert.equal(out.length, 3);
  assert.deepEqual(out.map((x) => x.t), [997_000, 998_000, 999_000]);
  assert.ok(out.every((x) => x.verdicts.allowed === 0));
});
