import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPaceProfile, DEFAULT_PACE_PROFILE, effectiveLightRequests, MAX_COUNT } from '../../src/shield/detect/pace-profile.js';

const HOUR = 3_600_000;

test('the learned line is one more than the 99th percentile of the buckets, and only past minSamples', () => {
  const p = createPaceProfile(() => ({ ...DEFAULT_PACE_PROFILE, minSamples: 200 }));
  // Customers: most buckets 1–3 requests, a dashboard's 11 in 5% of them.
  for (let i = 0; i < 199; i++) p.add(i % 20 === 0 ? 11 : 1 + (i % 3), 1000);
  assert.equal(p.line(1000), undefined, '199 buckets: not enough');
  p.add(2, 1000);
  assert.equal(p.samples(1000), 200);
  assert.equal(p.line(1000), 12, 'a bucket of 11 is light, 12 is not');
  // Light customers only: the line stays under the configured 4 (the caller keeps its floor).
  const light = createPaceProfile();
  for (let i = 0; i < 1000; i++) light.add(1 + (i % 2), 0);
  assert.equal(light.line(0), 3);
  assert.equal(effectiveLightRequests(4, light.line(0), 32), 4);
});

test('the top percent does not set the line: one heavy API client among customers', () => {
  const p = createPaceProfile();
  for (let i = 0; i < 995; i++) p.add(2, 0);
  for (let i = 0; i < 5; i++) p.add(500, 0); // counted in the last bin
  assert.equal(p.line(0), 3);
  for (let i = 0; i < 20; i++) p.add(500, 0); // now 2.4% of the buckets
  assert.equal(p.line(0), MAX_COUNT + 1);
  assert.equal(effectiveLightRequests(4, p.line(0), 32), 32, 'capped by maxLightRequests');
});

test('what was learned fades with its half-life: a site whose pages got lighter gets its line back down', () => {
  const p = createPaceProfile(() => ({ ...DEFAULT_PACE_PROFILE, halfLifeMs: HOUR }));
  for (let i = 0; i < 1000; i++) p.add(10, 0);
  assert.equal(p.line(0), 11);
  assert.ok(Math.abs(p.samples(HOUR) - 500) < 1e-6);
  assert.ok(Math.abs(p.samples(2 * HOUR) - 250) < 1e-6);
  // Ten hours later, the same number of buckets of 2: the old ones weigh 1/1024 of them.
  for (let i = 0; i < 1000; i++) p.add(2, 10 * HOUR);
  assert.equal(p.line(10 * HOUR), 3);
  // Weights stay finite over a long life (rebased past 2^40: 40 half-lives).
  for (let h = 11; h < 200; h += 7) p.add(2, h * HOUR);
  assert.ok(Number.isFinite(p.samples(200 * HOUR)));
  assert.equal(p.line(200 * HOUR), undefined, 'what is left of 1,027 buckets after days is under minSamples');
});

test('saved and loaded as plain data; unusable data is refused and changes nothing; clear forgets', () => {
  const p = createPaceProfile();
  for (let i = 0; i < 300; i++) p.add(i < 290 ? 3 : 9, 5 * HOUR);
  const saved = JSON.parse(JSON.stringify(p.save(6 * HOUR)));
  const q = createPaceProfile();
  assert.equal(q.load(saved, 100), true);
  assert.ok(Math.abs(q.samples(100) - 150) < 1e-6, 'the weights as of the save (one half-life after)');
  assert.equal(q.line(100), undefined, '150 left: under minSamples');
  for (const bad of [null, 3, {}, { bins: [1, 2] }, { bins: Array(MAX_COUNT).fill(-1) }, { bins: Array(MAX_COUNT).fill('x') }]) {
    assert.equal(q.load(bad, 100), false);
  }
  assert.ok(Math.abs(q.samples(100) - 150) < 1e-6);
  q.clear();
  assert.equal(q.samples(100), 0);
  assert.equal(q.line(100), undefined);
});
