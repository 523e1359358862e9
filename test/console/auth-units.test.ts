import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashPassword, verifyPassword } from '../../src/console/password.js';
import { createSessionStore } from '../../src/console/sessions.js';
import { crossSiteRefusal, csrfTokenMatches } from '../../src/console/csrf.js';
import { createManualClock } from '../../src/core/clock.js';
import { parseConfig } from '../../src/config/load.js';

const CHEAP = { N: 2 ** 10, r: 8, p: 1 };

test('password hashes: salted (two hashes of one password differ), verified in constant time, malformed hashes never match', async () => {
  const a = await hashPassword('correct horse battery', CHEAP);
  const b = await hashPassword('correct horse battery', CHEAP);
  assert.notEqual(a, b);
  assert.match(a, /^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
  assert.equal(await verifyPassword('correct horse battery', a), true);
  assert.equal(await verifyPassword('correct horse batterY', a), false);
  assert.equal(await verifyPassword('correct horse battery', a.replace('$1024$', '$1000$')), false, 'N must be a power of two');
  assert.equal(await verifyPassword('x', 'plain-text-password'), false);
  assert.equal(await verifyPassword('x', `scrypt$${2 ** 24}$8$1$AAAA$AAAA`), false, 'absurd costs are refused, not computed');
  // The configuration accepts what the CLI prints and refuses anything else.
  const base = { upstreams: { o: { url: 'http://127.0.0.1:1' } }, routes: [{ match: { path: '/' }, upstream: 'o' }] };
  assert.equal(parseConfig({ ...base, console: { operators: [{ name: 'alice', passwordHash: a }] } }).console.operators[0]?.name, 'alice');
  assert.throws(() => parseConfig({ ...base, console: { operators: [{ name: 'alice', passwordHash: 'hunter2' }] } }), /passwordHash/);
  assert.throws(() => parseConfig({ ...base, status: { components: [{ id: 'web', name: 'Website', upstream: 'nope' }] } }),
    (e: { problems?: Array<{ path: string; message: string }> }) => e.problems?.some((p) => p.path === 'status.components[0].upstream' && p.message.includes('unknown upstream "nope"')) === true);
});

test('sessions expire, are bounded, and are found only by their id', () => {
  const clock = createManualClock(0);
  let n = 0;
  const s = createSessionStore({ clock, ttlMs: () => 1000, random: (bytes) => `id${n++}-${bytes}`, max: 3 });
  const a = s.create('alice');
  assert.equal(s.get(a.id)?.who, 'alice');
  assert.equal(s.get('nope'), undefined);
  assert.equal(s.get(undefined), undefined);
  clock.advance(1000);
  assert.equal(s.get(a.id), undefined, 'expired');
  const ids = [s.create('a').id, s.create('b').id, s.create('c').id, s.create('d').id];
  assert.equal(s.size, 3);
  assert.equal(s.get(ids[0]), undefined, 'the oldest made room');
  assert.equal(s.get(ids[3])?.who, 'd');
});

test('cross-site rules: safe methods pass; other origins, cross-site or same-site fetches are refused; a missing Origin defers to the token', () => {
  const base = { method: 'POST', host: '127.0.0.1:8081' };
  assert.equal(crossSiteRefusal({ ...base, method: 'GET', origin: 'https://evil.example', secFetchSite: 'cross-site' }), undefined);
  assert.equal(crossSiteRefusal({ ...base, origin: 'http://127.0.0.1:8081', secFetchSite: 'same-origin' }), undefined);
  assert.equal(crossSiteRefusal({ ...base, origin: undefined, secFetchSite: undefined }), undefined);
  assert.match(crossSiteRefusal({ ...base, origin: 'http://127.0.0.1:8080', secFetchSite: undefined }) ?? '', /not this console/);
  assert.match(crossSiteRefusal({ ...base, origin: 'null', secFetchSite: undefined }) ?? '', /not this console/);
  assert.match(crossSiteRefusal({ ...base, origin: undefined, secFetchSite: 'same-site' }) ?? '', /same-site/);
  assert.match(crossSiteRefusal({ ...base, method: 'DELETE', origin: undefined, secFetchSite: 'cross-site' }) ?? '', /cross-site/);
  assert.equal(csrfTokenMatches('abc', 'abc'), true);
  assert.equal(csrfTokenMatches('abd', 'abc'), false);
  assert.equal(csrfTokenMatches(undefined, 'abc'), false);
  assert.equal(csrfTokenMatches('', ''), false);
});
