import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequestCost, UNTRIED_PART } from '../../src/shield/detect/request-cost.js';
import { queryShape } from '../../src/shield/detect/query-shape.js';
import { createPrng } from './prng.js';

const SEARCH = 'search GET /search';
const ONE_WORD = queryShape('/search?q=colis', undefined, true);
const EIGHT_WORDS = queryShape('/search?q=colis+suivi+lettre+bureau+timbre+retour+carte+x7f3k', undefined, true);

test('query shapes with sizes: each key carries the bit length of its value\'s length; without sizes, the keys alone as before', () => {
  assert.equal(queryShape('/search?q=colis', undefined, true), 'q:3');
  assert.equal(queryShape('/search?q=recommande', undefined, true), 'q:4');
  assert.equal(EIGHT_WORDS, 'q:6*4', 'a list of 8 items: its count\'s class too');
  assert.equal(queryShape('/search?q=lettre%20suivie&ids=1,2,3,4', undefined, true), 'ids:3*3&q:4*2');
  assert.equal(queryShape('/search?q=colissuivilettrebureautimbreretourcartex7f3k', undefined, true), 'q:6', 'one long word is no list');
  assert.equal(queryShape('/list?page=2&size=1000&empty=&flag', undefined, true), 'empty:0&flag:0&page:1&size:3');
  assert.equal(queryShape('/list?page=2&size=1000', undefined, false), 'page&size');
  assert.equal(queryShape('/search', undefined, true), '');
});

/** Answers of a search origin, 10 a second from `from` on: one-word searches at 80 ms ± 20%, costly ones at `costlyMs`, each after `wait()` more (queueing). */
function feed(cost: ReturnType<typeof createRequestCost>, o: { n: number; from?: number; costlyShare: number; costlyMs: number; light: boolean; wait?: (random: () => number, costly: boolean) => number; seed?: number }): number {
  const random = createPrng(o.seed ?? 1);
  let now = o.from ?? 0;
  for (let i = 0; i < o.n; i++, now += 100) {
    const costly = random() < o.costlyShare;
    const service = (costly ? o.costlyMs : 80) * (0.8 + 0.4 * random());
    cost.observe({ kind: SEARCH, shape: costly ? EIGHT_WORDS : ONE_WORD, rttMs: service + (o.wait?.(random, costly) ?? 0), light: o.light }, now);
  }
  return now;
}

test('a costly shape weighs its fastest answer against its kind\'s mean at light load; the customers\' shape weighs one', () => {
  const cost = createRequestCost();
  // Normal times: one-word searches at light load teach the kind's no-load RTT.
  const t = feed(cost, { n: 200, costlyShare: 0, costlyMs: 0, light: true });
  assert.equal(cost.weight(SEARCH, ONE_WORD), 1);
  assert.equal(cost.weight(SEARCH, EIGHT_WORDS), 1, 'never answered: no evidence, one request');
  // The flood: a third of the answers are 8-term searches costing 8x, sent under load.
  feed(cost, { n: 300, from: t, costlyShare: 1 / 3, costlyMs: 640, light: false, seed: 2 });
  const w = cost.weight(SEARCH, EIGHT_WORDS);
  assert.ok(w >= 6 && w <= 8, `costly shape weighs ${w}`);
  assert.equal(cost.weight(SEARCH, ONE_WORD), 1);
  assert.equal(cost.weight('other GET /', ONE_WORD), 1, 'another kind knows nothing of it');
});

test('queueing, and cheap requests stuck behind costly ones, do not weigh the customers: the fastest answers did not wait', () => {
  const cost = createRequestCost();
  const t = feed(cost, { n: 200, costlyShare: 0, costlyMs: 0, light: true });
  // Head-of-line blocking at the origin: most cheap answers wait 0-1.3 s behind costly ones; one
  // in ten is sent to a free worker.
  feed(cost, { n: 600, from: t, costlyShare: 0.3, costlyMs: 640, light: false, seed: 3, wait: (random) => (random() < 0.1 ? 0 : 1300 * random()) });
  assert.equal(cost.weight(SEARCH, ONE_WORD), 1);
  const w = cost.weight(SEARCH, EIGHT_WORDS);
  assert.ok(w >= 6 && w <= 8, `costly shape weighs ${w} under queueing`);
});

test('a kind never answered at light load weighs nothing; a weight is at most maxWeight; under twice the kind\'s cost, one', () => {
  const cold = createRequestCost();
  for (let i = 0; i < 50; i++) cold.observe({ kind: SEARCH, shape: EIGHT_WORDS, rttMs: 640, light: false }, i * 100);
  assert.equal(cold.weight(SEARCH, EIGHT_WORDS), 1);
  const cost = createRequestCost();
  const t = feed(cost, { n: 100, costlyShare: 0, costlyMs: 0, light: true });
  for (let i = 0; i < 3; i++) cost.observe({ kind: SEARCH, shape: 'q:9', rttMs: 80_000, light: false }, t + i);
  assert.equal(cost.weight(SEARCH, 'q:9'), 16);
  for (let i = 0; i < 3; i++) cost.observe({ kind: SEARCH, shape: 'q:4', rttMs: 120, light: false }, t + i);
  assert.equal(cost.weight(SEARCH, 'q:4'), 1, 'under 2x: one');
});

test('a shape\'s cost follows it within two windows: a search that became cheap weighs one again', () => {
  const cost = createRequestCost();
  let t = feed(cost, { n: 100, costlyShare: 0, costlyMs: 0, light: true });
  t = feed(cost, { n: 100, from: t, costlyShare: 1, costlyMs: 640, light: false });
  assert.ok(cost.weight(SEARCH, EIGHT_WORDS) >= 6);
  // The application added an index: the same searches now take what one word does.
  feed(cost, { n: 250, from: t, costlyShare: 1, costlyMs: 80, light: false, seed: 9 });
  assert.equal(cost.weight(SEARCH, EIGHT_WORDS), 1);
});

test('shapes are bounded: past maxShapes the least recently answered is given up, a busy one kept', () => {
  const cost = createRequestCost({ maxShapes: 64 });
  let t = feed(cost, { n: 100, costlyShare: 0, costlyMs: 0, light: true });
  t = feed(cost, { n: 100, from: t, costlyShare: 0.5, costlyMs: 640, light: false, seed: 5 });
  for (let i = 0; i < 5000; i++, t += 1) {
    cost.observe({ kind: SEARCH, shape: `k${i}:3`, rttMs: 80, light: false }, t);
    if (i % 20 === 0) cost.observe({ kind: SEARCH, shape: EIGHT_WORDS, rttMs: 640, light: false }, t);
  }
  assert.ok(cost.shapes <= 64, `${cost.shapes} shapes`);
  assert.ok(cost.parts <= 64, `${cost.parts} parts`);
  assert.ok(cost.weight(SEARCH, EIGHT_WORDS) >= 6, 'the busy costly shape is still known');
  assert.equal(cost.weight(SEARCH, 'k0:3'), 1);
});

test('a kind whose answers vary (a third of them 1 ms: cache hits, 304s) does not weigh its typical shapes: the kind is its mean, not its fastest', () => {
  const cost = createRequestCost();
  const random = createPrng(4);
  let t = 0;
  for (let i = 0; i < 300; i++, t += 100) {
    const hit = random() < 1 / 3;
    cost.observe({ kind: SEARCH, shape: hit ? 'q:3&v:2' : ONE_WORD, rttMs: hit ? 1 : 80 * (0.8 + 0.4 * random()), light: true }, t);
  }
  assert.equal(cost.weight(SEARCH, ONE_WORD), 1);
  assert.equal(cost.weight(SEARCH, 'q:3&v:2'), 1);
});

test('a long flood of costly requests answered at light load does not raise its kind\'s mean: only shapes that weigh one teach it', () => {
  const cost = createRequestCost();
  let t = feed(cost, { n: 100, costlyShare: 0, costlyMs: 0, light: true });
  t = feed(cost, { n: 20, from: t, costlyShare: 1, costlyMs: 640, light: false });
  // Probes: for a minute, every answer is sent at light load and nine in ten are costly.
  feed(cost, { n: 600, from: t, costlyShare: 0.9, costlyMs: 640, light: true, seed: 8 });
  assert.ok(cost.weight(SEARCH, EIGHT_WORDS) >= 6, `weighs ${cost.weight(SEARCH, EIGHT_WORDS)}`);
  assert.equal(cost.weight(SEARCH, ONE_WORD), 1);
});

test('a kind whose first answer was a cache hit: its median is of its first answers, and its typical shape weighs one from the third', () => {
  const cost = createRequestCost();
  cost.observe({ kind: SEARCH, shape: 'q:3&v:2', rttMs: 1, light: true }, 0);
  for (let i = 1; i <= 4; i++) cost.observe({ kind: SEARCH, shape: ONE_WORD, rttMs: 78 + i, light: true }, i * 100);
  assert.equal(cost.weight(SEARCH, ONE_WORD), 1);
  for (let i = 0; i < 3; i++) cost.observe({ kind: SEARCH, shape: EIGHT_WORDS, rttMs: 640, light: false }, 1000 + i);
  assert.equal(cost.weight(SEARCH, EIGHT_WORDS), 8);
});

test('the operator is shown the shapes that weigh more than one, heaviest first', () => {
  const cost = createRequestCost();
  let t = feed(cost, { n: 100, costlyShare: 0, costlyMs: 0, light: true });
  t = feed(cost, { n: 60, from: t, costlyShare: 1, costlyMs: 640, light: false });
  for (let i = 0; i < 3; i++, t += 100) cost.observe({ kind: SEARCH, shape: 'q:5', rttMs: 300, light: false }, t);
  const shown = cost.heaviest(10);
  assert.deepEqual(shown.map((x) => [x.kind, x.shape]), [[SEARCH, EIGHT_WORDS], [SEARCH, 'q:5']]);
  assert.ok(shown[0]!.weight > shown[1]!.weight && shown[1]!.weight >= 3);
  assert.ok(shown[0]!.fastestMs >= 512 && shown[0]!.fastestMs < 640);
  assert.equal(cost.heaviest(1).length, 1);
});

/** An 8-term search with a few of `extras` ignored parameters of random lengths: a shape never seen before, nearly every time. */
function variedShape(random: () => number, extras: readonly string[]): string {
  let url = '/search?q=colis+suivi+lettre+bureau+timbre+retour+carte+x7f3k';
  for (const k of extras) if (random() < 0.5) url += `&${k}=${'x'.repeat(Math.floor(2 ** (random() * 6)))}`;
  return queryShape(url, undefined, true);
}

test('a shape never answered is weighed by its heaviest part: a flood adding ignored parameters of any length to its costly search is weighed from its first requests on', () => {
  const cost = createRequestCost();
  const t = feed(cost, { n: 200, costlyShare: 0, costlyMs: 0, light: true });
  const random = createPrng(11);
  const extras = ['page', 'sort', 'lang', 'order', 'view', 'type', 'region', 'category'];
  const seen = new Set<string>();
  for (let i = 0; i < 60; i++) {
    const shape = variedShape(random, extras);
    seen.add(shape);
    cost.observe({ kind: SEARCH, shape, rttMs: 640 * (0.8 + 0.4 * random()), light: false }, t + i * 100);
  }
  assert.ok(seen.size >= 40, `${seen.size} shapes of 60 searches`);
  // A search of a shape never seen: weighed by its parts (q:6 was costly on every request carrying it).
  const fresh = queryShape('/search?q=colis+suivi+lettre+bureau+timbre+retour+carte+x7f3k&display=yy&page=x', undefined, true);
  assert.ok(!seen.has(fresh));
  const w = cost.weight(SEARCH, fresh);
  assert.ok(w >= 6 && w <= 8, `a fresh shape with a costly part weighs ${w}`);
  // The customers' searches, and a new combination of their own parts, weigh one.
  assert.equal(cost.weight(SEARCH, ONE_WORD), 1);
  assert.equal(cost.weight(SEARCH, queryShape('/search?q=colis&lang=fr', undefined, true)), 1, 'q:3 was cheap; lang:2 never answered');
  assert.ok(cost.heaviest(100).some((x) => x.scope === 'part' && x.shape === 'q:6*4'), 'the costly part is shown');
});

test('a part weighs more than one only when every request carrying it was costly; a shape\'s own answers outweigh its parts\'', () => {
  const cost = createRequestCost();
  let t = feed(cost, { n: 200, costlyShare: 0, costlyMs: 0, light: true });
  // sort:4 rides on costly searches and on cheap ones: its fastest answer is cheap.
  for (let i = 0; i < 20; i++, t += 100) {
    cost.observe({ kind: SEARCH, shape: 'q:6&sort:4', rttMs: 640, light: false }, t);
    cost.observe({ kind: SEARCH, shape: 'q:3&sort:4', rttMs: 85, light: false }, t);
  }
  assert.equal(cost.weight(SEARCH, 'q:3&sort:4&view:2'), 1, 'q:3 and sort:4 were each answered fast');
  assert.ok(cost.weight(SEARCH, 'q:6&view:2') >= 6, 'q:6 never was');
  // A customer's combination with the costly part, answered fast three times: its own answers win.
  for (let i = 0; i < 3; i++, t += 100) cost.observe({ kind: SEARCH, shape: 'page:1&q:6', rttMs: 90, light: false }, t);
  assert.equal(cost.weight(SEARCH, 'page:1&q:6'), 1);
  assert.ok(cost.weight(SEARCH, 'q:6&sort:4') >= 6, 'a shape known costly stays costly');
  // Its answers are the part's too: q:6 was answered fast once, so it no longer weighs a shape never seen.
  assert.equal(cost.weight(SEARCH, 'q:6&view:2'), 1);
});

test('cheap single words as long as a costly list do not make the list read cheap: a list\'s item count is part of its shape', () => {
  const cost = createRequestCost();
  let t = feed(cost, { n: 200, costlyShare: 0, costlyMs: 0, light: true });
  const random = createPrng(12);
  const longWord = queryShape('/search?q=colissuivilettrebureautimbreretourcartex7f3k', undefined, true);
  for (let i = 0; i < 60; i++, t += 100) {
    // One search in five is a single word of the 8-term search's length (answered at a word's cost).
    const poison = random() < 0.2;
    cost.observe({ kind: SEARCH, shape: poison ? longWord : EIGHT_WORDS, rttMs: (poison ? 80 : 640) * (0.8 + 0.4 * random()), light: false }, t);
  }
  const w = cost.weight(SEARCH, EIGHT_WORDS);
  assert.ok(w >= 6 && w <= 8, `the 8-term search weighs ${w}`);
  assert.equal(cost.weight(SEARCH, longWord), 1);
});

test('probe parts: none while the kind is unknown or the request known cheap; a part with no answer, or only slow ones, and a part known costly are bounded; one fast answer frees a part', () => {
  const cost = createRequestCost();
  const fresh = 'q:6*4&sort:3';
  assert.deepEqual(cost.probeParts(SEARCH, fresh), [], 'a kind never answered: nothing known, nothing held back');
  feed(cost, { n: 20, costlyShare: 0, costlyMs: 0, light: true });
  assert.deepEqual(cost.probeParts(SEARCH, ONE_WORD), [], 'the customers\' shape is known cheap');
  assert.deepEqual(cost.probeParts(SEARCH, fresh), ['q:6*4', 'sort:3', UNTRIED_PART], 'neither part ever answered: each bounded, and with the kind\'s other unknowns');
  // Two slow answers of the costly part: not enough to weigh it, and nothing says it is cheap.
  cost.observe({ kind: SEARCH, shape: 'q:6*4', rttMs: 700, light: true }, 3000);
  cost.observe({ kind: SEARCH, shape: 'q:6*4&page:1', rttMs: 650, light: true }, 3100);
  assert.deepEqual(cost.probeParts(SEARCH, fresh), ['q:6*4', 'sort:3', UNTRIED_PART]);
  assert.equal(cost.weight(SEARCH, fresh), 1, 'weighed as one until it has enough answers');
  // One fast answer carrying `sort:3` frees it (queueing only adds time).
  cost.observe({ kind: SEARCH, shape: 'q:3&sort:3', rttMs: 90, light: true }, 3200);
  assert.deepEqual(cost.probeParts(SEARCH, fresh), ['q:6*4', UNTRIED_PART]);
  // A third slow answer weighs the part: weighed, and still bounded — costly.
  cost.observe({ kind: SEARCH, shape: 'q:6*4', rttMs: 680, light: true }, 3300);
  assert.ok(cost.weight(SEARCH, fresh) >= 4, String(cost.weight(SEARCH, fresh)));
  assert.deepEqual(cost.probeParts(SEARCH, fresh), ['q:6*4'], 'known costly: no longer among the unknowns');
  // A whole shape answered fast once is free, whatever its parts.
  cost.observe({ kind: SEARCH, shape: 'lang:2&view:5', rttMs: 85, light: true }, 3400);
  assert.deepEqual(cost.probeParts(SEARCH, 'lang:2&view:5'), []);
  assert.deepEqual(cost.probeParts(SEARCH, 'lang:2&view:6'), ['view:6', UNTRIED_PART], 'only the part never answered');
  // A costly whole whose parts are each cheap is bounded as one part: the shape.
  for (let i = 0; i < 3; i++) cost.observe({ kind: SEARCH, shape: 'a:1', rttMs: 80, light: true }, 3500 + i);
  for (let i = 0; i < 3; i++) cost.observe({ kind: SEARCH, shape: 'b:1', rttMs: 80, light: true }, 3600 + i);
  for (let i = 0; i < 3; i++) cost.observe({ kind: SEARCH, shape: 'a:1&b:1', rttMs: 900, light: true }, 3700 + i);
  assert.deepEqual(cost.probeParts(SEARCH, 'a:1&b:1'), ['a:1&b:1']);
});

const API = 'api GET /api/search';

/** The flood's own route to the search's action, no customer's: 8-term searches at 640 ms ± 20%, at light load, 10 a second. */
function feedApi(cost: ReturnType<typeof createRequestCost>, from: number, n: number, ms = 640): number {
  const random = createPrng(7);
  let now = from;
  for (let i = 0; i < n; i++, now += 100) cost.observe({ kind: API, shape: EIGHT_WORDS, rttMs: ms * (0.8 + 0.4 * random()), light: true }, now);
  return now;
}

test('a kind born in an attack is weighed against the site\'s typical request: the flood\'s own route cannot teach that its searches are typical', () => {
  // Without the alert: the flood's first answers are the kind's median, its searches weigh one (the limit the alert closes).
  const blind = createRequestCost();
  feedApi(blind, feed(blind, { n: 200, costlyShare: 0, costlyMs: 0, light: true }), 100);
  assert.equal(blind.weight(API, EIGHT_WORDS), 1);
  assert.deepEqual(blind.probeParts(API, EIGHT_WORDS), []);

  const cost = createRequestCost();
  const t = feed(cost, { n: 200, costlyShare: 0, costlyMs: 0, light: true });
  const site = cost.siteTypicalMs as number;
  assert.ok(site > 64 && site < 96, `the site's typical keyed request is the customers' search: ${site} ms`);
  cost.alert(true, t);
  const end = feedApi(cost, t, 100);
  const w = cost.weight(API, EIGHT_WORDS);
  assert.ok(w >= 6 && w <= 9, `the flood's searches on their own route weigh ${w}`);
  assert.ok(cost.probeParts(API, EIGHT_WORDS).length > 0, 'and are probed a few at a time');
  assert.equal(cost.doubtfulKinds, 1);
  assert.equal(cost.heaviest(1)[0]?.againstSite, true, 'the operator is told what it is weighed against');
  assert.ok(Math.abs((cost.siteTypicalMs as number) - site) < 1e-9, 'the flood taught the site nothing');
  // The customers' kind, known before the attack, keeps its own median.
  assert.equal(cost.weight(SEARCH, ONE_WORD), 1);
  // The attack ends: the kind stays doubtful through the quiet (waves come back) until trustMs of it.
  cost.alert(false, end);
  cost.alert(false, end + 299_000);
  assert.equal(cost.doubtfulKinds, 1);
  cost.alert(false, end + 300_000);
  assert.equal(cost.doubtfulKinds, 0);
  assert.equal(cost.weight(API, EIGHT_WORDS), 1, 'trusted again: its own median says what is typical of it');
});

test('a kind first answered in the seconds before the first suspicion is doubtful too; one known longer before is not', () => {
  const cost = createRequestCost();
  let t = feed(cost, { n: 200, costlyShare: 0, costlyMs: 0, light: true });
  // A report page customers have used for 30 s beside their searches, always 400 ms: typical of itself.
  const REPORT = 'report GET /report';
  for (let i = 0; i < 30; i++) {
    cost.observe({ kind: REPORT, shape: 'from:3&to:3', rttMs: 400, light: true }, t);
    t = feed(cost, { n: 10, from: t, costlyShare: 0, costlyMs: 0, light: true, seed: 10 + i });
  }
  // The flood's route is answered 3 s before the alert begins (detection reads its first seconds).
  const end = feedApi(cost, t, 30);
  cost.alert(true, end);
  assert.ok(cost.weight(API, EIGHT_WORDS) >= 6, 'born in the onset: weighed against the site');
  assert.equal(cost.weight(REPORT, 'from:3&to:3'), 1, 'a kind born 30 s before the alert keeps its own median');
  for (let i = 0; i < 5; i++) cost.observe({ kind: REPORT, shape: 'from:3&to:4', rttMs: 400, light: true }, end + i);
  assert.equal(cost.weight(REPORT, 'from:3&to:4'), 1);
});

test('a kind new in an attack that costs what the site\'s typical request does weighs one; with no site known yet, its own median', () => {
  const cost = createRequestCost();
  const t = feed(cost, { n: 200, costlyShare: 0, costlyMs: 0, light: true });
  cost.alert(true, t);
  feedApi(cost, t, 60, 90);
  assert.equal(cost.weight(API, EIGHT_WORDS), 1);
  // A shield started in the attack knows no site: nothing to weigh against.
  const cold = createRequestCost();
  cold.alert(true, 0);
  feedApi(cold, 0, 60);
  assert.equal(cold.siteTypicalMs, undefined);
  assert.equal(cold.weight(API, EIGHT_WORDS), 1);
  assert.throws(() => createRequestCost({ trustMs: -1 }), RangeError);
});

test('in an attack, a kind never answered at light load is weighed against the site: the flood\'s route is answered only under load', () => {
  const cost = createRequestCost();
  const t = feed(cost, { n: 200, costlyShare: 0, costlyMs: 0, light: true });
  cost.alert(true, t);
  for (let i = 0; i < 5; i++) cost.observe({ kind: API, shape: EIGHT_WORDS, rttMs: 700 + 50 * i, light: false }, t + i * 100);
  const w = cost.weight(API, EIGHT_WORDS);
  assert.ok(w >= 7 && w <= 9, `weighs ${w}`);
  assert.ok(cost.probeParts(API, 'q:6*4&sort:3').includes(UNTRIED_PART), 'a part never answered is probed with the kind\'s other unknowns');
  // Outside an alert, a kind with no light answers knows nothing, as before.
  cost.alert(false, t + 1000);
  assert.equal(cost.weight(API, EIGHT_WORDS), 1);
});
