import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSessionTable, sessionCookieChange, sessionDigest } from '../../src/shield/reputation/sessions.js';

test('a session the origin set is known until it is cleared, revoked, or past its lifetime', () => {
  const t = createSessionTable({ maxEntries: 10, maxAgeS: 3600 });
  assert.equal(t.known('abc', 0), undefined, 'never set: unknown');
  t.learn('abc', 0);
  const key = t.known('abc', 1_000);
  assert.equal(key, sessionDigest('abc'));
  assert.equal(t.known('abd', 1_000), undefined, 'another value is not that session');
  t.forget('abc');
  assert.equal(t.known('abc', 2_000), undefined, 'cleared by the origin');
  t.learn('abc', 0);
  t.revoke(key!);
  assert.equal(t.known('abc', 2_000), undefined, 'revoked by its digest');
  // Its own lifetime (Max-Age 10 s) ends it, however recently it was used.
  t.learn('short', 0, 10);
  assert.ok(t.known('short', 9_000));
  assert.equal(t.known('short', 10_000), undefined);
  // A lifetime already over is no session (a clearing line that slipped through).
  t.learn('gone', 5_000, 0);
  assert.equal(t.known('gone', 5_000), undefined);
  assert.equal(t.known('', 0), undefined, 'an empty value is never a session');
});

test('an unused session is trusted maxAgeS after it was last seen; each use extends it, never past its own lifetime', () => {
  const t = createSessionTable({ maxEntries: 10, maxAgeS: 100 });
  t.learn('browser-session', 0); // no Max-Age: a browser session
  assert.ok(t.known('browser-session', 90_000), 'used at 90 s');
  assert.ok(t.known('browser-session', 180_000), 'trusted until 190 s after that use');
  assert.equal(t.known('browser-session', 280_001), undefined, 'idle for longer than maxAgeS');
  t.learn('capped', 0, 150);
  assert.ok(t.known('capped', 90_000));
  assert.equal(t.known('capped', 150_000), undefined, 'its Max-Age bounds every extension');
});

test('memory is bounded: past maxEntries the least recently seen session is forgotten', () => {
  const t = createSessionTable({ maxEntries: 3, maxAgeS: 3600 });
  for (const v of ['a', 'b', 'c']) t.learn(v, 0);
  assert.ok(t.known('a', 1), 'a used: now the most recent');
  t.learn('d', 2);
  assert.equal(t.size, 3);
  assert.equal(t.known('b', 3), undefined, 'b was the least recently seen');
  assert.ok(t.known('a', 3) && t.known('c', 3) && t.known('d', 3));
  // 10,000 sessions through a table of 3: it never holds more.
  for (let i = 0; i < 10_000; i++) t.learn(`s${i}`, 10 + i);
  assert.equal(t.size, 3);
});

test('Set-Cookie lines: a session cookie set, set for a lifetime, or cleared (RFC 6265 §5.2–5.3); other cookies ignored', () => {
  const now = Date.parse('2026-12-03T10:00:00Z');
  const names = ['sid', 'SESSION'];
  assert.deepEqual(sessionCookieChange('sid=v1; Path=/; HttpOnly; SameSite=Lax', names, now), { name: 'sid', value: 'v1', cleared: false });
  assert.deepEqual(sessionCookieChange('SESSION=v2; Max-Age=600; Secure', names, now), { name: 'SESSION', value: 'v2', cleared: false, lifetimeS: 600 });
  assert.deepEqual(sessionCookieChange('sid=v3; Expires=Thu, 03 Dec 2026 11:00:00 GMT', names, now), { name: 'sid', value: 'v3', cleared: false, lifetimeS: 3600 });
  // Max-Age wins over Expires (§5.3 step 3).
  assert.deepEqual(sessionCookieChange('sid=v4; Expires=Thu, 03 Dec 2026 11:00:00 GMT; max-age=60', names, now), { name: 'sid', value: 'v4', cleared: false, lifetimeS: 60 });
  assert.equal(sessionCookieChange('sid=; Path=/', names, now)?.cleared, true, 'an empty value');
  assert.equal(sessionCookieChange('sid=v5; Max-Age=0', names, now)?.cleared, true);
  assert.equal(sessionCookieChange('sid=v6; Expires=Thu, 01 Jan 1970 00:00:00 GMT', names, now)?.cleared, true);
  assert.equal(sessionCookieChange('rempart_rep=x; Path=/', names, now), undefined, 'not a session cookie');
  assert.equal(sessionCookieChange('sidx=v; Path=/', names, now), undefined, 'names match exactly');
  assert.equal(sessionCookieChange('=v; Path=/', names, now), undefined);
});

test('changes to keep across a restart: sessions learned and forgotten, and one in use only once its expiry moved on by the slack', () => {
  const t = createSessionTable({ maxEntries: 10, maxAgeS: 3600, journal: true }); // slack: 5 minutes (a tenth of maxAgeS, at most 5 min)
  assert.deepEqual(t.takeChanges(), []);
  t.learn('a', 0, 7200);
  t.learn('b', 0);
  const a = sessionDigest('a');
  const b = sessionDigest('b');
  assert.deepEqual(t.takeChanges(), [{ key: a, expires: 3_600_000, hardExpires: 7_200_000 }, { key: b, expires: 3_600_000, hardExpires: Infinity }]);
  assert.deepEqual(t.takeChanges(), [], 'taken once');
  t.known('a', 60_000);
  assert.deepEqual(t.takeChanges(), [], 'used a minute later: not rewritten');
  t.known('a', 300_000);
  assert.deepEqual(t.takeChanges(), [{ key: a, expires: 3_900_000, hardExpires: 7_200_000 }], 'its expiry moved on 5 minutes');
  t.forget('b');
  t.forget('never-set');
  assert.deepEqual(t.takeChanges(), [{ key: b, gone: true }], 'a forgotten session; nothing for one never known');
  t.revoke(a);
  assert.deepEqual(t.takeChanges(), [{ key: a, gone: true }]);
  // Expired when asked for: gone.
  t.learn('c', 0, 10);
  t.takeChanges();
  assert.equal(t.known('c', 10_000), undefined);
  assert.deepEqual(t.takeChanges(), [{ key: sessionDigest('c'), gone: true }]);
  // Without a reader nothing is journaled (the journal would otherwise grow for good).
  const plain = createSessionTable({ maxEntries: 10, maxAgeS: 3600 });
  plain.learn('a', 0);
  plain.forget('a');
  assert.deepEqual(plain.takeChanges(), []);
});

test('restore: sessions kept before a restart are known again; expired ones skipped; past maxEntries the soonest to expire dropped', () => {
  const before = createSessionTable({ maxEntries: 10, maxAgeS: 3600, journal: true });
  before.learn('kept', 0);
  before.learn('short', 0, 60);
  before.learn('long', 0, 86_400);
  const saved = before.takeChanges().filter((c): c is { key: string; expires: number; hardExpires: number } => !('gone' in c));
  const after = createSessionTable({ maxEntries: 10, maxAgeS: 3600 });
  assert.equal(after.restore(saved, 120_000), 2, 'the 60 s session expired meanwhile');
  assert.ok(after.known('kept', 120_000));
  assert.ok(after.known('long', 120_000));
  assert.equal(after.known('short', 120_000), undefined);
  assert.deepEqual(after.takeChanges().map((c) => 'gone' in c), [], 'restored rows are not written back');
  // A shield with a shorter maxAgeS trusts a restored session no longer than its own.
  const strict = createSessionTable({ maxEntries: 10, maxAgeS: 60 });
  strict.restore(saved, 120_000);
  assert.ok(strict.known('long', 179_000));
  assert.equal(strict.known('kept', 181_000), undefined, 'unused for more than 60 s after the restart');
  // Smaller table: the ones that expire last are kept.
  const small = createSessionTable({ maxEntries: 1, maxAgeS: 3600 });
  const records = [5_000, 9_000, 7_000].map((expires, i) => ({ key: sessionDigest(`v${i}`), expires, hardExpires: Infinity }));
  assert.equal(small.restore(records, 0), 1);
  assert.equal(small.size, 1);
  assert.ok(small.known('v1', 1_000), 'the one that expires last');
});
