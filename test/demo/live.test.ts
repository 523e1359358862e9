import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { chromium } from 'playwright-core';
import { demoConfig } from '../../src/demo/demo.js';
import { startOrigin } from '../../src/demo/origin/server.js';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/core/logger.js';
import { startShield } from '../../src/shield/start.js';

test('demo: two origin servers behind the shield; the live parcel page gets WebSocket updates in a real browser; a stopped origin leaves the rotation', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'rempart-live-test-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const a = await startOrigin({ name: 'origin-a', serviceMs: 1 });
  const b = await startOrigin({ name: 'origin-b', serviceMs: 1 });
  t.after(async () => { await a.close().catch(() => undefined); await b.close(); });
  const config = parseConfig(demoConfig([a.url, b.url], { port: 0, adminPort: 0, originPort: 0, authorizePort: 0, dataDir }, 'demo-admin-token-0123456789'));
  const shield = await startShield({ config, logger: silentLogger() });
  t.after(() => shield.close());

  const served = async (n: number): Promise<Record<string, number>> => {
    const out: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const r = await request(`${shield.url}/track/P${n}x${i}`);
      await r.body.dump();
      assert.equal(r.statusCode, 200);
      const by = String(r.headers['x-origin']);
      out[by] = (out[by] ?? 0) + 1;
    }
    return out;
  };
  const both = await served(40);
  assert.ok((both['origin-a'] ?? 0) > 0 && (both['origin-b'] ?? 0) > 0, JSON.stringify(both));

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  t.after(() => browser.close());
  const page = await browser.newPage();
  assert.equal((await page.goto(`${shield.url}/live/parcel/6A12345678901`))?.status(), 200);
  await page.waitForFunction(() => /servi par origin-[ab]/.test(document.getElementById('by')?.textContent ?? ''), undefined, { timeout: 10_000 });
  assert.match(await page.textContent('#state') ?? '', /accepted|in transit|sorting|delivery|delivered/);
  // Updates keep coming through the tunnel.
  await page.waitForFunction(() => (document.getElementById('log')?.children.length ?? 0) >= 2, undefined, { timeout: 10_000 });

  // Stop origin-a: probes (fall 2, every second) take it out; every request then goes to origin-b.
  await a.close();
  const deadline = Date.now() + 10_000;
  let state: { upstreams: { origin: { servers: Array<{ name: string; up: boolean }> } } } | undefined;
  while (Date.now() < deadline) {
    state = await (await request(`${shield.adminUrl}/api/state`, { headers: { authorization: 'Bearer demo-admin-token-0123456789' } })).body.json() as typeof state;
    if (state?.upstreams.origin.servers.some((s) => !s.up)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.deepEqual(state?.upstreams.origin.servers.map((s) => s.up), [false, true]);
  assert.deepEqual(await served(20), { 'origin-b': 20 });
});
