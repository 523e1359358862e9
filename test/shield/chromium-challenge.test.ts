import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { request } from 'undici';
import { startRecordingUpstream, startTestShield } from '../helpers/servers.js';

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

test('through the real shield forced to proof-of-work, Chromium passes the no-JS check, solves the interstitial and lands on the original URL', async (t) => {
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>origin</title><p id="origin">origin ${req.url}</p>`);
  };
  const shield = await startTestShield(t, upstream.url);
  const force = await request(`${shield.adminUrl}/api/attack`, {
    method: 'POST', headers: { authorization: 'Bearer test-admin-token-0123456789' },
    body: JSON.stringify({ reason: 'browser test', ttlS: 120, proofOfWork: true }),
  });
  assert.equal(force.statusCode, 200);
  await force.body.dump();
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const statuses: number[] = [];
  page.on('response', (r) => { if (r.url().startsWith(shield.url) && !r.url().endsWith('/favicon.ico')) statuses.push(r.status()); });
  const original = `${shield.url}/parcels/6A12345678901?lang=fr&x=a%20b`;
  await page.goto(original);
  await page.waitForSelector('#origin', { timeout: 30_000 });
  assert.equal(page.url(), original, 'back on the original URL, query included');
  assert.equal(await page.textContent('#origin'), 'origin /parcels/6A12345678901?lang=fr&x=a%20b', 'the origin never sees a marker');
  // 307 (no-JS check) → 503 (interstitial, never 200) → 303 from the verify path → 200.
  assert.deepEqual(statuses.filter((s) => s !== 200), [307, 503, 303], `statuses seen: ${statuses.join(', ')}`);
  const cookies = await page.context().cookies();
  assert.ok(cookies.some((c) => c.name === 'rempart_clr' && c.httpOnly), 'an HttpOnly clearance cookie is held');
  assert.deepEqual(upstream.seen.map((r) => r.url).filter((u) => u !== '/favicon.ico'), ['/parcels/6A12345678901?lang=fr&x=a%20b'], 'challenges never reached the upstream');
});
