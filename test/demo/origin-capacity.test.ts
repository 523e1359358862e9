import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { MAX_SEARCH_TERMS, searchQueryOf, searchTerms, startOrigin } from '../../src/demo/origin/server.js';
import { openSocket } from '../helpers/servers.js';

// Node gives a pipelined request's response the socket only once the one before it is done; if the
// client leaves first, that response never emits 'close'. The origin must free its workers anyway.
test('demo origin: workers held by requests pipelined on a connection the client abandons are freed', async (t) => {
  const origin = await startOrigin({ maxInFlight: 4, maxQueue: 16, serviceMs: 40 });
  t.after(() => origin.close());
  for (let round = 0; round < 3; round++) {
    const socket = await openSocket(origin.port);
    socket.write('GET /track/XY1 HTTP/1.1\r\nHost: origin\r\n\r\n'.repeat(6));
    // Wait until the origin has taken its workers, then leave with every answer still owed.
    for (let i = 0; i < 100 && origin.stats().inFlight < 4; i++) await sleep(5);
    assert.equal(origin.stats().inFlight, 4, 'the pipelined requests hold every worker');
    socket.destroy();
    for (let i = 0; i < 200 && (origin.stats().inFlight > 0 || origin.stats().queued > 0); i++) await sleep(10);
    assert.deepEqual({ inFlight: origin.stats().inFlight, queued: origin.stats().queued }, { inFlight: 0, queued: 0 }, `round ${round}: every worker back`);
  }
  // And the origin still serves at full capacity: four slow requests at once, none waiting in the queue.
  const answers = await Promise.all(Array.from({ length: 4 }, () => fetch(`${origin.url}/track/XY2`).then((r) => r.status)));
  assert.deepEqual(answers, [200, 200, 200, 200]);
});

test('demo origin: a live client\'s message is a lookup on the same workers as pages — answered with the status, or busy when the queue is full', async (t) => {
  const origin = await startOrigin({ maxInFlight: 1, maxQueue: 1, serviceMs: 60 });
  t.after(() => origin.close());
  const ws = new WebSocket(`${origin.url.replace('http', 'ws')}/live/parcel/XY1`);
  const messages: Array<Record<string, unknown>> = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Record<string, unknown>));
  await once(ws, 'open');
  for (let i = 0; i < 20 && messages.length < 1; i++) await sleep(10); // the push on connect
  const pushed = messages.length;
  // Three refreshes at once on a 1-worker, 1-place origin: one served, one queued, one refused;
  // each answer names the refresh it answers.
  for (let i = 0; i < 3; i++) ws.send(JSON.stringify({ type: 'refresh', id: 10 + i }));
  for (let i = 0; i < 100 && messages.length < pushed + 3; i++) await sleep(10);
  const answers = messages.slice(pushed, pushed + 3);
  assert.equal(answers.filter((m) => m.error === 'busy').length, 1, JSON.stringify(answers));
  assert.equal(answers.filter((m) => typeof m.status === 'string').length, 2, JSON.stringify(answers));
  assert.deepEqual(answers.map((m) => m.re).sort(), [10, 11, 12]);
  assert.equal(origin.stats().served.live, 3, 'the handshake and two refreshes');
  assert.equal(origin.stats().rejected, 1);
  ws.close();
});

test('demo origin: a live handshake is authorised on the same workers as pages — 503 when the origin is too busy to look', async (t) => {
  const origin = await startOrigin({ maxInFlight: 1, maxQueue: 1, serviceMs: 200 });
  t.after(() => origin.close());
  // One page in the worker, one in the queue: the handshake finds no place.
  const pages = [fetch(`${origin.url}/track/XY1`), fetch(`${origin.url}/track/XY2`)];
  for (let i = 0; i < 50 && origin.stats().queued < 1; i++) await sleep(5);
  const refused = new WebSocket(`${origin.url.replace('http', 'ws')}/live/parcel/XY1`);
  const [, res] = await once(refused, 'unexpected-response') as [unknown, { statusCode: number; headers: Record<string, string> }];
  assert.equal(res.statusCode, 503);
  assert.equal(res.headers['retry-after'], '1');
  await Promise.all(pages);
  // Idle again: the handshake takes a worker for a lookup's time, then the tunnel opens.
  assert.equal(origin.stats().served.live, 0);
  const ws = new WebSocket(`${origin.url.replace('http', 'ws')}/live/parcel/XY1`);
  await once(ws, 'open');
  assert.equal(origin.stats().served.live, 1, 'the handshake was looked up before the 101');
  ws.close();
});

test('demo origin: with a service-time spread, lookups at no load take from (1 − spread) to (1 + spread) times the mean; a spread out of range is refused', async (t) => {
  await assert.rejects(startOrigin({ serviceSpread: 0.95 }), /serviceSpread must be from 0 to 0\.9, got 0\.95/);
  const origin = await startOrigin({ maxInFlight: 4, serviceMs: 60, serviceSpread: 0.9 });
  t.after(() => origin.close());
  const took: number[] = [];
  for (let i = 0; i < 40; i++) {
    const t0 = performance.now();
    const r = await fetch(`${origin.url}/track/XY${i}`);
    await r.arrayBuffer();
    took.push(performance.now() - t0);
  }
  // 6–114 ms a lookup: a timer never fires early, so none under 6 ms; forty draws all above 0.6 of
  // the mean (36 ms) would be a chance of 0.72^40 (about 2 in a million) with the spread working.
  assert.ok(Math.min(...took) >= 6, `fastest ${Math.min(...took).toFixed(1)} ms`);
  assert.ok(Math.min(...took) < 36, `fastest ${Math.min(...took).toFixed(1)} ms: no spread`);
});

test('demo origin: a search costs a lookup per term of its query (one word as before, up to 32 terms), whether the form sent + or spaces', async (t) => {
  assert.equal(searchTerms(null), 1);
  assert.equal(searchTerms(''), 1);
  assert.equal(searchTerms('colis'), 1);
  assert.equal(searchTerms('colis  suivi+lettre'), 3);
  assert.equal(searchTerms(Array(50).fill('w').join(' ')), MAX_SEARCH_TERMS);
  // Terms in the path: the segment after /search/, what follows it a page of the results.
  assert.equal(searchQueryOf(new URL('http://o/search/colis+suivi')), 'colis+suivi');
  assert.equal(searchQueryOf(new URL('http://o/search/colis+suivi/page/2')), 'colis+suivi');
  assert.equal(searchQueryOf(new URL('http://o/search/colis%20suivi/page/2')), 'colis suivi');
  assert.equal(searchQueryOf(new URL('http://o/search?q=lettre')), 'lettre');
  const origin = await startOrigin({ maxInFlight: 4, serviceMs: 20 });
  t.after(() => origin.close());
  const time = async (q: string): Promise<number> => {
    const t0 = performance.now();
    const r = await fetch(`${origin.url}/search?q=${q}`);
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    return performance.now() - t0;
  };
  // One word: 2 lookups (40 ms); six words: 12 (240 ms). Timers never fire early.
  const one = await time('colis');
  const six = await time('colis+suivi+lettre+bureau+timbre+retour');
  assert.ok(one >= 39 && one < 200, `one word ${one.toFixed(0)} ms`);
  assert.ok(six >= 239, `six words ${six.toFixed(0)} ms`);
});
