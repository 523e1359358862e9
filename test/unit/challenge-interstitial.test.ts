import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { JS_SHA256_SOURCE, renderInterstitial } from '../../src/shield/challenge/interstitial.js';

type Hasher = { prefixHasher(prefix: Uint8Array): (digits: string) => Int32Array; stateBytes(state: Int32Array): Uint8Array };
// The page's own worker source, evaluated as the worker does.
const { prefixHasher, stateBytes } = new Function(`${JS_SHA256_SOURCE}; return { prefixHasher, stateBytes };`)() as Hasher;

test("the interstitial's JavaScript SHA-256 (seed midstate + counter) equals node:crypto for every length around block edges", () => {
  const enc = new TextEncoder();
  for (let len = 0; len <= 200; len++) {
    const prefix = 'a'.repeat(len) + ':';
    const hash = prefixHasher(enc.encode(prefix));
    for (const counter of ['0', '7', '123456', '9007199254740991']) {
      const want = createHash('sha256').update(prefix + counter).digest('hex');
      assert.equal(Buffer.from(stateBytes(hash(counter))).toString('hex'), want, `prefix ${len} counter ${counter}`);
    }
  }
});

test('the page embeds the worker as inert text and never lets a value close its script element', () => {
  const html = renderInterstitial({ seed: 'abc</script><b>', bits: 12, verifyPath: '/.rempart/challenge/verify', nonce: 'n"o', retryAfterS: 5 });
  assert.equal(html.match(/<\/script>/g)?.length, 3, 'three script elements, none broken out of');
  assert.ok(html.includes('nonce="n&#34;o"'));
  assert.ok(html.includes('<script type="text/plain" id="rempart-worker">'));
});
