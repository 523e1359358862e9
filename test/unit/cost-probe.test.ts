import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCostProbe, type ProbeTicket } from '../../src/shield/upstream/cost-probe.js';
import { UNTRIED_PART } from '../../src/shield/detect/request-cost.js';

const KIND = 'search GET /search';

/**
 * A ticket whose untried parts are read from `tried` (parts tried meanwhile drop out). Let go, it
 * logs it; `restart` stands for the admission queue starting it again at once (it comes back
 * through `enter`).
 */
function ticket(parts: string[], arrivedAt: number, log: string[], name: string, tried: Set<string> = new Set(), tier = 3): ProbeTicket {
  return {
    kind: KIND, parts, arrivedAt, tier,
    partsNow: () => parts.filter((p) => !tried.has(p)),
    go: () => log.push(`go ${name}`),
    refuse: (why) => log.push(`${why} ${name}`),
  };
}

test('an untried part holds its share of the limit at the upstream; the rest wait in arrival order and are let go as those end', () => {
  const probe = createCostProbe({ partShare: 0.125, kindShare: 0.25, maxHeld: 100, timeoutMs: 5000 });
  const log: string[] = [];
  const limit = 16; // 2 per part, 4 per kind
  const ts = Array.from({ length: 5 }, (_, i) => ticket(['q:6*4', `page:${i}`], i, log, `s${i}`));
  assert.deepEqual(ts.map((t) => probe.enter(t, limit, t.arrivedAt)), ['go', 'go', 'held', 'held', 'held']);
  assert.equal(probe.inFlight, 2);
  assert.equal(probe.held, 3);
  probe.leave(ts[0]!, limit, 100);
  assert.deepEqual(log, ['go s2'], 'one ends, the oldest held is let go (one place: one let go)');
  assert.equal(probe.inFlight, 1, 'let go is not started: counted when it comes back to start');
  assert.equal(probe.enter(ts[2]!, limit, 110), 'go', 'back at the head of the admission queue, it starts');
  probe.leave(ts[0]!, limit, 120); // twice: no effect
  assert.equal(probe.inFlight, 2);
  // Another part is not held by this one.
  const other = ticket(['q:4'], 10, log, 'cheap');
  assert.equal(probe.enter(other, limit, 10), 'go');
  // The kind's share: 4 untried at the upstream at most, whatever the parts.
  const fourth = ticket(['q:5'], 11, log, 'fourth');
  const fifth = ticket(['q:7'], 12, log, 'fifth');
  assert.equal(probe.enter(fourth, limit, 11), 'go');
  assert.equal(probe.enter(fifth, limit, 12), 'held', 'the kind holds 4 of 16 untried');
});

test('a held request whose parts were tried meanwhile is let go; one held by its kind moves on when its part frees', () => {
  const probe = createCostProbe({ partShare: 0.125, kindShare: 0.125, maxHeld: 100, timeoutMs: 5000 });
  const log: string[] = [];
  const tried = new Set<string>();
  const limit = 8; // 1 per part and per kind
  const a = ticket(['q:6*4'], 0, log, 'a', tried);
  const b = ticket(['q:6*4'], 1, log, 'b', tried);
  const c = ticket(['q:6*4'], 2, log, 'c', tried);
  probe.enter(a, limit, 0);
  probe.enter(b, limit, 1);
  probe.enter(c, limit, 2);
  // a's answer was fast: the part is tried, b and c are both let go.
  tried.add('q:6*4');
  probe.leave(a, limit, 300);
  assert.deepEqual(log, ['go b', 'go c']);
  assert.equal(probe.inFlight, 0);
  assert.equal(probe.held, 0);
  probe.leave(b, limit, 400); // never counted: nothing to free, nothing breaks
  assert.equal(probe.inFlight, 0);
  // Held by the kind, then by its part.
  const d = ticket(['x:1'], 500, log, 'd');
  const e = ticket(['y:1'], 501, log, 'e');
  const f = ticket(['y:1'], 502, log, 'f');
  assert.equal(probe.enter(d, limit, 500), 'go');
  assert.equal(probe.enter(e, limit, 501), 'held', 'the kind is full');
  assert.equal(probe.enter(f, limit, 502), 'held');
  probe.leave(d, limit, 600);
  assert.deepEqual(log.slice(2), ['go e'], 'one place for the kind: e, not f');
});

test('a held request is refused at its deadline from arrival; a cancelled one is skipped; past maxHeld, refused at once', () => {
  const probe = createCostProbe({ partShare: 0.1, kindShare: 0.1, maxHeld: 2, timeoutMs: 5000 });
  const log: string[] = [];
  const limit = 4;
  const first = ticket(['q:6*4'], 0, log, 'first');
  const gone = ticket(['q:6*4'], 100, log, 'gone');
  const late = ticket(['q:6*4'], 2000, log, 'late');
  const over = ticket(['q:6*4'], 2100, log, 'over');
  assert.equal(probe.enter(first, limit, 0), 'go');
  assert.equal(probe.enter(gone, limit, 100), 'held');
  assert.equal(probe.enter(late, limit, 2000), 'held');
  assert.equal(probe.enter(over, limit, 2100), 'refused', 'two held at most');
  probe.cancel(gone);
  assert.equal(probe.held, 1);
  assert.equal(probe.expire(6000, limit), 0, 'the cancelled one is not refused');
  assert.equal(probe.expire(7000, limit), 1);
  assert.deepEqual(log, ['queue-timeout late']);
  probe.leave(first, limit, 7100);
  assert.deepEqual(log, ['queue-timeout late'], 'nobody left to let go');
  assert.equal(probe.held, 0);
  assert.equal(probe.inFlight, 0);
});

test('a limit that grew lets held requests go on the next tick', () => {
  const probe = createCostProbe({ partShare: 0.125, kindShare: 0.25, maxHeld: 10, timeoutMs: 5000 });
  const log: string[] = [];
  const t = Array.from({ length: 3 }, (_, i) => ticket(['q:6*4'], i, log, `t${i}`));
  for (const x of t) probe.enter(x, 8, x.arrivedAt); // 1 per part at a limit of 8
  assert.equal(probe.held, 2);
  probe.expire(100, 16); // 2 per part now: one more place
  assert.deepEqual(log, ['go t1']);
  assert.equal(probe.held, 1);
});

test('held requests make a standing wait, as a queue that does not empty: since the first was held, and the oldest one\'s wait', () => {
  const probe = createCostProbe({ partShare: 0.125, kindShare: 0.25, maxHeld: 10, timeoutMs: 5000 });
  const log: string[] = [];
  assert.equal(probe.standingMs(1000), 0);
  assert.equal(probe.oldestHeldMs(1000), 0);
  const a = ticket(['q:6*4'], 1000, log, 'a');
  const b = ticket(['q:6*4'], 1200, log, 'b');
  const c = ticket(['q:6*4'], 1300, log, 'c');
  probe.enter(a, 8, 1000);
  probe.enter(b, 8, 1200);
  probe.enter(c, 8, 1300);
  assert.equal(probe.standingMs(1700), 500, 'held since b');
  assert.equal(probe.oldestHeldMs(1700), 500);
  probe.leave(a, 8, 1800); // b is let go and starts; c still held
  assert.equal(probe.enter(b, 8, 1800), 'go');
  assert.equal(probe.standingMs(1900), 700, 'it never emptied');
  assert.equal(probe.oldestHeldMs(1900), 600, 'c is the oldest now');
  probe.leave(b, 8, 2000);
  assert.equal(probe.held, 0);
  assert.equal(probe.standingMs(2100), 0);
  assert.equal(probe.enter(c, 8, 2100), 'go');
  const d = ticket(['q:6*4'], 3000, log, 'd');
  assert.equal(probe.enter(d, 8, 3000), 'held', 'c holds the part');
  assert.equal(probe.standingMs(3200), 200, 'counted again from the next hold');
});

test('a held line is in tier order, then arrival: a customer held after bots goes first', () => {
  const probe = createCostProbe({ partShare: 0.125, kindShare: 0.5, maxHeld: 10, timeoutMs: 5000 });
  const log: string[] = [];
  const limit = 8; // 1 per part
  const first = ticket(['q:6*4'], 0, log, 'first', new Set(), 4);
  assert.equal(probe.enter(first, limit, 0), 'go');
  const bots = [1, 2, 3].map((i) => ticket(['q:6*4'], i, log, `bot${i}`, new Set(), 4));
  for (const b of bots) assert.equal(probe.enter(b, limit, b.arrivedAt), 'held');
  const customer = ticket(['q:6*4'], 10, log, 'customer', new Set(), 1);
  const other = ticket(['q:6*4'], 11, log, 'other', new Set(), 1);
  assert.equal(probe.enter(customer, limit, 10), 'held');
  assert.equal(probe.enter(other, limit, 11), 'held');
  probe.leave(first, limit, 700);
  assert.deepEqual(log, ['go customer'], 'the best tier first, though it came last');
  probe.enter(customer, limit, 700);
  probe.leave(customer, limit, 1400);
  probe.enter(other, limit, 1400);
  probe.leave(other, limit, 2100);
  assert.deepEqual(log, ['go customer', 'go other', 'go bot1'], 'then arrival order within a tier');
});

test('a full probe pushes out its worst-tier newest held request for a better one; an equal or worse one is refused', () => {
  const probe = createCostProbe({ partShare: 0.125, kindShare: 0.5, maxHeld: 2, timeoutMs: 5000 });
  const log: string[] = [];
  const limit = 8;
  assert.equal(probe.enter(ticket(['q:6*4'], 0, log, 'first', new Set(), 4), limit, 0), 'go');
  const a = ticket(['q:6*4'], 1, log, 'a', new Set(), 4);
  const b = ticket(['q:6*4'], 2, log, 'b', new Set(), 4);
  probe.enter(a, limit, 1);
  probe.enter(b, limit, 2);
  assert.equal(probe.enter(ticket(['q:6*4'], 3, log, 'same', new Set(), 4), limit, 3), 'refused', 'same tier: the newcomer is refused');
  const customer = ticket(['q:6*4'], 4, log, 'customer', new Set(), 1);
  assert.equal(probe.enter(customer, limit, 4), 'held');
  assert.deepEqual(log, ['pushed-out b'], 'the newest of the worst tier made room');
  assert.equal(probe.held, 2);
  assert.equal(probe.expire(6000, limit), 2, 'b, pushed out, is not refused twice');
  assert.deepEqual(log.slice().sort(), ['pushed-out b', 'queue-timeout a', 'queue-timeout customer']);
});

test('the kind\'s untried requests share one part\'s room: a second unknown waits, whatever its part', () => {
  const probe = createCostProbe({ partShare: 0.125, kindShare: 0.5, maxHeld: 10, timeoutMs: 5000 });
  const log: string[] = [];
  const tried = new Set<string>();
  const limit = 4; // 1 per part (and for the untried), 2 per kind
  const a = ticket(['q:6*4', UNTRIED_PART], 0, log, 'a', tried);
  const b = ticket(['q:7*4', UNTRIED_PART], 1, log, 'b', tried);
  assert.equal(probe.enter(a, limit, 0), 'go');
  assert.equal(probe.enter(b, limit, 1), 'held', 'another size class, unknown too: one unknown at a time');
  // a's answer was fast: its part is tried; b's part is still unknown, and goes next.
  tried.add('q:6*4');
  probe.leave(a, limit, 100);
  assert.deepEqual(log, ['go b']);
});

test('known customers\' requests count apart per part: a part the flood holds does not hold a returning customer\'s search of it; the kind is shared', () => {
  const probe = createCostProbe({ partShare: 0.125, kindShare: 0.25, maxHeld: 10, timeoutMs: 5000 });
  const log: string[] = [];
  const limit = 8; // 1 per part, 2 per kind, in each lane
  const bot = ticket(['q:6*4'], 0, log, 'bot', new Set(), 6);
  const bot2 = ticket(['q:6*4'], 1, log, 'bot2', new Set(), 6);
  assert.equal(probe.enter(bot, limit, 0), 'go');
  assert.equal(probe.enter(bot2, limit, 1), 'held');
  const known = { ...ticket(['q:6*4'], 2, log, 'known', new Set(), 0), known: true };
  const known2 = { ...ticket(['q:6*4'], 3, log, 'known2', new Set(), 0), known: true };
  assert.equal(probe.enter(known, limit, 2), 'go', 'its own lane has room');
  assert.equal(probe.enter(known2, limit, 3), 'held', 'and is bounded there as everyone else is in theirs');
  assert.equal(probe.inFlight, 2);
  probe.leave(known, limit, 700);
  assert.deepEqual(log, ['go known2'], 'the known lane frees the known line only');
  // The kind's share is everyone's: 2 at the upstream (bot, known2), a known search of another part waits.
  probe.enter(known2, limit, 700);
  const other = { ...ticket(['q:7*4'], 800, log, 'other', new Set(), 0), known: true };
  assert.equal(probe.enter(other, limit, 800), 'held', 'the kind is full, whatever the lane');
});
