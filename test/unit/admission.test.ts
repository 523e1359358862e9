import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAdmissionQueue, type Waiter } from '../../src/shield/upstream/admission.js';
import { createPrng } from './prng.js';

function waiter(rank: number, log: string[], name: string): Waiter {
  return {
    rank, enqueuedAt: 0, state: 'new',
    start: () => log.push(`start ${name}`),
    reject: (why) => log.push(`reject ${name} ${why}`),
  };
}

test('admits up to maxInFlight, queues up to maxQueue, rejects beyond', () => {
  const q = createAdmissionQueue({ maxInFlight: 2, maxQueue: 2, queueTimeoutMs: 1000 });
  const log: string[] = [];
  const results = ['a', 'b', 'c', 'd', 'e'].map((n) => q.admit(waiter(2, log, n), 0));
  assert.deepEqual(results, ['started', 'started', 'queued', 'queued', 'rejected']);
  assert.deepEqual(log, ['start a', 'start b', 'reject e queue-full']);
  assert.equal(q.inFlight, 2);
  assert.equal(q.queued, 2);
});

test('freed slots go to classes by weight, first come first served within a class', () => {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 10, queueTimeoutMs: 1000 });
  const log: string[] = [];
  q.admit(waiter(2, log, 'busy'), 0);
  q.admit(waiter(3, log, 'low1'), 1);
  q.admit(waiter(2, log, 'normal1'), 2);
  q.admit(waiter(0, log, 'critical1'), 3);
  q.admit(waiter(2, log, 'normal2'), 4);
  q.admit(waiter(0, log, 'critical2'), 5);
  for (let i = 0; i < 5; i++) q.release(10);
  // Critical first; then each class in turn by its pass; nobody waits behind a whole other class.
  assert.deepEqual(log, ['start busy', 'start critical1', 'start normal1', 'start low1', 'start critical2', 'start normal2']);
});

test('under saturation each class gets slots in proportion to its weight', () => {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 100_000, queueTimeoutMs: 1e9 });
  const started = [0, 0, 0, 0];
  const mk = (rank: number): Waiter => ({ rank, enqueuedAt: 0, state: 'new', start: () => { started[rank] = (started[rank] ?? 0) + 1; }, reject: () => {} });
  q.admit(mk(2), 0);
  for (let i = 0; i < 2000; i++) for (let r = 0; r < 4; r++) q.admit(mk(r), 0);
  started.fill(0);
  for (let i = 0; i < 1500; i++) q.release(0);
  const total = started.reduce((a, b) => a + b, 0);
  const shares = started.map((n) => n / total);
  [8 / 15, 4 / 15, 2 / 15, 1 / 15].forEach((want, r) => assert.ok(Math.abs((shares[r] ?? 0) - want) < 0.01, `rank ${r}: ${shares[r]} vs ${want}`));
});

test('a flood in one class cannot take the queue from another class', () => {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 8, queueTimeoutMs: 1000 });
  const log: string[] = [];
  q.admit(waiter(0, log, 'busy'), 0);
  for (let i = 0; i < 8; i++) q.admit(waiter(0, log, `flood${i}`), 0); // a login flood fills the queue (critical)
  assert.equal(q.admit(waiter(0, log, 'flood8'), 0), 'rejected', 'more of the same class is refused');
  assert.equal(q.admit(waiter(2, log, 'tracking'), 0), 'queued', 'another class still gets in');
  assert.ok(log.includes('reject flood7 pushed-out'));
  for (let i = 0; i < 3; i++) q.release(1);
  assert.ok(log.indexOf('start tracking') !== -1, `tracking served within 3 slots: ${log.join(', ')}`);
});

test('waiters past the queue timeout are rejected, younger ones keep waiting', () => {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 10, queueTimeoutMs: 100 });
  const log: string[] = [];
  q.admit(waiter(2, log, 'busy'), 0);
  q.admit(waiter(2, log, 'old'), 0);
  q.admit(waiter(0, log, 'young'), 60);
  assert.equal(q.expire(99), 0);
  assert.equal(q.expire(100), 1);
  assert.deepEqual(log, ['start busy', 'reject old queue-timeout']);
  q.release(120); // expiry runs first, then the young one starts
  assert.deepEqual(log.slice(2), ['start young']);
  assert.equal(q.queued, 0);
});

test('a cancelled waiter gives up its place and is never started', () => {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 1, queueTimeoutMs: 1000 });
  const log: string[] = [];
  q.admit(waiter(2, log, 'busy'), 0);
  const gone = waiter(2, log, 'gone');
  q.admit(gone, 0);
  q.cancel(gone);
  assert.equal(q.queued, 0);
  assert.equal(q.admit(waiter(2, log, 'next'), 1), 'queued', 'the freed place can be taken');
  q.release(2);
  assert.deepEqual(log, ['start busy', 'start next']);
});

test('when full, the class most over its share loses its newest waiter', () => {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 2, queueTimeoutMs: 1000 });
  const log: string[] = [];
  q.admit(waiter(2, log, 'busy'), 0);
  q.admit(waiter(2, log, 'n1'), 0);
  q.admit(waiter(2, log, 'n2'), 0);
  assert.equal(q.admit(waiter(0, log, 'pay'), 1), 'queued');
  assert.equal(q.admit(waiter(2, log, 'n3'), 1), 'rejected', 'the over-represented class cannot push out');
  q.release(2);
  assert.deepEqual(log, ['start busy', 'reject n2 pushed-out', 'reject n3 queue-full', 'start pay']);
});

test('property: slots and queue stay bounded and every waiter ends exactly once', () => {
  const rnd = createPrng(42);
  for (let round = 0; round < 50; round++) {
    const max = 1 + Math.floor(rnd() * 4);
    const q = createAdmissionQueue({ maxInFlight: max, maxQueue: Math.floor(rnd() * 6), queueTimeoutMs: 50 });
    const ends = new Map<number, number>();
    const live: Waiter[] = [];
    let running = 0;
    let now = 0;
    for (let i = 0; i < 300; i++) {
      now += Math.floor(rnd() * 10);
      const op = rnd();
      if (op < 0.5) {
        const id = i;
        const w: Waiter = {
          rank: Math.floor(rnd() * 4), enqueuedAt: 0, state: 'new',
          start: () => { ends.set(id, (ends.get(id) ?? 0) + 1); running++; },
          reject: () => ends.set(id, (ends.get(id) ?? 0) + 1),
        };
        live.push(w);
        q.admit(w, now);
      } else if (op < 0.8 && running > 0) {
        running--;
        q.release(now);
      } else if (op < 0.9) {
        const w = live[Math.floor(rnd() * live.length)];
        if (w && w.state === 'queued') { q.cancel(w); ends.set(live.indexOf(w) + 1e6, 1); }
      } else {
        q.expire(now);
      }
      assert.ok(q.inFlight <= max && q.inFlight === running, `inFlight ${q.inFlight} running ${running}`);
      assert.ok(q.queued <= q.params.maxQueue);
    }
    assert.ok([...ends.values()].every((n) => n === 1), 'no waiter started or rejected twice');
  }
});

test('weights are configurable: equal weights make the classes take turns', () => {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 100, queueTimeoutMs: 1000, weights: [1, 1, 1, 1] });
  const log: string[] = [];
  q.admit(waiter(0, log, 'busy'), 0);
  for (let i = 0; i < 3; i++) { q.admit(waiter(0, log, `c${i}`), 0); q.admit(waiter(3, log, `l${i}`), 0); }
  for (let i = 0; i < 6; i++) q.release(1);
  assert.deepEqual(log.slice(1), ['start c0', 'start l0', 'start c1', 'start l1', 'start c2', 'start l2']);
});

function tiered(rank: number, tier: number, log: string[], name: string): Waiter {
  return { ...waiter(rank, log, name), tier };
}

test('within a class, better standing goes first whatever the arrival order', () => {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 10, queueTimeoutMs: 1000 });
  const log: string[] = [];
  q.admit(tiered(2, 0, log, 'busy'), 0);
  q.admit(tiered(2, 2, log, 'anon1'), 1);
  q.admit(tiered(2, 2, log, 'anon2'), 2);
  q.admit(tiered(2, 1, log, 'cookie'), 3);
  q.admit(tiered(2, 0, log, 'known'), 4);
  for (let i = 0; i < 4; i++) q.release(10);
  assert.deepEqual(log, ['start busy', 'start known', 'start cookie', 'start anon1', 'start anon2']);
});

test('standing goes before class: a flood aimed at the critical class waits behind customers of every class', () => {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 20, queueTimeoutMs: 1000 });
  const log: string[] = [];
  q.admit(tiered(2, 1, log, 'busy'), 0);
  // Token holders flooding a login route (critical) at a heavy pace, then customers tracking parcels.
  for (let i = 0; i < 4; i++) q.admit(tiered(0, 4, log, `heavy-critical${i}`), 1 + i);
  q.admit(tiered(2, 1, log, 'customer-normal'), 10);
  q.admit(tiered(3, 1, log, 'customer-low'), 11);
  q.admit(tiered(0, 1, log, 'customer-critical'), 12);
  for (let i = 0; i < 7; i++) q.release(20);
  assert.deepEqual(log.slice(1, 4).sort(), ['start customer-critical', 'start customer-low', 'start customer-normal']);
  // Among the same standing, the class weights still decide the order (critical first).
  assert.equal(log[1], 'start customer-critical');
  assert.deepEqual(log.slice(4), ['start heavy-critical0', 'start heavy-critical1', 'start heavy-critical2', 'start heavy-critical3']);
});

test('a waiter whose standing fell while it waited (its identity kept flooding) moves behind later, better arrivals', () => {
  const now: Record<string, number> = {};
  const q = createAdmissionQueue({
    maxInFlight: 1, maxQueue: 20, queueTimeoutMs: 1000,
    retier: (w) => now[w.subject as string] ?? (w.tier as number),
  });
  const log: string[] = [];
  const w = (tier: number, name: string): Waiter => ({ ...tiered(2, tier, log, name), subject: name });
  q.admit(w(1, 'busy'), 0);
  // A flood's first requests arrive while its token still looks light (tier 1) ...
  q.admit(w(1, 'early-bot1'), 1);
  q.admit(w(1, 'early-bot2'), 2);
  // ... then customers, at tier 1 and 2 (a customer who earned a proof-of-work clearance).
  q.admit(w(1, 'customer1'), 3);
  q.admit(w(2, 'customer2'), 4);
  // By now the bot's pace shows: its queued requests are worth tier 5.
  now['early-bot1'] = 5;
  now['early-bot2'] = 5;
  for (let i = 0; i < 4; i++) q.release(10);
  assert.deepEqual(log, ['start busy', 'start customer1', 'start customer2', 'start early-bot1', 'start early-bot2']);
  assert.equal(q.queued, 0);
  // Moved waiters still time out, are cancelled and pushed out from where they are now.
  const q2 = createAdmissionQueue({ maxInFlight: 1, maxQueue: 2, queueTimeoutMs: 100, retier: (x) => now[x.subject as string] ?? (x.tier as number) });
  const log2: string[] = [];
  q2.admit({ ...tiered(2, 1, log2, 'busy'), subject: 'busy' }, 0);
  q2.admit({ ...tiered(2, 1, log2, 'early-bot1'), subject: 'early-bot1' }, 1);
  q2.admit({ ...tiered(2, 1, log2, 'c'), subject: 'c' }, 2);
  q2.release(3); // starts c: early-bot1 moved to tier 5 on the way
  assert.equal(q2.admit({ ...tiered(2, 2, log2, 'late'), subject: 'late' }, 4), 'queued');
  assert.equal(q2.admit({ ...tiered(2, 2, log2, 'later'), subject: 'later' }, 5), 'queued', 'the moved bot request is pushed out first');
  assert.ok(log2.includes('reject early-bot1 pushed-out'), log2.join(','));
  assert.equal(q2.expire(1000), 2);
  assert.equal(q2.queued, 0);
});

test('a full queue pushes out the worst standing first, in any class; an anonymous arrival cannot push out a known client', () => {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 2, queueTimeoutMs: 1000 });
  const log: string[] = [];
  q.admit(tiered(3, 0, log, 'busy'), 0);
  q.admit(tiered(0, 2, log, 'anon-critical'), 1); // a flood aimed at a critical route
  q.admit(tiered(3, 0, log, 'known-low'), 2);
  assert.equal(q.admit(tiered(3, 0, log, 'known-low2'), 3), 'queued');
  assert.ok(log.includes('reject anon-critical pushed-out'), 'the anonymous waiter made room for a known client');
  assert.equal(q.admit(tiered(3, 2, log, 'anon-low'), 4), 'rejected');
  assert.ok(log.includes('reject anon-low queue-full'));
  assert.equal(q.queued, 2);
});

test('standing never lets more than maxInFlight start (property over random arrivals)', () => {
  const rng = createPrng(7);
  const q = createAdmissionQueue({ maxInFlight: 3, maxQueue: 20, queueTimeoutMs: 50 });
  let running = 0;
  let peak = 0;
  const log: string[] = [];
  for (let step = 0; step < 5000; step++) {
    const now = step;
    if (rng() < 0.6) {
      const w: Waiter = {
        rank: Math.floor(rng() * 4), tier: Math.floor(rng() * 6), enqueuedAt: 0, state: 'new',
        start: () => { running++; peak = Math.max(peak, running); },
        reject: () => log.push('r'),
      };
      q.admit(w, now);
    } else if (running > 0) {
      running--;
      q.release(now);
    }
    q.expire(now);
    assert.ok(q.inFlight <= 3 && running === q.inFlight, `step ${step}: running ${running}, inFlight ${q.inFlight}`);
  }
  assert.equal(peak, 3);
});
