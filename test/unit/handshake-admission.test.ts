import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAdmissionQueue, type Waiter } from '../../src/shield/upstream/admission.js';
import { admitHandshake } from '../../src/shield/upstream/handshake-admission.js';
import type { RequestContext } from '../../src/shield/context.js';

function request(rank: number, tier: number, log: string[], name: string): Waiter {
  return { rank, tier, enqueuedAt: 0, state: 'new', start: () => log.push(`start ${name}`), reject: (why) => log.push(`reject ${name} ${why}`) };
}
/** The fields of a request context the handshake's waiter reads and writes. */
const ctxOf = (routeClass: RequestContext['routeClass'], tier: number): RequestContext =>
  ({ routeClass, admissionClass: undefined, tier, queueMs: undefined, admittedTier: undefined }) as unknown as RequestContext;

test('handshake admission: starts at once on a free slot and holds it until released (once)', () => {
  let now = 0;
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 4, queueTimeoutMs: 1_000 });
  const log: string[] = [];
  let release: (() => void) | undefined;
  const ctx = ctxOf('normal', 2);
  admitHandshake(q, ctx, () => now, (r) => { log.push('start handshake'); release = r; }, (code) => log.push(code));
  assert.deepEqual(log, ['start handshake']);
  assert.equal(ctx.queueMs, 0);
  assert.equal(q.inFlight, 1);
  q.admit(request(2, 0, log, 'page'), now);
  release!();
  release!(); // a second release must not free a slot someone else holds
  assert.equal(q.inFlight, 1, 'the page took the slot; the double release gave nothing more back');
  assert.deepEqual(log, ['start handshake', 'start page']);
});

test('handshake admission: waits in its route\'s class at its client\'s tier — a known customer\'s before a newcomer\'s, a critical page before both', () => {
  let now = 0;
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 10, queueTimeoutMs: 10_000 });
  const log: string[] = [];
  q.admit(request(2, 0, log, 'busy'), now);
  now += 1;
  admitHandshake(q, ctxOf('normal', 8), () => now, () => log.push('start newcomer handshake'), (c) => log.push(c));
  now += 1;
  const known = ctxOf('normal', 0);
  admitHandshake(q, known, () => now, () => log.push('start known handshake'), (c) => log.push(c));
  q.admit(request(0, 0, log, 'login'), now);
  for (let i = 0; i < 3; i++) q.release(now += 10);
  assert.deepEqual(log, ['start busy', 'start login', 'start known handshake', 'start newcomer handshake']);
  assert.equal(known.queueMs, 20, 'the access log gets its wait');
  assert.equal(known.admittedTier, 0);
});

test('handshake admission: a full queue or a queue timeout refuses it with the code a request would get; a cancelled one never starts', () => {
  let now = 0;
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 1, queueTimeoutMs: 500 });
  const log: string[] = [];
  q.admit(request(2, 0, log, 'busy'), now);
  q.admit(request(2, 0, log, 'queued'), now);
  admitHandshake(q, ctxOf('normal', 8), () => now, () => log.push('start full'), (c) => log.push(`full ${c}`));
  assert.deepEqual(log, ['start busy', 'full RMP_ERR_UPSTREAM_BUSY']);
  q.release(now += 10); // 'queued' starts
  admitHandshake(q, ctxOf('normal', 8), () => now, () => log.push('start slow'), (c) => log.push(`slow ${c}`));
  q.expire(now += 600);
  assert.deepEqual(log.slice(2), ['start queued', 'slow RMP_ERR_QUEUE_TIMEOUT']);
  const cancel = admitHandshake(q, ctxOf('normal', 8), () => now, () => log.push('start cancelled'), (c) => log.push(`cancelled ${c}`));
  assert.equal(cancel(), true, 'it was waiting');
  assert.equal(cancel(), false, 'once only');
  q.release(now += 10);
  assert.equal(q.inFlight, 0, 'the slot stays free: the cancelled handshake is gone');
  assert.deepEqual(log.slice(4), []);
});

test('handshake admission: tunnel work under attack — once handshakes hold half the limit, a page queued after a handshake goes first; in normal times, arrival order', () => {
  for (const attack of [false, true]) {
    let now = 0;
    const q = createAdmissionQueue({ maxInFlight: 2, maxQueue: 10, queueTimeoutMs: 10_000, challengesSince: () => (attack ? 0 : -Infinity) });
    const log: string[] = [];
    const releases: (() => void)[] = [];
    const handshake = (name: string): void => {
      admitHandshake(q, ctxOf('normal', 6), () => now, (r) => { log.push(`start ${name}`); releases.push(r); }, (c) => log.push(c));
    };
    handshake('h1');
    q.admit(request(2, 6, log, 'busy'), now);
    assert.equal(q.messagesInFlight, 1, 'a started handshake counts as tunnel work');
    now += 1;
    handshake('h2'); // queued first
    now += 1;
    q.admit(request(2, 6, log, 'page'), now); // same class and tier, queued after it
    q.release(now += 10); // 'busy' done: h1 holds one slot of two, the half
    assert.deepEqual(log.slice(-1), [attack ? 'start page' : 'start h2'],
      attack ? 'under attack, with handshakes holding half the limit, the request goes first' : 'in normal times the earlier arrival goes first');
    releases.shift()!(); // h1's answer: its slot goes back as tunnel work
    assert.deepEqual(log.slice(-1), [attack ? 'start h2' : 'start page'], 'with no request waiting, the handshake takes the slot');
    assert.equal(q.messagesInFlight, 1, 'one handshake in flight again, the other released');
    assert.equal(q.inFlight, 2);
  }
});
