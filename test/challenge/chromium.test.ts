import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions } from 'playwright-core';
import { createChallengeSettings } from '../../src/shield/challenge/settings.js';
import { createKeyring } from '../../src/shield/reputation/token.js';
import { startTestShield } from './server.js';

const settings = createChallengeSettings({ keys: createKeyring(Buffer.alloc(32, 3)) });

// One Chromium for the file (a second one with a host mapping for the insecure-origin test).
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
let shared: Browser;
before(async () => { shared = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS }); });
after(() => shared.close());

/** A fresh browser context (its own cookie jar) in the shared Chromium, closed after the test. */
async function freshContext(t: { after(fn: () => Promise<void>): void }, options?: BrowserContextOptions): Promise<BrowserContext> {
  const context = await shared.newContext(options);
  t.after(() => context.close());
  return context;
}

test('Chromium solves the interstitial in its workers and lands on the original URL with a clearance cookie', async (t) => {
  const shield = await startTestShield(settings, { level: 2, difficulty: 14 });
  t.after(shield.close);
  const page = await (await freshContext(t)).newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // The 503 of the interstitial itself is logged by Chromium as a failed load: expected.
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().includes('status of 503')) errors.push(m.text()); });
  const original = `${shield.url}/account/statement?month=2026-11&q=a%20b`;
  const first = await page.goto(original);
  assert.equal(first?.status(), 503, 'the interstitial is a 503, never a 200');
  assert.equal(first?.headers()['cache-control'], 'no-store');
  await page.waitForSelector('#origin', { timeout: 15_000 });
  assert.equal(page.url(), original, 'back on the original URL, query included');
  assert.match(await page.textContent('#origin') ?? '', /via=clearance/);
  const cookies = await page.context().cookies();
  const clr = cookies.find((c) => c.name === 'rempart_clr');
  assert.ok(clr, 'clearance cookie held');
  assert.equal(clr.httpOnly, true);
  assert.equal(clr.sameSite, 'Lax');
  assert.equal(clr.secure, false, 'no Secure over plain http');
  assert.deepEqual(errors, [], 'no CSP violation or script error');
  // The next navigation passes without a challenge.
  const again = await page.goto(`${shield.url}/other`);
  assert.equal(again?.status(), 200);
});

test('Chromium passes the no-JavaScript check by following the 307 with its cookie; without JavaScript the interstitial explains', async (t) => {
  const shield = await startTestShield(settings, { level: 1, difficulty: 14 });
  t.after(shield.close);
  const page = await (await freshContext(t)).newPage();
  const res = await page.goto(`${shield.url}/track?id=42`);
  assert.equal(res?.status(), 200);
  assert.match(await page.textContent('#origin') ?? '', /origin \/track\?id=42 via=nojs/, 'the origin never sees the marker');
  assert.equal(shield.decisions[0]?.kind, 'challenge');
  assert.deepEqual(shield.forwarded.filter((f) => f !== '/favicon.ico'), ['/track?id=42']);

  shield.policy.level = 2;
  const noJs = await (await freshContext(t, { javaScriptEnabled: false })).newPage();
  const r = await noJs.goto(`${shield.url}/track`);
  assert.equal(r?.status(), 503);
  assert.match(await noJs.textContent('body') ?? '', /JavaScript is disabled\..*Enable JavaScript for this site and reload/s);
});

test('a French browser gets the interstitial in French, solves it and lands on the original URL; without JavaScript it is told so in French', async (t) => {
  const shield = await startTestShield(settings, { level: 2, difficulty: 12 });
  t.after(shield.close);
  const page = await (await freshContext(t, { locale: 'fr-FR' })).newPage();
  const texts: string[] = [];
  page.on('response', (r) => { if (r.status() === 503) void r.text().then((b) => texts.push(b), () => {}); });
  const original = `${shield.url}/suivi?colis=6A123`;
  const first = await page.goto(original);
  assert.equal(first?.headers()['content-language'], 'fr');
  await page.waitForSelector('#origin', { timeout: 15_000 });
  assert.equal(page.url(), original);
  assert.match(texts.join(''), /<html lang="fr">[\s\S]*Un instant : vérification de votre navigateur/);
  const noJs = await (await freshContext(t, { locale: 'fr-FR', javaScriptEnabled: false })).newPage();
  await noJs.goto(`${shield.url}/suivi`);
  assert.match(await noJs.textContent('body') ?? '', /JavaScript est désactivé\..*rechargez la page/s);
});

test('over plain http to a non-local host (not a secure context, no Web Crypto) the JavaScript engine solves it', async (t) => {
  const shield = await startTestShield(settings, { level: 2, difficulty: 12 });
  t.after(shield.close);
  // A name that resolves to loopback but is not "localhost": Chromium treats it as an insecure origin.
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...ARGS, '--host-resolver-rules=MAP rempart.test 127.0.0.1'] });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const url = `${shield.url.replace('127.0.0.1', 'rempart.test')}/search?q=colis`;
  await page.goto(url);
  await page.waitForSelector('#origin', { timeout: 20_000 });
  // Asked of the landing page: the same origin as the interstitial that just solved.
  assert.deepEqual(await page.evaluate(() => [window.isSecureContext, typeof crypto.subtle]), [false, 'undefined']);
  assert.equal(page.url(), url);
  assert.ok((await page.context().cookies()).some((c) => c.name === 'rempart_clr'));
});
