import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createTickMemo } from '../../src/core/tick-memo.js';
import { apiChallengeResponse, nojsRedirect, type ClientBinding } from '../../src/shield/challenge/responses.js';
import { createChallengeSettings } from '../../src/shield/challenge/settings.js';
import { createKeyring } from '../../src/shield/reputation/token.js';

test('tick memo: one computation per key within a tick; a new tick forgets; past its bound it computes without keeping', () => {
  const memo = createTickMemo<number>(2);
  let calls = 0;
  const f = (): number => ++calls;
  assert.equal(memo.get(1, 'a', f), 1);
  assert.equal(memo.get(1, 'a', f), 1);
  assert.equal(memo.get(1, 'b', f), 2);
  assert.equal(memo.get(1, 'c', f), 3, 'full: computed');
  assert.equal(memo.get(1, 'c', f), 4, 'and not kept');
  assert.equal(memo.size, 2);
  assert.equal(memo.get(2, 'a', f), 5, 'a new tick computes again');
  assert.equal(memo.size, 1);
  assert.throws(() => createTickMemo(-1), RangeError);
});

const cookieOf = (r: { headers: Readonly<Record<string, string | string[]>> }): string => String(r.headers['set-cookie']).split(';')[0]!;

test('a no-JavaScript token signed once a second per client is the token signing it again would give', () => {
  const keys = createKeyring(Buffer.alloc(32, 3));
  const memoized = createChallengeSettings({ keys, randomBytes });
  const T = 1_800_000_000_000;
  const b: ClientBinding = { prefix: '203.0.113.0/24', fingerprint: 'fp1', address: '203.0.113.7', secure: false, now: T };
  // A fresh settings object (an empty memo) each time: what the token is without the memo.
  const fresh = (x: ClientBinding): string => cookieOf(nojsRedirect('/x', x, createChallengeSettings({ keys, randomBytes })));
  for (const x of [b, { ...b, now: T + 999 }, { ...b, address: '203.0.113.8' }, { ...b, fingerprint: 'fp2' }, { ...b, now: T + 1_000 }, { ...b, prefix: '203.0.0.0/16' }]) {
    assert.equal(cookieOf(nojsRedirect('/x', x, memoized)), fresh(x), JSON.stringify(x));
  }
  // Within one second, the same client is asked once; another second, another token.
  assert.equal(cookieOf(nojsRedirect('/a', b, memoized)), cookieOf(nojsRedirect('/b', { ...b, now: T + 500 }, memoized)));
  assert.notEqual(cookieOf(nojsRedirect('/a', b, memoized)), cookieOf(nojsRedirect('/a', { ...b, now: T + 1_000 }, memoized)));
  // Personal identities (a shared address's newcomers) are never the same twice.
  assert.notEqual(cookieOf(nojsRedirect('/a', b, memoized, true)), cookieOf(nojsRedirect('/a', b, memoized, true)));
  // The redirect still goes where each request asked.
  assert.equal(nojsRedirect('/b?q=1', b, memoized).headers.location, '/b?q=1');
});

test('an API challenge is given once a second per client, difficulty and reason; the next second, another client or difficulty, a fresh one', () => {
  const keys = createKeyring(Buffer.alloc(32, 3));
  const s = createChallengeSettings({ keys, randomBytes });
  const T = 1_800_000_000_000;
  const b: ClientBinding = { prefix: '203.0.113.0/24', fingerprint: 'fp1', address: '203.0.113.7', secure: false, now: T };
  const seedOf = (r: { headers: Readonly<Record<string, string | string[]>> }): string => String(r.headers['rempart-challenge']);
  const first = apiChallengeResponse(8, b, s, 'over-rate');
  assert.equal(first.status, 429);
  assert.equal(seedOf(apiChallengeResponse(8, { ...b, now: T + 999 }, s, 'over-rate')), seedOf(first), 'the same second: the same challenge');
  for (const x of [{ ...b, now: T + 1_000 }, { ...b, address: '203.0.113.8' }, { ...b, fingerprint: 'fp2' }, { ...b, prefix: '203.0.0.0/16' }]) {
    assert.notEqual(seedOf(apiChallengeResponse(8, x, s, 'over-rate')), seedOf(first), JSON.stringify(x));
  }
  assert.notEqual(seedOf(apiChallengeResponse(12, b, s, 'over-rate')), seedOf(first), 'another difficulty');
  const other = apiChallengeResponse(8, b, s, 'attack');
  assert.notEqual(seedOf(other), seedOf(first), 'another reason, another body');
  assert.match(other.body, /"reason":"attack"/);
  // Without an address to key it by, every answer is fresh.
  const { address: _drop, ...anonymous } = b;
  assert.notEqual(seedOf(apiChallengeResponse(8, anonymous, s, 'over-rate')), seedOf(apiChallengeResponse(8, anonymous, s, 'over-rate')));
});
