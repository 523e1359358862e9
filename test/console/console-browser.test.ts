import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { request } from 'undici';
import { rawExchange, startRecordingUpstream, startTestShield } from '../helpers/servers.js';
import { hashPassword } from '../../src/console/password.js';
import { runDrill } from '../../src/drill/run.js';
import { demoAuthorizeConfig, startAuthorize } from '../../src/authorize/index.js';
import { createLogger } from '../../src/core/logger.js';
import { DEMO_STATUS } from '../../src/demo/demo.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * The console and the status page in real Chromium (Debian's /usr/bin/chromium) against a real
 * shield, origin and authorization service on loopback. Screenshots go to test-artifacts/.
 */
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
const TOKEN = 'test-admin-token-0123456789';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
mkdirSync(ARTIFACTS, { recursive: true });

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (let i = 0; i < 400 && Date.now() < end; i++) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function launch(t: { after(fn: () => unknown): void }) {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
  t.after(() => browser.close());
  return browser;
}

async function login(page: Page, adminUrl: string, name: string, password: string): Promise<void> {
  await page.goto(`${adminUrl}/console/`);
  await page.getByLabel('Operator').fill(name);
  await page.getByLabel('Password or admin token').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('who').waitFor({ timeout: 10_000 });
}

/** A fingerprint of every chart canvas: it changes when uPlot redraws with other data. */
const chartPixels = (page: Page): Promise<string[]> => page.$$eval('[data-chart] canvas', (cs) => cs.map((c) => (c as HTMLCanvasElement).toDataURL()));

test('console: login with an operator account, live charts move during a short drill, the payment channel shows', async (t) => {
  const dir = tempDir(t, 'rempart-console-');
  const authorize = await startAuthorize({ config: demoAuthorizeConfig({ dir, port: 0, basePath: '/authorize' }), logger: createLogger('silent') });
  t.after(() => authorize.close());
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, {
    console: { operators: [{ name: 'alice', passwordHash: await hashPassword('correct horse battery', { N: 2 ** 12, r: 8, p: 1 }) }], authorizeUrl: authorize.url },
    status: DEMO_STATUS,
  });
  const browser = await launch(t);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
  // Script errors and CSP violations show up as console errors.
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/401|Unauthorized/.test(m.text())) errors.push(m.text()); });
  // A wrong password is refused and says so.
  await page.goto(`${shield.adminUrl}/console/`);
  await page.getByLabel('Operator').fill('alice');
  await page.getByLabel('Password or admin token').fill('not it');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'wrong name or password' }).waitFor();
  await login(page, shield.adminUrl, 'alice', 'correct horse battery');
  assert.equal(await page.getByTestId('who').textContent(), 'alice');
  await until('the live feed', async () => (await page.getByTestId('feed').textContent()) === 'live');
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'rempart_console');
  assert.ok(session?.httpOnly, 'session cookie is HttpOnly');
  assert.equal(session?.sameSite, 'Strict');
  await until('the payment channel', async () => (await page.getByTestId('channel-mode').textContent()) === 'app (push)', 10_000);

  const before = await chartPixels(page);
  assert.equal(before.length, 4, 'four charts');
  const drilling = runDrill({
    target: shield.url, scenario: 'single-flood', params: { rate: 40, sources: 1, connections: 4 },
    durationS: 4, leadS: 0.5, trackingUsers: 2, bankingUsers: 0, seed: 7, graceMs: 300,
  });
  const rps = await until('requests per second on the console during the drill', async () => {
    const n = Number(await page.getByTestId('rps').textContent());
    return n > 0 ? n : undefined;
  }, 10_000);
  const drill = await drilling;
  assert.ok(drill.attack.totals.sent > 50, `the drill sent ${drill.attack.totals.sent}`);
  assert.ok(rps > 0);
  const after = await chartPixels(page);
  assert.ok(after.some((p, i) => p !== before[i]), 'the charts were redrawn with the drill traffic');
  // The feed a console opens starts with the recorded seconds (the drill's among them). A second
  // is recorded once it is over: under a loaded machine the drill's last ones may not be yet, so
  // the feed is opened again until they are (at most 5 s).
  const historyCount = async (): Promise<number> => {
    const stream = await request(`${shield.adminUrl}/api/stream`, { headers: { authorization: `Bearer ${TOKEN}` } });
    let text = '';
    for await (const chunk of stream.body) {
      text += String(chunk);
      if (text.includes('event: history') && text.includes('\n\n', text.indexOf('event: history')) || text.length > 4_000_000) break;
    }
    stream.body.destroy();
    const data = JSON.parse(text.slice(text.indexOf('data: ', text.indexOf('event: history')) + 6).split('\n')[0] ?? '{}') as { samples: Array<{ verdicts: Record<string, number> }> };
    return data.samples.reduce((n, s) => n + Object.values(s.verdicts).reduce((a, b) => a + b, 0), 0);
  };
  let counted = 0;
  await until(`the feed's history to count half the drill's ${drill.attack.totals.sent} requests`, async () => {
    counted = await historyCount();
    return counted >= drill.attack.totals.sent * 0.5 ? counted : undefined;
  }, 5_000).catch(() => undefined);
  assert.ok(counted >= drill.attack.totals.sent * 0.5, `the feed counted ${counted} of ${drill.attack.totals.sent} drill requests`);
  // Force "under attack" from the console, with a reason: a second drill is now challenged.
  await page.getByLabel('Reason (recorded with each action)').fill('drill: flood on the website');
  await page.getByRole('button', { name: 'Force “under attack”' }).click();
  await until('the forced phase', async () => (await page.getByTestId('phase').textContent()) === 'under attack', 10_000);
  const second = await runDrill({
    target: shield.url, scenario: 'single-flood', params: { rate: 40, sources: 1, connections: 4 },
    durationS: 3, leadS: 0.5, trackingUsers: 2, bankingUsers: 0, seed: 8, graceMs: 300,
  });
  assert.ok(second.attack.totals.sent > 30);
  await until('the attack in the event log', async () => (await page.getByRole('cell', { name: /force-under-attack-reason: drill: flood on the website/ }).count()) > 0, 10_000);
  await page.screenshot({ path: join(ARTIFACTS, 'console.png'), fullPage: true });
  await page.screenshot({ path: join(ARTIFACTS, 'console-top.png') });
  await page.getByRole('button', { name: 'Stop forcing' }).click();
  await page.getByRole('status').filter({ hasText: 'stop forcing: done' }).waitFor();
  // Usable on a phone: no horizontal scroll at 390 px.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  await until('the layout to fit a phone', async () => (await overflow()) <= 1, 5000)
    .catch(async () => assert.fail(`horizontal scrolling on a phone: ${await overflow()} px, widest: ${await page.evaluate(() => Array.from(document.querySelectorAll('body *')).map((e) => [e.tagName + '.' + e.className + '#' + e.id, Math.round(e.getBoundingClientRect().right)] as const).filter(([, r]) => r > window.innerWidth).slice(0, 8).join(' | '))}`));
  await page.screenshot({ path: join(ARTIFACTS, 'console-phone.png') });
  assert.deepEqual(errors, [], 'no script error, no CSP violation');
});

test('console: a block made with one click on a top source takes effect on the shield', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, { rateLimits: { enabled: false } });
  const browser = await launch(t);
  const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
  await login(page, shield.adminUrl, 'admin', TOKEN);
  const get = (from: string) => rawExchange(shield.port, `GET /page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, { localAddress: from, timeoutMs: 2000 });
  for (let i = 0; i < 40; i++) assert.match(await get('127.0.0.77'), /^HTTP\/1\.1 200/);
  await page.getByRole('button', { name: 'Client addresses' }).click();
  assert.equal(await page.getByRole('button', { name: 'Client addresses' }).getAttribute('aria-pressed'), 'true');
  const button = page.locator('[data-block="127.0.0.77/32"]');
  await until('the source in the top list', async () => (await button.count()) > 0, 10_000);
  await button.click();
  await page.getByRole('status').filter({ hasText: 'block 127.0.0.77/32: done' }).waitFor();
  const refused = await get('127.0.0.77');
  assert.doesNotMatch(refused, /^HTTP\/1\.1 200/, 'the blocked address is refused');
  assert.match(await get('127.0.0.78'), /^HTTP\/1\.1 200/, 'its neighbour is not');
  const events = await request(`${shield.adminUrl}/api/events?type=operator&q=127.0.0.77`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const list = (await events.body.json() as { events: Array<{ who: string; summary: string }> }).events;
  assert.ok(list.some((e) => e.who === 'admin' && /block: 127\.0\.0\.77\/32/.test(e.summary)), JSON.stringify(list));
  // And unblock, one click again.
  await page.getByRole('button', { name: 'Unblock' }).first().click();
  await page.getByRole('status').filter({ hasText: 'unblock 127.0.0.77/32: done' }).waitFor();
  assert.match(await get('127.0.0.77'), /^HTTP\/1\.1 200/);
  // Software-shaped sources are challenged, not blocked: these requests carry no User-Agent at all.
  await page.getByRole('button', { name: 'User agents' }).click();
  await page.locator('[data-challenge="userAgent:"]').click();
  await page.getByRole('status').filter({ hasText: 'challenge userAgent: done' }).waitFor();
  assert.doesNotMatch(await get('127.0.0.79'), /^HTTP\/1\.1 200/, 'no User-Agent: challenged');
  const withAgent = await rawExchange(shield.port, 'GET /page HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0\r\nConnection: close\r\n\r\n', { localAddress: '127.0.0.79', timeoutMs: 2000 });
  assert.match(withAgent, /^HTTP\/1\.1 200/, 'a browser agent from the same address passes');
  await page.getByRole('button', { name: 'Lift challenge' }).click();
  await page.getByRole('status').filter({ hasText: 'lift challenge on userAgent: done' }).waitFor();
  assert.match(await get('127.0.0.79'), /^HTTP\/1\.1 200/);
});

test('status page in Chromium: an incident while an attack runs, resolved after; still answering with the origin stopped', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const shield = await startTestShield(t, upstream.url, { status: DEMO_STATUS, detection: { attack: { calmAfterS: 1, coolDownS: 1 } } });
  const browser = await launch(t);
  const page = await browser.newPage({ viewport: { width: 900, height: 1100 } });
  const res = await page.goto(`${shield.url}/status`);
  assert.equal(res?.status(), 200);
  await page.getByText('All services are operating normally').waitFor();
  assert.equal(await page.getByText('All services are available — see the current incident below').count(), 0);
  const force = await request(`${shield.adminUrl}/api/attack`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ reason: 'status page test', ttlS: 120, proofOfWork: true }) });
  assert.equal(force.statusCode, 200);
  await force.body.dump();
  await until('the incident on the page', async () => {
    await page.reload();
    return (await page.getByRole('heading', { name: 'Current incidents' }).count()) > 0;
  });
  assert.ok(await page.getByText('Unusually heavy traffic: protection measures active').first().isVisible());
  assert.ok(await page.getByText('All services are available — see the current incident below').isVisible(), 'the banner points to the incident');
  await page.screenshot({ path: join(ARTIFACTS, 'status-incident.png'), fullPage: true });
  const clear = await request(`${shield.adminUrl}/api/attack`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
  await clear.body.dump();
  await until('the incident resolved', async () => {
    await page.reload();
    return (await page.getByRole('heading', { name: 'Current incidents' }).count()) === 0 && (await page.getByText('Resolved').count()) > 0;
  });
  await page.screenshot({ path: join(ARTIFACTS, 'status-resolved.png'), fullPage: true });
  upstream.server.closeAllConnections();
  await new Promise<void>((r) => upstream.server.close(() => r()));
  const down = await page.goto(`${shield.url}/page`);
  assert.equal(down?.status(), 502, 'the origin is really down');
  const status = await page.goto(`${shield.url}/status`);
  assert.equal(status?.status(), 200);
  await page.getByRole('heading', { name: 'Services' }).waitFor();
  const scripts = await page.$$eval('script', (s) => s.length);
  assert.equal(scripts, 0, 'no JavaScript on the status page');
  await page.screenshot({ path: join(ARTIFACTS, 'status-origin-down.png'), fullPage: true });
});
