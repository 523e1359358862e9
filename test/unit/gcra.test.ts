import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gcraRefund, gcraStep, type GcraParams } from '../../src/shield/limits/gcra.js';
import { createPrng, randomInt } from './prng.js';

/** Runs arrivals through one key and returns the times that were admitted. */
function admitted(times: readonly number[], params: GcraParams): number[] {
  let tat: number | undefined;
  const out: number[] = [];
  for (const now of times) {
    const r = gcraStep(tat, now, params);
    if (r.allowed) { tat = r.tat; out.push(now); } else {
      assert.equal(r.tat, tat, 'a refusal must not move the TAT');
    }
  }
  return out;
}

test('an idle key gets burst + 1 at once, counting remaining down, then one per interval', () => {
  const params = { ratePerS: 10, burst: 3 };
  let tat: number | undefined;
  const remaining: number[] = [];
  for (let n = 0; n < 4; n++) {
    const r = gcraStep(tat, 1_000, params);
    assert.equal(r.allowed, true);
    assert.equal(r.retryAfterMs, 0);
    remaining.push(r.remaining);
    tat = r.tat;
  }
  assert.deepEqual(remaining, [3, 2, 1, 0]);
  const refused = gcraStep(tat, 1_000, params);
  assert.deepEqual(refused, { allowed: false, tat: 1_400, retryAfterMs: 100, remaining: 0 });
  assert.equal(gcraStep(tat, 1_099, params).allowed, false);
  const later = gcraStep(tat, 1_100, params);
  assert.equal(later.allowed, true);
  assert.equal(later.remaining, 0);
  assert.equal(later.tat, 1_500);
  // After a long pause the key is fresh again: a past TAT is the same as no TAT.
  assert.deepEqual(gcraStep(later.tat, 60_000, params), gcraStep(undefined, 60_000, params));
});

test('burst 0 spaces requests exactly one interval apart', () => {
  const params = { ratePerS: 4, burst: 0 };
  const first = gcraStep(undefined, 0, params);
  assert.deepEqual(first, { allowed: true, tat: 250, retryAfterMs: 0, remaining: 0 });
  assert.equal(gcraStep(first.tat, 249.5, params).retryAfterMs, 0.5);
  assert.equal(gcraStep(first.tat, 250, params).allowed, true);
});

test('a rate whose interval is not exact in binary still admits exactly burst + 1', () => {
  for (const ratePerS of [3, 7, 0.3, 33.3]) {
    for (const burst of [0, 1, 2, 9, 40]) {
      const got = admitted(Array.from({ length: burst + 5 }, () => 12_345.678), { ratePerS, burst });
      assert.equal(got.length, burst + 1, `rate ${ratePerS} burst ${burst}`);
    }
  }
});

test('a client arriving exactly at the rate is never refused', () => {
  const params = { ratePerS: 3, burst: 0 };
  const times = Array.from({ length: 3000 }, (_, n) => 5 + n * (1000 / 3));
  assert.equal(admitted(times, params).length, times.length);
});

test('invalid parameters throw instead of admitting everything', () => {
  for (const params of [{ ratePerS: 0, burst: 1 }, { ratePerS: -1, burst: 1 }, { ratePerS: NaN, burst: 1 }, { ratePerS: Infinity, burst: 1 }, { ratePerS: 1, burst: -1 }, { ratePerS: 1, burst: NaN }]) {
    assert.throws(() => gcraStep(undefined, 0, params), RangeError, JSON.stringify(params));
  }
});

test('over any window W, random arrivals are admitted at most rate*W + burst + 1 times (seeded)', () => {
  const random = createPrng(42);
  for (const params of [{ ratePerS: 10, burst: 0 }, { ratePerS: 10, burst: 5 }, { ratePerS: 3, burst: 2 }, { ratePerS: 250, burst: 40 }, { ratePerS: 0.5, burst: 1 }]) {
    // Bursty arrivals over T = 20 s: quiet gaps, floods, fractional milliseconds.
    const times: number[] = [];
    let now = 0;
    while (now < 20_000) {
      now += random() < 0.1 ? randomInt(random, 200, 3000) : random() * 2;
      times.push(now);
    }
    const got = admitted(times, params);
    assert.ok(got.length > params.burst, 'the flood must get the burst through');
    const T = (times.at(-1) ?? 0) / 1000;
    assert.ok(got.length <= params.ratePerS * T + params.burst + 1, `total ${got.length} for ${JSON.stringify(params)}`);
    for (let i = 0; i < got.length; i++) {
      for (let j = i; j < got.length; j++) {
        const windowS = ((got[j] ?? 0) - (got[i] ?? 0)) / 1000;
        const count = j - i + 1;
        if (count > params.ratePerS * windowS + params.burst + 1 + 1e-9) {
          assert.fail(`${count} admitted in ${windowS} s with ${JSON.stringify(params)}`);
        }
      }
    }
  }
});

test('refund: an admitted arrival given back is as if it never came; never before now, and nothing left is forgotten', () => {
  const p = { ratePerS: 10, burst: 2 };
  let tat: number | undefined;
  for (let i = 0; i < 3; i++) tat = gcraStep(tat, 0, p).tat; // burst + 1 at t=0: full
  assert.equal(gcraStep(tat, 0, p).allowed, false);
  tat = gcraRefund(tat, 0, p);
  assert.equal(tat, 200);
  assert.equal(gcraStep(tat, 0, p).allowed, true, 'room for one again');
  assert.equal(gcraRefund(100, 50, p), undefined, 'one interval back would be before now: nothing left ahead');
  assert.equal(gcraRefund(undefined, 0, p), undefined);
});
