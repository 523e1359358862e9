import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRecencyMap } from '../../src/core/recency-map.js';
import { createPrng } from './prng.js';

const order = (m: ReturnType<typeof createRecencyMap<number>>): string[] => [...m.fromOldest()].map(([k]) => k);

test('use and set move a key to the most recently used end; peek does not', () => {
  const m = createRecencyMap<number>();
  for (const k of ['a', 'b', 'c']) m.set(k, 1);
  assert.equal(m.peek('a'), 1);
  assert.deepEqual(order(m), ['a', 'b', 'c']);
  assert.equal(m.use('a'), 1);
  assert.deepEqual(order(m), ['b', 'c', 'a']);
  m.set('b', 2);
  assert.deepEqual(order(m), ['c', 'a', 'b']);
  assert.deepEqual(m.oldest(), ['c', 1]);
  assert.equal(m.use('missing'), undefined);
  assert.equal(m.delete('a'), true);
  assert.equal(m.delete('a'), false);
  assert.deepEqual(order(m), ['c', 'b']);
  assert.equal(m.size, 2);
});

test('the entry just visited may be deleted while walking from the oldest', () => {
  const m = createRecencyMap<number>();
  for (let i = 0; i < 10; i++) m.set(`k${i}`, i);
  for (const [k, v] of m.fromOldest()) if (v % 2 === 0) m.delete(k);
  assert.deepEqual(order(m), ['k1', 'k3', 'k5', 'k7', 'k9']);
  assert.equal(m.size, 5);
});

test('same order as a Map re-inserted on each use (random operations)', () => {
  const rnd = createPrng(11);
  const m = createRecencyMap<number>();
  const ref = new Map<string, number>();
  for (let n = 0; n < 20_000; n++) {
    const key = `k${Math.floor(rnd() * 50)}`;
    const op = rnd();
    if (op < 0.4) { m.set(key, n); ref.delete(key); ref.set(key, n); }
    else if (op < 0.7) { const v = ref.get(key); if (v !== undefined) { ref.delete(key); ref.set(key, v); } assert.equal(m.use(key), v); }
    else if (op < 0.85) assert.equal(m.delete(key), ref.delete(key));
    else assert.equal(m.peek(key), ref.get(key));
  }
  assert.deepEqual([...m.fromOldest()], [...ref]);
  assert.deepEqual([...m.fromNewest()], [...ref].reverse(), 'the same order backwards');
  assert.deepEqual(m.oldest(), [...ref][0]);
});
