import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createManualClock } from '../../src/core/clock.js';
import { createTrafficSketch, DIMENSIONS, type Observation, type TrafficSketch } from '../../src/shield/detect/source-tracker.js';
import { createShareBaseline, type ShareBaseline } from '../../src/shield/detect/baseline.js';
import { findSignatures, mixShift, NEW_VALUES, type Signature } from '../../src/shield/detect/signatures.js';
import { createRng, type Rng } from '../../src/core/rng.js';

/** Picks from weighted choices. */
function weighted<T>(rng: Rng, choices: ReadonlyArray<readonly [T, number]>): T {
  let r = rng.next() * choices.reduce((s, [, w]) => s + w, 0);
  for (const [v, w] of choices) { r -= w; if (r <= 0) return v; }
  return (choices[choices.length - 1] as readonly [T, number])[0];
}

const FINGERPRINTS = [['fp-chrome', 50], ['fp-firefox', 20], ['fp-safari', 20], ['fp-app', 10]] as const;
const PATHS = [['/', 30], ['/track/{id}', 30], ['/search', 20], ['/bank/login', 5], ['/account', 15]] as const;
const QUERIES = [['', 70], ['q', 20], ['page&q', 10]] as const;

interface User { readonly client: string; readonly prefix: string; readonly fingerprint: string; readonly cookie: 'none' | 'valid' }

function users(rng: Rng, n: number, firstNet: number, nets: number, cookie: 'none' | 'valid'): User[] {
  return Array.from({ length: n }, (_, i) => {
    const net = firstNet + (i % nets);
    const prefix = `10.${net >> 8}.${net & 255}.0/24`;
    return { client: prefix.replace('0/24', String(1 + (i % 250))), prefix, fingerprint: weighted(rng, FINGERPRINTS), cookie };
  });
}

/** A request from a real user: the usual mix of paths and query shapes. */
function userRequest(rng: Rng, u: User): Observation {
  return {
    client: u.client, prefix: u.prefix, fingerprint: u.fingerprint, pathTemplate: weighted(rng, PATHS),
    userAgent: `UA-${u.fingerprint}`, queryShape: weighted(rng, QUERIES), cookie: u.cookie, routeClass: 'normal',
  };
}

/** 40 s of normal traffic learned into a share baseline; returns what the scenario needs. */
function learnedSite(seed: number) {
  const rng = createRng(seed);
  const clock = createManualClock(0);
  const sketch = createTrafficSketch({ clock, capacity: 512, countMinWidth: 1024 });
  const baseline = createShareBaseline({ halfLife: 30, warmupSamples: 20 });
  const regulars = users(rng, 2000, 0, 500, 'valid');
  for (let s = 0; s < 40; s++) {
    for (let i = 0; i < 100; i++) sketch.observe(userRequest(rng, rng.pick(regulars)));
    clock.advance(1000);
    const snap = sketch.snapshot(64);
    for (const d of DIMENSIONS) baseline.learn(d, snap.dimensions[d]);
  }
  return { rng, clock, sketch, baseline, regulars };
}

/** Runs 10 s of a scenario and returns the signatures of the last window. */
function run(site: ReturnType<typeof learnedSite>, perSecond: (rng: Rng, sketch: TrafficSketch) => void): Signature[] {
  for (let s = 0; s < 10; s++) { perSecond(site.rng, site.sketch); site.clock.advance(1000); }
  site.clock.advance(-1);
  return findSignatures(site.sketch.snapshot(64), site.baseline);
}

const summary = (sigs: readonly Signature[]): string[] => sigs.map((s) => `${s.dimension}=${s.value}`);

test('normal traffic has no signature', () => {
  const site = learnedSite(1);
  const sigs = run(site, (rng, sketch) => { for (let i = 0; i < 100; i++) sketch.observe(userRequest(rng, rng.pick(site.regulars))); });
  assert.deepEqual(summary(sigs), []);
});

test('flash crowd (5×, thousands of new clients from new networks, same mix): no signature but cookieless', () => {
  const site = learnedSite(2);
  const crowd = users(site.rng, 10_000, 1000, 2000, 'none');
  const sigs = run(site, (rng, sketch) => {
    for (let i = 0; i < 100; i++) sketch.observe(userRequest(rng, rng.pick(site.regulars)));
    for (let i = 0; i < 400; i++) sketch.observe(userRequest(rng, rng.pick(crowd)));
  });
  assert.deepEqual(summary(sigs), ['cookie=none'], 'new visitors have no cookie; nothing else moved');
  const snap = site.sketch.snapshot(64);
  for (const d of ['fingerprint', 'path', 'queryShape'] as const) {
    assert.ok(mixShift(snap, site.baseline, d) < 0.1, `${d} mix shift ${mixShift(snap, site.baseline, d)}`);
  }
});

test('distributed low-rate flood from the customers’ own /24s: fingerprint, path and query shape', () => {
  const site = learnedSite(3);
  const bots = users(site.rng, 2000, 0, 500, 'none'); // same networks as the customers
  const sigs = run(site, (rng, sketch) => {
    for (let i = 0; i < 100; i++) sketch.observe(userRequest(rng, rng.pick(site.regulars)));
    for (let i = 0; i < 1200; i++) {
      const b = rng.pick(bots);
      sketch.observe({ client: b.client, prefix: b.prefix, fingerprint: 'fp-python', pathTemplate: '/search', userAgent: 'Mozilla/5.0', queryShape: 'q', cookie: 'none', routeClass: 'normal' });
    }
  });
  const found = summary(sigs);
  for (const s of ['fingerprint=fp-python', 'path=/search', 'queryShape=q', 'cookie=none']) assert.ok(found.includes(s), `${s} in ${found.join(', ')}`);
  assert.ok(!found.some((s) => s.startsWith('prefix') || s.startsWith('client')), 'spread over customers: no prefix to blame');
  const fp = sigs.find((s) => s.dimension === 'fingerprint')!;
  assert.ok(fp.share > 0.85 && fp.baselineShare === 0 && fp.lift > 50);
  assert.ok(Math.abs(fp.requestsPerS - 1200) < 60, `requestsPerS ${fp.requestsPerS}`);
  assert.ok(fp.excessPerS > 1000);
  assert.ok(mixShift(site.sketch.snapshot(64), site.baseline, 'fingerprint') > 0.8);
});

test('header randomizer: a new fingerprint per request shows as the (new) aggregate', () => {
  const site = learnedSite(4);
  let n = 0;
  const sigs = run(site, (rng, sketch) => {
    for (let i = 0; i < 100; i++) sketch.observe(userRequest(rng, rng.pick(site.regulars)));
    for (let i = 0; i < 600; i++) {
      const u = rng.pick(site.regulars);
      sketch.observe({ ...userRequest(rng, u), fingerprint: `fp-rnd-${n++}`, userAgent: `UA-${n}` });
    }
  });
  const fp = sigs.find((s) => s.dimension === 'fingerprint');
  assert.ok(fp, summary(sigs).join(', '));
  assert.equal(fp.value, NEW_VALUES);
  assert.ok(fp.share > 0.8);
});

test('a flood from three /24s is blamed on those prefixes; a cache-buster on its query shape', () => {
  const site = learnedSite(5);
  const sigs = run(site, (rng, sketch) => {
    for (let i = 0; i < 100; i++) sketch.observe(userRequest(rng, rng.pick(site.regulars)));
    for (let i = 0; i < 600; i++) {
      const net = rng.int(0, 2);
      const prefix = `203.0.11${net}.0/24`;
      sketch.observe({ ...userRequest(rng, rng.pick(site.regulars)), client: prefix.replace('0/24', String(rng.int(1, 254))), prefix, queryShape: 'q&{k}', cookie: 'none' });
    }
  });
  const found = summary(sigs);
  for (const s of ['prefix=203.0.110.0/24', 'prefix=203.0.111.0/24', 'prefix=203.0.112.0/24', 'queryShape=q&{k}']) assert.ok(found.includes(s), `${s} in ${found.join(', ')}`);
  assert.ok(!found.some((s) => s.startsWith('fingerprint') || s.startsWith('path')), 'the mix of software and paths is the users’ one');
  // Ranked by excess rate, largest first.
  for (let i = 1; i < sigs.length; i++) assert.ok(sigs[i - 1]!.excessPerS >= sigs[i]!.excessPerS);
});

test('thresholds are overridable and a cold baseline gives no software signature', () => {
  const site = learnedSite(6);
  // /account rises from 15% to ~36%: a lift of 2.4, under the default 3.
  const sigs = run(site, (rng, sketch) => {
    for (let i = 0; i < 100; i++) {
      const r = userRequest(rng, rng.pick(site.regulars));
      sketch.observe(rng.next() < 0.25 ? { ...r, pathTemplate: '/account' } : r);
    }
  });
  assert.deepEqual(summary(sigs), []);
  const cold: ShareBaseline = createShareBaseline();
  const snap = site.sketch.snapshot(64);
  assert.deepEqual(findSignatures(snap, cold), []);
  assert.deepEqual(summary(findSignatures(snap, site.baseline, { minLift: 2 })), ['path=/account']);
});
