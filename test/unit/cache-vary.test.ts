import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptedCodings, MAX_VARIANTS, varyRule, variantKey } from '../../src/shield/cache/vary.js';
import { createCacheStore, type CachedResponse } from '../../src/shield/cache/store.js';
import { storableLifetimeS, type CachePolicy } from '../../src/shield/cache/policy.js';

const policy: CachePolicy = { ttlS: 30, staleS: 60, query: [] };
const entry = (body: string, vary?: readonly string[], t = 0): CachedResponse => ({ status: 200, headers: {}, body: Buffer.from(body), storedAt: t, freshUntil: t + 1000, staleUntil: t + 5000, ...(vary ? { vary } : {}) });
const text = (e: CachedResponse | undefined): string | undefined => e?.body.toString();

test('a Vary names the headers to match, lower-cased, sorted, once each; * and personal headers are never stored', () => {
  assert.deepEqual(varyRule(undefined), []);
  assert.deepEqual(varyRule('Accept-Encoding'), ['accept-encoding']);
  assert.deepEqual(varyRule(['Accept-Language, accept-encoding', 'ACCEPT-ENCODING']), ['accept-encoding', 'accept-language']);
  assert.deepEqual(varyRule(' , '), []);
  assert.equal(varyRule('*'), 'unstorable');
  assert.equal(varyRule('Accept-Encoding, *'), 'unstorable');
  assert.equal(varyRule('Cookie'), 'unstorable');
  assert.equal(varyRule('accept, Authorization'), 'unstorable');
  // Coded answers: only in a coding whose acceptability the variant records.
  assert.deepEqual(varyRule('Accept-Encoding', 'gzip'), ['accept-encoding']);
  assert.deepEqual(varyRule('Accept-Encoding', 'br'), ['accept-encoding']);
  assert.deepEqual(varyRule('Accept-Encoding', 'identity'), ['accept-encoding']);
  assert.equal(varyRule('Accept-Encoding', 'x-proprietary'), 'unstorable');
  assert.equal(varyRule('Accept-Encoding', 'compress'), 'unstorable', 'a coding no client asks for any more');
  assert.equal(storableLifetimeS(200, { vary: 'Accept-Encoding', 'content-encoding': 'gzip' }, policy), 30);
  assert.equal(storableLifetimeS(200, { vary: '*' }, policy), undefined);
  assert.equal(storableLifetimeS(200, { vary: 'Cookie' }, policy), undefined);
});

test('Accept-Encoding selects by the codings it accepts (RFC 9110 §12.5.3), not by its spelling', () => {
  const chrome = acceptedCodings('gzip, deflate, br, zstd');
  assert.equal(chrome, acceptedCodings('zstd,br , DEFLATE;q=0.5, x-gzip;q=0.9'), 'order, case, weights above 0 and the x-gzip alias say nothing of what is acceptable');
  assert.notEqual(chrome, acceptedCodings('gzip, deflate, br'), 'one coding fewer is another set');
  assert.notEqual(acceptedCodings('gzip'), acceptedCodings('gzip;q=0'), 'q=0 refuses');
  assert.equal(acceptedCodings('*'), acceptedCodings('br, deflate, gzip, zstd'), '* accepts every coding');
  assert.equal(acceptedCodings('*, gzip;q=0'), acceptedCodings('br, deflate, zstd'));
  assert.notEqual(acceptedCodings('gzip, identity;q=0'), acceptedCodings('gzip'), 'identity refused is another set');
  assert.equal(acceptedCodings('gzip, *;q=0'), acceptedCodings('gzip, identity;q=0'), '*;q=0 refuses identity unless it is listed');
  assert.equal(acceptedCodings('gzip;q=abc'), acceptedCodings(''), 'a malformed weight refuses');
  assert.equal(acceptedCodings('gzip, random-8f3a, x-y;q=1'), acceptedCodings('gzip'), 'unknown codings never reach a stored answer');
  // Random values from a flood fall into a few variants, whatever they spell.
  const seen = new Set<string>();
  for (let i = 0; i < 500; i++) seen.add(variantKey(['accept-encoding'], { 'accept-encoding': `gzip, junk${i};q=0.${i % 10}, br` }));
  assert.equal(seen.size, 1);
  // Every set there is, and no header at all, fit within a key's variants.
  const sets = new Set<string>([variantKey(['accept-encoding'], {})]);
  const names = ['br', 'deflate', 'gzip', 'zstd', 'identity'];
  for (let m = 0; m < 32; m++) sets.add(variantKey(['accept-encoding'], { 'accept-encoding': names.map((n, i) => `${n};q=${(m >> i) & 1}`).join(', ') }));
  assert.equal(sets.size, 33);
  assert.ok(sets.size <= MAX_VARIANTS);
});

test('the variant key: each listed header, an absent one its own value, case and whitespace folded where the header allows', () => {
  const names = ['accept-encoding', 'accept-language'];
  const a = variantKey(names, { 'accept-encoding': 'gzip, br', 'accept-language': 'fr-FR, fr;q=0.9' });
  assert.equal(a, variantKey(names, { 'accept-encoding': 'br,gzip', 'accept-language': 'FR-fr,fr;q=0.9' }));
  assert.notEqual(a, variantKey(names, { 'accept-encoding': 'gzip, br', 'accept-language': 'en-GB' }));
  assert.notEqual(variantKey(names, {}), variantKey(names, { 'accept-encoding': '', 'accept-language': '' }), 'absent is not empty');
  assert.notEqual(variantKey(['x-tenant'], { 'x-tenant': 'A' }), variantKey(['x-tenant'], { 'x-tenant': 'a' }), 'an unknown header keeps its case');
  assert.equal(variantKey(['x-tenant'], { 'x-tenant': 'a , b' }), variantKey(['x-tenant'], { 'x-tenant': 'a,b' }));
});

test('a varied answer answers only requests that select it; another variant is a miss, then stored beside it', () => {
  const store = createCacheStore(100_000);
  const gz = { 'accept-encoding': 'gzip, deflate, br' };
  const none = {};
  store.put('k', entry('gzipped', ['accept-encoding']), gz);
  assert.equal(text(store.fresh('k', 10, { 'accept-encoding': 'br, gzip, deflate' })), 'gzipped');
  assert.equal(store.fresh('k', 10, none), undefined, 'a client that asked for no coding does not get the coded copy');
  store.put('k', entry('plain', ['accept-encoding']), none);
  assert.equal(text(store.fresh('k', 10, none)), 'plain');
  assert.equal(text(store.fresh('k', 10, gz)), 'gzipped');
  assert.equal(store.size, 2);
  assert.equal(text(store.stale('k', 4000, gz)), 'gzipped', 'stale-if-error picks the variant too');
  // The origin stops varying: its answer replaces every variant.
  store.put('k', entry('one'), gz);
  assert.equal(store.size, 1);
  assert.equal(text(store.fresh('k', 10, none)), 'one');
  assert.equal(text(store.fresh('k', 10, gz)), 'one');
  // ...and varies again, by another header: the plain entry goes.
  store.put('k', entry('fr', ['accept-language']), { 'accept-language': 'fr' });
  assert.equal(store.size, 1);
  assert.equal(store.fresh('k', 10, { 'accept-language': 'en' }), undefined);
  assert.equal(text(store.fresh('k', 10, { 'accept-language': 'fr' })), 'fr');
  store.put('k', entry('fr2', ['accept-encoding']), { 'accept-language': 'fr' });
  assert.equal(store.size, 1, 'a Vary naming other headers replaces the variants held');
});

test('a key holds at most MAX_VARIANTS variants, its least recently used out first; the byte budget and LRU cover variants', () => {
  const store = createCacheStore(1_000_000);
  for (let i = 0; i < MAX_VARIANTS + 5; i++) store.put('k', entry(`v${i}`, ['accept-language']), { 'accept-language': `l${i}` });
  assert.equal(store.size, MAX_VARIANTS);
  assert.equal(store.fresh('k', 0, { 'accept-language': 'l0' }), undefined);
  assert.equal(text(store.fresh('k', 0, { 'accept-language': `l${MAX_VARIANTS + 4}` })), `v${MAX_VARIANTS + 4}`);
  // The variant customers keep reading stays while a flood cycles through new ones.
  const kept = { 'accept-language': 'l5' };
  assert.ok(store.fresh('k', 0, kept), 'the oldest left, read once');
  for (let i = 0; i < 3 * MAX_VARIANTS; i++) {
    store.put('k', entry(`f${i}`, ['accept-language']), { 'accept-language': `flood-${i}` });
    assert.ok(store.fresh('k', 0, kept), `the read variant was pushed out at ${i}`);
  }
  store.put('other', entry('o'), {});
  assert.equal(store.size, MAX_VARIANTS + 1, 'other keys are not counted against a key\'s variants');
  // A budget for three entries: variants go out least recently used first, like any entry, and the
  // key's bookkeeping follows (no variant left, the next answer is stored afresh).
  const small = createCacheStore(3 * (700 + 400));
  const big = (v: string): CachedResponse => ({ ...entry(v, ['accept-language']), body: Buffer.alloc(700, v) });
  for (const l of ['a', 'b', 'c', 'd']) small.put('k', big(l), { 'accept-language': l });
  assert.ok(small.bytes <= 3 * 1100, `bytes ${small.bytes}`);
  assert.equal(small.fresh('k', 0, { 'accept-language': 'a' }), undefined);
  assert.ok(small.fresh('k', 0, { 'accept-language': 'd' }));
  small.put('x', { ...entry('x'), body: Buffer.alloc(3000) }, {});
  assert.equal(small.fresh('k', 0, { 'accept-language': 'd' }), undefined, 'pushed out by a larger entry');
  small.put('k', entry('plain'), {});
  assert.equal(text(small.fresh('k', 0, { 'accept-language': 'zz' })), 'plain', 'no variant bookkeeping left behind');
});
