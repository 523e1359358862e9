import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ANONYMOUS_TIER, createAdmissionQueue, STANDING, tierFor, type Waiter } from '../../src/shield/upstream/admission.js';
import { createMessageGate } from '../../src/shield/upstream/message-admission.js';

function request(rank: number, tier: number, log: string[], name: string): Waiter {
  return { rank, tier, enqueuedAt: 0, state: 'new', start: () => log.push(`start ${name}`), reject: (why) => log.push(`reject ${name} ${why}`) };
}

test('message gate: contended only while requests wait or the upstream is at its limit', () => {
  let now = 0;
  const q = createAdmissionQueue({ maxInFlight: 2, maxQueue: 10, queueTimeoutMs: 10_000 });
  const gate = createMessageGate(q, () => now, () => 20);
  const log: string[] = [];
  assert.equal(gate.contended(), false);
  q.admit(request(2, 0, log, 'a'), now);
  assert.equal(gate.contended(), false, 'one slot of two in use');
  q.admit(request(2, 0, log, 'b'), now);
  assert.equal(gate.contended(), true, 'at the limit');
  q.release(++now);
  assert.equal(gate.contended(), false);
  assert.equal(gate.holdMs(), 40, 'twice the upstream\'s latency');
  assert.equal(gate.answerAfterMs(), 20, 'an answer counts from once a request would have taken');
});

test('message gate: a frame waits behind every request, even one of the worst client that came after it', () => {
  let now = 0;
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 10, queueTimeoutMs: 10_000 });
  const gate = createMessageGate(q, () => now, () => undefined);
  const log: string[] = [];
  q.admit(request(2, 0, log, 'page'), now);
  let release: (() => void) | undefined;
  gate.take((r) => { log.push('start frame'); release = r; });
  now += 5;
  q.admit(request(3, 9, log, 'flood'), now); // the lowest class at a flooding pace, queued after the frame
  q.admit(request(0, 0, log, 'login'), now);
  q.release(now += 10);
  q.release(now += 10);
  assert.deepEqual(log, ['start page', 'start login', 'start flood'], 'the frame is still waiting');
  q.release(now += 10);
  assert.deepEqual(log.at(-1), 'start frame');
  assert.equal(q.inFlight, 1, 'the frame holds its slot');
  release?.();
  release?.();
  assert.equal(q.inFlight, 0, 'given back once, however often release is called');
  assert.equal(gate.holdMs(), 100, 'without a latency estimate, a default hold');
});

test('message gate: a cancelled frame leaves the queue and is never granted; a slot granted after cancel goes straight back', () => {
  let now = 0;
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 10, queueTimeoutMs: 10_000 });
  const gate = createMessageGate(q, () => now, () => 10);
  const log: string[] = [];
  q.admit(request(2, 0, log, 'page'), now);
  const cancel = gate.take(() => log.push('granted'));
  assert.equal(q.queued, 1);
  cancel();
  assert.equal(q.queued, 0);
  q.release(++now);
  assert.deepEqual(log, ['start page']);
  assert.equal(q.inFlight, 0);
});

test('message gate: pushed out of a full queue by a request, a frame is not dropped — it asks again and goes once there is room', async () => {
  let now = 0;
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 1, queueTimeoutMs: 10_000 });
  const gate = createMessageGate(q, () => now, () => 10);
  const log: string[] = [];
  q.admit(request(2, 0, log, 'page'), now);
  let release: (() => void) | undefined;
  gate.take((r) => { log.push('granted'); release = r; });
  q.admit(request(2, 0, log, 'next'), ++now);
  assert.equal(q.queued, 1, 'the request took the frame\'s place');
  q.release(++now); // page done: next starts
  q.release(++now); // next done: nothing waits
  assert.deepEqual(log, ['start page', 'start next']);
  for (let i = 0; i < 50 && !log.includes('granted'); i++) await sleep(20);
  assert.deepEqual(log, ['start page', 'start next', 'granted']);
  release?.();
  assert.equal(q.inFlight, 0);
});

test('message gate: a granted frame counts as a message in flight until its slot goes back (admission rule 6)', () => {
  let now = 0;
  const q = createAdmissionQueue({ maxInFlight: 2, maxQueue: 10, queueTimeoutMs: 10_000 });
  const gate = createMessageGate(q, () => now, () => 20);
  const releases: Array<() => void> = [];
  gate.take((r) => releases.push(r), { rank: 2, tier: 6, done() {} });
  assert.equal(q.messagesInFlight, 1);
  assert.equal(q.inFlight, 1);
  const log: string[] = [];
  q.admit(request(2, 6, log, 'page'), ++now);
  assert.equal(q.messagesInFlight, 1, 'a request is not a message');
  releases[0]!();
  releases[0]!(); // twice: the slot goes back once
  assert.equal(q.messagesInFlight, 0);
  assert.equal(q.inFlight, 1);
});

test('message gate: a frame that asks again after being pushed out asks at its sender\'s tier now (it flooded meanwhile)', async () => {
  let now = 0;
  const q = createAdmissionQueue({ maxInFlight: 1, maxQueue: 1, queueTimeoutMs: 10_000 });
  const gate = createMessageGate(q, () => now, () => 10);
  const log: string[] = [];
  const nojs = tierFor(STANDING.checked, 0);
  let senderTier = nojs;
  q.admit(request(2, nojs, log, 'page'), now);
  gate.take(() => log.push('granted'), { rank: 2, tier: nojs, tierNow: () => senderTier, done() {} });
  q.admit(request(0, nojs, log, 'login'), ++now); // the queue is full: the frame is pushed out
  senderTier = tierFor(STANDING.checked, 3);
  q.release(++now); // the login starts
  for (let i = 0; i < 50 && q.queued === 0; i++) await sleep(20);
  assert.equal(q.queued, 1, 'the frame asked again');
  // A request with no token (tier 8) finds the queue full: it pushes the frame out only if the
  // frame now waits at a flooder's tier — at the tier it was placed at, it would be refused itself.
  q.admit(request(2, ANONYMOUS_TIER, log, 'anonymous'), ++now);
  q.release(++now);
  assert.deepEqual(log, ['start page', 'start login', 'start anonymous']);
  q.release(++now); // nothing else waits: the frame goes when it asks again
  for (let i = 0; i < 50 && !log.includes('granted'); i++) await sleep(20);
  assert.deepEqual(log, ['start page', 'start login', 'start anonymous', 'granted']);
});
