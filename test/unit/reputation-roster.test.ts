import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReputationRoster, SURGE_HISTORY_MS, WAKE_LEAD_MS, WAKE_LIFT, WAKE_MIN } from '../../src/shield/reputation/roster.js';

test('roster: a reputation keeps its first sighting while it is seen within the memory, and is forgotten past it', () => {
  const r = createReputationRoster({ maxIds: 100, memoryMs: 60_000 });
  assert.equal(r.see('a', 1000, true), 1000, 'never seen: first now');
  assert.equal(r.see('a', 50_000, true), 1000);
  assert.equal(r.see('a', 100_000, true), 1000, 'each sighting renews the memory');
  assert.equal(r.see('a', 170_000, true), 170_000, 'unseen for 70 s: forgotten, first again');
});

test('roster: memory is bounded by maxIds, the least recently seen dropped first', () => {
  const r = createReputationRoster({ maxIds: 100, memoryMs: 3_600_000 });
  r.see('kept', 0, true);
  for (let i = 0; i < 1000; i++) {
    r.see(`bot${i}`, i + 1, true);
    if (i % 50 === 0) r.see('kept', i + 1, true); // seen again and again: never the least recent
    assert.ok(r.size <= 100, `size ${r.size} after ${i + 1}`);
  }
  assert.equal(r.see('kept', 2000, true), 0, 'the busy one kept its first sighting');
  assert.equal(r.see('bot0', 2000, true), 2000, 'the first bots were dropped: first again');
});

/** 30 customers seen before an attack whose first suspicion is at 10 s; `late` reputations first presented after it. */
function afterOnset(late: number, before = 30) {
  const r = createReputationRoster({ maxIds: 10_000, memoryMs: 3_600_000 });
  for (let i = 0; i < before; i++) r.see(`customer${i}`, 1000 + i * 10, true);
  for (let i = 0; i < late; i++) r.see(`late${i}`, 9500 + i, true); // from half a second before the suspicion on
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

/**
 * A site whose customers are first seen one a second from 0 on; `surge` reputations first
 * presented within 2 s from `surgeAt` (`returning`: issued long before, else as they were minted).
 */
function surgeBefore(surgeAt: number, surge: number, returning = true) {
  const r = createReputationRoster({ maxIds: 10_000, memoryMs: 3_600_000 });
  const firsts: Record<string, number> = {};
  for (let t = 0; t < 30 * 60_000; t += 1000) {
    firsts[`customer${t}`] = r.see(`customer${t}`, t, t % 2000 === 0); // half of them newcomers
    if (t === surgeAt) for (let i = 0; i < surge; i++) firsts[`farmed${i}`] = r.see(`farmed${i}`, t + i * (2000 / surge), returning);
  }
  return { r, firsts };
}

test('roster: a surge of first sightings in the hour before an attack (a farm presenting its reputations once before the flood) is woken; the customers first seen at their usual rate then are not', () => {
  const attack = 30 * 60_000; // first suspicion
  const { r, firsts } = surgeBefore(20 * 60_000, 300);
  assert.equal(r.woken(firsts.farmed0 as number, attack, attack + 2000), true, 'first seen 10 min before the attack, with 299 others within 2 s');
  assert.equal(r.woken(firsts.farmed299 as number, attack, attack + 2000), true);
  assert.equal(r.woken(firsts[`customer${15 * 60_000}`] as number, attack, attack + 2000), false, 'a customer first seen 15 min before, at the usual rate');
  // The same surge 70 minutes before the attack: past the roster's memory, nothing to hold against it.
  assert.equal(r.woken(firsts.farmed0 as number, 20 * 60_000 + 70 * 60_000, 20 * 60_000 + 70 * 60_000 + 2000), false);
});

test('roster: a farm that presented its reputations as it minted them, in a burst within the hour before the attack, is woken there too', () => {
  const attack = 30 * 60_000;
  const { r, firsts } = surgeBefore(20 * 60_000, 300, false);
  const why = r.explain(firsts.farmed0 as number, attack, attack + 2000);
  assert.equal(why?.kind, 'surge');
  assert.equal(r.woken(firsts[`customer${15 * 60_000}`] as number, attack, attack + 2000), false);
});

test('roster: aged reputations joining gradually before the onset (a farm ramping up below detection) surge among the returning ones, on a site whose newcomers would hide them among all first sightings', () => {
  const r = createReputationRoster({ maxIds: 100_000, memoryMs: 3_600_000 });
  const attack = 30 * 60_000;
  for (let t = 0; t < attack; t += 200) r.see(`newcomer${t}`, t, false); // five newcomers a second
  for (let t = 0; t < attack; t += 2000) r.see(`customer${t}`, t + 1, true); // a returning customer every 2 s
  // From two minutes before the attack, 300 farmed reputations over 20 s: 15 a second, under four
  // times all first sightings' usual 5.5, over four times the returning ones' 0.5.
  const first = r.see('farmed0', attack - 120_000, true);
  for (let i = 1; i < 300; i++) r.see(`farmed${i}`, attack - 120_000 + (i * 20_000) / 300, true);
  const why = r.explain(first, attack, attack + 2000);
  assert.equal(why?.kind, 'surge');
  assert.equal(why?.baselinePerS, 0.5, 'judged against the returning ones');
  assert.equal(r.woken(r.firstSeen('customer1200000') as number, attack, attack + 2000), false);
});

test('roster: a farm ramping up from nothing, on a site with no returning customer in the hour, is woken before and after the onset — the returning first sightings\' usual rate counts the empty bins the roster watched', () => {
  const r = createReputationRoster();
  for (let i = 0; i < 300; i++) r.see(`newcomer${i}`, 1000 + i * 60, false); // newcomers in the first 20 s
  const firsts: number[] = [];
  for (let i = 0; i < 2000; i++) firsts.push(r.see(`farmed${i}`, 330_000 + Math.sqrt(i) * 1000, true)); // i bots by 330 + sqrt(i) s
  const attack = 345_500; // the first suspicion, 15.5 s into the ramp
  for (const i of [0, 100, 200]) assert.equal(r.explain(firsts[i] as number, attack, attack + 5000)?.kind, 'surge', `bot ${i}, before the onset`);
  for (const i of [230, 400, 1999]) assert.equal(r.explain(firsts[i] as number, attack, (firsts[i] as number) + 2000)?.kind, 'onset', `bot ${i}, after it`);
});

test('roster: no surge is judged on less than SURGE_HISTORY_MS of history — a shield restarted under traffic sees its whole clientele first at once', () => {
  const { r, firsts } = surgeBefore(SURGE_HISTORY_MS - 60_000, 300);
  assert.equal(r.woken(firsts.farmed0 as number, 30 * 60_000, 30 * 60_000 + 2000), false);
  const later = surgeBefore(SURGE_HISTORY_MS + 60_000, 300);
  assert.equal(later.r.woken(later.firsts.farmed0 as number, 30 * 60_000, 30 * 60_000 + 2000), true, 'the same surge a minute past the history needed');
});

test('roster: a reputation that woke in the onset\'s burst stays woken however long the attack lasts; one first presented an hour into it, as customers return, does not', () => {
  const r = createReputationRoster({ maxIds: 10_000, memoryMs: 3_600_000 });
  for (let t = 0; t < 10 * 60_000; t += 1000) r.see(`customer${t}`, t, true); // one new face a second
  const attack = 10 * 60_000;
  const farmed = r.see('farmed0', attack + 100, true);
  for (let i = 1; i < 2000; i++) r.see(`farmed${i}`, attack + 100 + i, true); // 2,000 in 2 s
  let late = 0;
  for (let t = attack + 5000; t < attack + 50 * 60_000; t += 1000) late = r.see(`returning${t}`, t, true); // customers return as before
  const now = attack + 50 * 60_000;
  assert.equal(r.woken(farmed, attack, now), true, '50 minutes into the attack');
  assert.equal(r.woken(late, attack, now), false);
});

test('roster: at the onset only returning reputations count — newcomers\' reputations, presented in the visit that earned them, neither lift the baseline nor make a wake-up', () => {
  const r = createReputationRoster({ maxIds: 50_000, memoryMs: 3_600_000 });
  for (let t = 0; t < 10 * 60_000; t += 1000) r.see(`customer${t}`, t, true); // returning customers, one a second
  const attack = 10 * 60_000;
  // A stream of fresh reputations just before the onset (a flash crowd of newcomers, or an attacker
  // minting them to lift the rate the farm is judged against): 20,000 in 10 s, 34 a second over
  // the ten minutes the roster saw, and the farm's 50 a second is under four times that.
  for (let i = 0; i < 20_000; i++) r.see(`fresh${i}`, attack - 11_000 + i / 2, false);
  const farmed = r.see('farmed0', attack, true);
  for (let i = 1; i < 200; i++) r.see(`farmed${i}`, attack + i * 10, true); // 200 in 2 s
  assert.equal(r.woken(farmed, attack, attack + 3000), true);
  // 3,000 newcomers first presented after the onset are no wake-up for a customer among them.
  const q = createReputationRoster({ maxIds: 20_000, memoryMs: 3_600_000 });
  for (let t = 0; t < 10 * 60_000; t += 1000) q.see(`customer${t}`, t, true);
  for (let i = 0; i < 3000; i++) q.see(`fresh${i}`, attack + i, false);
  const returning = q.see('returning', attack + 1500, true);
  assert.equal(q.woken(returning, attack, attack + 3000), false);
});

test('roster: a burst of first sightings within the hour before (a poisoner presenting other reputations) does not lift the usual rate; a stream over most of the hour does', () => {
  const attack = 60 * 60_000;
  const farmAt = (r: ReturnType<typeof createReputationRoster>): number => {
    const first = r.see('farmed0', attack, true);
    for (let i = 1; i < 200; i++) r.see(`farmed${i}`, attack + i * 50, true); // 200 in 10 s: 20 a second
    return first;
  };
  const r = createReputationRoster({ maxIds: 100_000, memoryMs: 3_600_000 });
  for (let t = 0; t < attack - 2000; t += 1000) r.see(`customer${t}`, t, true); // the usual: one a second
  // 20,000 others presented over the minute five minutes before: the hour's mean is 6.6 a second,
  // over a quarter of the farm's 20; the median of its 10 s bins stays at one.
  for (let i = 0; i < 20_000; i++) r.see(`poison${i}`, attack - 5 * 60_000 + i * 3, true);
  const first = farmAt(r);
  const why = r.explain(first, attack, attack + 12_000);
  assert.ok(why !== undefined, 'woken despite the burst');
  assert.equal(why.kind, 'onset');
  assert.equal(why.baselinePerS, 1);
  assert.ok(why.observedPerS > WAKE_LIFT * why.baselinePerS);
  // Poison kept up over 40 minutes of the hour: the usual rate is what it was most of the hour.
  const s = createReputationRoster({ maxIds: 100_000, memoryMs: 3_600_000 });
  for (let t = 0; t < attack - 2000; t += 1000) s.see(`customer${t}`, t, true);
  for (let t = attack - 45 * 60_000; t < attack - 5 * 60_000; t += 200) s.see(`poison${t}`, t, true); // 5 a second for 40 min
  assert.equal(s.woken(farmAt(s), attack, attack + 12_000), false, 'a sustained poisoning (12,000 aged reputations over 40 minutes) is not caught');
});

test('roster: a woken reputation is counted once per attack', () => {
  const r = createReputationRoster({ maxIds: 100, memoryMs: 60_000 });
  r.see('a', 1000, true);
  assert.equal(r.markWoken('a', 5000), true);
  assert.equal(r.markWoken('a', 5000), false, 'the same attack');
  assert.equal(r.markWoken('a', 90_000), true, 'a later attack');
  assert.equal(r.markWoken('never', 5000), false);
});

test('roster: seenSince walks the reputations presented since a moment, the most recently presented first', () => {
  const r = createReputationRoster({ maxIds: 100, memoryMs: 60_000 });
  r.see('a', 1000, true);
  r.see('b', 2000, false);
  r.see('c', 3000, true);
  r.see('a', 4000, true);
  assert.deepEqual([...r.seenSince(2500)], [
    { id: 'a', first: 1000, last: 4000, returning: true },
    { id: 'c', first: 3000, last: 3000, returning: true },
  ]);
  assert.deepEqual([...r.seenSince(0)].map((e) => e.id), ['a', 'c', 'b']);
});

test('roster: restored after a restart, the customers keep their first sightings and a surge before the restart is judged after it; nothing is taken into a roster that has seen something', () => {
  const { r, firsts } = surgeBefore(20 * 60_000, 300);
  const saved = [...r.seenSince(-Infinity)];
  // Down from 30 to 31 minutes; the attack's first suspicion at 32.
  const q = createReputationRoster({ maxIds: 10_000, memoryMs: 3_600_000 });
  assert.equal(q.restore(saved, 30 * 60_000, 31 * 60_000), true);
  assert.equal(q.size, r.size);
  const attack = 32 * 60_000;
  assert.equal(q.see('farmed0', 31 * 60_000 + 5000, true), firsts.farmed0, 'the farm keeps its first sighting');
  assert.equal(q.see(`customer${15 * 60_000}`, 31 * 60_000 + 5000, true), firsts[`customer${15 * 60_000}`]);
  assert.equal(q.woken(firsts.farmed0 as number, attack, attack + 2000), true, 'the surge of 20 minutes before, judged after the restart');
  assert.equal(q.woken(firsts[`customer${15 * 60_000}`] as number, attack, attack + 2000), false);
  // Not restored: the farm and the customers are first seen together after the restart, and no
  // surge is judged on a roster younger than SURGE_HISTORY_MS.
  const cold = createReputationRoster({ maxIds: 10_000, memoryMs: 3_600_000 });
  const farmFirst = cold.see('farmed0', 31 * 60_000 + 5000, true);
  for (let i = 0; i < 600; i++) cold.see(`customer${i}`, 31 * 60_000 + 5000 + i, true);
  assert.equal(cold.woken(farmFirst, attack, attack + 2000), false);
  assert.equal(q.restore(saved, 30 * 60_000, 31 * 60_000), false, 'q has seen reputations');
  // Past the memory, or beyond maxIds (the most recently presented kept), nothing is restored.
  const small = createReputationRoster({ maxIds: 10, memoryMs: 3_600_000 });
  assert.equal(small.restore(saved, 30 * 60_000, 31 * 60_000), true);
  assert.deepEqual([...small.seenSince(-Infinity)].map((e) => e.id), saved.slice(0, 10).map((e) => e.id));
  const late = createReputationRoster({ maxIds: 10_000, memoryMs: 3_600_000 });
  late.restore(saved, 30 * 60_000, 95 * 60_000);
  assert.equal(late.size, 0, 'down for 65 minutes: every reputation past the hour\'s memory');
});

test('roster: the time the shield was down counts for no rate — after 40 minutes down, customers returning as before are no wake-up', () => {
  const r = createReputationRoster({ maxIds: 10_000, memoryMs: 3_600_000 });
  for (let t = 0; t < 20 * 60_000; t += 1000) r.see(`customer${t}`, t, true); // one returning a second
  const q = createReputationRoster({ maxIds: 10_000, memoryMs: 3_600_000 });
  q.restore([...r.seenSince(-Infinity)], 20 * 60_000, 60 * 60_000);
  for (let t = 60 * 60_000; t < 61 * 60_000; t += 1000) q.see(`back${t}`, t, true);
  const attack = 61 * 60_000;
  // Three a second for 20 s from the onset (60): under four times the one a second the roster watched.
  let first = 0;
  for (let i = 0; i < 60; i++) { const f = q.see(`during${i}`, attack + i * 333, true); if (i === 30) first = f; }
  const why = q.explain(first, attack, attack + 20_000);
  assert.equal(why, undefined, `judged against the watched minutes only (${JSON.stringify(why)})`);
  // Counted as empty bins, the 40 minutes down would have made the usual rate 0.
  const unaware = createReputationRoster({ maxIds: 10_000, memoryMs: 3_600_000 });
  unaware.restore([...r.seenSince(-Infinity)], 60 * 60_000, 60 * 60_000);
  for (let t = 60 * 60_000; t < 61 * 60_000; t += 1000) unaware.see(`back${t}`, t, true);
  for (let i = 0; i < 60; i++) unaware.see(`during${i}`, attack + i * 333, true);
  assert.equal(unaware.explain(first, attack, attack + 20_000)?.baselinePerS, 0);
});

test('roster: an attack first suspected within a minute of a restart continues the one under way before it — the reputations that woke with it stay woken; one suspected later is a new attack', () => {
  const r = createReputationRoster({ maxIds: 10_000, memoryMs: 3_600_000 });
  for (let t = 0; t < 120_000; t += 1000) r.see(`customer${t}`, t, true); // two minutes of history
  const attack = 120_000;
  const farmed = r.see('farmed0', attack + 500, true);
  for (let i = 1; i < 2000; i++) r.see(`farmed${i}`, attack + 500 + i, true);
  assert.equal(r.woken(farmed, attack, attack + 3000), true, 'before the restart');
  const saved = [...r.seenSince(-Infinity)];
  // Stopped 5 s into the attack, back 2 s later; the restarted detector suspects the flood at +8.5 s.
  const carried = createReputationRoster({ maxIds: 10_000, memoryMs: 3_600_000 });
  carried.restore(saved, attack + 5000, attack + 7000, attack);
  assert.equal(carried.woken(farmed, attack + 8500, attack + 9000), true, 'the same attack');
  assert.equal(carried.woken(r.firstSeen('customer60000') as number, attack + 8500, attack + 9000), false);
  assert.equal(carried.woken(farmed, attack + 7000 + 61_000, attack + 70_000), false, 'suspected past CARRY_MS: another attack, whose onset the farm was not part of');
  // Restored without the attack: a new one at +8.5 s, and the farm first seen 8 s before its onset,
  // on too short a history for a surge.
  const fresh = createReputationRoster({ maxIds: 10_000, memoryMs: 3_600_000 });
  fresh.restore(saved, attack + 5000, attack + 7000);
  assert.equal(fresh.woken(farmed, attack + 8500, attack + 9000), false);
});
