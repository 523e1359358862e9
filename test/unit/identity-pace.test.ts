import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createIdentityPace, paceLevel, PACE_LEVELS } from '../../src/shield/detect/identity-pace.js';

const params = { bucketMs: 5000, lightRequests: 4, maxKeys: 1000 };

test('pace levels double from the light count and stop at the top level', () => {
  assert.deepEqual([0, 3, 4, 7, 8, 15, 16, 31, 32, 1e6].map((c) => paceLevel(c, 4)), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
  assert.equal(paceLevel(1e9, 1), PACE_LEVELS - 1);
});

test('a person reading pages stays light; a token sending several requests a second climbs within seconds', () => {
  const pace = createIdentityPace(() => params);
  let person = 0;
  let bot = 0;
  // 20 s: the person loads a page every 2 s, the bot sends 6 requests a second.
  for (let t = 0; t < 20_000; t += 1000 / 6) {
    bot = pace.hit('bot', t);
    if (Math.floor(t / 2000) !== Math.floor((t - 1000 / 6) / 2000)) person = Math.max(person, pace.hit('person', t));
  }
  assert.equal(person, 0);
  assert.equal(bot, 3); // 30 per 5 s: 16 ≤ 30 < 32
  // How fast: a token that starts sending 6/s from silence is past light within a second.
  const fresh = createIdentityPace(() => params);
  const levels: number[] = [];
  for (let i = 0; i < 12; i++) levels.push(fresh.hit('b', 100_000 + i * (1000 / 6)));
  assert.equal(levels.indexOf(1), 3); // the 4th request within one bucket
  assert.equal(levels.at(-1), 2);
});

test('the sliding estimate weighs the previous bucket by how much of it is still in the window', () => {
  const pace = createIdentityPace(() => params);
  for (let i = 0; i < 20; i++) pace.hit('k', 1000 + i); // 20 requests in bucket 0
  assert.equal(pace.estimate('k', 4999), 20);
  assert.ok(Math.abs(pace.estimate('k', 6250) - 15) < 1e-9); // a quarter into bucket 1: 3/4 of 20
  assert.ok(Math.abs(pace.estimate('k', 9999) - 20 * (1 / 5000)) < 1e-3);
  assert.equal(pace.estimate('k', 10_000), 0); // two buckets later nothing is left
  // A key silent for a whole bucket starts over (its count does not linger).
  assert.equal(pace.hit('k', 12_000), 0);
  assert.equal(pace.estimate('k', 12_000), 1);
});

test('memory is bounded: silent identities are swept, and past maxKeys new ones are not tracked', () => {
  const pace = createIdentityPace(() => ({ ...params, maxKeys: 100 }));
  for (let i = 0; i < 100; i++) pace.hit(`a${i}`, 0);
  assert.equal(pace.size, 100);
  // Over the cap: counted as light and not stored.
  for (let i = 0; i < 10; i++) assert.equal(pace.hit('extra', 1 + i), 0);
  assert.equal(pace.size, 100);
  // Two buckets later the silent ones are gone at the first hit.
  pace.hit('late', 10_001);
  assert.equal(pace.size, 1);
});

test('settings are read per call, so a reload applies at once', () => {
  let light = 4;
  const pace = createIdentityPace(() => ({ ...params, lightRequests: light }));
  for (let i = 0; i < 5; i++) pace.hit('k', i);
  assert.equal(pace.hit('k', 6), 1); // 6 requests ≥ 4
  light = 100;
  assert.equal(pace.hit('k', 7), 0);
});
