import { test } from 'node:test';
import assert from 'node:assert/strict';
import { paceKeyOf } from '../../src/shield/filters/request/clearance.js';
import type { ClearanceDecision } from '../../src/shield/challenge/evaluate.js';
import { clientBindingKey } from '../../src/shield/defence/binding.js';

const pass = (via: 'open' | 'rep' | 'clearance' | 'nojs', rateKey?: string): ClearanceDecision =>
  ({ kind: 'pass', via, standing: 'checked', target: '/', ...(rateKey !== undefined ? { rateKey } : {}) }) as ClearanceDecision;

const UA = clientBindingKey('Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0');
const EDGE = clientBindingKey('Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0 Edg/128');

test('a reputation or a proof-of-work is paced as its own token', () => {
  assert.equal(paceKeyOf(pass('rep', 'rep:abc'), '127.0.0.9', UA), 'rep:abc');
  assert.equal(paceKeyOf(pass('clearance', 'clr:def'), '127.0.0.9', UA), 'clr:def');
});

test('no token and the no-JavaScript cookie count in one pace per source (address and agent)', () => {
  const anonymous = paceKeyOf(pass('open'), '127.0.0.9', UA);
  const withCookie = paceKeyOf(pass('nojs', 'nojs:xyz'), '127.0.0.9', UA);
  // A bot's requests queued before it took the cookie weigh on the cookie's pace.
  assert.equal(withCookie, anonymous);
  assert.notEqual(paceKeyOf(pass('open'), '127.0.0.10', UA), anonymous, 'another address');
  assert.notEqual(paceKeyOf(pass('open'), '127.0.0.9', EDGE), anonymous, 'another agent behind the same address');
});

test('a no-JavaScript cookie issued as the browser\'s own (behind a shared address) is paced as itself', () => {
  const personal = { ...pass('nojs', 'nojs:own'), token: { v: 1, k: 'nojs', kid: 'k', iat: 1, exp: 2, p: '127.0.0.0/24', id: 'own', n: 1 } } as ClearanceDecision;
  assert.equal(paceKeyOf(personal, '127.0.0.9', UA), 'nojs:own');
  const derived = { ...pass('nojs', 'nojs:addr'), token: { v: 1, k: 'nojs', kid: 'k', iat: 1, exp: 2, p: '127.0.0.0/24', id: 'addr' } } as ClearanceDecision;
  assert.equal(paceKeyOf(derived, '127.0.0.9', UA), paceKeyOf(pass('open'), '127.0.0.9', UA));
});
