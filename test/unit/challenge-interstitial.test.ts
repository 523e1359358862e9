import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { JS_SHA256_SOURCE, renderInterstitial } from '../../src/shield/challenge/interstitial.js';
import { INTERSTITIAL_TEXTS, pageLanguage } from '../../src/shield/challenge/language.js';

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

test('the page language follows Accept-Language among the languages it has (English otherwise), its texts included in the script', () => {
  const cases: Array<[string | undefined, string]> = [
    [undefined, 'en'], ['fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7', 'fr'], ['en-US,en;q=0.9,fr;q=0.8', 'en'],
    ['de-DE,de;q=0.9,fr;q=0.5', 'fr'], ['de', 'en'], ['fr-CA', 'fr'], ['EN;q=0.2, Fr;q=0.3', 'fr'],
    ['fr;q=0, *', 'en'], ['*', 'en'], ['en;q=0, *;q=0.5', 'fr'], ['fr;q=abc, en', 'en'], ['', 'en'],
  ];
  for (const [header, want] of cases) assert.equal(pageLanguage(header), want, String(header));
  // A forged header of thousands of ranges is read only so far.
  assert.equal(pageLanguage(`${'de,'.repeat(5000)}fr`), 'en');
  const fr = renderInterstitial({ seed: 's', bits: 12, verifyPath: '/v', nonce: 'n', retryAfterS: 4.2, language: 'fr' });
  assert.match(fr, /^<!doctype html><html lang="fr">/);
  assert.match(fr, /<title>Vérification de votre navigateur<\/title>/);
  assert.match(fr, /revenez dans environ 5 secondes/);
  const cfg = JSON.parse(/<script type="application\/json" id="rempart-challenge">(.*?)<\/script>/.exec(fr)?.[1] ?? '{}') as { t: Record<string, string> };
  assert.deepEqual(Object.keys(cfg.t).sort(), ['done', 'failed', 'noCookies', 'noWorkers']);
  assert.equal(cfg.t.done, INTERSTITIAL_TEXTS.fr.done);
  assert.match(renderInterstitial({ seed: 's', bits: 12, verifyPath: '/v', nonce: 'n', retryAfterS: 5 }), /<html lang="en">.*One moment: checking your browser/s);
});
