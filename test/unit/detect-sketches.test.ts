import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSpaceSaving } from '../../src/shield/detect/space-saving.js';
import { createCountMin } from '../../src/shield/detect/count-min.js';
import { createTopK } from '../../src/shield/detect/top-k.js';
import { createPrng, randomInt } from './prng.js';

/** A skewed stream: a few heavy keys over a long uniform tail, as a flood over real traffic. */
function stream(seed: number, length: number, keys: number, heavy: number): string[] {
  const random = createPrng(seed);
  const out: string[] = [];
  for (let i = 0; i < length; i++) {
    const k = random() < 0.4 ? randomInt(random, 0, heavy - 1) : randomInt(random, 0, keys - 1);
    out.push(`k${k}`);
  }
  return out;
}

function truth(items: readonly string[], weights?: readonly number[]): Map<string, number> {
  const m = new Map<string, number>();
  items.forEach((k, i) => m.set(k, (m.get(k) ?? 0) + (weights?.[i] ?? 1)));
  return m;
}

test('Space-Saving never under-counts, and count − error never over-counts (property, 40 seeds)', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const random = createPrng(seed * 7);
    const capacity = randomInt(random, 4, 64);
    const items = stream(seed, randomInt(random, 100, 3000), randomInt(random, 10, 2000), randomInt(random, 1, 8));
    const weights = items.map(() => (random() < 0.5 ? 1 : randomInt(random, 1, 5)));
    const ss = createSpaceSaving(capacity);
    items.forEach((k, i) => ss.add(k, weights[i]));
    const exact = truth(items, weights);
    const sum = weights.reduce((a, b) => a + b, 0);
    assert.equal(ss.total, sum);
    assert.ok(ss.size <= capacity);
    for (const h of ss.top(capacity)) {
      const t = exact.get(h.key) ?? 0;
      assert.ok(h.count >= t, `seed ${seed}: ${h.key} count ${h.count} < true ${t}`);
      assert.ok(h.count - h.error <= t, `seed ${seed}: ${h.key} lower bound ${h.count - h.error} > true ${t}`);
    }
    for (const [key, t] of exact) {
      assert.ok(ss.estimate(key) >= t, `seed ${seed}: estimate(${key}) under-counts`);
      // Metwally et al. Theorem: any key heavier than total/capacity is monitored.
      if (t > sum / capacity) assert.ok(ss.has(key), `seed ${seed}: heavy ${key} (${t}) not monitored`);
    }
  }
});

test('Space-Saving top() is ordered, decay scales everything, reset empties', () => {
  const ss = createSpaceSaving(3);
  for (const [k, n] of [['a', 5], ['b', 3], ['c', 1]] as const) for (let i = 0; i < n; i++) ss.add(k);
  ss.add('d'); // evicts c (1): d gets count 2, error 1
  assert.deepEqual(ss.top(3), [{ key: 'a', count: 5, error: 0 }, { key: 'b', count: 3, error: 0 }, { key: 'd', count: 2, error: 1 }]);
  assert.equal(ss.estimate('c'), 2);
  assert.equal(ss.floor, 2);
  ss.decay(0.5);
  assert.deepEqual(ss.get('a'), { key: 'a', count: 2.5, error: 0 });
  assert.equal(ss.total, 5);
  ss.reset();
  assert.equal(ss.size, 0);
  assert.equal(ss.estimate('a'), 0);
  assert.throws(() => createSpaceSaving(0), RangeError);
});

test('count-min never under-counts and stays within ε·N for ≥ 1 − δ of keys (property, 20 seeds)', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const random = createPrng(seed * 13);
    const cm = createCountMin({ width: 256, depth: 4, seed });
    const items = stream(seed, 5000, 3000, 5);
    const weights = items.map(() => randomInt(random, 1, 3));
    items.forEach((k, i) => cm.add(k, weights[i]));
    const exact = truth(items, weights);
    const bound = cm.errorBound();
    assert.ok(Math.abs(bound - (Math.E / 256) * cm.total) < 1e-9);
    let beyond = 0;
    for (const [key, t] of exact) {
      const e = cm.estimate(key);
      assert.ok(e >= t, `seed ${seed}: ${key} estimate ${e} < true ${t}`);
      if (e - t > bound) beyond++;
    }
    // δ = e^−4 ≈ 1.8%: allow 3× that before calling it a failure of the stated bound.
    assert.ok(beyond / exact.size <= 3 * cm.failureProbability, `seed ${seed}: ${beyond}/${exact.size} beyond ε·N`);
  }
});

test('count-min conservative update beats plain update and decay keeps it an upper bound', () => {
  const cm = createCountMin({ width: 1000, depth: 3 });
  assert.equal(cm.width, 1024);
  assert.equal(cm.bytes, 1024 * 3 * 8);
  assert.equal(cm.add('x', 2), 2);
  assert.equal(cm.add('x'), 3);
  cm.decay(0.5);
  assert.ok(cm.estimate('x') >= 1.5);
  assert.equal(cm.total, 1.5);
  cm.reset();
  assert.equal(cm.estimate('x'), 0);
  assert.throws(() => createCountMin({ width: 1, depth: 2 }), RangeError);
  assert.throws(() => createCountMin({ width: 64, depth: 0 }), RangeError);
});

test('count-min + top-k keeps the heaviest keys, with upper-bound counts, and rejects one-off keys cheaply', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const cm = createCountMin({ width: 4096, depth: 4, seed });
    const top = createTopK(16);
    const items = stream(seed, 20_000, 50_000, 8);
    for (const k of items) top.offer(k, cm.add(k));
    const exact = truth(items);
    const kept = new Map<string, number>();
    top.forEach((k, c) => kept.set(k, c));
    assert.ok(top.size <= 16);
    for (const [k, c] of kept) assert.ok(c >= (exact.get(k) ?? 0), `seed ${seed}: ${k} under-counted`);
    const heaviest = [...exact].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k]) => k);
    for (const k of heaviest) assert.ok(top.has(k), `seed ${seed}: heavy ${k} missing`);
    for (const [k, t] of exact) if (!top.has(k)) assert.ok(t <= top.floor, `seed ${seed}: dropped ${k} (${t}) above floor ${top.floor}`);
  }
  const small = createTopK(2);
  small.offer('a', 5); small.offer('b', 3); small.offer('c', 3);
  assert.deepEqual([small.has('a'), small.has('b'), small.has('c'), small.floor], [true, true, false, 3], 'a tie does not evict');
  small.offer('c', 4);
  assert.deepEqual([small.has('b'), small.has('c'), small.floor], [false, true, 4]);
  small.reset();
  assert.equal(small.size, 0);
});
