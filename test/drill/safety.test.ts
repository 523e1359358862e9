import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTarget, isLoopback, TargetRefusedError } from '../../src/drill/safety.js';
import { createAddressAllocator } from '../../src/drill/addresses.js';
import { createRng } from '../../src/drill/rng.js';
import { runDrill } from '../../src/drill/run.js';

test('loopback targets are accepted, others refused unless named with --allow-target', () => {
  assert.equal(checkTarget('http://127.0.0.1:8080').distinctSources, true);
  assert.equal(checkTarget('http://127.44.3.2/').host, '127.44.3.2');
  assert.equal(checkTarget('http://localhost:9/').host, '127.0.0.1');
  assert.equal(checkTarget('http://[::1]:8080/').distinctSources, false);
  for (const bad of ['http://192.0.2.1/', 'http://example.com/', 'http://128.0.0.1/', 'http://0.0.0.0/', 'http://[::2]/']) {
    assert.throws(() => checkTarget(bad), TargetRefusedError, bad);
  }
  assert.throws(() => checkTarget('ftp://127.0.0.1/'), /only http:\/\/ and https:\/\//);
  assert.equal(checkTarget('https://127.0.0.1:8443/').url.protocol, 'https:', 'a TLS target on loopback is a target (drill/tls-target.ts)');
  assert.throws(() => checkTarget('https://example.com/'), /refusing target example\.com/, 'TLS changes nothing of the loopback rule');
  assert.throws(() => checkTarget('http://192.0.2.1/', ['192.0.2.2']), TargetRefusedError);
  assert.equal(checkTarget('http://192.0.2.1/', ['192.0.2.1']).distinctSources, false);
  assert.equal(isLoopback('127.255.255.254'), true);
  assert.equal(isLoopback('1.127.0.0'), false);
});

test('runDrill refuses a non-loopback target before sending anything', async () => {
  await assert.rejects(runDrill({ target: 'http://192.0.2.1/', scenario: 'single-flood', durationS: 1 }), TargetRefusedError);
});

test('addresses are distinct, inside 127/8, outside 127.0.0.0/24, and reproducible from the seed', () => {
  const a = createAddressAllocator(createRng(7));
  const legit = a.take(500);
  const attack = a.take(5000);
  const all = new Set([...legit, ...attack]);
  assert.equal(all.size, 5500);
  for (const x of all) {
    const o = x.split('.').map(Number);
    assert.equal(o[0], 127);
    assert.ok(!(o[1] === 0 && o[2] === 0), x);
    assert.ok(o[3]! >= 1 && o[3]! <= 254);
  }
  // Spread across the /8: no contiguous range separates the populations.
  const second = (xs: string[]) => new Set(xs.map((x) => x.split('.')[1]));
  assert.ok(second(legit).size > 100 && second(attack).size > 200);
  assert.deepEqual(createAddressAllocator(createRng(7)).take(500), legit);
});
