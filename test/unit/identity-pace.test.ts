import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createIdentityPace, paceLevel, PACE_LEVELS, type IdentityPace } from '../../src/shield/detect/identity-pace.js';

const params = { bucketMs: 5000, lightRequests: 4, maxKeys: 1000 };

/** Requests answered at once (nothing stays open): the pace is the windowed count alone. */
function answered(p: IdentityPace): IdentityPace {
  return {
    hit(key, now) { const level = p.hit(key, now); p.done(key); return level; },
    done: (key) => p.done(key),
    hold: (key, delta, now) => p.hold(key, delta, now),
    charge: (key, n, now) => p.charge(key, n, now),
    estimate: (key, now) => p.estimate(key, now),
    level: (key, now) => p.level(key, now),
    get size() { return p.size; },
  };
}

test('pace levels double from the light count and stop at the top level', () => {
  assert.deepEqual([0, 3, 4, 7, 8, 15, 16, 31, 32, 1e6].map((c) => paceLevel(c, 4)), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
  assert.equal(paceLevel(1e9, 1), PACE_LEVELS - 1);
});

test('a person reading pages stays light; a token sending several requests a second climbs within seconds', () => {
  const pace = answered(createIdentityPace(() => params));
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
  const fresh = answered(createIdentityPace(() => params));
  const levels: number[] = [];
  for (let i = 0; i < 12; i++) levels.push(fresh.hit('b', 100_000 + i * (1000 / 6)));
  assert.equal(levels.indexOf(1), 3); // the 4th request within one bucket
  assert.equal(levels.at(-1), 2);
});

test('the sliding estimate weighs the previous bucket by how much of it is still in the window', () => {
  const pace = answered(createIdentityPace(() => params));
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
  const pace = answered(createIdentityPace(() => ({ ...params, maxKeys: 100 })));
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
  const pace = answered(createIdentityPace(() => ({ ...params, lightRequests: light })));
  for (let i = 0; i < 5; i++) pace.hit('k', i);
  assert.equal(pace.hit('k', 6), 1); // 6 requests ≥ 4
  light = 100;
  assert.equal(pace.hit('k', 7), 0);
});

test('requests still open count: a bot whose 16 connections all wait is heavy however slowly it is answered', () => {
  const pace = createIdentityPace(() => params);
  // 16 requests sent at once, then nothing answered for 20 s (they wait in the queue).
  for (let i = 0; i < 16; i++) pace.hit('bot', i);
  assert.equal(pace.level('bot', 20_000), 3, 'no request in the window, 16 open: 16 ≤ 16 < 32');
  // A person with one request open at a time stays light.
  for (let t = 0; t < 20_000; t += 3000) { pace.hit('person', t); assert.equal(pace.level('person', t + 2000), 0); pace.done('person'); }
  // Answered, the bot's requests stop counting once the window has passed.
  for (let i = 0; i < 16; i++) pace.done('bot');
  assert.equal(pace.level('bot', 20_000), 0);
  // An identity with open requests is never swept (its count would be lost while it waits).
  pace.hit('waiting', 30_000);
  pace.hit('other', 60_000); // a later bucket sweeps silent identities
  assert.equal(pace.estimate('waiting', 60_000), 1);
  pace.done('waiting');
  pace.done('never-seen'); // harmless
});

test('requests pipelined behind the one counted are open too, for that reading only', () => {
  const pace = createIdentityPace(() => params);
  // The connection is served one request at a time: the filter sees one, 15 wait behind it.
  assert.equal(pace.hit('pipe', 0, 15), 3); // 16 open: 16 ≤ 16 < 32
  assert.equal(pace.level('pipe', 1, 15), 3);
  // Nothing is stored for them: they count when they run, each once.
  assert.equal(pace.estimate('pipe', 1), 1);
  assert.equal(pace.level('pipe', 1), 0);
  pace.done('pipe');
  assert.equal(pace.hit('pipe', 2, 14), 2); // 15 open: 8 ≤ 15 < 16
  pace.done('pipe');
  assert.equal(pace.hit('pipe', 3, 6), 1); // 7 open
  // The same request without a backlog: a person's page.
  assert.equal(createIdentityPace(() => params).hit('person', 0), 0);
  // An identity past maxKeys is not stored, but its backlog still reads.
  const full = createIdentityPace(() => ({ ...params, maxKeys: 1 }));
  full.hit('a', 0);
  assert.equal(full.hit('b', 0, 15), 3);
  assert.equal(full.hit('c', 0), 0);
});

test('charge: more requests counted for an identity already tracked, none for an unknown one', () => {
  const pace = createIdentityPace(() => ({ bucketMs: 5000, lightRequests: 4, maxKeys: 100 }));
  assert.equal(pace.hit('k', 0), 0);
  pace.done('k');
  pace.charge('k', 4, 100);
  assert.equal(pace.level('k', 100), 1, 'one request and a charge of 4: level 1');
  pace.charge('nobody', 4, 100);
  assert.equal(pace.size, 1, 'nothing tracked for an unknown key');
});

test('a refused login (401, 403) weighs a pace level on its identity; other answers do not', async () => {
  const { createFailedAuthFilter } = await import('../../src/shield/filters/upstream-response/failed-auth.js');
  const pace = createIdentityPace(() => ({ bucketMs: 5000, lightRequests: 4, maxKeys: 100 }));
  const filter = createFailedAuthFilter(pace, { now: () => 10 }, () => 4);
  const ctx = (paceKey: string) => ({ paceKey }) as never;
  for (const k of ['bot', 'person']) { pace.hit(k, 0); pace.done(k); }
  filter(ctx('bot'), { status: 401, headers: {} });
  filter(ctx('bot'), { status: 403, headers: {} });
  filter(ctx('person'), { status: 200, headers: {} });
  filter(ctx('person'), { status: 303, headers: {} });
  assert.equal(pace.level('bot', 10), 2, 'two refusals: behind customers');
  assert.equal(pace.level('person', 10), 0);
});

test('completed buckets of learning identities go to the sink, once each, without what charge added', () => {
  const seen: Array<[number, number]> = [];
  const pace = createIdentityPace(() => params, (n, now) => seen.push([n, now]));
  const hit = (k: string, t: number, learn?: boolean): void => { pace.hit(k, t, 0, learn); pace.done(k); };
  // A customer's dashboard: 9 requests at once in bucket 0, 3 in bucket 1; a refused login charged on top.
  for (let i = 0; i < 9; i++) hit('rep:a', 1000 + i, true);
  pace.charge('rep:a', 4, 1100);
  for (let i = 0; i < 3; i++) hit('rep:a', 6000 + i, true);
  assert.deepEqual(seen, [[9, 6000]], 'bucket 0 reported at the first request of bucket 1, the charge left out');
  // Not learning: a key whose requests never said so (a source, a clearance) reports nothing.
  for (let i = 0; i < 20; i++) hit('src:x', 6100 + i);
  // Silence: the sweep of bucket 3 drops both identities and reports the learner's last bucket.
  hit('other', 15_000);
  assert.deepEqual(seen, [[9, 6000], [3, 15_000]]);
  assert.equal(pace.size, 1);
  // A bucket with only charges in it reports nothing.
  pace.hit('rep:b', 20_000, 0, true); pace.done('rep:b');
  pace.charge('rep:b', 4, 25_100);
  hit('rep:b', 30_500, true);
  assert.deepEqual(seen.slice(2), [[1, 25_100]], 'bucket 4 (one request), then bucket 5 held only a charge');
});

test('the open-request line is its own: a heavy page read light by rate, six open at once still a busy browser, more a bot', () => {
  // A learned rate line of 16 (pace-profile.ts), the configured 4 for requests open at once.
  const pace = createIdentityPace(() => ({ ...params, lightRequests: 16, openLightRequests: 4 }));
  const levels: number[] = [];
  // A dashboard: 12 requests at once over a browser's 6 connections, answered 6 at a time.
  for (let i = 0; i < 6; i++) levels.push(pace.hit('page', 1000 + i));
  for (let i = 0; i < 6; i++) pace.done('page');
  for (let i = 0; i < 6; i++) levels.push(pace.hit('page', 1100 + i));
  for (let i = 0; i < 6; i++) pace.done('page');
  assert.equal(Math.max(...levels), 1, 'at most six open: level 1 by the open line, 12 in the window under 16');
  assert.equal(pace.level('page', 1200), 0);
  // A bot holding 32 requests open: heavy whatever the rate line.
  let bot = 0;
  for (let i = 0; i < 32; i++) bot = pace.hit('bot', 1000 + i);
  assert.equal(bot, 4, '32 open on the line of 4: the top level (32 counted on the rate line of 16: level 2)');
  // With no open line set, both readings use lightRequests (as before).
  const same = createIdentityPace(() => ({ ...params, lightRequests: 16 }));
  let l = 0;
  for (let i = 0; i < 32; i++) l = same.hit('bot', 1000 + i);
  assert.equal(l, 2);
});

test('hold: a backlog is open without being counted as sent, keeps its identity tracked, and is taken back', () => {
  const pace = createIdentityPace(() => ({ bucketMs: 5000, lightRequests: 4, maxKeys: 3 }));
  pace.hit('a', 0);
  pace.done('a');
  pace.hold('a', 8, 100);
  assert.equal(pace.level('a', 100), 2, 'one sent, eight open behind: a flood\'s open count');
  assert.equal(pace.estimate('a', 100), 8);
  // Silent for three buckets while it holds a backlog: still tracked.
  pace.hit('b', 15_000);
  pace.done('b');
  assert.equal(pace.level('a', 15_000), 2, 'not swept while something is held');
  pace.hold('a', -8, 15_000);
  assert.equal(pace.level('a', 15_000), 0);
  pace.hold('a', -3, 15_000);
  assert.equal(pace.estimate('a', 15_000), 0, 'never below nothing open');
  // An unknown identity's backlog starts tracking it; taking back from an unknown one does nothing.
  pace.hold('c', -1, 15_000);
  assert.equal(pace.size, 2);
  pace.hold('c', 5, 15_000);
  assert.equal(pace.level('c', 15_000), 1);
  // Past maxKeys a new identity is not tracked, as for hit.
  pace.hold('d', 9, 15_000);
  assert.equal(pace.level('d', 15_000), 0);
});

test('a request counted at a weight fills the window as that many requests, is judged with its own weight at most the light line, stays one request open, and is learned as one request sent', () => {
  const buckets: number[] = [];
  const pace = createIdentityPace(() => params, (n) => buckets.push(n));
  // One search costing eight pages: busy (level 1: its own weight read as the light line, 4), not a
  // flood, though the window holds all eight for what comes next.
  assert.equal(pace.hit('bot', 0, 0, true, 8), 1);
  assert.equal(pace.estimate('bot', 0), 8);
  pace.done('bot');
  // A person's page beside it stays light.
  assert.equal(pace.hit('person', 0), 0);
  pace.done('person');
  // The next one: the first's 8 and its own 4, level 2 (12 ≥ 2 × 4); two more: 20, then 28 (level 3).
  assert.equal(pace.hit('bot', 1000, 0, true, 8), 2);
  pace.done('bot');
  assert.equal(pace.hit('bot', 2000, 0, true, 8), 3);
  pace.done('bot');
  assert.equal(pace.hit('bot', 3000, 0, true, 8), 3);
  // Read again while it waits, as the admission queue does: the same reading, and a plain reading counts all 32.
  assert.equal(pace.level('bot', 3000, 0, 8), 3);
  assert.equal(pace.level('bot', 3000), 4);
  pace.done('bot');
  // Its bucket is learned as the four requests it sent, not as their weight.
  pace.hit('bot', 10_000);
  assert.deepEqual(buckets, [4]);
});
