/**
 * The pure cores composed the way the shield runs them (per request: observe; per second: attack
 * step, snapshot, learn or find signatures, plan), on synthetic traffic: how long from a flood's
 * onset to a mitigation that targets it, and what a flash crowd gets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createManualClock } from '../../src/core/clock.js';
import { createRng, type Rng } from '../../src/core/rng.js';
import { attackStep, initialAttackState, type AttackState } from '../../src/shield/detect/attack-state.js';
import { createShareBaseline } from '../../src/shield/detect/baseline.js';
import { initialEscalation, planStep, type EscalationState, type Mitigation } from '../../src/shield/detect/escalation.js';
import { findSignatures } from '../../src/shield/detect/signatures.js';
import { createTrafficSketch, DIMENSIONS, type Observation } from '../../src/shield/detect/source-tracker.js';
import { createSpaceSaving } from '../../src/shield/detect/space-saving.js';

const FPS = ['fp-chrome', 'fp-chrome', 'fp-firefox', 'fp-safari', 'fp-app'];
const PATHS = ['/', '/', '/track/{id}', '/track/{id}', '/search', '/account', '/bank/login'];

function user(rng: Rng, id: number, cookie: 'none' | 'valid'): Observation {
  const net = id % 400;
  return {
    client: `10.${net >> 8}.${net & 255}.${1 + (id % 250)}`, prefix: `10.${net >> 8}.${net & 255}.0/24`,
    fingerprint: FPS[id % FPS.length] as string, pathTemplate: rng.pick(PATHS), userAgent: `UA-${id % 7}`,
    queryShape: rng.next() < 0.8 ? '' : 'q', cookie, routeClass: 'normal',
  };
}

interface Second { readonly requests: Observation[]; readonly saturation: number }

/** Runs 60 s of normal traffic, then `scenario` for 20 s; returns each second's active mitigations. */
function simulate(seed: number, scenario: (rng: Rng, t: number) => Second) {
  const rng = createRng(seed);
  const clock = createManualClock(1_000_000);
  const sketch = createTrafficSketch({ clock, capacity: 256, countMinWidth: 4096 });
  const shares = createShareBaseline();
  const strikes = createSpaceSaving(256);
  let state: AttackState = initialAttackState(clock.now());
  let plan: EscalationState = initialEscalation(clock.now());
  const timeline: Array<{ t: number; phase: string; active: readonly Mitigation[] }> = [];
  const normal = (): Second => ({ requests: Array.from({ length: 100 + rng.int(-10, 10) }, () => user(rng, rng.int(0, 3000), rng.next() < 0.3 ? 'none' : 'valid')), saturation: 0.4 });
  for (let t = -60; t < 20; t++) {
    const second = t < 0 ? normal() : scenario(rng, t);
    for (const r of second.requests) { sketch.observe(r); clock.advance(1000 / second.requests.length - 1e-9); }
    clock.set(Math.ceil(clock.now() / 1000) * 1000);
    const now = clock.now();
    const cookieless = second.requests.filter((r) => r.cookie === 'none').length;
    const step = attackStep(state, { arrivalsPerS: second.requests.length, saturation: second.saturation, cookielessShare: cookieless / second.requests.length, errorRatio: 0 }, now);
    state = step.state;
    const snap = sketch.snapshot(32);
    let signatures = [] as ReturnType<typeof findSignatures>;
    if (state.phase === 'normal') for (const d of DIMENSIONS) shares.learn(d, snap.dimensions[d]);
    else signatures = findSignatures(snap, shares);
    const r = planStep(plan, { phase: state.phase, signatures, offenders: strikes.top(32), pressure: second.saturation >= 0.95, baselineRatePerS: state.rate.mean }, now);
    plan = r.state;
    strikes.decay(0.5);
    if (t >= 0) timeline.push({ t, phase: state.phase, active: r.active });
  }
  return timeline;
}

const firstTime = (timeline: ReturnType<typeof simulate>, match: (m: Mitigation) => boolean): number =>
  timeline.find((s) => s.active.some(match))?.t ?? Infinity;

test('distributed flood (2,000 sources, 12× normal, one fingerprint): its fingerprint is challenged within 5 s', () => {
  const timeline = simulate(1, (rng) => {
    const users = Array.from({ length: 100 }, () => user(rng, rng.int(0, 3000), 'valid'));
    const bots = Array.from({ length: 1200 }, () => ({ ...user(rng, rng.int(0, 2000), 'none' as const), fingerprint: 'fp-python', pathTemplate: '/search', queryShape: 'q' }));
    return { requests: [...users, ...bots], saturation: 1 };
  });
  const at = firstTime(timeline, (m) => m.kind === 'challenge' && m.scope !== 'unknown-clients' && m.scope.dimension === 'fingerprint' && m.scope.value === 'fp-python');
  assert.ok(at <= 4, `fingerprint challenged after ${at + 1} s`); // t = 0 is the first attack second
  assert.ok(firstTime(timeline, (m) => m.kind === 'rate-limit-aggregate' && m.value === 'fp-python') < 15, 'then rate-limited while it presses');
  assert.ok(!timeline.some((s) => s.active.some((m) => m.kind === 'challenge' && m.scope !== 'unknown-clients' && m.scope.dimension === 'fingerprint' && m.scope.value !== 'fp-python')), 'no browser fingerprint challenged');
});

test('flash crowd (5×, new visitors, same mix, upstream saturated): prioritise known, then a no-JS check; never a block or a rate limit', () => {
  const timeline = simulate(2, (rng) => ({ requests: Array.from({ length: 500 }, (_, i) => user(rng, i < 100 ? rng.int(0, 3000) : rng.int(10_000, 60_000), i < 100 ? 'valid' : 'none')), saturation: 1 }));
  assert.ok(timeline.some((s) => s.phase === 'under_attack'), 'overload is overload');
  const kinds = new Set(timeline.flatMap((s) => s.active.map((m) => m.kind)));
  assert.ok(!kinds.has('block') && !kinds.has('rate-limit-aggregate'), [...kinds].join(','));
  for (const s of timeline) for (const m of s.active) {
    if (m.kind === 'challenge') assert.equal(m.scope, 'unknown-clients', 'no signature-scoped challenge for a crowd');
  }
  assert.ok(firstTime(timeline, (m) => m.kind === 'prioritise-known') <= 2);
});

test('a flash crowd the upstream absorbs (no saturation) raises suspicion but challenges nobody', () => {
  const timeline = simulate(3, (rng) => ({ requests: Array.from({ length: 300 }, (_, i) => user(rng, i < 100 ? rng.int(0, 3000) : rng.int(10_000, 60_000), i < 100 ? 'valid' : 'none')), saturation: 0.6 }));
  for (const s of timeline) assert.ok(!s.active.some((m) => m.kind === 'challenge' || m.kind === 'block' || m.kind === 'rate-limit-aggregate'), `t=${s.t}: ${s.active.map((m) => m.id).join(',')}`);
});
