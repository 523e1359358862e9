import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANONYMOUS_TIER, createAdmissionQueue, MINTED_OVERDUE_MS, paceOfTier, sessionTier, STANDING, tierFor, TIERS, type Waiter } from '../../src/shield/upstream/admission.js';
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

test('class offsets: a critical request overtakes lower classes that came shortly before it, first come first served within a class', () => {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 10, queueTimeoutMs: 10_000 });
  const log: string[] = [];
  q.admit(waiter(2, log, 'busy'), 0);
  q.admit(waiter(3, log, 'low1'), 1); // deadline 1001
  q.admit(waiter(2, log, 'normal1'), 2); // 502
  q.admit(waiter(0, log, 'critical1'), 3); // 3
  q.admit(waiter(2, log, 'normal2'), 4); // 504
  q.admit(waiter(0, log, 'critical2'), 600); // 600
  for (let i = 0; i < 5; i++) q.release(700);
  assert.deepEqual(log, ['start busy', 'start critical1', 'start normal1', 'start normal2', 'start critical2', 'start low1']);
});

test('priority is bounded: under saturation a low request that waited longer than the offsets goes before newer critical ones', () => {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 100_000, queueTimeoutMs: 1e9 });
  const log: string[] = [];
  q.admit(waiter(2, log, 'busy'), 0);
  q.admit(waiter(3, log, 'low-old'), 0); // deadline 1000
  // A steady stream of critical requests, one every 100 ms: strict priority would starve low-old.
  for (let t = 100; t <= 3000; t += 100) q.admit(waiter(0, log, `critical@${t}`), t);
  for (let i = 0; i < 31; i++) q.release(3000);
  const at = log.indexOf('start low-old');
  assert.ok(at !== -1);
  // Served right after the critical requests whose deadlines came first (100 … 1000 ms).
  assert.equal(log[at - 1], 'start critical@1000');
  assert.equal(log[at + 1], 'start critical@1100');
});

test('a flood in one class cannot take the whole queue from another class', () => {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 8, queueTimeoutMs: 10_000 });
  const log: string[] = [];
  q.admit(waiter(0, log, 'busy'), 0);
  for (let i = 0; i < 8; i++) q.admit(waiter(0, log, `flood${i}`), 0); // a login flood fills the queue (critical)
  assert.equal(q.admit(waiter(0, log, 'flood8'), 0), 'rejected', 'more of the same class is refused');
  assert.equal(q.admit(waiter(2, log, 'tracking'), 0), 'queued', 'another class still gets in');
  assert.ok(log.includes('reject flood7 pushed-out'));
  // Flood requests newer than the tracking page by more than the offsets wait behind it.
  q.release(900);
  assert.equal(q.admit(waiter(0, log, 'flood-late'), 900), 'queued');
  for (let i = 0; i < 9; i++) q.release(1000);
  assert.ok(log.indexOf('start tracking') < log.indexOf('start flood-late'), log.join(', '));
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

test('offsets are configurable: equal offsets serve the classes in arrival order', () => {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 100, queueTimeoutMs: 1000, offsetsMs: [0, 0, 0, 0] });
  const log: string[] = [];
  q.admit(waiter(0, log, 'busy'), 0);
  for (let i = 0; i < 3; i++) { q.admit(waiter(3, log, `l${i}`), 2 * i); q.admit(waiter(0, log, `c${i}`), 2 * i + 1); }
  for (let i = 0; i < 6; i++) q.release(10);
  assert.deepEqual(log.slice(1), ['start l0', 'start c0', 'start l1', 'start c1', 'start l2', 'start c2']);
});

function tiered(rank: number, tier: number, log: string[], name: string): Waiter {
  return { ...waiter(rank, log, name), tier };
}

test('within a class, better standing goes first among close arrivals; its head start is bounded', () => {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 10, queueTimeoutMs: 10_000 });
  const log: string[] = [];
  const nojs = tierFor(STANDING.checked, 0);
  q.admit(tiered(2, 0, log, 'busy'), 0);
  q.admit(tiered(2, nojs, log, 'nojs1'), 1);
  q.admit(tiered(2, nojs, log, 'nojs2'), 2);
  q.admit(tiered(2, tierFor(STANDING.cleared, 0), log, 'cleared'), 3);
  q.admit(tiered(2, tierFor(STANDING.established, 0), log, 'known'), 4);
  for (let i = 0; i < 4; i++) q.release(10);
  // A proof-of-work and the no-JavaScript cookie are both minted during the attack: arrival order.
  assert.deepEqual(log, ['start busy', 'start known', 'start nojs1', 'start nojs2', 'start cleared']);
  q.admit(tiered(2, tierFor(STANDING.cleared, 0), log, 'cleared-first'), 100);
  q.admit(tiered(2, nojs, log, 'newcomer'), 101);
  q.release(200);
  assert.equal(log.at(-1), 'start cleared-first');
  q.release(300);
  assert.equal(log.at(-1), 'start newcomer');
  // Among reputations from normal times, the head start is bounded: a younger reputation that waited goes first.
  q.admit(tiered(2, tierFor(STANDING.recent, 0), log, 'recent'), 2400);
  q.admit(tiered(2, tierFor(STANDING.established, 0), log, 'known-late'), 4400);
  q.release(4500);
  assert.equal(log.at(-1), 'start recent');
});

test('an established customer at a busy moment (pace 1) goes before a young reputation at pace 0, within a bound', () => {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 10, queueTimeoutMs: 10_000 });
  const log: string[] = [];
  q.admit(tiered(2, 0, log, 'busy'), 0);
  q.admit(tiered(2, tierFor(STANDING.recent, 0), log, 'young'), 0);
  q.admit(tiered(2, tierFor(STANDING.established, 1), log, 'known-busy'), 20);
  q.release(100);
  assert.equal(log.at(-1), 'start known-busy', 'standing before pace among light paces');
  q.release(100);
  assert.equal(log.at(-1), 'start young');
  // Bounded: a young reputation that came 100 ms earlier goes first.
  q.admit(tiered(2, tierFor(STANDING.recent, 0), log, 'young-earlier'), 400);
  q.admit(tiered(2, tierFor(STANDING.established, 1), log, 'known-later'), 500);
  q.release(600);
  assert.equal(log.at(-1), 'start young-earlier');
});


test('a critical request at pace 1 keeps its class over pages of the same standing at pace 0 (200 ms, not 500)', () => {
  for (const standing of [STANDING.recent, STANDING.cleared, STANDING.checked]) {
    // Minted standings in the shared mode (knownFirstMs): in the strict one, rule 3b puts their
    // critical requests first outright. A reputation in the strict one: in the shared one, its
    // critical requests are due at once (bound 0).
    const minted = standing !== STANDING.recent;
    const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 10, queueTimeoutMs: 10_000, ...(minted ? { knownFirstMs: [0, 750, 2000, 2500] } : {}) });
    const log: string[] = [];
    q.admit(tiered(2, 0, log, 'busy'), 0);
    // A page of the same standing at pace 0 queued 20 ms before a login at pace 1 (its page, the POST):
    // the login goes first (at 500 ms it waited for the page, class high's 250 ms offset notwithstanding).
    q.admit(tiered(1, tierFor(standing, 0), log, 'page'), 0);
    q.admit(tiered(0, tierFor(standing, 1), log, 'login'), 20);
    // Another critical request of the same standing at pace 0 still goes before the login when it
    // came less than 200 ms after it; one that came later does not.
    q.admit(tiered(0, tierFor(standing, 0), log, 'critical-light'), 200);
    q.admit(tiered(0, tierFor(standing, 0), log, 'critical-late'), 300);
    for (let i = 0; i < 4; i++) q.release(500);
    assert.deepEqual(log.slice(1), ['start critical-light', 'start login', 'start page', 'start critical-late'], `standing ${standing}`);
  }
});
/** Admits each [rank, tier, name, at] behind one busy slot, then releases until all started; the start order. */
function startOrder(arrivals: ReadonlyArray<readonly [number, number, string, number]>, releaseAt: number): string[] {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 10, queueTimeoutMs: 10_000 });
  const log: string[] = [];
  q.admit(tiered(2, 0, log, 'busy'), 0);
  for (const [rank, tier, name, at] of arrivals) q.admit(tiered(rank, tier, log, name), at);
  for (let i = 0; i < arrivals.length; i++) q.release(releaseAt);
  return log;
}

test('customers known before the attack go before identities minted during it, however long those waited', () => {
  const log = startOrder([
    // A backlog of no-JavaScript cookies and proofs of work (bots at a customer's pace, or newcomers) ...
    [2, tierFor(STANDING.checked, 0), 'nojs', 1],
    [0, tierFor(STANDING.cleared, 0), 'cleared-critical', 2],
    // ... does not make a customer holding a reputation wait behind it: under a flood of new
    // identities at a customer's pace the backlog is seconds long, more than any bounded head start.
    [3, tierFor(STANDING.recent, 1), 'customer-low', 5000],
  ], 5001);
  assert.deepEqual(log, ['start busy', 'start customer-low', 'start cleared-critical', 'start nojs']);
});

test('requests with no token: a heavy source falls behind light ones', () => {
  assert.equal(tierFor(STANDING.anonymous, 1), ANONYMOUS_TIER);
  const log = startOrder([
    [2, tierFor(STANDING.anonymous, 3), 'heavy-source', 1],
    [2, tierFor(STANDING.anonymous, 0), 'first-visit', 2],
    [2, tierFor(STANDING.cleared, 2), 'cleared-pace-2', 3],
  ], 10);
  assert.deepEqual(log, ['start busy', 'start first-visit', 'start cleared-pace-2', 'start heavy-source']);
});

test('pace goes before class: a flood aimed at the critical class waits behind customers of every class', () => {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 20, queueTimeoutMs: 1000 });
  const log: string[] = [];
  q.admit(tiered(2, 1, log, 'busy'), 0);
  // Token holders flooding a login route (critical) at a heavy pace, then customers tracking parcels.
  for (let i = 0; i < 4; i++) q.admit(tiered(0, tierFor(STANDING.established, 3), log, `heavy-critical${i}`), 1 + i);
  q.admit(tiered(2, 1, log, 'customer-normal'), 10);
  q.admit(tiered(3, 1, log, 'customer-low'), 11);
  q.admit(tiered(0, 1, log, 'customer-critical'), 12);
  for (let i = 0; i < 7; i++) q.release(20);
  assert.deepEqual(log.slice(1, 4).sort(), ['start customer-critical', 'start customer-low', 'start customer-normal']);
  // Among the same standing, the class offsets decide the order (critical first).
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
  q.admit(w(0, 'busy'), 0);
  // A flood's first requests arrive while its token still looks light (tier 0) ...
  q.admit(w(0, 'early-bot1'), 1);
  q.admit(w(0, 'early-bot2'), 2);
  // ... then customers, at tier 0 and 2 (a customer with a younger reputation).
  q.admit(w(0, 'customer1'), 3);
  q.admit(w(2, 'customer2'), 4);
  // By now the bot's pace shows: its queued requests are worth pace 3.
  now['early-bot1'] = tierFor(STANDING.established, 3);
  now['early-bot2'] = tierFor(STANDING.established, 3);
  for (let i = 0; i < 4; i++) q.release(10);
  assert.deepEqual(log, ['start busy', 'start customer1', 'start customer2', 'start early-bot1', 'start early-bot2']);
  assert.equal(q.queued, 0);
  // Moved waiters still time out, are cancelled and pushed out from where they are now.
  const q2 = createAdmissionQueue({ maxInFlight: 1, maxQueue: 2, queueTimeoutMs: 100, retier: (x) => now[x.subject as string] ?? (x.tier as number) });
  const log2: string[] = [];
  q2.admit({ ...tiered(2, 1, log2, 'busy'), subject: 'busy' }, 0);
  q2.admit({ ...tiered(2, 1, log2, 'early-bot1'), subject: 'early-bot1' }, 1);
  q2.admit({ ...tiered(2, 1, log2, 'c'), subject: 'c' }, 2);
  q2.release(3); // starts c: early-bot1 moved to pace 3 on the way
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
  q.admit(tiered(0, ANONYMOUS_TIER, log, 'anon-critical'), 1); // a flood aimed at a critical route
  q.admit(tiered(3, 0, log, 'known-low'), 2);
  assert.equal(q.admit(tiered(3, 0, log, 'known-low2'), 3), 'queued');
  assert.ok(log.includes('reject anon-critical pushed-out'), 'the anonymous waiter made room for a known client');
  assert.equal(q.admit(tiered(3, ANONYMOUS_TIER, log, 'anon-low'), 4), 'rejected');
  assert.ok(log.includes('reject anon-low queue-full'));
  assert.equal(q.queued, 2);
});

test('standing and messages never let more than maxInFlight start; messages are counted apart (property over random arrivals)', () => {
  const rng = createPrng(7);
  let since = -Infinity;
  const q = createAdmissionQueue({ maxInFlight: 3, maxQueue: 20, queueTimeoutMs: 50, challengesSince: () => since });
  let running = 0;
  let messages = 0;
  let peak = 0;
  let peakMessages = 0;
  const log: string[] = [];
  for (let step = 0; step < 5000; step++) {
    const now = step;
    if (step % 500 === 0) since = since === -Infinity ? now : -Infinity; // attacks come and go
    if (rng() < 0.6) {
      const message = rng() < 0.4;
      const w: Waiter = {
        rank: Math.floor(rng() * 4), tier: Math.floor(rng() * TIERS), enqueuedAt: 0, state: 'new', message,
        start: () => { running++; if (message) messages++; peak = Math.max(peak, running); peakMessages = Math.max(peakMessages, messages); },
        reject: () => log.push('r'),
      };
      q.admit(w, now);
    } else if (running > 0) {
      const message = messages > 0 && (messages === running || rng() < 0.5);
      running--;
      if (message) messages--;
      q.release(now, message);
    }
    q.expire(now);
    assert.ok(q.inFlight <= 3 && running === q.inFlight, `step ${step}: running ${running}, inFlight ${q.inFlight}`);
    assert.equal(q.messagesInFlight, messages, `step ${step}`);
  }
  assert.equal(peak, 3);
  assert.equal(peakMessages, 3, 'messages too may take every slot');
});

/** A queue with `knownFirstMs` behind one busy slot. */
function sharedQueue(log: string[], knownFirstMs: readonly number[] = [0, 750, 2000, 2500], patienceMs?: number) {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 100, queueTimeoutMs: 60_000, knownFirstMs, retier: (w) => w.tier as number, ...(patienceMs !== undefined ? { patienceMs } : {}) });
  q.admit(tiered(2, 0, log, 'busy'), 0);
  return q;
}

test('knownFirstMs: newcomers who waited longer go before a known client until its class bound, then the known client goes first — after newcomers past their own bound, before those who came less than half a second before it', () => {
  const log: string[] = [];
  const q = sharedQueue(log);
  const nojs = tierFor(STANDING.checked, 0);
  // Newcomers' deadlines: arrival + 1000 (no-JS cookie) + 500 (normal) = 1800 …
  for (let i = 0; i < 6; i++) q.admit(tiered(2, nojs, log, `newcomer${i}`), 300 + i);
  q.admit(tiered(2, tierFor(STANDING.recent, 0), log, 'known'), 1200); // … the known client's 1200 + 250 + 500
  q.release(1300);
  assert.equal(log.at(-1), 'start newcomer0', 'older newcomers go before a known client that just came');
  q.release(1400);
  assert.equal(log.at(-1), 'start newcomer1');
  q.admit(tiered(2, nojs, log, 'newcomer-late'), 1000);
  q.release(3200); // the known request has waited 2000 ms, the normal class's bound; the newcomers 2900
  // Those who came 900 ms before it are past their own bound (2500) by more: they go first …
  assert.equal(log.at(-1), 'start newcomer2');
  for (const t of [3250, 3300, 3350]) q.release(t);
  assert.equal(log.at(-1), 'start newcomer5');
  // … and the known client before a newcomer that came less than half a second before it (2400 ms).
  q.release(3400);
  assert.equal(log.at(-1), 'start known');
  // Without the bound (strict), the known client goes first at once.
  const log2: string[] = [];
  const q2 = createAdmissionQueue({ maxInFlight: 1, maxQueue: 100, queueTimeoutMs: 60_000 });
  q2.admit(tiered(2, 0, log2, 'busy'), 0);
  for (let i = 0; i < 6; i++) q2.admit(tiered(2, nojs, log2, `newcomer${i}`), i);
  q2.admit(tiered(2, tierFor(STANDING.established, 0), log2, 'known'), 1200);
  q2.release(1300);
  assert.equal(log2.at(-1), 'start known');
});

test('knownFirstMs: a newcomer\'s page that waited its class bound and half a second more goes first too, by how far past its bound; a newcomer\'s critical or high request no sooner than its page', () => {
  const nojs = tierFor(STANDING.checked, 0);
  const known = tierFor(STANDING.recent, 0);
  // Who starts first in a shared queue when one slot frees at `at`, of waiters [rank, tier, name, queued at].
  const first = (waiters: ReadonlyArray<readonly [number, number, string, number]>, at: number): string | undefined => {
    const log: string[] = [];
    const q = sharedQueue(log);
    for (const [rank, tier, name, t] of waiters) q.admit(tiered(rank, tier, log, name), t);
    q.release(at);
    return log.at(-1);
  };
  // Normal class (bound 2000 in this queue, 2500 for a newcomer): the newcomer waited 3.2 s, the
  // known client 2.1 s: both past their bounds, the newcomer by more.
  assert.equal(first([[2, nojs, 'newcomer-page', 0], [2, known, 'known-page', 1100]], 3200), 'start newcomer-page', 'a crowd\'s newcomers do not absorb all of its excess');
  // Half a second past the known bound is enough: the newcomer waited 2.7 s, the known client
  // 2.1 s. At a second more (until the forty-sixth session) the known client went first here, and
  // on a shield that knew every customer of the 40 s before a flash crowd the newcomers' pages
  // queued at its peak waited past 5 s (3 of 8 runs under 99%).
  assert.equal(MINTED_OVERDUE_MS, 500);
  assert.equal(first([[2, nojs, 'newcomer-page', 0], [2, known, 'known-page', 600]], 2700), 'start newcomer-page', 'a newcomer waits at most half a second longer than a known customer');
  // The known client later by less: it goes first (both due, it by more).
  assert.equal(first([[2, nojs, 'newcomer-page', 500], [2, known, 'known-page', 600]], 3600), 'start known-page');
  // A newcomer's high-class request does not age sooner than its page: newcomers' logins and
  // banking pages jumping ahead of every page starved the crowd's tracking pages (flash-crowd
  // drill 94.6-96.0%, thirty-seventh session). At 2.2 s it is past its own class's bound and half
  // a second, not the normal class's: the known page, due, goes first.
  assert.equal(first([[1, nojs, 'newcomer-high', 0], [2, known, 'known-page', 0]], 2200), 'start known-page');
});

test('knownFirstMs: under a standing overload of overdue known pages, a newcomer\'s login and banking page still start — at the normal class\'s bound and half a second more, not before', () => {
  const nojs = tierFor(STANDING.checked, 0);
  const known = tierFor(STANDING.recent, 0);
  for (const [rank, name] of [[0, 'newcomer-login'], [1, 'newcomer-account']] as const) {
    const log: string[] = [];
    const q = sharedQueue(log); // bounds: normal 2000 ms, so a newcomer's request ages at 3000
    // Known customers' tracking pages arrive faster than the one slot serves them (20 a second,
    // 10 served): from 2 s on, some known page is always overdue. The newcomer comes at 3 s.
    let startedAt = -1;
    for (let t = 50; t <= 10_000 && startedAt === -1; t += 50) {
      q.admit(tiered(2, known, log, `known@${t}`), t);
      if (t === 3000) q.admit(tiered(rank, nojs, log, name), t);
      if (t % 100 === 0) {
        q.release(t);
        if (log.at(-1) === `start ${name}`) startedAt = t;
      }
    }
    assert.ok(log.filter((l) => l.startsWith('start known')).length > 30, 'the overload ran past the bounds');
    // Before: it never aged, and waited for as long as a known page was overdue (to its timeout).
    assert.ok(startedAt !== -1, `${name} starved behind overdue known pages`);
    // Not before its aging bound (2500 ms after it came): sooner costs the crowd's tracking pages.
    assert.ok(startedAt >= 3000 + 2000 + MINTED_OVERDUE_MS, `${name} started at ${startedAt} ms, before the normal class's bound + ${MINTED_OVERDUE_MS} ms`);
    // Once aged, in order of how far past their bounds with the overdue known pages (its key
    // 3000 + 2500 + its class offset against a page's arrival + 2000 + 750): it goes after the
    // pages that came before about 2.75–3 s, which one slot for two arrivals reaches at about 6 s.
    assert.ok(startedAt <= 7000, `${name} started at ${startedAt} ms`);
  }
});

test('knownFirstMs: a known client\'s critical request (bound 0) goes before any newcomer, however long they waited', () => {
  const log: string[] = [];
  const q = sharedQueue(log);
  q.admit(tiered(0, tierFor(STANDING.cleared, 0), log, 'cleared-critical'), 0);
  q.admit(tiered(2, tierFor(STANDING.checked, 0), log, 'nojs'), 1);
  q.admit(tiered(0, tierFor(STANDING.recent, 0), log, 'customer-payment'), 4000);
  q.release(4001);
  assert.equal(log.at(-1), 'start customer-payment');
  // Among known requests past their bounds, the one furthest past goes first: a payment just due
  // before a tracking page due by less than their offsets apart.
  const log2: string[] = [];
  const q2 = sharedQueue(log2);
  q2.admit(tiered(2, tierFor(STANDING.checked, 0), log2, 'nojs'), 0);
  q2.admit(tiered(2, tierFor(STANDING.established, 0), log2, 'known-tracking'), 100); // due at 2100
  q2.admit(tiered(0, tierFor(STANDING.established, 0), log2, 'known-payment'), 2300); // due at once
  q2.release(2300);
  assert.equal(log2.at(-1), 'start known-payment');
  q2.release(2300);
  assert.equal(log2.at(-1), 'start known-tracking');
});

test('rule 3b: while known clients go strictly first, a minted identity\'s critical request goes before the minted group\'s other classes, however long they waited; known clients still before it; in the shared mode, head starts only', () => {
  const nojs = tierFor(STANDING.checked, 0);
  const run = (strict: boolean): string[] => {
    const log: string[] = [];
    const q = strict
      ? createAdmissionQueue({ maxInFlight: 1, maxQueue: 100, queueTimeoutMs: 60_000 })
      : createAdmissionQueue({ maxInFlight: 1, maxQueue: 100, queueTimeoutMs: 60_000, knownFirstMs: [0, 750, 2000, 2500] });
    q.admit(tiered(2, 0, log, 'busy'), 0);
    for (let i = 0; i < 3; i++) q.admit(tiered(2, nojs, log, `page${i}`), i); // deadlines ~1500
    q.admit(tiered(1, nojs, log, 'login-page'), 10);
    q.admit(tiered(0, nojs, log, 'newcomer-login'), 2000); // deadline ~3000
    q.admit(tiered(2, tierFor(STANDING.established, 0), log, 'known-page'), 2001);
    for (let i = 0; i < 6; i++) q.release(2002 + i);
    return log.slice(1);
  };
  assert.deepEqual(run(true), ['start known-page', 'start newcomer-login', 'start login-page', 'start page0', 'start page1', 'start page2'],
    'strict: the known page first, then the newcomer\'s login before the group\'s pages queued 2 s earlier');
  assert.deepEqual(run(false), ['start login-page', 'start page0', 'start page1', 'start page2', 'start known-page', 'start newcomer-login'],
    'shared: earliest deadline, as before (the known page by deadline: 2501 before the login\'s 3000)');
});

/**
 * Rule 8. Group (b)'s busy identities (pace 1) arrive `perCompletion` at a time for each completion
 * of the upstream over 1 s (after `known` known customers' requests queued at 0, served first); then
 * a newcomer's page at pace 0, and a newcomer's login at pace 1; the next two starts.
 */
function afterBusy(perCompletion: number, initialBusy: number, known: number): string[] {
  const log: string[] = [];
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 10_000, queueTimeoutMs: 60_000 });
  const busy = tierFor(STANDING.checked, 1);
  q.admit(tiered(2, 0, log, 'busy'), 0);
  for (let i = 0; i < known; i++) q.admit(tiered(2, 0, log, `known${i}`), 0);
  for (let i = 0; i < initialBusy; i++) q.admit(tiered(2, busy, log, `bot-0-${i}`), 0);
  for (let t = 10; t <= 1000; t += 10) {
    for (let i = 0; i < perCompletion; i++) q.admit(tiered(2, busy, log, `bot-${t}-${i}`), t - 5);
    q.release(t);
  }
  q.admit(tiered(2, tierFor(STANDING.checked, 0), log, 'newcomer-page'), 1000);
  q.admit(tiered(0, busy, log, 'newcomer-login'), 1000);
  const from = log.length;
  q.release(1001);
  q.release(1002);
  return log.slice(from);
}

test('rule 8: while the minted group\'s busy identities (pace 1) arrive faster than the upstream completes, its pace 0 goes strictly first (after its critical requests); a busy moment keeps the head starts', () => {
  assert.deepEqual(afterBusy(3, 0, 0), ['start newcomer-login', 'start newcomer-page'],
    'a flood at pace 1 (3 per completion, 1 s): the newcomer\'s login, then its page, before 2 s of busy waiters 0.5-1 s older');
  const moment = afterBusy(0, 20, 100);
  assert.deepEqual(moment, ['start newcomer-login', 'start bot-0-0'],
    '20 busy requests once, 1 s ago: the oldest goes before a page that came 1 s later (head start 500 ms)');
});

test('rule 8 on a full queue: while the minted group\'s busy identities flood, its arrival at pace 0 pushes out a waiter at pace 1; otherwise it is refused as the newest of its group', () => {
  const busy = tierFor(STANDING.checked, 1);
  const light = tierFor(STANDING.checked, 0);
  // 3 busy arrivals per completion for 1 s: the queue of 20 is full of them, and they flood.
  const log: string[] = [];
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 20, queueTimeoutMs: 60_000 });
  q.admit(tiered(2, 0, log, 'busy'), 0);
  for (let t = 10; t <= 1000; t += 10) {
    for (let i = 0; i < 3; i++) q.admit(tiered(2, busy, log, `bot-${t}-${i}`), t - 5);
    q.release(t);
  }
  q.admit(tiered(2, busy, log, 'bot-last'), 1000);
  assert.equal(q.queued, 20);
  const before = log.filter((l) => l.endsWith('pushed-out')).length;
  assert.equal(q.admit(tiered(2, light, log, 'newcomer'), 1000), 'queued');
  assert.deepEqual(log.filter((l) => l.endsWith('pushed-out')).slice(before), ['reject bot-last pushed-out'], 'the newest busy waiter leaves');
  q.release(1001);
  assert.equal(log.at(-1), 'start newcomer', 'and the newcomer goes first (rule 8)');
  // Nine busy requests once (under MINTED_LOAD_MIN): a busy moment, not a flood — pace 1 keeps its place.
  const log2: string[] = [];
  const q2 = createAdmissionQueue({ maxInFlight: 1, maxQueue: 9, queueTimeoutMs: 60_000 });
  q2.admit(tiered(2, 0, log2, 'busy'), 0);
  for (let i = 0; i < 9; i++) q2.admit(tiered(2, busy, log2, `moment${i}`), 1);
  assert.equal(q2.admit(tiered(2, light, log2, 'newcomer'), 2), 'rejected');
  assert.deepEqual(log2.slice(-1), ['reject newcomer queue-full']);
});

test('a full queue judges its waiters again before refusing an arrival: requests filed light whose identity floods by now are pushed out first', () => {
  const now: Record<string, number> = {};
  const light = tierFor(STANDING.checked, 0);
  const make = (): { q: ReturnType<typeof createAdmissionQueue>; log: string[] } => {
    const log: string[] = [];
    const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 4, queueTimeoutMs: 60_000, retier: (w) => now[w.subject as string] ?? (w.tier as number) });
    q.admit({ ...tiered(2, 0, log, 'busy'), subject: 'busy' }, 0);
    // A flood's first requests, filed at pace 0 before its bots' pace showed.
    for (let i = 0; i < 4; i++) q.admit({ ...tiered(2, light, log, `early-bot${i}`), subject: `early-bot${i}` }, 1);
    return { q, log };
  };
  // Their identities are still light: a customer of the same standing is refused, as before.
  const still = make();
  assert.equal(still.q.admit({ ...tiered(2, light, still.log, 'customer'), subject: 'customer' }, 200), 'rejected');
  // By now the bots flood (pace 2): the customer takes the place of the newest of them.
  for (let i = 0; i < 4; i++) now[`early-bot${i}`] = tierFor(STANDING.checked, 2);
  const { q, log } = make();
  assert.equal(q.admit({ ...tiered(2, light, log, 'customer'), subject: 'customer' }, 200), 'queued');
  assert.ok(log.includes('reject early-bot3 pushed-out'), log.join(','));
  q.release(201);
  assert.equal(log.at(-1), 'start customer', 'the bots\' remaining requests wait behind the customer at their tier now');
  // The moved waiters keep their arrival: they still time out from it.
  assert.equal(q.expire(60_002), 3);
  assert.equal(q.queued, 0);
});

/** Newcomers arrive `perCompletion` at a time for each completion for 1 s, then a known client comes at 3 s; who starts next. */
function nextAfterArrivals(perCompletion: number, strict?: (strict: boolean) => void): string | undefined {
  const log: string[] = [];
  const q = sharedQueue(log);
  const nojs = tierFor(STANDING.checked, 0);
  for (let i = 0; i < 5; i++) q.admit(tiered(2, nojs, log, `backlog${i}`), 0);
  for (let t = 10; t <= 1000; t += 10) {
    for (let i = 0; i < perCompletion; i++) q.admit(tiered(2, nojs, log, `n${t}-${i}`), t - 5);
    q.release(t);
  }
  strict?.(q.knownStrict(1000));
  // The oldest newcomer still waiting came before 1 s (deadline < 2.5 s); the known client's is 3.5 s.
  q.admit(tiered(2, tierFor(STANDING.established, 0), log, 'known'), 3000);
  q.release(3001);
  return log.at(-1);
}

test('knownFirstMs: newcomers arriving faster than 1.5x what the upstream completes make known clients strictly first again', () => {
  assert.notEqual(nextAfterArrivals(1), 'start known', 'a crowd (one arrival per completion): shared, the older newcomer first');
  assert.equal(nextAfterArrivals(20), 'start known', 'a flood of minted identities (20 per completion): strict');
});

/**
 * n minted waiters queued in the first 100 ms — tunnel work (WebSocket handshakes) or requests —,
 * then 4 s of the upstream completing 50 a second; then a known client's page.
 */
function afterBurst(n: number, tunnel: boolean): { strict: boolean; next: string | undefined } {
  const log: string[] = [];
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 1000, queueTimeoutMs: 60_000, knownFirstMs: [0, 750, 3000, 3500], retier: (w) => w.tier as number });
  let messageInFlight = false; // what the one slot holds, released as such
  q.admit(tiered(2, 0, log, 'busy'), 0);
  for (let i = 0; i < n; i++) {
    const w = tiered(2, tierFor(STANDING.checked, 0), log, `burst${i}`);
    q.admit({ ...w, message: tunnel, start: () => { messageInFlight = tunnel; w.start(); } }, i / 4);
  }
  for (let t = 20; t < 4000; t += 20) q.release(t, messageInFlight);
  const strict = q.knownStrict(4000);
  q.admit(tiered(2, tierFor(STANDING.established, 0), log, 'known'), 4000);
  q.release(4001, messageInFlight);
  return { strict, next: log.at(-1) };
}

test('knownFirstMs: a burst of minted tunnel work left waiting, more than 6 s of what the upstream completes, keeps known clients strictly first once its arrivals have decayed; a crowd\'s pages do not', () => {
  // 600 handshakes queued, 200 served: 400 wait, 8 s of the upstream's work. Their arrivals,
  // decayed, read under 1.5x the completions by now; shared, the oldest of them (aged past 4 s)
  // would go first.
  const burst = afterBurst(600, true);
  assert.equal(burst.strict, true);
  assert.equal(burst.next, 'start known');
  // 400 handshakes: 200 wait, 4 s of work: shared, by age.
  const fewer = afterBurst(400, true);
  assert.equal(fewer.strict, false);
  assert.match(fewer.next ?? '', /^start burst/);
  // 600 pages: people waiting for what they asked, however many — a crowd: shared, by age.
  const crowd = afterBurst(600, false);
  assert.equal(crowd.strict, false);
  assert.match(crowd.next ?? '', /^start burst/);
});

/**
 * `n` minted requests queued at the start by clients that never give up, then at `at` a minted
 * newcomer's page and, 50 ms later, a known client's page; what starts next, and after it.
 */
function afterStanding(at: number, n = 30, patienceMs?: number): { strict: boolean; order: string[] } {
  const log: string[] = [];
  const q = sharedQueue(log, [0, 750, 3000, 3500], patienceMs);
  const nojs = tierFor(STANDING.checked, 0);
  for (let i = 0; i < n; i++) q.admit(tiered(2, nojs, log, `tool${i}`), i);
  q.admit(tiered(2, tierFor(STANDING.cleared, 0), log, 'solver'), at - 200); // a tool that solved a proof-of-work
  q.admit(tiered(2, nojs, log, 'newcomer'), at - 100);
  q.admit(tiered(2, tierFor(STANDING.recent, 0), log, 'known'), at - 50);
  const strict = q.knownStrict(at);
  for (let k = 0; k < 4; k++) q.release(at + k);
  return { strict, order: log.slice(-4) };
}

test('rule 7: minted requests waiting past a person\'s patience (6 s), more than 2 s of the upstream\'s work, make known clients strictly first and the minted group newest first; at 5 s, or a few of them, shared and oldest first', () => {
  // At 5 s the tools' requests are a crowd's pages at the edge of patience: shared, the oldest aged first.
  const crowd = afterStanding(5000);
  assert.equal(crowd.strict, false);
  assert.deepEqual(crowd.order, ['start tool0', 'start tool1', 'start tool2', 'start tool3']);
  // Past 6 s no person is still waiting for them: the known client goes first, then the newest
  // minted requests across the minted tiers (the newcomer's, then the solver's), then the tools'
  // from the newest.
  const tools = afterStanding(6500);
  assert.equal(tools.strict, true);
  assert.deepEqual(tools.order, ['start known', 'start newcomer', 'start solver', 'start tool29']);
  // A few stale requests are a crowd's patient browsers (a login, a stylesheet), not tools: shared.
  const patient = afterStanding(6500, 3);
  assert.equal(patient.strict, false);
  assert.deepEqual(patient.order, ['start tool0', 'start tool1', 'start tool2', 'start known']);
});

test('rule 7 follows the configured patience: with patienceMs 20 s the same 30 requests at 6.5 s are a crowd\'s, at 21 s tools\'', () => {
  const patient = afterStanding(6500, 30, 20_000);
  assert.equal(patient.strict, false);
  assert.deepEqual(patient.order, ['start tool0', 'start tool1', 'start tool2', 'start tool3']);
  const tools = afterStanding(21_000, 30, 20_000);
  assert.equal(tools.strict, true);
  assert.deepEqual(tools.order, ['start known', 'start newcomer', 'start solver', 'start tool29']);
  // A shorter patience than the default: 4.5 s past it at 5 s.
  assert.equal(afterStanding(5000, 30, 4000).strict, true);
});

test('rule 7 holds for one queue timeout once it holds, then the shared mode returns', () => {
  const log: string[] = [];
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 100, queueTimeoutMs: 10_000, knownFirstMs: [0, 750, 3000, 3500], retier: (w) => w.tier as number });
  const nojs = tierFor(STANDING.checked, 0);
  q.admit(tiered(2, 0, log, 'busy'), 0);
  for (let i = 0; i < 30; i++) q.admit(tiered(2, nojs, log, `tool${i}`), i);
  assert.equal(q.knownStrict(6500), true, '30 stale minted requests');
  for (let k = 0; k < 31; k++) q.release(6500 + k); // every one served: none waits any more
  q.admit(tiered(2, nojs, log, 'newcomer'), 7000);
  assert.equal(q.knownStrict(7000), true, 'held: nothing stale waits, within one queue timeout');
  assert.equal(q.knownStrict(16_400), true);
  assert.equal(q.knownStrict(16_600), false, 'one queue timeout after it last held');
});

test('rule 7: a full queue served newest first pushes out the minted group\'s oldest waiter, not its newest', () => {
  const pushedOut = (at: number): string | undefined => {
    const log: string[] = [];
    const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 30, queueTimeoutMs: 60_000, knownFirstMs: [0, 750, 3000, 3500], retier: (w) => w.tier as number });
    const nojs = tierFor(STANDING.checked, 0);
    q.admit(tiered(2, 0, log, 'busy'), 0);
    for (let i = 0; i < 30; i++) q.admit(tiered(3, nojs, log, `tool${i}`), i); // the queue is full
    q.admit(tiered(2, nojs, log, 'newcomer'), at); // the low class is over its share: it gives way
    return log.find((l) => l.includes('pushed-out'));
  };
  assert.equal(pushedOut(5000), 'reject tool29 pushed-out', 'first come, first served: the newest gives way');
  assert.equal(pushedOut(6500), 'reject tool0 pushed-out', 'newest first: the oldest gives way');
});

test('knownStrict says which mode the queue is in: shared with a crowd, strict under a flood of minted identities, always strict without the bound', () => {
  const modes: boolean[] = [];
  nextAfterArrivals(1, (m) => modes.push(m));
  nextAfterArrivals(20, (m) => modes.push(m));
  assert.deepEqual(modes, [false, true]);
  assert.equal(createAdmissionQueue({ maxInFlight: 1, maxQueue: 1, queueTimeoutMs: 1 }).knownStrict(0), true);
});

test('sessionTier: a logged-in customer\'s request ranks as an established customer\'s at the same pace in strict mode only', () => {
  for (const standing of [STANDING.recent, STANDING.cleared, STANDING.checked]) {
    for (const pace of [0, 1]) {
      const t = tierFor(standing, pace);
      assert.equal(paceOfTier(t), pace);
      assert.equal(sessionTier(t, false), t, 'shared: its own standing');
      assert.equal(sessionTier(t, true), tierFor(STANDING.established, pace), 'strict: established, same pace');
    }
  }
  // A flooding pace stays a flooding pace, whatever the standing.
  for (const pace of [2, 3, 4]) assert.equal(sessionTier(tierFor(STANDING.checked, pace), true), tierFor(STANDING.checked, pace));
  assert.equal(paceOfTier(ANONYMOUS_TIER), 0);
});

test('knownFirstMs: when the minted identities reaching the head turn out to flood, known clients are strictly first again', () => {
  const log: string[] = [];
  const heavy = new Set<string>();
  const nojs = tierFor(STANDING.checked, 0);
  const q = createAdmissionQueue({
    maxInFlight: 1, maxQueue: 1000, queueTimeoutMs: 60_000, knownFirstMs: [0, 750, 2000, 2500],
    retier: (w) => (heavy.has(w.subject as string) ? tierFor(STANDING.checked, 3) : (w.tier as number)),
  });
  const w = (tier: number, name: string): Waiter => ({ ...tiered(2, tier, log, name), subject: name });
  // The upstream completed about as many requests as the bots send below (the load rule stays quiet).
  for (let t = -1000; t < 0; t += 20) { q.admit(w(ANONYMOUS_TIER, `warm${t}`), t); q.release(t + 1); }
  q.admit(w(0, 'busy'), 0);
  // Bots' requests queued while their identities still looked light; by the head, their pace shows.
  for (let i = 0; i < 30; i++) { q.admit(w(nojs, `bot${i}`), i); heavy.add(`bot${i}`); }
  q.admit(w(nojs, 'newcomer1'), 30); // deadline 1530
  q.admit(w(nojs, 'newcomer2'), 31); // 1531
  q.admit(w(tierFor(STANDING.established, 0), 'known'), 1300); // 1800
  q.release(1301); // walks the bots' heads down to pace 3, then serves the older newcomer (shared)
  assert.equal(log.at(-1), 'start newcomer1');
  q.release(1302); // 30 of 31 heads flooded: strict
  assert.equal(log.at(-1), 'start known');
});

test('requests with no token queued before the first challenge are offered their challenge once; those it answers leave the queue', () => {
  let since = -Infinity;
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 100, queueTimeoutMs: 60_000, challengesSince: () => since });
  const log: string[] = [];
  const offered: string[] = [];
  const anon = (name: string, answers: boolean): Waiter => ({
    ...tiered(2, ANONYMOUS_TIER, log, name),
    rechallenge: () => { offered.push(name); if (answers) log.push(`challenge ${name}`); return answers; },
  });
  q.admit(tiered(2, 0, log, 'busy'), 0);
  q.admit(anon('before1', true), 10);
  q.admit(anon('before-exempt', false), 20); // a route never challenged: it stays
  q.admit(tiered(2, tierFor(STANDING.established, 0), log, 'known'), 30);
  q.expire(40);
  assert.deepEqual(offered, [], 'nothing is offered while nobody is challenged');
  since = 50;
  q.admit(anon('after', true), 60); // arrived after challenges began: judged by the filter, not here
  q.expire(70);
  q.expire(80);
  assert.deepEqual(offered, ['before1', 'before-exempt'], 'each offered once');
  assert.deepEqual(log, ['start busy', 'challenge before1']);
  assert.equal(q.queued, 3);
  for (let i = 0; i < 3; i++) q.release(100);
  assert.deepEqual(log.slice(2), ['start known', 'start before-exempt', 'start after']);
});

test('a request queued with no token is offered its challenge again when the policy changes: its class still normal when challenges began elsewhere gave it none, and under attack a second later does', () => {
  let since = -Infinity;
  let version = 0;
  let level = 0; // its class's challenge level
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 100, queueTimeoutMs: 60_000, challengesSince: () => since, policyVersion: () => version });
  const log: string[] = [];
  const offered: string[] = [];
  q.admit(tiered(2, 0, log, 'busy'), 0);
  q.admit({ ...tiered(2, ANONYMOUS_TIER, log, 'page'), rechallenge: () => { offered.push('page'); if (level > 0) log.push('challenge page'); return level > 0; } }, 10);
  since = 50; version = 1; // another class went suspect (a warm shield's arrival rate)
  q.expire(60);
  q.expire(70);
  assert.deepEqual(offered, ['page'], 'offered once under the same policy');
  level = 1; version = 2; // its own class under attack
  q.expire(80);
  assert.deepEqual(offered, ['page', 'page']);
  assert.deepEqual(log, ['start busy', 'challenge page'], 'answered with its challenge, not left to wait behind every token holder');
  assert.equal(q.queued, 0);
  // One the filter passed with no token after challenges began elsewhere (its class still normal
  // then): offered its challenge too once its class's policy changes; not before.
  level = 0;
  q.admit({ ...tiered(2, ANONYMOUS_TIER, log, 'login'), rechallenge: () => { offered.push('login'); if (level > 0) log.push('challenge login'); return level > 0; } }, 90);
  q.expire(95);
  assert.deepEqual(offered, ['page', 'page'], 'queued under the policy in force: judged under it already');
  level = 1; version = 3;
  q.expire(100);
  assert.deepEqual(offered, ['page', 'page', 'login']);
  assert.equal(log.at(-1), 'challenge login');
});

test('a request queued with no token before a second attack\'s challenges is offered its challenge, though the first attack pushed waiters out of its queue', () => {
  let since = -Infinity;
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 3, queueTimeoutMs: 60_000, challengesSince: () => since });
  const log: string[] = [];
  const offered: string[] = [];
  const anon = (name: string, answers: boolean): Waiter => ({
    ...tiered(2, ANONYMOUS_TIER, log, name),
    rechallenge: () => { offered.push(name); return answers; },
  });
  q.admit(tiered(2, 0, log, 'busy'), 0);
  for (const [n, at] of [['exempt1', 10], ['exempt2', 20], ['exempt3', 30]] as const) q.admit(anon(n, false), at);
  since = 50; // first attack: the three are offered (and stay: their route is never challenged)
  q.expire(60);
  assert.deepEqual(offered, ['exempt1', 'exempt2', 'exempt3']);
  q.admit(tiered(2, tierFor(STANDING.established, 0), log, 'known'), 70); // full: pushes out the newest anonymous
  assert.deepEqual(log, ['start busy', 'reject exempt3 pushed-out']);
  since = -Infinity; // the attack ends
  q.release(80); // known starts
  q.admit(anon('late', true), 100); // queued with no token in normal times
  since = 150; // a second attack
  q.expire(160);
  assert.deepEqual(offered, ['exempt1', 'exempt2', 'exempt3', 'late'], 'the late request is offered its challenge');
});

test('the requests queued before the first challenge are answered oldest first, whatever their class', () => {
  let since = -Infinity;
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 100, queueTimeoutMs: 60_000, challengesSince: () => since });
  const log: string[] = [];
  const anon = (rank: number, name: string): Waiter => ({ ...tiered(rank, ANONYMOUS_TIER, log, name), rechallenge: () => { log.push(name); return true; } });
  q.admit(tiered(2, 0, log, 'busy'), 0);
  q.admit(anon(2, 'page-1'), 10); // normal class, first
  q.admit(anon(1, 'login-1'), 20); // high class
  q.admit(anon(3, 'asset-1'), 25); // low class
  q.admit(anon(1, 'login-2'), 30);
  q.admit(anon(2, 'page-2'), 40);
  q.admit(anon(0, 'pay-1'), 45); // critical class, last
  since = 50;
  q.expire(60);
  assert.deepEqual(log, ['start busy', 'page-1', 'login-1', 'asset-1', 'login-2', 'page-2', 'pay-1']);
  assert.equal(q.queued, 0);
});

test('pressure is measured over the interval: bursts the queue absorbs are not saturation, a standing queue is', () => {
  const q = createAdmissionQueue({ maxInFlight: 2, maxQueue: 10, queueTimeoutMs: 10_000 });
  const log: string[] = [];
  assert.deepEqual(q.readPressure(0), { saturation: 0, queueWaitMs: 0 });
  // A burst: at the limit from 100 to 200 ms, one request waiting 50 ms of it; idle otherwise.
  q.admit(waiter(2, log, 'a'), 100);
  q.admit(waiter(2, log, 'b'), 100);
  q.admit(waiter(2, log, 'c'), 150);
  q.release(200); // a done, c starts: still at the limit
  q.release(250);
  q.release(300);
  const burst = q.readPressure(1000);
  assert.ok(Math.abs(burst.saturation - 0.15) < 1e-9, `saturation ${burst.saturation}: at the limit 100-250 ms of 1000`);
  assert.equal(burst.queueWaitMs, 0, 'the queue emptied');
  // A flood: at the limit and waiters the whole next second.
  for (const n of ['d', 'e', 'f', 'g']) q.admit(waiter(2, log, n), 1000);
  const mid = q.readPressure(1500);
  assert.equal(mid.saturation, 1);
  assert.equal(mid.queueWaitMs, 0, 'the queue was empty when this interval began');
  q.release(1700); // d done, f starts; g still waits
  const flood = q.readPressure(2000);
  assert.equal(flood.saturation, 1);
  assert.equal(flood.queueWaitMs, 1000, 'g has waited since 1000, and the queue never emptied since the last read');
});

test('pressure: a read a few milliseconds into the first request is no interval; the next read judges the whole span', () => {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 10, queueTimeoutMs: 10_000 });
  const log: string[] = [];
  // The shield's first page holds a one-slot upstream when the detector's first tick reads, 5 ms in.
  q.admit(waiter(2, log, 'first-page'), 1000);
  assert.deepEqual(q.readPressure(1005), { saturation: 0, queueWaitMs: 0 }, 'measured over 5 ms, the upstream read as saturated (a shield put in suspect by its first page)');
  q.release(1040);
  const next = q.readPressure(2005);
  assert.ok(Math.abs(next.saturation - 40 / 1005) < 1e-9, `saturation ${next.saturation}: at the limit 40 ms of the 1005 since the first request`);
  // From then on each read judges the second since the one before.
  q.admit(waiter(2, log, 'second'), 2500);
  const third = q.readPressure(3005);
  assert.ok(Math.abs(third.saturation - 505 / 1000) < 1e-9, `saturation ${third.saturation}: at the limit from 2500 to 3005 of 2005-3005`);
});

test('standingMs: how long the queue has gone without emptying, reset when it empties', () => {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 10, queueTimeoutMs: 10_000 });
  const log: string[] = [];
  q.admit(waiter(2, log, 'a'), 0);
  assert.equal(q.standingMs(100), 0, 'nothing waits: not standing');
  q.admit(waiter(2, log, 'b'), 100);
  q.admit(waiter(2, log, 'c'), 150);
  assert.equal(q.standingMs(400), 300);
  q.release(450); // b starts, c still waits: the queue has not emptied
  assert.equal(q.standingMs(600), 500);
  q.release(700); // c starts: empty
  assert.equal(q.standingMs(800), 0);
  q.admit(waiter(2, log, 'd'), 900);
  assert.equal(q.standingMs(1000), 100, 'a new standing period starts with the next waiter');
});

test('under attack, flooding paces start only while fewer than half the limit is in flight; a customer arriving then starts at once', () => {
  let since = -Infinity;
  const q = createAdmissionQueue({ maxInFlight: 4, maxQueue: 100, queueTimeoutMs: 60_000, challengesSince: () => since });
  const log: string[] = [];
  const flood = tierFor(STANDING.cleared, 3);
  // Normal times: a busy client is only busy, and fills every free slot.
  for (let i = 0; i < 4; i++) q.admit(tiered(2, flood, log, `heavy${i}`), i);
  assert.equal(q.inFlight, 4);
  for (let i = 0; i < 4; i++) q.release(10);
  assert.equal(q.inFlight, 0);
  since = 20; // challenges begin
  log.length = 0;
  const results = [0, 1, 2, 3].map((i) => q.admit(tiered(2, flood, log, `bot${i}`), 30 + i));
  assert.deepEqual(results, ['started', 'started', 'queued', 'queued'], 'half the limit, then they wait with slots free');
  assert.equal(q.inFlight, 2);
  assert.equal(q.admit(tiered(0, tierFor(STANDING.established, 0), log, 'login'), 40), 'started', 'the headroom is a customer\'s');
  assert.equal(q.admit(tiered(2, tierFor(STANDING.checked, 0), log, 'newcomer'), 41), 'started', 'the queued floods do not hold back a light arrival');
  assert.equal(q.inFlight, 4);
  q.release(50); q.release(51); q.release(52); // 1 in flight: one bot may go
  assert.deepEqual(log.slice(-1), ['start bot2']);
  assert.equal(q.inFlight, 2);
  since = -Infinity; // the attack ends: work-conserving again
  q.release(60);
  assert.deepEqual(log.slice(-1), ['start bot3']);
  assert.equal(q.queued, 0);
});

test('under attack, a costly request in flight counts as the requests it costs: flooding paces wait while it runs, a customer does not', () => {
  const q = createAdmissionQueue({ maxInFlight: 8, maxQueue: 100, queueTimeoutMs: 60_000, challengesSince: () => 0 });
  const log: string[] = [];
  const flood = tierFor(STANDING.checked, 2);
  // One 8-term search costing 6 pages: 1 in flight, counted as 6 of the headroom of 4.
  assert.equal(q.admit({ ...tiered(2, flood, log, 'search'), cost: 6 }, 0), 'started');
  assert.equal(q.admit(tiered(2, flood, log, 'bot'), 1), 'queued', 'counted as one, it would have left 3 of 4');
  assert.equal(q.admit({ ...tiered(2, flood, log, 'search2'), cost: 6 }, 2), 'queued');
  assert.equal(q.admit(tiered(2, tierFor(STANDING.checked, 0), log, 'customer'), 3), 'started', 'a light request takes a free slot at once');
  assert.equal(q.inFlight, 2);
  q.release(10, false, 6); // the search ends: the flooding paces may go again, in order
  assert.deepEqual(log.slice(-2), ['start bot', 'start search2']);
  q.release(20, false, 1);
  q.release(21, false, 1);
  q.release(22, false, 6);
  assert.equal(q.inFlight, 0);
  // All costs given back: four cheap flooding requests fill the headroom again, no more.
  const results = [0, 1, 2, 3, 4].map((i) => q.admit(tiered(2, flood, log, `b${i}`), 30 + i));
  assert.deepEqual(results, ['started', 'started', 'started', 'started', 'queued']);
});

test('under attack, tunnel messages holding half the limit wait for requests of the same standing; with no request waiting they take every slot', () => {
  let since = -Infinity;
  const q = createAdmissionQueue({ maxInFlight: 4, maxQueue: 100, queueTimeoutMs: 60_000, challengesSince: () => since });
  const log: string[] = [];
  const nojs = tierFor(STANDING.checked, 0);
  const message = (name: string): Waiter => ({ ...tiered(2, tierFor(STANDING.checked, 1), log, name), message: true });
  const releaseMessage = (now: number): void => q.release(now, true);
  // Normal times: messages and requests share by deadline only.
  for (let i = 0; i < 4; i++) q.admit(message(`m${i}`), i);
  assert.equal(q.messagesInFlight, 4, 'with nobody waiting, messages take every slot');
  q.admit(message('m4'), 5);
  q.admit(tiered(2, nojs, log, 'page0'), 600); // deadline 2100, after m4's 1505
  releaseMessage(700);
  assert.deepEqual(log.slice(-1), ['start m4'], 'in normal times the earlier deadline goes first');
  for (let i = 0; i < 4; i++) releaseMessage(800);
  assert.equal(q.inFlight, 1);
  q.release(810); // page0 done
  assert.equal(q.inFlight, 0);

  since = 1000; // challenges begin
  log.length = 0;
  for (let i = 0; i < 4; i++) q.admit(message(`bot${i}`), 1000 + i);
  assert.equal(q.messagesInFlight, 4, 'still work-conserving: no request waits');
  for (let i = 4; i < 8; i++) q.admit(message(`bot${i}`), 1010 + i);
  q.admit(tiered(2, nojs, log, 'page1'), 1600); // deadlines: bots 2514–2517, page1 2600
  q.admit(tiered(2, nojs, log, 'page2'), 1601);
  releaseMessage(1700);
  assert.deepEqual(log.slice(-1), ['start page1'], 'four messages in flight of four: the request goes first');
  releaseMessage(1701);
  assert.deepEqual(log.slice(-1), ['start page2'], 'three of four is still past the half');
  releaseMessage(1702);
  assert.deepEqual(log.slice(-1), ['start bot4'], 'no request waits: a message takes the slot');
  assert.equal(q.messagesInFlight, 2);
  q.admit(tiered(2, nojs, log, 'page3'), 1710);
  q.release(1720); // page1 done: messages hold 2 of 4, the half
  assert.deepEqual(log.slice(-1), ['start page3'], 'at the half, the request before older messages');
  q.release(1730); // page2 done
  assert.deepEqual(log.slice(-1), ['start bot5']);
  assert.equal(q.messagesInFlight, 3);
  assert.equal(q.inFlight, 4);
  since = -Infinity; // the attack ends
  q.admit(tiered(2, nojs, log, 'page4'), 1740);
  releaseMessage(1750);
  assert.deepEqual(log.slice(-1), ['start bot6'], 'in normal times the earlier deadline goes first again');
});

test('under attack, tunnel work past its half waits for requests of its own group or a better one, not a worse group\'s: a known customer\'s handshake goes before newcomers\' pages', () => {
  const q = createAdmissionQueue({ maxInFlight: 2, maxQueue: 100, queueTimeoutMs: 60_000, challengesSince: () => 0 });
  const log: string[] = [];
  const nojs = tierFor(STANDING.checked, 0);
  const known = tierFor(STANDING.recent, 0);
  const tunnel = (tier: number, name: string): Waiter => ({ ...tiered(2, tier, log, name), message: true });
  q.admit(tunnel(nojs, 'bot-msg'), 0); // tunnel work holds one slot of two: the half
  q.admit(tiered(2, nojs, log, 'busy'), 0);
  q.admit(tiered(2, nojs, log, 'newcomer-page'), 10);
  q.admit(tunnel(nojs, 'bot-handshake'), 5); // the minted group's: after its pages
  q.admit(tunnel(known, 'customer-handshake'), 20); // the known group's: before the minted group's pages
  q.release(100);
  assert.deepEqual(log.slice(-1), ['start customer-handshake']);
  q.release(110, true);
  assert.deepEqual(log.slice(-1), ['start newcomer-page'], 'a minted handshake still waits for the minted pages');
  q.release(120);
  assert.deepEqual(log.slice(-1), ['start bot-handshake'], 'no request waits: tunnel work takes the slot');
});

test('a waiting message that tells its tier itself is re-read at the head like a request (its sender flooded since it was placed); the hook still judges the rest', () => {
  let messageTier = tierFor(STANDING.checked, 0);
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 20, queueTimeoutMs: 60_000, retier: (w) => w.tier as number });
  const log: string[] = [];
  const nojs = tierFor(STANDING.checked, 0);
  q.admit(tiered(2, nojs, log, 'busy'), 0);
  q.admit({ ...tiered(2, nojs, log, 'bot-msg'), message: true, tierNow: () => messageTier }, 1);
  q.admit(tiered(2, nojs, log, 'page'), 2);
  messageTier = tierFor(STANDING.checked, 3); // its tunnels' backlog showed
  q.release(10);
  assert.deepEqual(log.slice(-1), ['start page'], 'the message moved behind the page that came after it');
  q.release(20);
  assert.deepEqual(log.slice(-1), ['start bot-msg'], 'with nobody better waiting it still goes');
  // Without a retier hook (detection off) nothing is re-read.
  const plain = createAdmissionQueue({ maxInFlight: 1, maxQueue: 20, queueTimeoutMs: 60_000 });
  const log2: string[] = [];
  plain.admit(tiered(2, nojs, log2, 'busy'), 0);
  plain.admit({ ...tiered(2, nojs, log2, 'msg'), message: true, tierNow: () => tierFor(STANDING.checked, 3) }, 1);
  plain.admit(tiered(2, nojs, log2, 'page'), 2);
  plain.release(10);
  assert.deepEqual(log2.slice(-1), ['start msg']);
});

test('a full queue pushes out a waiting message before a request of the same group', () => {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 2, queueTimeoutMs: 60_000 });
  const log: string[] = [];
  const nojs = tierFor(STANDING.checked, 0);
  q.admit(tiered(2, nojs, log, 'busy'), 0);
  q.admit({ ...tiered(2, nojs, log, 'msg'), message: true }, 1);
  q.admit(tiered(2, nojs, log, 'page'), 2); // the newest, yet the message leaves
  assert.equal(q.admit(tiered(0, nojs, log, 'login'), 3), 'queued');
  assert.deepEqual(log.slice(-1), ['reject msg pushed-out']);
});

test('queueTier: a logged-in customer\'s page is filed as established only while the queue is strict, and says so for the pace re-read', async () => {
  const { queueTier } = await import('../../src/shield/upstream/queue-tier.js');
  let strict = false;
  const queue = { knownStrict: () => strict } as unknown as Parameters<typeof queueTier>[1];
  const ctx = { tier: tierFor(STANDING.checked, 1), authenticated: true, queueStanding: undefined } as unknown as Parameters<typeof queueTier>[0];
  assert.equal(queueTier(ctx, queue, 0), tierFor(STANDING.checked, 1));
  assert.equal(ctx.queueStanding, undefined);
  strict = true;
  assert.equal(queueTier(ctx, queue, 0), tierFor(STANDING.established, 1));
  assert.equal(ctx.queueStanding, STANDING.established);
  const stranger = { tier: tierFor(STANDING.checked, 0) } as unknown as Parameters<typeof queueTier>[0];
  assert.equal(queueTier(stranger, queue, 0), tierFor(STANDING.checked, 0), 'no session: its own tier, whatever the mode');
});

test('a waiter that defers when about to start steps out (its slot goes to the next), and starts when admitted again', () => {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 10, queueTimeoutMs: 10_000 });
  const log: string[] = [];
  let holding = true;
  const probed = (name: string): Waiter => ({ ...waiter(2, log, name), defer: () => { if (holding) log.push(`defer ${name}`); return holding; } });
  // Free slot, empty queue: it steps out at once and takes nothing.
  const first = probed('first');
  assert.equal(q.admit(first, 0), 'queued');
  assert.equal(first.state, 'new');
  assert.equal(q.inFlight, 0);
  assert.equal(q.queued, 0);
  q.admit(waiter(2, log, 'busy'), 1);
  const second = probed('second');
  q.admit(second, 2);
  q.admit(waiter(2, log, 'after'), 3);
  q.release(10); // busy ends: second reaches the head, defers, and `after` takes the slot
  assert.deepEqual(log, ['defer first', 'start busy', 'defer second', 'start after']);
  assert.equal(q.queued, 0);
  assert.equal(second.state, 'new');
  // Let go by the probe, it is admitted again and starts.
  holding = false;
  q.release(20);
  assert.equal(q.admit(second, 20), 'started');
  assert.deepEqual(log.slice(-1), ['start second']);
});

test('a waiter admitted again as of its arrival is filed by it: before those that came while it was held, timed from it', () => {
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 10, queueTimeoutMs: 1000 });
  const log: string[] = [];
  let holding = true;
  const held: Waiter = { ...waiter(2, log, 'held'), defer: () => holding };
  q.admit(waiter(2, log, 'busy'), 0);
  q.admit(held, 10);
  q.release(20); // it reaches the head and steps out (the cost probe holds it)
  assert.equal(held.state, 'new');
  q.admit(waiter(2, log, 'busy2'), 25); // takes the free slot
  q.admit(waiter(2, log, 'later1'), 30);
  q.admit(waiter(2, log, 'later2'), 40);
  holding = false;
  assert.equal(q.admit(held, 50, 10), 'queued');
  assert.equal(held.enqueuedAt, 10);
  q.release(60);
  assert.deepEqual(log.slice(-1), ['start held'], 'its arrival puts it before those that came while it was held');
  // Timed from its arrival too: another held one let go past its timeout is refused at the next expiry.
  const old: Waiter = waiter(2, log, 'old');
  q.admit(old, 1005, 5);
  q.expire(1010);
  assert.ok(log.includes('reject old queue-timeout'), log.join(', '));
});

test('the admission mode names what put known customers strictly first: idle it shares; a minted group arriving faster than the upstream completes is load', () => {
  const log: string[] = [];
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 1000, queueTimeoutMs: 10_000, knownFirstMs: [0, 750, 3000, 3500], retier: (w) => w.tier as number });
  assert.deepEqual(q.mode(0), { strict: false, why: 'shared', floodingShare: 0, mintedLoad: 0, backlogS: 0, newestFirst: false });
  const nojs = tierFor(STANDING.checked, 0);
  q.admit(tiered(2, 0, log, 'busy'), 0);
  for (let i = 0; i < 40; i++) q.admit(tiered(2, nojs, log, `bot${i}`), i * 10);
  for (let i = 0; i < 4; i++) q.release(400 + i * 100);
  const m = q.mode(800);
  assert.equal(m.strict, true);
  assert.equal(m.why, 'load');
  assert.ok(m.mintedLoad > 1.5, String(m.mintedLoad));
  assert.equal(q.knownStrict(800), m.strict);
  // Without the bound, known customers always go first.
  assert.equal(createAdmissionQueue({ maxInFlight: 1, maxQueue: 10, queueTimeoutMs: 1000 }).mode(0).why, 'no-bound');
});
