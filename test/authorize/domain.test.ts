import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AUTH_EVENTS, AUTH_STATES, isTerminal, transition, transStatusOf, type AuthEventType, type AuthState } from '../../src/authorize/domain/state-machine.js';
import { linkHash, smsText, appSignedPayload } from '../../src/authorize/domain/dynamic-linking.js';
import { codeDigest, generateCode, verifyCode } from '../../src/authorize/domain/otp.js';
import { hashKnowledge, verifyKnowledge } from '../../src/authorize/domain/knowledge.js';
import { CLEAN_LOCKOUT, isBlocked, registerFailure, registerSuccess } from '../../src/authorize/domain/lockout.js';
import { advanceBreaker, effectiveChannel, initialBreaker, recordOutcome, recordProbe, restoreBreaker, saveBreaker, type BreakerParams } from '../../src/authorize/domain/breaker.js';
import { isLowValueExempt, routeNew, type PayerFacts } from '../../src/authorize/domain/routing.js';

// The expected table, written out independently of the implementation: [state, event, next].
const ALLOWED: Array<[AuthState, AuthEventType, AuthState]> = [
  ['created', 'route_exempt', 'exempted'], ['created', 'route_app', 'app_pending'], ['created', 'route_sms', 'fallback_offered'],
  ['created', 'route_unavailable', 'unavailable'], ['created', 'payer_locked', 'locked'], ['created', 'cancel', 'cancelled'], ['created', 'expire', 'expired'],
  ['app_pending', 'app_approved', 'authenticated'], ['app_pending', 'app_denied', 'failed'], ['app_pending', 'push_failed', 'fallback_offered'],
  ['app_pending', 'channel_down', 'fallback_offered'], ['app_pending', 'payer_locked', 'locked'], ['app_pending', 'cancel', 'cancelled'], ['app_pending', 'expire', 'expired'],
  ['fallback_offered', 'sms_accepted', 'sms_sent'], ['fallback_offered', 'sms_refused', 'unavailable'], ['fallback_offered', 'payer_locked', 'locked'],
  ['fallback_offered', 'cancel', 'cancelled'], ['fallback_offered', 'expire', 'unavailable'],
  ['sms_sent', 'code_ok', 'authenticated'], ['sms_sent', 'resend', 'fallback_offered'], ['sms_sent', 'payer_locked', 'locked'],
  ['sms_sent', 'cancel', 'cancelled'], ['sms_sent', 'expire', 'expired'],
];

test('every (state, event) pair: allowed ones lead where the table says, all others are refused, terminal states never move', () => {
  const allowed = new Map(ALLOWED.map(([s, e, to]) => [`${s}/${e}`, to]));
  let checked = 0;
  for (const s of AUTH_STATES) {
    for (const e of AUTH_EVENTS) {
      const r = transition(s, e);
      const want = allowed.get(`${s}/${e}`);
      if (want) assert.deepEqual(r, { ok: true, from: s, to: want }, `${s} --${e}-->`);
      else assert.equal(r.ok, false, `${s} --${e}--> must be refused`);
      if (isTerminal(s)) assert.deepEqual(r, { ok: false, from: s, reason: 'terminal' });
      checked++;
    }
  }
  assert.equal(checked, AUTH_STATES.length * AUTH_EVENTS.length);
});

test('a denial in the app never leads to SMS: from failed nothing is reachable', () => {
  const r = transition('app_pending', 'app_denied');
  assert.ok(r.ok && r.to === 'failed');
  for (const e of AUTH_EVENTS) assert.equal(transition('failed', e).ok, false);
  // Only channel-policy events route an app authentication to SMS; no requester event does.
  const toSms = AUTH_EVENTS.filter((e) => { const x = transition('app_pending', e); return x.ok && x.to === 'fallback_offered'; });
  assert.deepEqual(toSms.sort(), ['channel_down', 'push_failed']);
});

test('3-DS transStatus: Y for authenticated/exempted, N for failed/expired/cancelled, R for locked, U for unavailable, C while pending', () => {
  const want: Record<AuthState, string> = {
    created: 'C', app_pending: 'C', fallback_offered: 'C', sms_sent: 'C', exempted: 'Y', authenticated: 'Y',
    failed: 'N', expired: 'N', cancelled: 'N', locked: 'R', unavailable: 'U',
  };
  for (const s of AUTH_STATES) assert.equal(transStatusOf(s).transStatus, want[s], s);
});

const tx = { amountMinor: 12_345, currency: 'EUR', payee: { id: 'shop-1', name: 'Shop One' } };

test('dynamic linking to the cent: amount ±1 cent, currency, payee id or name changed → another hash', () => {
  const h = linkHash(tx);
  assert.equal(linkHash({ ...tx }), h);
  for (const other of [
    { ...tx, amountMinor: 12_346 }, { ...tx, amountMinor: 12_344 }, { ...tx, currency: 'USD' },
    { ...tx, payee: { id: 'shop-2', name: 'Shop One' } }, { ...tx, payee: { id: 'shop-1', name: 'Shop 0ne' } },
    // No ambiguity between fields: moving characters from id to name changes the hash.
    { ...tx, payee: { id: 'shop-1S', name: 'hop One' } },
  ]) assert.notEqual(linkHash(other), h, JSON.stringify(other));
});

test('the SMS shows amount and payee with the code; the signed payload binds authId, hash, decision and time', () => {
  assert.match(smsText('012345', tx), /012345.*123\.45 EUR.*Shop One/);
  const a = appSignedPayload('au_1', 'h', 'APPROVE', 1).toString();
  assert.notEqual(a, appSignedPayload('au_1', 'h', 'DENY', 1).toString());
  assert.notEqual(a, appSignedPayload('au_2', 'h', 'APPROVE', 1).toString());
});

test('codes: right length, digits only, uniform-looking, bound by HMAC to authId and the link hash', () => {
  const key = Buffer.alloc(32, 7);
  const seen = new Set<string>();
  const firstDigit = new Array<number>(10).fill(0);
  for (let i = 0; i < 2000; i++) {
    const c = generateCode(6);
    assert.match(c, /^[0-9]{6}$/);
    seen.add(c);
    firstDigit[Number(c[0])]! += 1;
  }
  assert.ok(seen.size > 1950, `only ${seen.size} distinct codes in 2000`);
  for (const n of firstDigit) assert.ok(n > 120 && n < 290, `leading digit counts ${firstDigit.join(',')}`);
  const h = linkHash(tx);
  const d = codeDigest(key, 'au_1', h, '123456');
  assert.ok(verifyCode(key, 'au_1', h, '123456', d));
  assert.ok(!verifyCode(key, 'au_1', h, '123457', d));
  assert.ok(!verifyCode(key, 'au_2', h, '123456', d), 'a code for one authentication never verifies another');
  assert.ok(!verifyCode(key, 'au_1', linkHash({ ...tx, amountMinor: 12_346 }), '123456', d), 'nor another amount');
  assert.ok(!verifyCode(Buffer.alloc(32, 8), 'au_1', h, '123456', d), 'nor under another key');
  assert.ok(!d.includes('123456'));
});

test('knowledge factor: salted scrypt, different hashes for the same secret, verified only with the right one', async () => {
  const p = { scryptN: 1024, scryptR: 8, scryptP: 1 };
  const a = await hashKnowledge('blue-harbour-42', p);
  const b = await hashKnowledge('blue-harbour-42', p);
  assert.notEqual(a, b);
  assert.ok(!a.includes('blue-harbour'));
  assert.equal(await verifyKnowledge('blue-harbour-42', a), true);
  assert.equal(await verifyKnowledge('blue-harbour-43', a), false);
  assert.equal(await verifyKnowledge('blue-harbour-42', 'garbage'), false);
});

test('lockout: warn at the 4th failure, block at the 5th, permanent after N blocks with a warning first, success resets', () => {
  const p = { maxFailures: 5, blockMs: 60_000, permanentAfterBlocks: 2 };
  let s = CLEAN_LOCKOUT;
  const kinds: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = registerFailure(s, 1000, p);
    s = r.state;
    kinds.push(r.decision.kind);
  }
  assert.deepEqual(kinds, ['counted', 'counted', 'counted', 'warn', 'blocked']);
  assert.ok(isBlocked(s, 1000) && isBlocked(s, 60_999) && !isBlocked(s, 61_000));
  let last;
  for (let i = 0; i < 5; i++) { last = registerFailure(s, 70_000, p); s = last.state; }
  assert.ok(last && last.decision.kind === 'blocked' && last.decision.permanent);
  assert.ok(isBlocked(s, Number.MAX_SAFE_INTEGER - 1));
  const first = registerFailure(CLEAN_LOCKOUT, 0, p);
  assert.deepEqual(registerSuccess(first.state), { ...first.state, failures: 0, blocks: 0 });
});

const bp: BreakerParams = { windowMs: 30_000, minAttempts: 20, failureRatio: 0.5, dwellMs: 10_000, probeIntervalMs: 1_000, probeSuccesses: 3 };

test('breaker: stays closed under 20 attempts or ≤ 50% failures, trips above, dwells, probes, fails back after 3 successes', () => {
  let s = initialBreaker(0);
  for (let i = 0; i < 19; i++) s = recordOutcome(s, false, i * 10, bp).state;
  assert.equal(s.phase, 'closed', '19 failures: under the minimum number of attempts');
  s = initialBreaker(0);
  for (let i = 0; i < 40; i++) s = recordOutcome(s, i % 2 === 0, i * 10, bp).state;
  assert.equal(s.phase, 'closed', 'exactly 50% failures does not trip');
  s = initialBreaker(0);
  for (let i = 0; i < 20; i++) s = recordOutcome(s, true, i, bp).state;
  // Old successes slide out of the 30 s window: 21 fresh failures trip it.
  let change;
  for (let i = 0; i < 21 && s.phase === 'closed'; i++) ({ state: s, change } = recordOutcome(s, false, 40_000 + i, bp));
  assert.equal(s.phase, 'open');
  assert.equal(change?.to, 'open');
  assert.equal(effectiveChannel(s, undefined, 40_100), 'sms');
  // After a long healthy period (2,000 successes in the window) a sudden outage still trips within a
  // second: the last second alone has ≥ 20 attempts, > 50% failed.
  let busy = initialBreaker(0);
  for (let i = 0; i < 2000; i++) busy = recordOutcome(busy, true, 100_000 + i * 10, bp).state;
  let n = 0;
  while (busy.phase === 'closed' && n < 1000) busy = recordOutcome(busy, false, 121_000 + n++ * 5, bp).state;
  assert.equal(busy.phase, 'open');
  assert.ok(n <= 25, `tripped after ${n} failures`);
  // Scattered failures below the ratio in every trailing period never trip.
  let calm = initialBreaker(0);
  for (let i = 0; i < 3000; i++) calm = recordOutcome(calm, i % 3 !== 0, i * 10, bp).state;
  assert.equal(calm.phase, 'closed');
  assert.equal(advanceBreaker(s, 40_000 + 9_999, bp).state.phase, 'open');
  s = advanceBreaker(s, 50_100, bp).state;
  assert.equal(s.phase, 'probing');
  assert.equal(effectiveChannel(s, undefined, 50_100), 'sms', 'still SMS while probing');
  s = recordProbe(s, true, 51_000, bp).state;
  s = recordProbe(s, false, 52_000, bp).state;
  assert.equal(s.phase, 'open', 'a failed probe re-opens');
  s = advanceBreaker(s, 62_000, bp).state;
  for (let i = 0; i < 3; i++) ({ state: s, change } = recordProbe(s, true, 63_000 + i, bp));
  assert.equal(s.phase, 'closed');
  assert.equal(change?.to, 'closed');
  assert.equal(effectiveChannel(s, undefined, 70_000), 'app');
  assert.equal(effectiveChannel(s, { mode: 'sms', until: 80_000 }, 70_000), 'sms', 'a forced mode wins');
  assert.equal(effectiveChannel(s, { mode: 'sms', until: 80_000 }, 80_000), 'app', 'until it expires');
});

const payer: PayerFacts = { blocked: false, deviceIds: ['d1'], hasPhone: true, hasKnowledge: true, exemption: { count: 0, sumMinor: 0 } };
const ex = { enabled: true, maxAmountMinor: 3000, maxCumulativeMinor: 10_000, maxConsecutive: 5, currencies: ['EUR'] };

test('art. 16 low-value exemption: ≤ 30 EUR, ≤ 100 EUR cumulative, ≤ 5 in a row; off unless enabled', () => {
  const small = { ...tx, amountMinor: 3000 };
  assert.ok(isLowValueExempt(small, { count: 0, sumMinor: 0 }, ex));
  assert.ok(!isLowValueExempt({ ...tx, amountMinor: 3001 }, { count: 0, sumMinor: 0 }, ex));
  assert.ok(!isLowValueExempt(small, { count: 0, sumMinor: 7001 }, ex));
  assert.ok(!isLowValueExempt({ ...small, amountMinor: 100 }, { count: 5, sumMinor: 500 }, ex));
  assert.ok(!isLowValueExempt({ ...small, currency: 'USD' }, { count: 0, sumMinor: 0 }, ex));
  assert.ok(!isLowValueExempt(small, { count: 0, sumMinor: 0 }, { ...ex, enabled: false }));
});

test('routing: app when healthy, SMS only by channel policy, fallback cap, blocked payers locked', () => {
  const p = { exemption: { ...ex, enabled: false }, fallbackMaxAmountMinor: 50_000 };
  assert.equal(routeNew(tx, payer, 'app', p).kind, 'app');
  assert.equal(routeNew(tx, payer, 'sms', p).kind, 'sms');
  assert.equal(routeNew({ ...tx, amountMinor: 50_001 }, payer, 'sms', p).kind, 'unavailable');
  assert.equal(routeNew({ ...tx, amountMinor: 50_001 }, payer, 'app', p).kind, 'app', 'the cap applies to the fallback only');
  assert.equal(routeNew(tx, { ...payer, hasKnowledge: false }, 'sms', p).kind, 'unavailable', 'SMS alone is one factor');
  assert.equal(routeNew(tx, { ...payer, blocked: true }, 'app', p).kind, 'locked');
  assert.equal(routeNew(tx, { ...payer, deviceIds: [] }, 'app', p).kind, 'sms');
});

test('breaker after a restart: open keeps its dwell, probing probes again from zero, closed starts empty, anything unreadable is open', () => {
  const now = 1_000_000;
  const open = { phase: 'open' as const, buckets: [], since: now - 4_000, probeStreak: 0 };
  assert.deepEqual(restoreBreaker(JSON.parse(JSON.stringify(saveBreaker(open))), now), open);
  assert.deepEqual(restoreBreaker(saveBreaker({ phase: 'probing', buckets: [], since: now - 500, probeStreak: 2 }), now), { phase: 'probing', buckets: [], since: now, probeStreak: 0 });
  assert.deepEqual(restoreBreaker({ phase: 'closed', since: now - 9 }, now), initialBreaker(now));
  assert.deepEqual(restoreBreaker(undefined, now), initialBreaker(now));
  for (const junk of [null, 42, { phase: 'sideways' }, { since: 'x' }]) {
    assert.deepEqual(restoreBreaker(junk, now), { phase: 'open', buckets: [], since: now, probeStreak: 0 }, JSON.stringify(junk));
  }
  assert.equal(restoreBreaker({ phase: 'open', since: now + 60_000 }, now).since, now, 'a saved time in the future (clock moved back) dwells from now');
  assert.equal(effectiveChannel(restoreBreaker({ phase: 'open', since: now }, now), undefined, now), 'sms');
});
