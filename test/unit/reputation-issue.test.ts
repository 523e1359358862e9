import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createManualClock } from '../../src/core/clock.js';
import { COOKIE_NAMES, hasSessionCookie, readCookie, serializeCookie } from '../../src/shield/reputation/cookie.js';
import { planReputationCookie } from '../../src/shield/reputation/issue.js';
import { addressPrefix } from '../../src/shield/reputation/prefix.js';
import { rankReputation } from '../../src/shield/reputation/rank.js';
import { createRevocationList } from '../../src/shield/reputation/revocation.js';
import { createKeyring, verifyToken, type TokenPayload } from '../../src/shield/reputation/token.js';

const keys = createKeyring(Buffer.alloc(32, 4));
const DAY = 86_400_000;
const T0 = 1_800_000_000_000;
const policy = { issue: true, keys, randomBytes };
const facts = { reputation: undefined, prefix: '203.0.113.0/24', fingerprint: 'fp', status: 200, secure: false, now: T0 };

const tokenOf = (setCookie: string): string => setCookie.split(';')[0]!.split('=')[1]!;
const verify = (setCookie: string, now: number): TokenPayload => {
  const r = verifyToken(tokenOf(setCookie), keys, now, { kind: 'rep', prefix: '203.0.113.0/24', fingerprint: 'fp' });
  assert.ok(r.ok, JSON.stringify(r));
  return r.payload;
};

test('a client without reputation gets one on a successful answer in normal times, none during an attack or on errors', () => {
  const c = planReputationCookie(facts, policy);
  assert.ok(c);
  assert.match(c, /^rempart_rep=[^;]+; Path=\/; Max-Age=2592000; HttpOnly; SameSite=Lax$/);
  const p = verify(c, T0);
  assert.equal(p.iat, T0 / 1000);
  assert.equal(typeof p.id, 'string');
  assert.equal(planReputationCookie(facts, { ...policy, issue: false }), undefined, 'never during an attack');
  assert.equal(planReputationCookie({ ...facts, status: 404 }, policy), undefined);
  assert.match(planReputationCookie({ ...facts, secure: true }, policy)!, /; Secure$/);
});

test('a reputation is refreshed once a day keeping its first-seen time and id, so its age keeps counting', () => {
  const first = verify(planReputationCookie(facts, policy)!, T0);
  assert.equal(planReputationCookie({ ...facts, reputation: first, now: T0 + DAY / 2 }, policy), undefined, 'fresh enough: no new cookie');
  const refreshed = verify(planReputationCookie({ ...facts, reputation: first, now: T0 + DAY + 1000 }, policy)!, T0 + DAY + 1000);
  assert.equal(refreshed.iat, first.iat);
  assert.equal(refreshed.id, first.id);
  assert.ok(refreshed.exp > first.exp);
});

test('after a key rotation a reputation signed by the previous key is re-signed at once, keeping its age', () => {
  const first = verify(planReputationCookie(facts, policy)!, T0);
  const rotated = createKeyring(Buffer.alloc(32, 5), Buffer.alloc(32, 4));
  const c = planReputationCookie({ ...facts, reputation: first, now: T0 + 60_000 }, { ...policy, keys: rotated });
  assert.ok(c, 're-signed');
  const r = verifyToken(tokenOf(c), rotated, T0 + 60_000, { kind: 'rep', prefix: '203.0.113.0/24', fingerprint: 'fp' });
  assert.ok(r.ok);
  assert.equal(r.payload.kid, rotated.current.id);
  assert.equal(r.payload.iat, first.iat);
});

test('reputation rank: established only when issued at least minAge before the attack started', () => {
  const rep = { v: 1, kid: 'k', k: 'rep', iat: T0 / 1000, exp: T0 / 1000 + 1e6, p: 'x' } as const;
  const minAgeMs = 600_000;
  assert.equal(rankReputation(undefined, T0, { attackStartedAt: undefined, minAgeMs }), 'none');
  assert.equal(rankReputation(rep, T0 + 700_000, { attackStartedAt: T0 + 700_000, minAgeMs }), 'established');
  assert.equal(rankReputation(rep, T0 + 3_600_000, { attackStartedAt: T0 + 500_000, minAgeMs }), 'recent', 'a bot that browsed 8 minutes before its flood');
  assert.equal(rankReputation(rep, T0 + 500_000, { attackStartedAt: undefined, minAgeMs }), 'recent', 'normal times: relative to now');
  assert.equal(rankReputation(rep, T0 + 700_000, { attackStartedAt: undefined, minAgeMs }), 'established');
});

test('revocation list: revoked until its time, bounded, forgets the earliest when full', () => {
  const clock = createManualClock(1000);
  const r = createRevocationList({ maxEntries: 3, clock });
  r.revoke('a', 2000);
  assert.equal(r.isRevoked('a'), true);
  assert.equal(r.isRevoked('b'), false);
  clock.set(2000);
  assert.equal(r.isRevoked('a'), false, 'expired revocation');
  assert.equal(r.size, 0);
  for (const id of ['a', 'b', 'c', 'd']) r.revoke(id, 10_000);
  assert.equal(r.size, 3);
  assert.equal(r.isRevoked('a'), false, 'earliest forgotten');
  assert.equal(r.isRevoked('d'), true);
});

test('cookie reading finds whole names only; session exemption helper; Set-Cookie attributes', () => {
  const h = 'xrempart_clr=no; rempart_clr=yes; rempart_rep=r1;rempart_nojs= n ';
  assert.equal(readCookie(h, COOKIE_NAMES.clr), 'yes');
  assert.equal(readCookie(h, COOKIE_NAMES.rep), 'r1');
  assert.equal(readCookie(h, COOKIE_NAMES.nojs), 'n');
  assert.equal(readCookie('rempart_clrx=1', COOKIE_NAMES.clr), undefined);
  assert.equal(readCookie(undefined, 'a'), undefined);
  assert.equal(hasSessionCookie('a=1; sid=abc', ['session', 'sid']), true);
  assert.equal(hasSessionCookie('a=1; sid=', ['sid']), false, 'an empty session cookie is none');
  assert.equal(serializeCookie('n', 'v', { maxAgeS: 60, secure: true }), 'n=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure');
});

test('address prefixes: IPv4 /24, IPv6 /48, IPv4-mapped IPv6 as IPv4', () => {
  assert.equal(addressPrefix('203.0.113.77'), '203.0.113.0/24');
  assert.equal(addressPrefix('::ffff:203.0.113.77'), '203.0.113.0/24');
  assert.equal(addressPrefix('2001:db8:1:2:3::5'), '2001:db8:1::/48');
  assert.equal(addressPrefix('not an address'), 'not an address');
});
