import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPageVisits, sameSiteRefererPath } from '../../src/shield/defence/page-visits.js';
import { answeredPage, noteAnsweredPage } from '../../src/shield/defence/answered-page.js';
import type { RequestContext } from '../../src/shield/context.js';

test('a page backs submissions from the source that loaded it, for that page only, within its ttl', () => {
  const v = createPageVisits(() => ({ ttlMs: 60_000 }));
  v.loaded('src 127.0.0.7 a', '/bank/login', 1_000);
  assert.equal(v.hasLoaded('src 127.0.0.7 a', '/bank/login', 2_000), true);
  assert.equal(v.hasLoaded('src 127.0.0.8 a', '/bank/login', 2_000), false, 'another address');
  assert.equal(v.hasLoaded('src 127.0.0.7 b', '/bank/login', 2_000), false, 'another agent');
  assert.equal(v.hasLoaded('src 127.0.0.7 a', '/bank/account', 2_000), false, 'another page');
  assert.equal(v.hasLoaded('src 127.0.0.7 a', '/bank/login', 61_000), true, 'at the ttl');
  assert.equal(v.hasLoaded('src 127.0.0.7 a', '/bank/login', 61_001), false, 'past it');
  v.loaded('src 127.0.0.7 a', '/bank/login', 61_000);
  assert.equal(v.hasLoaded('src 127.0.0.7 a', '/bank/login', 100_000), true, 'a new load renews it');
  assert.equal(v.size, 1, 'one entry per (source, page)');
});

test('memory is bounded: past maxEntries the least recently loaded page is forgotten', () => {
  const v = createPageVisits(() => ({ maxEntries: 3 }));
  for (let i = 0; i < 3; i++) v.loaded(`s${i}`, '/p', i);
  v.loaded('s0', '/p', 3); // s0 loaded again: s1 is now the oldest
  v.loaded('s3', '/p', 4);
  assert.equal(v.size, 3);
  assert.equal(v.hasLoaded('s1', '/p', 5), false);
  assert.equal(v.hasLoaded('s0', '/p', 5), true);
  assert.equal(v.hasLoaded('s3', '/p', 5), true);
});

test('only a Referer naming a page of the request\'s own host is judged; the root alone is not', () => {
  assert.equal(sameSiteRefererPath('https://bank.example/bank/login?next=%2Fpay', 'bank.example'), '/bank/login');
  assert.equal(sameSiteRefererPath('http://127.0.0.1:8080/bank/account', '127.0.0.1:8080'), '/bank/account');
  assert.equal(sameSiteRefererPath('https://bank.example/', 'bank.example'), undefined, 'Referrer-Policy: origin sends only the root');
  assert.equal(sameSiteRefererPath('https://shop.example/bank/login', 'bank.example'), undefined, 'another site');
  assert.equal(sameSiteRefererPath('https://bank.example:8443/bank/login', 'bank.example'), undefined, 'another port');
  assert.equal(sameSiteRefererPath('android-app://com.bank/', 'bank.example'), undefined, 'another scheme');
  assert.equal(sameSiteRefererPath('/bank/login', 'bank.example'), '/bank/login', 'a partial URI names a page of this host (RFC 9110 §10.1.3)');
  assert.equal(sameSiteRefererPath('//shop.example/bank/login', 'bank.example'), undefined, 'a network-path reference to another host');
  assert.equal(sameSiteRefererPath(undefined, 'bank.example'), undefined);
  assert.equal(sameSiteRefererPath('https://bank.example/x', undefined), undefined);
});

test('answered a page: its page-visit cookie from the address the page went to, within the ttl; the same cookie from another address, or no cookie, is not', () => {
  const v = createPageVisits(() => ({ ttlMs: 60_000 }));
  const id = 'AAAAAAAAAAAAAAAA';
  const ctx = (clientKey: string, cookie?: string) => ({ clientKey, req: { headers: cookie === undefined ? {} : { cookie } } }) as unknown as RequestContext;
  assert.equal(answeredPage(ctx('127.0.0.7', `rempart_pv=${id}`), v, 1_000), false, 'before any page');
  noteAnsweredPage(v, id, '127.0.0.7', 1_000);
  assert.equal(answeredPage(ctx('127.0.0.7', `rempart_pv=${id}`), v, 2_000), true);
  assert.equal(answeredPage(ctx('127.0.0.8', `rempart_pv=${id}`), v, 2_000), false, 'one bot\'s cookie copied by another address');
  assert.equal(answeredPage(ctx('127.0.0.7'), v, 2_000), false, 'no cookie');
  assert.equal(answeredPage(ctx('127.0.0.7', `rempart_pv=${id}`), v, 61_001), false, 'past the ttl');
  assert.equal(v.hasLoaded('pv AAAAAAAAAAAAAAAA', '/', 2_000), false, 'no page path recorded by it (form submissions are judged apart)');
});
