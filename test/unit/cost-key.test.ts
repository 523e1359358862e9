import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCostKeys } from '../../src/shield/detect/cost-key.js';
import { queryShape, valueShape } from '../../src/shield/detect/query-shape.js';

test('a request with a query is keyed by its route, method, path template and query shape, as before path keys', () => {
  const keys = createCostKeys();
  assert.deepEqual(keys.key('r', 'GET', '/search', '/search?q=colis+suivi'), { kind: 'r GET /search', shape: 'q:4*2', weighed: true });
  assert.deepEqual(keys.key('r', 'GET', '/track/6A12345678901', '/track/6A12345678901?lang=fr'), { kind: 'r GET /track/{id}', shape: 'lang:2', weighed: true },
    'a last segment at a position that never took a list is no part of the key of a request with a query');
  assert.equal(keys.key('r', 'GET', '/track/6A12345678901', '/track/6A12345678901'), undefined,
    'an id without a query: no key, where no position takes lists');
  assert.deepEqual(keys.key('r', 'GET', '/bank/account', '/bank/account'), { kind: 'r GET /bank/{id}', shape: '@:3', weighed: false },
    'a word without a query: learned from, not weighed');
  assert.equal(keys.key('r', 'GET', '/', '/'), undefined, 'no query and no last segment under a parent: nothing to key');
  assert.equal(keys.key('r', 'GET', '/search/', '/search/'), undefined, 'a directory has no last segment');
  assert.equal(keys.key('r', 'GET', '/search', '/search'), undefined, 'a segment at the root is a page name, never a parameter');
});

test('a list answered in a last segment makes its position a parameter: every last segment there is folded and weighed by its size', () => {
  const keys = createCostKeys();
  // Before: each word its own path template, and a shadow key under the folded kind.
  assert.deepEqual(keys.key('r', 'GET', '/search/colis', '/search/colis'), { kind: 'r GET /search/{id}', shape: '@:3', weighed: false });
  assert.deepEqual(keys.key('r', 'GET', '/search/comment+envoyer+un+colis', '/search/comment+envoyer+un+colis'), { kind: 'r GET /search/{id}', shape: '@:5*3', weighed: false },
    'a list as long as an id is keyed too, before its position is known (re-keyed while it waits)');
  keys.learn('r', '/search/colis'); // one word is no list
  keys.learn('r', '/colis+suivi'); // at the root
  assert.equal(keys.positions, 0);
  keys.learn('r', '/search/comment+envoyer+un+colis');
  assert.equal(keys.positions, 1);
  assert.deepEqual(keys.key('r', 'GET', '/search/colis', '/search/colis'), { kind: 'r GET /search/{id}', shape: '@:3', weighed: true });
  assert.deepEqual(keys.key('r', 'GET', '/search/a+b+c+d+e+f+g+h', '/search/a+b+c+d+e+f+g+h?page=2'),
    { kind: 'r GET /search/{id}', shape: '@:4*4&page:1', weighed: true }, 'the path part, then the query shape');
  // Encoded separators count as the query's do; a long word is one item.
  assert.equal(keys.key('r', 'GET', '/search/colis%20suivi%09lettre', '/search/colis%20suivi%09lettre')?.shape, '@:5*2');
  assert.equal(keys.key('r', 'GET', '/search/colissuivilettrebureautimbreretourcarte', '/search/colissuivilettrebureautimbreretourcarte')?.shape, '@:6');
  // A trailing slash is no segment of its own: the same key, and it teaches the same position.
  assert.deepEqual(keys.key('r', 'GET', '/search/a+b+c+d+e+f+g+h/', '/search/a+b+c+d+e+f+g+h/'), { kind: 'r GET /search/{id}', shape: '@:4*4', weighed: true });
  keys.learn('r', '/labels/a,b/');
  assert.equal(keys.key('r', 'GET', '/labels/x', '/labels/x')?.weighed, true);
  // Another route, or another parent, is another position; the parent's own ids are folded.
  assert.equal(keys.key('other', 'GET', '/search/colis', '/search/colis')?.weighed, false);
  assert.equal(keys.key('r', 'GET', '/tags/colis', '/tags/colis')?.weighed, false);
  assert.equal(keys.key('r', 'GET', '/shop/7B99999999999/items/4', '/shop/7B99999999999/items/4'), undefined);
  keys.learn('r', '/shop/6A12345678901/items/1,2,3');
  assert.deepEqual(keys.key('r', 'GET', '/shop/7B99999999999/items/4', '/shop/7B99999999999/items/4'), { kind: 'r GET /shop/{id}/items/{id}', shape: '@:1', weighed: true });
});

test('positions are bounded: the least recently confirmed is given up first', () => {
  const keys = createCostKeys(2);
  keys.learn('r', '/a/x+y');
  keys.learn('r', '/b/x+y');
  keys.learn('r', '/a/x+y+z'); // confirms /a
  keys.learn('r', '/c/x+y'); // gives up /b
  assert.equal(keys.positions, 2);
  assert.equal(keys.key('r', 'GET', '/a/w', '/a/w')?.weighed, true);
  assert.equal(keys.key('r', 'GET', '/b/w', '/b/w')?.weighed, false);
  assert.equal(keys.key('r', 'GET', '/c/w', '/c/w')?.weighed, true);
  assert.throws(() => createCostKeys(0), RangeError);
});

test('a value joined by tabs or line breaks is a list, as the application splits it', () => {
  assert.equal(queryShape('/search?q=colis%09suivi%0Alettre%0dbureau', undefined, true), 'q:5*3');
  assert.equal(queryShape('/search?q=colis%2509suivi', undefined, true), 'q:4', 'an encoded percent sign is no separator');
  const s = 'x/a+b';
  assert.equal(valueShape(s, 2, s.length), ':2*2');
  assert.equal(valueShape(s, s.length, s.length), ':0');
});

test('a list answered in an inner segment makes that position a parameter: the segments around it keep their template', () => {
  const keys = createCostKeys();
  const p = '/search/comment+envoyer+un+colis/page/1';
  assert.deepEqual(keys.key('r', 'GET', p, p), { kind: 'r GET /search/{id}/page/{id}', shape: '@' + valueShape(p, 8, 32), weighed: false },
    'before its position is known, an inner list is learned from and re-keyed while it waits');
  assert.deepEqual(keys.key('r', 'GET', '/search/a+b/page/next', '/search/a+b/page/next')?.kind, 'r GET /search/{id}/page/next',
    'an inner list goes before a word in the last segment');
  assert.equal(keys.key('r', 'GET', '/search/colis/page/2', '/search/colis/page/2'), undefined, 'a word in an inner segment is no parameter, before a list taught it');
  keys.learn('r', '/a+b/page'); // the first segment is a page name
  keys.learn('r', '/search/colis/page/2'); // no list
  assert.equal(keys.positions, 0);
  keys.learn('r', p);
  assert.equal(keys.positions, 1);
  assert.deepEqual(keys.key('r', 'GET', '/search/colis/page/2', '/search/colis/page/2?sort=date'), { kind: 'r GET /search/{id}/page/{id}', shape: '@:3&' + queryShape('?sort=date', undefined, true), weighed: true });
  assert.deepEqual(keys.key('r', 'GET', '/search/a+b+c+d+e+f+g+h/page/3/', '/search/a+b+c+d+e+f+g+h/page/3/'), { kind: 'r GET /search/{id}/page/{id}', shape: '@:4*4', weighed: true },
    'a trailing slash is no segment of its own');
  assert.equal(keys.key('r', 'GET', '/search/colis/feed', '/search/colis/feed')?.weighed, false, 'another template around it is another position');
  assert.equal(keys.key('r', 'GET', '/search/colis', '/search/colis')?.weighed, false, 'and so is the last segment under the same parent');
  assert.equal(keys.key('other', 'GET', '/search/colis/page/2', '/search/colis/page/2'), undefined, 'and another route');
  // Two inner lists: the innermost is the position.
  keys.learn('r', '/tags/a,b/in/x|y/list');
  assert.equal(keys.key('r', 'GET', '/tags/a,b/in/z/list', '/tags/a,b/in/z/list')?.kind, 'r GET /tags/a,b/in/{id}/list');
});

test('positions confirmed again are kept against a flood of one-off positions (segmented LRU)', () => {
  const keys = createCostKeys(16);
  for (let i = 0; i < 3; i++) keys.learn('r', `/search/colis+suivi+${i}`);
  keys.learn('r', '/labels/a,b');
  keys.learn('r', '/labels/a,b,c');
  // An origin that answers 2xx to any path: 1,000 lists under random parents, each answered once.
  for (let i = 0; i < 1000; i++) keys.learn('r', `/p${i.toString(36)}x/a+b`);
  assert.equal(keys.positions, 16);
  assert.equal(keys.key('r', 'GET', '/search/colis', '/search/colis')?.weighed, true, 'the search position outlived the churn');
  assert.equal(keys.key('r', 'GET', '/labels/x', '/labels/x')?.weighed, true);
  assert.equal(keys.key('r', 'GET', '/p0x/w', '/p0x/w')?.weighed, false, 'the churn\'s first one-offs were given up');
  assert.equal(keys.key('r', 'GET', '/prrx/w', '/prrx/w')?.weighed, true, 'its latest are held, in probation');
  // What an operator is shown: most recently confirmed first, the protected ones first.
  assert.deepEqual(keys.list(3), [
    { route: 'r', path: '/labels/{}', confirmed: 'again' },
    { route: 'r', path: '/search/{}', confirmed: 'again' },
    { route: 'r', path: `/p${(999).toString(36)}x/{}`, confirmed: 'once' },
  ]);
  const spaced = createCostKeys();
  spaced.learn('GET /search', '/search/a+b');
  assert.deepEqual(spaced.list(1), [{ route: 'GET /search', path: '/search/{}', confirmed: 'once' }], 'a route id with spaces');
  // Inner positions are counted as they come and go.
  const inner = createCostKeys(2);
  inner.learn('r', '/s/a+b/9');
  assert.equal(inner.key('r', 'GET', '/s/x/8', '/s/x/8')?.weighed, true);
  inner.learn('r', '/t/a+b');
  inner.learn('r', '/u/a+b'); // gives up the inner one
  assert.equal(inner.key('r', 'GET', '/s/x/8', '/s/x/8'), undefined);
});

test('the aliases an application serves for one action share a cost kind: case, a format suffix, a trailing or doubled slash', async () => {
  const { costTemplate } = await import('../../src/shield/detect/cost-key.js');
  const keys = createCostKeys();
  const kind = (path: string): string | undefined => keys.key('r', 'GET', path, `${path}?q=colis+suivi`)?.kind;
  for (const alias of ['/search', '/search.json', '/Search', '/search/', '//search', '/SEARCH.html']) assert.equal(kind(alias), 'r GET /search', alias);
  assert.equal(kind('/search/{id}'.replace('{id}', '6A12345678901') + '.json'), 'r GET /search/{id}');
  assert.equal(costTemplate('/'), '/');
  assert.equal(costTemplate('/archive.tar.gz'), '/archive.tar', 'one suffix, a short one');
  assert.equal(costTemplate('/v1.2/items'), '/v1.2/items', 'a dot in an inner segment stays');
  assert.equal(costTemplate('/.well-known'), '/.well-known', 'a name that starts with a dot is no suffix');
  // And so do the positions of path parameters: learned through one alias, found through another.
  keys.learn('r', '/SEARCH/colis+suivi');
  for (const alias of ['/search/colis', '/Search.json/colis', '/search/colis/']) assert.deepEqual(keys.key('r', 'GET', alias, alias), { kind: 'r GET /search/{id}', shape: '@:3', weighed: true }, alias);
  keys.learn('r', '/Tags/a,b/Page/1');
  assert.equal(keys.key('r', 'GET', '/tags/x/page/2', '/tags/x/page/2')?.kind, 'r GET /tags/{id}/page/{id}');
  assert.equal(keys.key('r', 'GET', '/tags.json/x/page/2', '/tags.json/x/page/2')?.kind, 'r GET /tags/{id}/page/{id}');
});
