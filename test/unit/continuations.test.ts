import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createContinuations, sameSiteTarget } from '../../src/shield/defence/continuations.js';

test('a continuation is taken once, by the client it was granted to, for its target only', () => {
  const c = createContinuations();
  c.grant('rep:a', '/bank/account', 1_000);
  assert.equal(c.take('rep:b', '/bank/account', 1_100), undefined, 'another client');
  assert.equal(c.take('rep:a', '/bank/other', 1_100), undefined, 'another target');
  assert.equal(c.take('rep:a', '/bank/account', 1_100), 0, 'served at the pace of its critical request (0 when unsaid)');
  assert.equal(c.take('rep:a', '/bank/account', 1_200), undefined, 'used up');
  assert.equal(c.size, 0);
});

test('two redirects to one target lend two continuations; none outlives its ttl', () => {
  const c = createContinuations({ ttlMs: 10_000 });
  c.grant('k', '/t', 0, 0);
  c.grant('k', '/t', 5_000, 2);
  assert.equal(c.take('k', '/t', 6_000), 2, 'the heaviest pace of the pending grants');
  assert.equal(c.take('k', '/t', 6_000), 2);
  assert.equal(c.take('k', '/t', 6_000), undefined);
  c.grant('k', '/late', 0);
  assert.equal(c.take('k', '/late', 10_001), undefined, 'expired');
  assert.equal(c.size, 0, 'an expired continuation is dropped when asked for');
});

test('memory is bounded: past maxEntries the oldest continuation is forgotten', () => {
  const c = createContinuations({ maxEntries: 3 });
  for (let i = 0; i < 5; i++) c.grant(`k${i}`, '/t', i);
  assert.equal(c.size, 3);
  assert.equal(c.take('k0', '/t', 10), undefined);
  assert.equal(c.take('k1', '/t', 10), undefined);
  assert.equal(c.take('k4', '/t', 10), 0);
});

test('only a Location on the request\'s own host continues it, resolved as a browser resolves it', () => {
  assert.equal(sameSiteTarget('/bank/account?tab=1#top', '/bank/login', 'bank.example'), '/bank/account?tab=1');
  assert.equal(sameSiteTarget('account', '/bank/login', 'bank.example'), '/bank/account', 'relative to the request (RFC 3986 §5.2)');
  assert.equal(sameSiteTarget('/a/../bank/x', '/', 'bank.example'), '/bank/x', 'dot segments removed');
  assert.equal(sameSiteTarget('https://bank.example/done', '/pay', 'bank.example'), '/done');
  assert.equal(sameSiteTarget('https://evil.example/done', '/pay', 'bank.example'), undefined);
  assert.equal(sameSiteTarget('//evil.example/done', '/pay', 'bank.example'), undefined, 'scheme-relative to another host');
  assert.equal(sameSiteTarget('javascript:alert(1)', '/pay', 'bank.example'), undefined);
  assert.equal(sameSiteTarget('/x', '/pay', undefined), undefined, 'no Host: nothing to compare');
  assert.equal(sameSiteTarget('/x', '/pay', 'bad host'), undefined);
});
