import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReputationRoster, WAKE_LEAD_MS, WAKE_LIFT, WAKE_MIN } from '../../src/shield/reputation/roster.js';

test('roster: a reputation keeps its first sighting while it is seen within the memory, and is forgotten past it', () => {
  const r = createReputationRoster({ maxIds: 100, memoryMs: 60_000 });
  assert.equal(r.see('a', 1000), 1000, 'never seen: first now');
  assert.equal(r.see('a', 50_000), 1000);
  assert.equal(r.see('a', 100_000), 1000, 'each sighting renews the memory');
  assert.equal(r.see('a', 170_000), 170_000, 'unseen for 70 s: forgotten, first again');
});

test('roster: memory is bounded by maxIds, the least recently seen dropped first', () => {
  const r = createReputationRoster({ maxIds: 100, memoryMs: 3_600_000 });
  r.see('kept', 0);
  for (let i = 0; i < 1000; i++) {
    r.see(`bot${i}`, i + 1);
    if (i % 50 === 0) r.see('kept', i + 1); // seen again and again: never the least recent
    assert.ok(r.size <= 100, `size ${r.size} after ${i + 1}`);
  }
  assert.equal(r.see('kept', 2000), 0, 'the busy one kept its first sighting');
  assert.equal(r.see('bot0', 2000), 2000, 'the first bots were dropped: first again');
});

/** 30 customers seen before an attack whose first suspicion is at 10 s; `late` reputations first presented after it. */
function afterOnset(late: number, before = 30) {
  const r = createReputationRoster({ maxIds: 10_000, memoryMs: 3_600_000 });
  for (let i = 0; i < before; i++) r.see(`customer${i}`, 1000 + i * 10);
  for (let i = 0; i < late; i++) r.see(`late${i}`, 9500 + i); // from half a second before the suspicion on
  return r;
}

test('roster: reputations that wake in their hundreds with an attack are woken; the customers seen before it are not', () => {
  const r = afterOnset(2000);
  const now = 12_000;
  assert.equal(r.woken(9500, 10_000, now), true, 'first presented half a second before the first suspicion: the onset');
  assert.equal(r.woken(11_000, 10_000, now), true);
  assert.equal(r.woken(10_000 - WAKE_LEAD_MS - 1, 10_000, now), false, 'seen before the onset: known');
  assert.equal(r.woken(1000, 10_000, now), false, 'a customer the attack found on the site');
});

test('roster: returning customers who arrive during an attack about as they did before it are no wake-up; a burst of first sightings is', () => {
  assert.equal(afterOnset(WAKE_MIN - 1).woken(11_000, 10_000, 12_000), false, `under ${WAKE_MIN} first sightings`);
  // 100 reputations first seen over the 8 s the roster saw before the onset (9 s): 12.5 a second.
  assert.equal(afterOnset(60, 100).woken(11_000, 10_000, 12_000), false, '60 in the 3 s since: 20 a second, under four times that');
  assert.equal(afterOnset(200, 100).woken(11_000, 10_000, 12_000), true, `200 in 3 s: past ${WAKE_LIFT} times the rate before`);
});
