import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'undici';
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Reads the child's stdout until `pattern` matches (bounded). */
function waitOutput(child: ReturnType<typeof spawn>, pattern: RegExp, ms = 20_000): Promise<RegExpExecArray> {
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not seen: ${pattern}\n${out}`)), ms);
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = pattern.exec(out);
      if (m) { clearTimeout(timer); resolve(m); }
    });
  });
}

test('`rempart demo` serves the site through the shield; a real browser tracks a parcel; Ctrl-C stops it', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'rempart-demo-test-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--port', '0', '--admin-port', '0', '--authorize-port', '0', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); rmSync(dataDir, { recursive: true, force: true }); });
  const site = await waitOutput(child, /site through the shield\s+(http:\/\/127\.0\.0\.1:\d+)\/[\s\S]*admin API\s+(http:\/\/127\.0\.0\.1:\d+)\/api\/state\s+\(Authorization: Bearer (\S+)\)/);
  const [, shieldUrl, adminUrl, token] = site as unknown as [string, string, string, string];

  const home = await request(`${shieldUrl}/`);
  assert.equal(home.statusCode, 200);
  assert.match(await home.body.text(), /Colibri Post &amp; Bank \(demo\)/);
  const state = await request(`${adminUrl}/api/state`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(state.statusCode, 200);
  await state.body.text();

  // Payment authorization runs behind the shield as a critical route, with its demo pages.
  const channels = await request(`${shieldUrl}/authorize/v1/channels`);
  assert.equal(channels.statusCode, 200);
  assert.match(await channels.body.text(), /"channel":"app"/);
  const operator = await request(`${shieldUrl}/authorize/demo/operator`);
  assert.equal(operator.statusCode, 200);
  assert.match(await operator.body.text(), /app/i);

  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const response = await page.goto(`${shieldUrl}/track`);
  assert.equal(response?.status(), 200);
  await page.fill('#id', '6A12345678901');
  await page.click('button');
  await page.waitForFunction(() => (document.getElementById('out')?.textContent ?? '').includes('6A12345678901'), undefined, { timeout: 10_000 });
  const shown = JSON.parse(await page.textContent('#out') ?? '{}') as { id: string; status: string };
  assert.equal(shown.id, '6A12345678901');
  assert.ok(shown.status.length > 0);
  // The browser's lookup was stored (the demo caches tracking answers, which vary by
  // Accept-Encoding as a compressing origin's do): the same lookup with a browser's codings is a hit.
  const again = await request(`${shieldUrl}/track/6A12345678901`, { headers: { 'accept-encoding': 'gzip, deflate, br, zstd' } });
  assert.deepEqual([again.statusCode, again.headers['x-rempart-cache'], again.headers.vary], [200, 'HIT', 'Accept-Encoding']);
  assert.equal((JSON.parse(await again.body.text()) as { id: string }).id, '6A12345678901');

  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  assert.equal(code, 0);
});
