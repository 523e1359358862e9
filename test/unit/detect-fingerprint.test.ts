import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFnv64, fmix32, fnv1a32, fnv1a64Hex } from '../../src/shield/detect/fnv.js';
import { acceptShape, describeFingerprint, encodingShape, languageShape, requestFingerprint } from '../../src/shield/detect/fingerprint.js';
import { isIdSegment, pathTemplate } from '../../src/shield/detect/path-template.js';
import { queryShape } from '../../src/shield/detect/query-shape.js';
import { addressPrefixes } from '../../src/shield/detect/address-prefix.js';
import { createPrng, randomInt } from './prng.js';

const GET = { method: 'GET', httpVersion: '1.1' };

const chrome = (ua: string, cookie: string, referer: string): string[] => [
  'Host', 'shop.example', 'Connection', 'keep-alive', 'sec-ch-ua', '"Chromium";v="130"', 'User-Agent', ua,
  'Accept', 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8', 'Sec-Fetch-Site', 'same-origin', 'Sec-Fetch-Mode', 'navigate',
  'Referer', referer, 'Accept-Encoding', 'gzip, deflate, br, zstd', 'Accept-Language', 'fr-FR,fr;q=0.9,en;q=0.8', 'Cookie', cookie,
];

test('FNV-1a 64 matches the published test vectors', () => {
  // draft-eastlake-fnv test vectors: "" → cbf29ce484222325, "a" → af63dc4c8601ec8c, "foobar" → 85944171f73967e8
  assert.equal(fnv1a64Hex(''), 'cbf29ce484222325');
  assert.equal(fnv1a64Hex('a'), 'af63dc4c8601ec8c');
  assert.equal(fnv1a64Hex('foobar'), '85944171f73967e8');
  assert.equal(fnv1a32('a'), 0xe40c292c);
  assert.equal(fmix32(0), 0);
  assert.notEqual(fmix32(1), 1);
  const h = createFnv64();
  h.feedString('foo'); h.feedString('bar');
  assert.equal(h.hex(12), '85944171f739');
});

test('a first visit and a returning one (no Cookie, Referer or validators against all of them) are the same software', () => {
  const returning = chrome('Mozilla/5.0 A', 'sid=1', 'https://shop.example/track');
  const first = returning.filter((_, i, a) => !['Cookie', 'Referer'].includes(a[i - (i % 2)] as string));
  const revalidating = [...returning, 'If-None-Match', '"abc"', 'Cache-Control', 'max-age=0'];
  const fp = requestFingerprint(returning, GET);
  assert.equal(requestFingerprint(first, GET), fp);
  assert.equal(requestFingerprint(revalidating, GET), fp);
  assert.equal(describeFingerprint(first, GET), describeFingerprint(returning, GET));
  // Another library's header order is another fingerprint.
  const reordered = [...returning.slice(6), ...returning.slice(0, 6)];
  assert.notEqual(requestFingerprint(reordered, GET), fp);
});

test('random user-agent, referer and cookie values do not change the fingerprint', () => {
  const random = createPrng(1);
  const first = requestFingerprint(chrome('Mozilla/5.0 A', 'sid=1', 'https://a/'), GET);
  for (let i = 0; i < 200; i++) {
    const r = (): string => String(randomInt(random, 0, 1e9));
    assert.equal(requestFingerprint(chrome(`Mozilla/5.0 ${r()}`, `sid=${r()}; x=${r()}`, `https://x/${r()}?q=${r()}`), GET), first);
  }
  assert.match(first, /^[0-9a-f]{12}$/);
});

test('header order, method, version and selected values change the fingerprint', () => {
  const base = chrome('UA', 'c', 'r');
  const fp = requestFingerprint(base, GET);
  const swapped = [...base];
  [swapped[2], swapped[3], swapped[6], swapped[7]] = [base[6] as string, base[7] as string, base[2] as string, base[3] as string];
  assert.notEqual(requestFingerprint(swapped, GET), fp, 'order');
  assert.notEqual(requestFingerprint(base, { method: 'POST', httpVersion: '1.1' }), fp, 'method');
  assert.notEqual(requestFingerprint(base, { method: 'GET', httpVersion: '1.0' }), fp, 'version');
  const json = base.map((v) => (v.startsWith('text/html') ? 'application/json' : v));
  assert.notEqual(requestFingerprint(json, GET), fp, 'accept shape');
  const en = base.map((v) => (v.startsWith('fr-FR') ? 'en-US,en' : v));
  assert.notEqual(requestFingerprint(en, GET), fp, 'primary language');
  const noSecFetch = base.filter((_, i) => !String(base[i - (i % 2)]).startsWith('Sec-Fetch'));
  assert.notEqual(requestFingerprint(noSecFetch, GET), fp, 'sec-fetch presence');
  // Region subtag and q-values are not part of it.
  const frCa = base.map((v) => (v.startsWith('fr-FR') ? 'fr-CA' : v));
  assert.equal(requestFingerprint(frCa, GET), fp);
});

test('header-name case does not matter; invented header names fold into one *', () => {
  const lower = chrome('UA', 'c', 'r').map((v, i) => (i % 2 === 0 ? v.toLowerCase() : v));
  assert.equal(requestFingerprint(lower, GET), requestFingerprint(chrome('UA', 'c', 'r'), GET));
  const withJunk = (names: string[]): string[] => ['Host', 'h', ...names.flatMap((n) => [n, '1']), 'Accept', '*/*'];
  assert.equal(requestFingerprint(withJunk(['X-Rnd-1']), GET), requestFingerprint(withJunk(['X-Foo-93', 'X-Bar-7']), GET));
  assert.equal(describeFingerprint(withJunk(['X-A', 'X-B']), GET), 'GET|1.1|host,*,accept|a=any|l=-|e=-|c=-');
});

test('same description ⇔ same fingerprint (property over random header lists)', () => {
  const random = createPrng(2);
  const names = ['Host', 'Accept', 'Accept-Encoding', 'Accept-Language', 'Connection', 'X-Custom', 'X-Other', 'Cookie', 'User-Agent', 'Sec-Fetch-Mode'];
  const values = ['*/*', 'text/html', 'gzip, br;q=1', ' en-GB', 'Keep-Alive', '', 'application/json, text/plain'];
  const byDescription = new Map<string, string>();
  const byFingerprint = new Map<string, string>();
  for (let i = 0; i < 2000; i++) {
    const raw: string[] = [];
    for (let n = randomInt(random, 0, 8); n > 0; n--) raw.push(names[randomInt(random, 0, names.length - 1)] as string, values[randomInt(random, 0, values.length - 1)] as string);
    const extra = { method: i % 2 ? 'GET' : 'POST', httpVersion: i % 3 ? '1.1' : '2.0' };
    const d = describeFingerprint(raw, extra);
    const f = requestFingerprint(raw, extra);
    assert.match(f, /^[0-9a-f]{12}$/);
    assert.equal(byDescription.get(d) ?? f, f, `one description, two fingerprints: ${d}`);
    assert.equal(byFingerprint.get(f) ?? d, d, `one fingerprint, two descriptions: ${d} / ${byFingerprint.get(f)}`);
    byDescription.set(d, f);
    byFingerprint.set(f, d);
  }
  assert.ok(byDescription.size > 500, `${byDescription.size} distinct shapes exercised`);
});

test('value shapes', () => {
  assert.equal(acceptShape(undefined), '-');
  assert.equal(acceptShape('*/*'), 'any');
  assert.equal(acceptShape('application/json'), 'json');
  assert.equal(languageShape('en-US,en;q=0.5'), 'en');
  assert.equal(languageShape('*'), '?');
  assert.equal(encodingShape('gzip, deflate;q=0.5 ,BR'), 'gzip+deflate+br');
});

test('path templates replace ids, keep route names', () => {
  const cases: Array<[string, string]> = [
    ['/track/6A12345678901', '/track/{id}'],
    ['/api/v1/orders/42', '/api/v1/orders/{id}'],
    ['/u/550e8400-e29b-41d4-a716-446655440000/avatar.png', '/u/{id}/avatar.png'],
    ['/p/deadbeef12?x=1', '/p/{id}'],
    ['/bank/login', '/bank/login'],
    ['/', '/'],
    ['/a/b/c/d/e/f/g/h/i/j', '/a/b/c/d/e/f/g/h/…'],
    ['/s/aGVsbG8td29ybGQtdG9rZW4xMjM', '/s/{id}'],
  ];
  for (const [path, template] of cases) assert.equal(pathTemplate(path), template, path);
  assert.equal(isIdSegment('v1'), false);
  assert.equal(isIdSegment('checkout'), false);
  assert.equal(isIdSegment('2024'), true);
});

test('query shapes keep sorted keys, drop values, fold random keys', () => {
  assert.equal(queryShape('/search?q=shoes&page=2&q=hats'), 'page&q');
  assert.equal(queryShape('/search'), '');
  assert.equal(queryShape('/search?'), '');
  assert.equal(queryShape('?b=1&a'), 'a&b', 'a search string');
  assert.equal(queryShape('b=1&a=2'), 'a&b', 'a bare query (what follows the ?)');
  assert.equal(queryShape(''), '');
  assert.equal(queryShape('?9f8e7d6c5b=1&q=a&1234567=2'), 'q&{k}');
  // The shield's own protocol keys (the no-JS marker) are not the client's query.
  const own = new Set(['rempart-nojs']);
  assert.equal(queryShape('/track?rempart-nojs=Zx81&id=3', own), 'id');
  assert.equal(queryShape('/track?rempart-nojs=Zx81', own), '');
  assert.equal(queryShape('/track?rempart-nojs=Zx81'), 'rempart-nojs', 'only when asked');
  const random = createPrng(3);
  const shapes = new Set<string>();
  for (let i = 0; i < 100; i++) shapes.add(queryShape(`/search?q=${randomInt(random, 0, 1e9)}&cb=${randomInt(random, 0, 1e9)}`));
  assert.deepEqual([...shapes], ['cb&q']);
});

test('query shapes: a query is read for at most 256 pairs, the rest marked', () => {
  const repeated = (n: number): string => `/search?${Array.from({ length: n }, (_, i) => `a=${i}`).join('&')}`;
  assert.equal(queryShape(repeated(256)), 'a', 'every pair read');
  assert.equal(queryShape(repeated(1400)), 'a&…', 'one key to the head\'s limit: read to the bound');
  assert.equal(queryShape(`${repeated(300)}&z=1`), 'a&…', 'a key past the bound is not read');
  assert.equal(queryShape(`${repeated(200)}&z=1`), 'a&z');
});

test('address prefixes: IPv4 /24, IPv6 /64 and /48', () => {
  assert.deepEqual(addressPrefixes('203.0.113.77'), { prefix: '203.0.113.0/24', prefix48: undefined });
  assert.deepEqual(addressPrefixes('2001:db8:aa:bb:1::2'), { prefix: '2001:db8:aa:bb::/64', prefix48: '2001:db8:aa::/48' });
  assert.deepEqual(addressPrefixes('::ffff:198.51.100.9'), { prefix: '198.51.100.0/24', prefix48: undefined });
});
