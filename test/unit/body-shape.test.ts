import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BODY_SHAPE_MAX_BYTES, bodyShape } from '../../src/shield/detect/body-shape.js';
import { createCostKeys, withBody } from '../../src/shield/detect/cost-key.js';

const shape = (type: string | undefined, text: string): string => bodyShape(type, Buffer.byteLength(text), Buffer.from(text));

test('a posted form is shaped as a query is: its keys, each value\'s size and item count, marked as the body\'s', () => {
  assert.equal(shape('application/x-www-form-urlencoded', 'q=colis'), '~q:3');
  assert.equal(shape('application/x-www-form-urlencoded; charset=UTF-8', 'q=colis+suivi+lettre+bureau+timbre+retour+carte+x7f3k&page=2'), '~page:1&~q:6*4');
  assert.equal(shape('Application/X-WWW-Form-Urlencoded', 'q=a%20b'), '~q:3*2', 'media types are case-insensitive (RFC 9110 §8.3.1)');
  assert.equal(shape('application/x-www-form-urlencoded', ''), '', 'an empty body adds nothing');
});

test('a JSON body: an object\'s keys with their value\'s size, a string\'s words, an array\'s length; a batch by its length', () => {
  assert.equal(shape('application/json', '{"q":"colis suivi lettre bureau","page":2,"exact":true,"filters":{"a":1,"b":2},"ids":[1,2,3]}'),
    '~exact:n&~filters:o*2&~ids:a*2&~page:n&~q:5*3');
  // A GraphQL query: its tokens follow its fields and nesting.
  const small = shape('application/json', JSON.stringify({ query: '{ parcel(id: "1") { status } }' }));
  const deep = shape('application/json', JSON.stringify({ query: `{ ${'a { '.repeat(40)}x${' }'.repeat(40)} }` }));
  assert.equal(small, '~query:5*3');
  assert.equal(deep, '~query:8*7');
  assert.equal(shape('application/graphql-response+json', '{"query":"{ a }"}'), '~query:3*2', 'a +json type is JSON');
  assert.equal(shape('application/json', JSON.stringify(Array.from({ length: 20 }, () => ({ query: '{ a }' })))), '~[]*5&~query:3*2');
  assert.equal(shape('application/json', '{}'), '~{}');
  assert.equal(shape('application/json', JSON.stringify(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])))).split('&').length, 17,
    'at most 16 keys, then a mark that there were more');
});

test('a body that cannot be read for keys is shaped by its size alone', () => {
  assert.equal(shape('application/json', '{"q": "unterminated'), '~:5', 'JSON that does not parse');
  assert.equal(shape('application/json', '"just a string"'), '~:4', 'JSON that is no object nor array');
  assert.equal(shape('text/plain', 'hello world'), '~:4');
  assert.equal(shape(undefined, 'hello'), '~:3');
  assert.equal(bodyShape('application/octet-stream', 5_000_000, undefined), '~:23', 'a spooled upload: its size');
  const big = 'q=' + 'a+'.repeat(BODY_SHAPE_MAX_BYTES);
  assert.equal(shape('application/x-www-form-urlencoded', big), `~:${32 - Math.clz32(big.length)}`, 'a form over the parsing bound: its size');
});

test('a body adds its parts to the request\'s key, or keys a request that had none', () => {
  const keys = createCostKeys();
  const none = keys.key('r', 'POST', '/search', '/search');
  assert.equal(none, undefined);
  assert.deepEqual(withBody(none, 'r', 'POST', '/search', '~q:6*4'), { kind: 'r POST /search', shape: '~q:6*4', weighed: true });
  assert.deepEqual(withBody(keys.key('r', 'POST', '/search', '/search?lang=fr'), 'r', 'POST', '/search', '~q:3'), { kind: 'r POST /search', shape: 'lang:2&~q:3', weighed: true });
  assert.deepEqual(withBody(keys.key('r', 'POST', '/search/colis', '/search/colis'), 'r', 'POST', '/search/colis', '~q:3'), { kind: 'r POST /search/{id}', shape: '@:3&~q:3', weighed: false },
    'a key only learned from stays so');
  assert.equal(withBody(undefined, 'r', 'POST', '/search', ''), undefined);
});

test('a request\'s key takes its buffered body\'s shape, except on a critical route', async () => {
  const { costKeyOf } = await import('../../src/shield/filters/upstream-request/pace.js');
  const keys = createCostKeys();
  const form = Buffer.from('user=someone%40example.fr&password=correct-horse');
  const ctx = (path: string, routeClass: string, spooled = false) => ({
    route: { id: 'r' }, routeClass, path, target: path, traits: undefined,
    req: { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
    body: { size: form.length, spooled, source: () => form },
  }) as unknown as Parameters<typeof costKeyOf>[1];
  assert.deepEqual(costKeyOf(keys, ctx('/search', 'low')), { kind: 'r POST /search', shape: '~password:4&~user:5', weighed: true });
  assert.equal(costKeyOf(keys, ctx('/login', 'critical')), undefined, 'a login\'s fields say nothing of its cost');
  assert.deepEqual(costKeyOf(keys, ctx('/upload', 'normal', true)), { kind: 'r POST /upload', shape: '~:6', weighed: true }, 'a spooled body: its size');
});
