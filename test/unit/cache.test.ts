import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCacheStore, type CachedResponse } from '../../src/shield/cache/store.js';
import { cacheKey, isCacheableRequest, storableLifetimeS, type CachePolicy } from '../../src/shield/cache/policy.js';

const policy: CachePolicy = { ttlS: 30, staleS: 60, query: ['id', 'lang'] };
const entry = (bytes: number, t = 0): CachedResponse => ({ status: 200, headers: {}, body: Buffer.alloc(bytes), storedAt: t, freshUntil: t + 1000, staleUntil: t + 5000 });

test('the key keeps only listed query parameters, sorted by name, and HEAD shares GET', () => {
  const a = cacheKey('GET', 'r3', '/search?q=1&lang=fr&id=7&rnd=abc', policy);
  assert.equal(a, cacheKey('GET', 'r3', '/search?rnd=zzz&id=7&q=2&lang=fr', policy));
  assert.equal(a, cacheKey('HEAD', 'r3', '/search?id=7&lang=fr', policy));
  assert.notEqual(a, cacheKey('GET', 'r3', '/search?id=8&lang=fr', policy));
  assert.notEqual(a, cacheKey('GET', 'r4', '/search?id=7&lang=fr', policy), 'routes are separate namespaces');
  assert.notEqual(cacheKey('GET', 'h', '/a?id=1', policy), cacheKey('GET', 'h', '/a?id=1&id=2', policy));
});

test('only GET/HEAD without credentials, only shareable responses, lifetime capped by the route', () => {
  assert.equal(isCacheableRequest('GET', {}), true);
  assert.equal(isCacheableRequest('POST', {}), false);
  assert.equal(isCacheableRequest('GET', { authorization: 'Bearer x' }), false);
  assert.equal(isCacheableRequest('GET', { accept: 'text/event-stream' }), true, 'an Accept is no way around the cache (an event stream is never stored: below)');
  assert.equal(storableLifetimeS(200, { 'content-type': 'text/event-stream; charset=utf-8' }, policy), undefined, 'an event stream never ends');
  assert.equal(storableLifetimeS(200, {}, policy), 30);
  assert.equal(storableLifetimeS(200, { 'cache-control': 'public, max-age=5' }, policy), 5);
  assert.equal(storableLifetimeS(200, { 'cache-control': 's-maxage=10, max-age=2' }, policy), 10);
  assert.equal(storableLifetimeS(200, { 'cache-control': 'max-age=3600' }, policy), 30);
  assert.equal(storableLifetimeS(200, { 'cache-control': 'max-age=0' }, policy), undefined);
  assert.equal(storableLifetimeS(200, { 'cache-control': 'private' }, policy), undefined);
  assert.equal(storableLifetimeS(200, { 'cache-control': 'no-store' }, policy), undefined);
  assert.equal(storableLifetimeS(200, { 'set-cookie': ['a=1'] }, policy), undefined);
  assert.equal(storableLifetimeS(200, { vary: 'accept-encoding' }, policy), 30, 'stored as a variant (cache-vary.test.ts)');
  assert.equal(storableLifetimeS(200, { vary: '*' }, policy), undefined);
  assert.equal(storableLifetimeS(404, {}, policy), 30);
  assert.equal(storableLifetimeS(500, {}, policy), undefined);
  assert.equal(storableLifetimeS(206, {}, policy), undefined);
});

test('fresh, then stale, then gone; the store never holds more than its byte budget', () => {
  const store = createCacheStore(4000);
  store.put('a', entry(1000));
  assert.ok(store.fresh('a', 999));
  assert.equal(store.fresh('a', 1000), undefined);
  assert.ok(store.stale('a', 4999));
  assert.equal(store.stale('a', 5000), undefined);
  assert.equal(store.size, 0);
  for (let i = 0; i < 20; i++) {
    store.put(`k${i}`, entry(700));
    assert.ok(store.bytes <= 4000, `bytes ${store.bytes}`);
  }
  assert.ok(store.fresh('k19', 0) && !store.fresh('k0', 0), 'least recently used went first');
  store.put('huge', entry(5000));
  assert.equal(store.fresh('huge', 0), undefined, 'an entry larger than the budget is not stored');
});

test('a read keeps an entry young', () => {
  const store = createCacheStore(3 * (700 + 260));
  store.put('x', entry(700));
  store.put('y', entry(700));
  store.put('z', entry(700));
  store.fresh('x', 0);
  store.put('w', entry(700));
  assert.ok(store.fresh('x', 0), 'x was read, so y went instead');
  assert.equal(store.fresh('y', 0), undefined);
});

test('a route that overrides the upstream\'s Cache-Control stores for its ttl whatever that says; personal answers stay out', () => {
  const over: CachePolicy = { ...policy, override: true };
  for (const cc of ['max-age=0, private, must-revalidate', 'no-store', 'no-cache', 'max-age=5', 's-maxage=3600']) {
    assert.equal(storableLifetimeS(200, { 'cache-control': cc }, over), 30, cc);
  }
  assert.equal(storableLifetimeS(200, { 'cache-control': 'private' }, policy), undefined, 'respected without it');
  assert.equal(storableLifetimeS(200, { 'set-cookie': ['sid=1'] }, over), undefined);
  assert.equal(storableLifetimeS(200, { vary: 'Cookie' }, over), undefined);
  assert.equal(storableLifetimeS(500, {}, over), undefined);
});
