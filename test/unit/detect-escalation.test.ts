import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  clearMitigation, initialEscalation, planStep, DEFAULT_ESCALATION_PARAMS,
  type EscalationInput, type EscalationState, type Mitigation,
} from '../../src/shield/detect/escalation.js';
import type { AttackPhase } from '../../src/shield/detect/attack-state.js';
import { NEW_VALUES, type Signature } from '../../src/shield/detect/signatures.js';
import { createSpaceSaving } from '../../src/shield/detect/space-saving.js';

const sig = (dimension: Signature['dimension'], value: string, share = 0.6, baselineShare = 0.01): Signature =>
  ({ dimension, value, share, baselineShare, lift: share / Math.max(baselineShare, 0.01), requestsPerS: share * 1000, excessPerS: (share - baselineShare) * 1000 });

/** Drives the planner one second at a time. */
function planner() {
  let state: EscalationState = initialEscalation(0);
  let now = 0;
  const log: Array<{ at: number; added: Mitigation[]; lifted: Mitigation[] }> = [];
  let active: readonly Mitigation[] = [];
  const step = (phase: AttackPhase, rest: Partial<EscalationInput> = {}): readonly Mitigation[] => {
    now += 1000;
    const r = planStep(state, { phase, signatures: [], baselineRatePerS: 100, ...rest }, now);
    state = r.state;
    active = r.active;
    log.push({ at: now, added: [...r.added], lifted: [...r.lifted] });
    return r.active;
  };
  return { step, log, get state() { return state; }, set state(s: EscalationState) { state = s; }, get now() { return now; }, get active() { return active; } };
}

const kinds = (ms: readonly Mitigation[]): string[] => ms.map((m) => m.id).sort();

test('least disruptive first: prioritise on suspect, challenge signatures under attack, then rate limits and harder challenges', () => {
  const p = planner();
  assert.deepEqual(p.step('normal'), []);
  assert.deepEqual(kinds(p.step('suspect')), ['prioritise-known']);
  const signatures = [sig('fingerprint', 'fp-python'), sig('path', '/search', 0.9, 0.2), sig('prefix', '203.0.113.0/24', 0.1, 0.001)];
  // The prefix is not challenged as a whole (its customers would be): it is rate-limited at level 3.
  assert.deepEqual(kinds(p.step('under_attack', { signatures })), ['challenge:fingerprint:fp-python', 'challenge:path:/search', 'prioritise-known']);
  const challenge = p.active.find((m) => m.kind === 'challenge')!;
  assert.ok(challenge.kind === 'challenge' && challenge.difficulty === 0, 'the no-JS check first');
  assert.match(challenge.reason, /fingerprint fp-python at 60\.0% of traffic \(normally 1\.0%\)/);
  // Still hurting after escalateEveryS: level 3 adds aggregate rate limits sized on the baseline.
  for (let i = 0; i < DEFAULT_ESCALATION_PARAMS.escalateEveryS - 1; i++) p.step('under_attack', { signatures });
  assert.equal(p.state.level, 2);
  p.step('under_attack', { signatures });
  assert.equal(p.state.level, 3);
  const rate = p.active.find((m) => m.id === 'rate:prefix:203.0.113.0/24');
  assert.ok(rate && rate.kind === 'rate-limit-aggregate');
  assert.equal(rate.ratePerS, 1, 'normal share 0.1% of 100/s × 2 headroom, floored at minRatePerS');
  const fpRate = p.active.find((m) => m.id === 'rate:fingerprint:fp-python');
  assert.ok(fpRate && fpRate.kind === 'rate-limit-aggregate' && fpRate.ratePerS === 2);
  assert.ok(!p.active.some((m) => m.id.startsWith('rate:path')), 'paths are challenged, not rate-limited');
  // Level 4: difficulty rises, reported as a re-sized mitigation.
  for (let i = 0; i < DEFAULT_ESCALATION_PARAMS.escalateEveryS; i++) p.step('under_attack', { signatures });
  assert.equal(p.state.level, 4);
  const harder = p.active.find((m) => m.id === 'challenge:fingerprint:fp-python');
  assert.ok(harder?.kind === 'challenge' && harder.difficulty === 1);
  assert.ok(p.log.at(-1)!.added.some((m) => m.id === 'challenge:fingerprint:fp-python'));
});

test('address signatures (client, prefix, /48) never become challenges; a prefix is rate-limited at level 3', () => {
  const p = planner();
  const signatures = [sig('client', '198.51.100.7', 0.3, 0), sig('prefix', '198.51.100.0/24', 0.3, 0), sig('prefix48', '2001:db8:1::/48', 0.1, 0)];
  for (let i = 0; i < 12; i++) p.step('under_attack', { signatures });
  assert.ok(!p.active.some((m) => m.kind === 'challenge' && m.scope !== 'unknown-clients' && ['client', 'prefix', 'prefix48'].includes(m.scope.dimension)), kinds(p.active).join(', '));
  assert.ok(p.active.some((m) => m.id === 'rate:prefix:198.51.100.0/24'), 'the prefix is rate-limited (clients without a token)');
});

test('no escalation while the mitigations hold the upstream (pressure false)', () => {
  const p = planner();
  const signatures = [sig('fingerprint', 'fp-python')];
  for (let i = 0; i < 30; i++) p.step('under_attack', { signatures, pressure: false });
  assert.equal(p.state.level, 2);
  assert.ok(!p.active.some((m) => m.kind === 'rate-limit-aggregate'));
});

test('lifted step by step once the attack subsides, prioritise-known last', () => {
  const p = planner();
  const signatures = [sig('fingerprint', 'fp-python'), sig('prefix', '203.0.113.0/24')];
  for (let i = 0; i < 12; i++) p.step('under_attack', { signatures });
  assert.equal(p.state.level, 4);
  const liftedAt: Record<string, number> = {};
  for (let i = 0; i < 200 && p.active.length > 0; i++) {
    p.step(i < 60 ? 'recovering' : 'normal', { signatures });
    for (const m of p.log.at(-1)!.lifted) liftedAt[m.id] = p.now;
  }
  assert.deepEqual(p.active, []);
  assert.equal(p.state.level, 0);
  const order = Object.entries(liftedAt).sort((a, b) => a[1] - b[1]);
  assert.ok(liftedAt['rate:prefix:203.0.113.0/24']! < liftedAt['challenge:fingerprint:fp-python']!, 'rate limits go before challenges');
  assert.ok(liftedAt['rate:fingerprint:fp-python']! < liftedAt['challenge:fingerprint:fp-python']!);
  assert.equal(order.at(-1)?.[0], 'prioritise-known');
  assert.ok(liftedAt['prioritise-known']! > 60_000 + 12_000, 'prioritisation stays through recovering');
});

test('a mitigation whose signature vanished runs out its TTL; a new one is held at least minHoldS', () => {
  const p = planner();
  p.step('under_attack', { signatures: [sig('path', '/a')] });
  const start = p.now;
  let liftedAfter = 0;
  for (let i = 0; i < 60; i++) {
    p.step('under_attack', { signatures: [], pressure: false });
    if (p.log.at(-1)!.lifted.some((m) => m.id === 'challenge:path:/a')) { liftedAfter = p.now - start; break; }
  }
  assert.equal(liftedAfter, DEFAULT_ESCALATION_PARAMS.ttlS * 1000);
  // Level drop: a level-3 mitigation added just before recovery is held for minHoldS.
  const q = planner();
  for (let i = 0; i < 6; i++) q.step('under_attack', { signatures: [sig('prefix', '198.51.100.0/24')] });
  assert.ok(q.active.some((m) => m.kind === 'rate-limit-aggregate'));
  const added = q.now;
  let gone = 0;
  for (let i = 0; i < 60 && gone === 0; i++) { q.step('recovering'); if (!q.active.some((m) => m.kind === 'rate-limit-aggregate')) gone = q.now; }
  assert.ok(gone - added >= DEFAULT_ESCALATION_PARAMS.minHoldS * 1000);
});

test('flash-crowd signatures (cookieless only) never block or rate-limit: prioritise, then a no-JS check for unknown clients', () => {
  const p = planner();
  const signatures = [sig('cookie', 'none', 0.8, 0.3)];
  for (let i = 0; i < 6; i++) p.step('under_attack', { signatures, offenders: [] });
  assert.deepEqual(kinds(p.active), ['challenge:unknown-clients', 'prioritise-known']);
  const c = p.active.find((m) => m.kind === 'challenge');
  assert.ok(c?.kind === 'challenge' && c.scope === 'unknown-clients' && c.difficulty === 0);
  // At level 2 it was prioritisation alone.
  assert.deepEqual(kinds(p.log[0]!.added), ['prioritise-known']);
});

test('an attack no signature explains: unknown clients challenged at level 3; (new) aggregates map there too', () => {
  const p = planner();
  for (let i = 0; i < 6; i++) p.step('under_attack', { signatures: [] });
  assert.deepEqual(kinds(p.active), ['challenge:unknown-clients', 'prioritise-known']);
  const q = planner();
  for (let i = 0; i < 6; i++) q.step('under_attack', { signatures: [sig('fingerprint', NEW_VALUES, 0.8, 0.02)] });
  const c = q.active.find((m) => m.kind === 'challenge');
  assert.ok(c?.kind === 'challenge' && c.scope === 'unknown-clients');
  assert.match(c.reason, /fingerprint \(new\)/);
});

test('sources that keep exceeding are blocked with a TTL doubling on repeats; sketch error never blocks', () => {
  const strikes = createSpaceSaving(4);
  for (let i = 0; i < 5; i++) strikes.add('192.0.2.9');
  for (let i = 0; i < 3; i++) strikes.add('2001:db8::7');
  for (let i = 0; i < 2; i++) strikes.add('192.0.2.10');
  for (let i = 0; i < 2; i++) strikes.add('192.0.2.11');
  strikes.add('192.0.2.12'); // evicts one: count 3, error 2 — only 1 guaranteed strike
  const p = planner();
  assert.deepEqual(p.step('normal', { offenders: strikes.top(10) }), [], 'no blocks outside an attack');
  p.step('under_attack', { offenders: strikes.top(10) });
  const blocks = p.active.filter((m) => m.kind === 'block');
  assert.deepEqual(blocks.map((b) => b.kind === 'block' && b.cidr).sort(), ['192.0.2.9/32', '2001:db8::7/128']);
  assert.ok(blocks.every((b) => b.ttlS === DEFAULT_ESCALATION_PARAMS.blockTtlS));
  assert.match(blocks[0]!.reason, /strikes/);
  // The same source again after its block expired: twice as long.
  for (let i = 0; i < DEFAULT_ESCALATION_PARAMS.blockTtlS; i++) p.step('under_attack', { offenders: [] });
  assert.ok(!p.active.some((m) => m.kind === 'block'));
  p.step('under_attack', { offenders: [{ key: '192.0.2.9', count: 4, error: 0 }] });
  const again = p.active.find((m) => m.kind === 'block');
  assert.equal(again?.ttlS, 2 * DEFAULT_ESCALATION_PARAMS.blockTtlS);
});

test('an operator can clear a mitigation and keep it off for a while', () => {
  const p = planner();
  const signatures = [sig('path', '/search')];
  p.step('under_attack', { signatures });
  p.state = clearMitigation(p.state, 'challenge:path:/search', p.now + 10_000);
  for (let i = 0; i < 9; i++) assert.ok(!p.step('under_attack', { signatures }).some((m) => m.id === 'challenge:path:/search'));
  assert.ok(p.step('under_attack', { signatures }).some((m) => m.id === 'challenge:path:/search'), 'justified again after the pause');
  assert.equal(p.state.cleared.size, 0);
});
