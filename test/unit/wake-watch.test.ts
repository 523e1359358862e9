import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWakeWatch, type WakeEvent } from '../../src/shield/reputation/wake-watch.js';
import type { WakeReason } from '../../src/shield/reputation/roster.js';

const REASON: WakeReason = { kind: 'onset', firstSightings: 200, spanMs: 4000, observedPerS: 50, baselinePerS: 1 };

test('wake watch: one event per attack, at its first woken reputation; reputations counted once, requests each time', () => {
  let wall = 1_000_000;
  let tick = 500;
  const events: WakeEvent[] = [];
  const w = createWakeWatch({ now: () => wall, tick: () => tick, emit: (e) => events.push(e) });
  assert.equal(w.state().last, null);
  let asked = 0;
  const reason = (): WakeReason => { asked++; return REASON; };
  w.woken(100, true, reason, false); // the attack's first suspicion 400 ms ago on the monotonic clock
  tick += 2000; wall += 2000;
  w.woken(100, true, reason, false);
  w.woken(100, false, reason, false); // the same reputation again
  assert.equal(events.length, 1);
  assert.equal(asked, 1, 'the reason is worked out once per attack');
  assert.equal(events[0]?.wakeUp.reputations, 1, 'the event carries the count when it was sent');
  const s = w.state();
  assert.deepEqual(s.last, { attackStartedAgoS: 2, firstAgoS: 2, reputations: 2, requests: 3, dryRun: false, reason: { kind: 'onset', firstSightings: 200, spanS: 4, observedPerS: 50, baselinePerS: 1 } });
  assert.equal(w.totalReputations, 2);
  // A later attack: a new wake-up, a new event; totals go on.
  w.woken(90_000, true, reason, true);
  assert.equal(events.length, 2);
  assert.equal(events[1]?.wakeUp.dryRun, true);
  assert.equal(w.state().last?.reputations, 1);
  assert.equal(w.state().totalWakeUps, 2);
  assert.equal(w.totalReputations, 3);
});

test('wake watch: no reason, no wake-up (the judgement changed between the request and the count)', () => {
  const events: WakeEvent[] = [];
  const w = createWakeWatch({ now: () => 0, tick: () => 0, emit: (e) => events.push(e) });
  w.woken(100, true, () => undefined, false);
  assert.equal(events.length, 0);
  assert.equal(w.totalReputations, 0);
});
