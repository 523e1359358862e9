import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  attackStep, clearForce, earlySuspectLine, forceAttack, initialAttackState, readSignals, suspectEarly, suspectOnStanding, DEFAULT_ATTACK_PARAMS,
  type AttackObservation, type AttackPhase, type AttackState, type AttackTransition,
} from '../../src/shield/detect/attack-state.js';
import { createPrng } from './prng.js';

/** Runs a scope second by second; returns the state, the transitions and the time. */
function runner(seed = 1) {
  const random = createPrng(seed);
  let state: AttackState = initialAttackState(0);
  let now = 0;
  const transitions: AttackTransition[] = [];
  const step = (obs: AttackObservation): AttackPhase => {
    now += 1000;
    const r = attackStep(state, obs, now);
    state = r.state;
    if (r.transition) transitions.push(r.transition);
    return state.phase;
  };
  // Normal traffic: ~100 req/s with Poisson-like noise, a few errors, 30% cookieless.
  const normal = (): AttackObservation => ({ arrivalsPerS: 100 + Math.round((random() - 0.5) * 20), saturation: 0.3, errorRatio: 0.01, cookielessShare: 0.3 });
  const warm = (): void => { for (let i = 0; i < 60; i++) assert.equal(step(normal()), 'normal'); };
  return { step, normal, warm, transitions, get state() { return state; }, get now() { return now; }, set state(s: AttackState) { state = s; } };
}

test('normal → suspect → under_attack on a sustained rate jump, with the reason', () => {
  const r = runner();
  r.warm();
  assert.equal(r.transitions.length, 0, 'noise alone is not an attack');
  assert.equal(r.step({ ...r.normal(), arrivalsPerS: 1200 }), 'suspect');
  const t = r.transitions[0]!;
  assert.equal(t.from, 'normal');
  assert.equal(t.reason.signal, 'arrival-rate');
  assert.equal(t.reason.observed, 1200);
  assert.ok(Math.abs(t.reason.baseline - 100) < 10, `baseline ${t.reason.baseline}`);
  assert.ok(t.reason.threshold > 100 && t.reason.threshold < 1200);
  assert.equal(r.step({ ...r.normal(), arrivalsPerS: 1200 }), 'suspect');
  assert.equal(r.step({ ...r.normal(), arrivalsPerS: 1200 }), 'under_attack', 'third hot second');
  assert.equal(r.transitions[1]?.reason.signal, 'arrival-rate');
});

test('suspect → normal when the jump was a blip', () => {
  const r = runner(2);
  r.warm();
  r.step({ ...r.normal(), arrivalsPerS: 900 });
  assert.equal(r.state.phase, 'suspect');
  for (let i = 0; i < DEFAULT_ATTACK_PARAMS.suspectClearS - 1; i++) assert.equal(r.step(r.normal()), 'suspect');
  assert.equal(r.step(r.normal()), 'normal');
  const t = r.transitions.at(-1)!;
  assert.deepEqual([t.from, t.to], ['suspect', 'normal']);
  assert.ok(t.reason.observed < t.reason.threshold, 'the reason shows the signal under the low line');
});

test('suspect → under_attack at once when the upstream saturates', () => {
  const r = runner(3);
  r.warm();
  r.step({ ...r.normal(), arrivalsPerS: 700 });
  assert.equal(r.step({ ...r.normal(), arrivalsPerS: 700, saturation: 1 }), 'under_attack');
  assert.equal(r.transitions.at(-1)?.reason.signal, 'saturation');
  // Queue wait counts as saturation too.
  const q = runner(4);
  q.warm();
  q.step({ ...q.normal(), cookielessShare: 0.9 });
  assert.equal(q.transitions.at(-1)?.reason.signal, 'cookieless-share');
  assert.equal(q.step({ ...q.normal(), queueWaitMs: 400 }), 'under_attack');
  assert.equal(q.transitions.at(-1)?.reason.signal, 'saturation');
  assert.equal(q.transitions.at(-1)?.reason.observed, 400);
});

test('under_attack holds while signals stay between the lines (hysteresis), then recovering → normal', () => {
  const r = runner(5);
  r.warm();
  for (let i = 0; i < 3; i++) r.step({ ...r.normal(), arrivalsPerS: 1500 });
  assert.equal(r.state.phase, 'under_attack');
  // 135/s is under the enter line (max(μ + 4σ, 1.5μ) = 150) but over the stay line (120): stays.
  const between = readSignals(r.state, { arrivalsPerS: 135 }).find((s) => s.signal === 'arrival-rate')!;
  assert.deepEqual([between.hot, between.elevated], [false, true]);
  for (let i = 0; i < 20; i++) assert.equal(r.step({ ...r.normal(), arrivalsPerS: 135 }), 'under_attack');
  for (let i = 0; i < DEFAULT_ATTACK_PARAMS.calmAfterS - 1; i++) assert.equal(r.step(r.normal()), 'under_attack');
  assert.equal(r.step(r.normal()), 'recovering');
  for (let i = 0; i < DEFAULT_ATTACK_PARAMS.coolDownS - 1; i++) assert.equal(r.step(r.normal()), 'recovering');
  assert.equal(r.step(r.normal()), 'normal');
  assert.deepEqual(r.transitions.map((t) => t.to), ['suspect', 'under_attack', 'recovering', 'normal']);
});

test('recovering → under_attack directly when the attack comes back (waves)', () => {
  const r = runner(6);
  r.warm();
  for (let i = 0; i < 3; i++) r.step({ ...r.normal(), arrivalsPerS: 1500 });
  for (let i = 0; i < DEFAULT_ATTACK_PARAMS.calmAfterS; i++) r.step(r.normal());
  assert.equal(r.state.phase, 'recovering');
  assert.equal(r.step({ ...r.normal(), arrivalsPerS: 1500 }), 'under_attack');
  assert.deepEqual(r.transitions.at(-1) && [r.transitions.at(-1)!.from, r.transitions.at(-1)!.reason.signal], ['recovering', 'arrival-rate']);
});

test('error-ratio jump is a signal; the baseline does not learn attack seconds', () => {
  const r = runner(7);
  r.warm();
  const learned = r.state.rate.samples;
  r.step({ ...r.normal(), errorRatio: 0.5 });
  assert.equal(r.state.phase, 'suspect');
  assert.equal(r.transitions.at(-1)?.reason.signal, 'error-ratio');
  for (let i = 0; i < 10; i++) r.step({ ...r.normal(), arrivalsPerS: 2000 });
  assert.equal(r.state.phase, 'under_attack');
  assert.equal(r.state.rate.samples, learned, 'no sample learned since the first hot second');
  assert.ok(r.state.rate.mean < 110);
});

test('a second that was not a population\'s (one client sent most of it) teaches no baseline', () => {
  const r = runner(9);
  for (let i = 0; i < 60; i++) assert.equal(r.step({ ...r.normal(), arrivalsPerS: 1, population: false }), 'normal');
  assert.equal(r.state.rate.samples, 0);
  assert.equal(r.state.errors.samples, 0);
  assert.equal(r.state.cookieless.samples, 0);
  r.warm();
  assert.equal(r.state.rate.samples, 60, 'a population\'s seconds are learned');
});

test('before warm-up only saturation counts', () => {
  const r = runner(8);
  for (let i = 0; i < 5; i++) r.step(r.normal());
  assert.equal(r.step({ ...r.normal(), arrivalsPerS: 5000 }), 'normal', 'no baseline yet: a rate means nothing');
  assert.deepEqual(readSignals(r.state, r.normal()).map((s) => s.signal), ['saturation']);
  assert.equal(r.step({ ...r.normal(), saturation: 1 }), 'suspect');
  assert.equal(r.step({ ...r.normal(), saturation: 1 }), 'under_attack');
});

test('an operator can force under_attack until a time; the signals decide again after it', () => {
  const r = runner(9);
  r.warm();
  const forced = forceAttack(r.state, r.now + 20_000, r.now);
  assert.deepEqual([forced.transition?.from, forced.transition?.to, forced.transition?.reason.signal], ['normal', 'under_attack', 'operator']);
  // Its reason says how long and until when, not a clock reading as an "observed" value.
  assert.deepEqual([forced.transition?.reason.observed, forced.transition?.reason.until], [20, r.now + 20_000]);
  r.state = forced.state;
  assert.equal(forceAttack(r.state, r.now + 30_000, r.now).transition, undefined, 'already under attack: no new transition');
  for (let i = 0; i < 19; i++) assert.equal(r.step(r.normal()), 'under_attack', 'calm, but forced');
  assert.equal(r.step(r.normal()), 'recovering', 'force over and calm for long enough');
  assert.equal(r.state.forcedUntil, undefined);
  // clearForce ends it early.
  const again = runner(10);
  again.warm();
  again.state = clearForce(forceAttack(again.state, again.now + 60_000, again.now).state);
  for (let i = 0; i < DEFAULT_ATTACK_PARAMS.calmAfterS; i++) again.step(again.normal());
  assert.equal(again.state.phase, 'recovering');
});

test('overrides change thresholds: a lower kHigh and quicker escalation', () => {
  let state = initialAttackState(0);
  let now = 0;
  for (let i = 0; i < 40; i++) state = attackStep(state, { arrivalsPerS: 100 }, (now += 1000)).state;
  const p = { kHigh: 2, rateLiftHigh: 1.1, attackAfterS: 1 };
  state = attackStep(state, { arrivalsPerS: 125 }, (now += 1000), p).state;
  assert.equal(state.phase, 'suspect');
  state = attackStep(state, { arrivalsPerS: 125 }, (now += 1000), p).state;
  assert.equal(state.phase, 'under_attack');
});

test('a flood\'s first second: suspicion as soon as its count reaches the hot line, and the same under_attack timing after', () => {
  const r = runner(11);
  r.warm();
  const windowStart = r.now;
  const line = earlySuspectLine(r.state, windowStart);
  assert.ok(Number.isFinite(line) && line > 110 && line < 400, `line ${line} sits over normal traffic (~100/s)`);
  assert.equal(suspectEarly(r.state, line - 1, line, windowStart, windowStart + 200).transition, undefined, 'under the line: nothing yet');
  const early = suspectEarly(r.state, line, line, windowStart, windowStart + 200);
  assert.equal(early.state.phase, 'suspect');
  assert.deepEqual([early.transition?.reason.signal, early.transition?.reason.withinMs, early.transition?.at], ['arrival-rate', 200, windowStart + 200]);
  // What the tick would have decided at the second's end, with the whole second's count.
  const atTick = attackStep(r.state, { ...r.normal(), arrivalsPerS: line }, windowStart + 1000);
  assert.equal(atTick.state.phase, 'suspect', 'the early step is the one the tick takes a second later');
  assert.equal(early.state.hotSince, atTick.state.hotSince, 'the hot run starts with the second, either way');
  r.state = early.state;
  assert.equal(r.step({ ...r.normal(), arrivalsPerS: 1200 }), 'suspect', 'the same second closes hot');
  assert.equal(r.step({ ...r.normal(), arrivalsPerS: 1200 }), 'suspect');
  assert.equal(r.step({ ...r.normal(), arrivalsPerS: 1200 }), 'under_attack', 'third hot second, as without the early step');
  assert.equal(earlySuspectLine(r.state, r.now), Infinity, 'no early line once not normal');
});

test('no early line while the baseline is cold, nor when the operator asks for more hot seconds than one', () => {
  assert.equal(earlySuspectLine(initialAttackState(0), 0), Infinity, 'nothing learned: nothing to be over');
  const r = runner(12);
  r.warm();
  assert.equal(earlySuspectLine(r.state, r.now, { suspectAfterS: 2 }), Infinity, 'two hot seconds needed, none yet');
  r.state = attackStep(r.state, { ...r.normal(), arrivalsPerS: 1200 }, r.now + 1000, { suspectAfterS: 2 }).state;
  assert.equal(r.state.phase, 'normal');
  assert.ok(Number.isFinite(earlySuspectLine(r.state, r.now + 1000, { suspectAfterS: 2 })), 'one hot second behind: the open one completes it');
});

test('a baseline where every client comes without a cookie (an API) is not an attack: a share cannot rise over 1', () => {
  let state: AttackState = initialAttackState(0);
  let now = 0;
  const random = createPrng(13);
  const phases = new Set<AttackPhase>();
  for (let s = 0; s < 180; s++) {
    now += 1000;
    // 20 req/s, 2% of them carrying a cookie: many seconds are 100% cookieless.
    const arrivals = 20;
    let unknown = 0;
    for (let i = 0; i < arrivals; i++) if (random() >= 0.02) unknown++;
    state = attackStep(state, { arrivalsPerS: arrivals, saturation: 0.2, errorRatio: 0, cookielessShare: unknown / arrivals }, now).state;
    phases.add(state.phase);
  }
  assert.deepEqual([...phases], ['normal']);
});

test('a queue that stood for half a second with waits past the line makes a normal scope suspect at once, blamed on saturation', () => {
  const r = runner(14);
  r.warm();
  const now = r.now + 300;
  assert.equal(suspectOnStanding(r.state, 400, 200, now).transition, undefined, 'standing, but not long enough yet');
  assert.equal(suspectOnStanding(r.state, 900, 30, now).transition, undefined, 'long, but the waits are short: a queue that moves');
  const s = suspectOnStanding(r.state, 600, 120, now);
  assert.equal(s.state.phase, 'suspect');
  assert.deepEqual(s.transition?.reason, { signal: 'saturation', observed: 120, baseline: 0, threshold: DEFAULT_ATTACK_PARAMS.queueWaitMs, withinMs: 600 });
  assert.equal(s.state.hotSince, now - 600, 'the hot run began when the queue started standing');
  assert.equal(suspectOnStanding(s.state, 5000, 900, now + 1000).transition, undefined, 'only from normal: the tick decides under_attack');
  assert.equal(suspectOnStanding(initialAttackState(0), 600, 120, 700).state.phase, 'suspect', 'no baseline needed: the queue is the upstream\'s own measure');
  assert.equal(suspectOnStanding(r.state, 600, 120, now, { standingMs: 2000 }).transition, undefined, 'operators may ask for more');
});

test('a cold baseline holds an attack while arrivals stand at twice what it saw, for at most coldHoldS per phase; then it recovers', () => {
  const r = runner(7);
  // Three seconds learned before the onset (a shield started just before it): ~20 req/s.
  for (const n of [19, 22, 20]) assert.equal(r.step({ arrivalsPerS: n, saturation: 0.2 }), 'normal');
  // The flood saturates the upstream; the no-JavaScript check then stops it: no saturation, but 600 req/s.
  assert.equal(r.step({ arrivalsPerS: 600, saturation: 1 }), 'suspect');
  assert.equal(r.step({ arrivalsPerS: 600, saturation: 1 }), 'under_attack');
  for (let i = 0; i < 120; i++) assert.equal(r.step({ arrivalsPerS: 600, saturation: 0.1 }), 'under_attack', `held at +${i + 1} s`);
  // The flood ends: back to what the baseline saw, and the usual way out.
  for (let i = 0; i < DEFAULT_ATTACK_PARAMS.calmAfterS - 1; i++) assert.equal(r.step({ arrivalsPerS: 25, saturation: 0.2 }), 'under_attack');
  assert.equal(r.step({ arrivalsPerS: 25, saturation: 0.2 }), 'recovering');
  const calm = r.transitions.at(-1)!;
  assert.deepEqual([calm.reason.signal, calm.reason.observed], ['arrival-rate', 25], 'the reason names the rate under its hold line');
  for (let i = 0; i < DEFAULT_ATTACK_PARAMS.coolDownS - 1; i++) r.step({ arrivalsPerS: 25, saturation: 0.2 });
  assert.equal(r.step({ arrivalsPerS: 25, saturation: 0.2 }), 'normal');
  assert.equal(r.state.rate.samples, 3, 'no attack or recovery second was learned');
});

test('the cold hold is bounded: traffic that stays high (a lasting crowd) cannot hold the state for ever', () => {
  const r = runner(8);
  for (const n of [19, 22, 20]) r.step({ arrivalsPerS: n, saturation: 0.2 });
  r.step({ arrivalsPerS: 100, saturation: 1 });
  assert.equal(r.step({ arrivalsPerS: 100, saturation: 1 }), 'under_attack');
  const hold = DEFAULT_ATTACK_PARAMS.coldHoldS;
  const phases: AttackPhase[] = [];
  for (let i = 0; i < 2 * hold + DEFAULT_ATTACK_PARAMS.calmAfterS + DEFAULT_ATTACK_PARAMS.coolDownS + 5; i++) phases.push(r.step({ arrivalsPerS: 100, saturation: 0.2 }));
  assert.equal(phases[hold - 2], 'under_attack', 'held for coldHoldS');
  assert.ok(phases.includes('recovering'), 'then recovering');
  assert.equal(phases.at(-1), 'normal', 'and normal once the recovering hold ran out too');
  // Off: the same traffic falls back to the cycle without the hold.
  let s = initialAttackState(0);
  let now = 0;
  const off = (o: AttackObservation): void => { s = attackStep(s, o, now += 1000, { coldHoldS: 0 }).state; };
  for (const n of [19, 22, 20]) off({ arrivalsPerS: n, saturation: 0.2 });
  off({ arrivalsPerS: 100, saturation: 1 });
  off({ arrivalsPerS: 100, saturation: 1 });
  assert.equal(s.phase, 'under_attack');
  for (let i = 0; i < DEFAULT_ATTACK_PARAMS.calmAfterS; i++) off({ arrivalsPerS: 100, saturation: 0.2 });
  assert.equal(s.phase, 'recovering', 'coldHoldS 0: no hold');
});

test('a cold baseline with fewer than two seconds learned holds nothing (a shield started during the attack)', () => {
  const r = runner(10);
  r.step({ arrivalsPerS: 600, saturation: 1 });
  r.step({ arrivalsPerS: 600, saturation: 1 });
  const phases: AttackPhase[] = [];
  for (let i = 0; i < DEFAULT_ATTACK_PARAMS.calmAfterS + 1; i++) phases.push(r.step({ arrivalsPerS: 600, saturation: 0.1 }));
  assert.equal(phases.at(-1), 'recovering');
});
