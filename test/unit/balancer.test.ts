import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBalancer, type BalancedServer } from '../../src/shield/upstream/balancer.js';
import { createRng } from '../../src/core/rng.js';

const servers = (weights: number[], backups: number[] = []): BalancedServer[] =>
  weights.map((w, index) => ({ index, weight: w, effectiveWeight: w, backup: backups.includes(index), available: true, outstanding: 0 }));
const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `http://127.0.0.${i + 1}:8080`);

function count(b: ReturnType<typeof createBalancer>, n: number, key?: (i: number) => string): number[] {
  const out: number[] = [0, 0, 0].slice(0, b === undefined ? 0 : 3);
  let none = 0;
  for (let i = 0; i < n; i++) {
    const s = b.pick(key?.(i), undefined);
    if (s === undefined) none++; else out[s.index] = (out[s.index] ?? 0) + 1;
  }
  if (none) out.push(-none);
  return out;
}

test('weighted round-robin gives each server exactly its weight share over 10,000 picks, smoothly', () => {
  const list = servers([3, 1]);
  const b = createBalancer('round-robin', list, ids(2));
  assert.deepEqual(count(b, 10_000), [7_500, 2_500, 0]);
  const b2 = createBalancer('round-robin', servers([5, 1, 1]), ids(3));
  assert.deepEqual(Array.from({ length: 7 }, () => b2.pick(undefined, undefined)?.index), [0, 0, 1, 0, 2, 0, 0]);
});

test('least outstanding (power of two choices) prefers the less loaded server and follows weights when idle', () => {
  const list = servers([1, 1]);
  const b = createBalancer('least-outstanding', list, ids(2), createRng(7).next);
  (list[0] as BalancedServer).outstanding = 10;
  const c = count(b, 10_000);
  // Server 0 wins only when both draws land on it (p = 1/4).
  assert.ok((c[1] ?? 0) > 7_000 && (c[0] ?? 0) > 2_000, `counts ${c}`);
  const idle = servers([3, 1]);
  const c2 = count(createBalancer('least-outstanding', idle, ids(2), createRng(9).next), 10_000);
  // Idle ties go to the first draw, itself weighted 3:1.
  assert.ok(Math.abs((c2[0] ?? 0) - 7_500) < 300, `counts ${c2}`);
});

test('an unavailable server gets nothing; backups only when no primary is available', () => {
  for (const kind of ['least-outstanding', 'round-robin', 'hash'] as const) {
    const list = servers([1, 1, 1], [2]);
    const b = createBalancer(kind, list, ids(3), createRng(1).next);
    (list[0] as BalancedServer).available = false;
    assert.deepEqual(count(b, 1_000, (i) => `k${i}`), [0, 1_000, 0], kind);
    (list[1] as BalancedServer).available = false;
    assert.deepEqual(count(b, 1_000, (i) => `k${i}`), [0, 0, 1_000], kind);
    (list[2] as BalancedServer).available = false;
    assert.equal(b.pick('k', undefined), undefined, kind);
  }
});

test('a retry excludes the server that failed (and falls back to a backup when it was the only primary)', () => {
  for (const kind of ['least-outstanding', 'round-robin', 'hash'] as const) {
    const list = servers([1, 1], [1]);
    const b = createBalancer(kind, list, ids(2), createRng(3).next);
    for (let i = 0; i < 200; i++) assert.equal(b.pick(`k${i}`, list[0])?.index, 1, kind);
  }
});

test('consistent hashing: a key keeps its server, weights shape the spread, a leaving server moves only its own keys', () => {
  const list = servers([1, 1, 2]);
  const b = createBalancer('hash', list, ids(3));
  const before = Array.from({ length: 10_000 }, (_, i) => b.pick(`/parcel/${i}`, undefined)?.index);
  assert.deepEqual(Array.from({ length: 10_000 }, (_, i) => b.pick(`/parcel/${i}`, undefined)?.index), before);
  const c = [0, 0, 0];
  for (const k of before) c[k as number] = (c[k as number] as number) + 1;
  assert.ok(Math.abs((c[2] as number) - 5_000) < 600 && Math.abs((c[0] as number) - 2_500) < 500, `spread ${c}`);
  (list[1] as BalancedServer).available = false;
  let moved = 0;
  for (let i = 0; i < 10_000; i++) {
    const now = b.pick(`/parcel/${i}`, undefined)?.index;
    if (before[i] === 1) assert.notEqual(now, 1); else if (now !== before[i]) moved++;
  }
  assert.equal(moved, 0);
  // Ring points hash the server's identity: the same URLs in another order map keys the same way.
  const reordered = createBalancer('hash', servers([2, 1, 1]), [ids(3)[2], ids(3)[0], ids(3)[1]] as string[]);
  const map = [2, 0, 1];
  for (let i = 0; i < 500; i++) assert.equal(map[reordered.pick(`/parcel/${i}`, undefined)?.index as number], before[i]);
});
