import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { startOrigin } from '../../src/demo/origin/server.js';
import { renderHtml } from '../../src/drill/report/html.js';
import { renderText } from '../../src/drill/report/terminal.js';
import { runDrill } from '../../src/drill/run.js';

test('the HTML report is one self-contained file whose charts render in Chromium', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-drill-html-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const origin = await startOrigin({ maxInFlight: 2, serviceMs: 20 });
  t.after(origin.close);
  const report = await runDrill({
    target: origin.url, scenario: 'single-flood', params: { rate: 150, connections: 4 }, durationS: 3, leadS: 0.6,
    trackingUsers: 6, bankingUsers: 2, timeScale: 20, seed: 11, graceMs: 500, originStats: `${origin.url}/__origin/stats`,
  });
  assert.match(renderText(report), /single-flood/);
  assert.ok(report.legit.mitigation && report.legit.mitigation.onsetS === 0.6, 'time to mitigation measured from the attack onset');
  assert.match(renderText(report), /^Time to effective mitigation: (never|\d+(\.\d)? s)/m);
  const html = renderHtml(report);
  assert.match(html, /<p id="mitigation">Time to effective mitigation: /);
  assert.ok(!/<script[^>]+src=|<link[^>]+href=["']?http/i.test(html), 'no external script or stylesheet');
  const file = join(dir, 'report.html');
  writeFileSync(file, html);

  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Offline: a report that needs the network would fail here.
  await page.route('**/*', (route) => (route.request().url().startsWith('file:') ? route.continue() : route.abort()));
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector('body[data-charts-ready="1"]', { timeout: 10_000 });
  assert.deepEqual(errors, []);
  const charts = await page.evaluate(() => ['chart-success', 'chart-latency', 'chart-attack', 'chart-origin'].map((id) => {
    const canvas = document.querySelector<HTMLCanvasElement>(`#${id} canvas`);
    if (!canvas) return { id, width: 0, height: 0, drawn: 0 };
    const ctx = canvas.getContext('2d')!;
    const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let drawn = 0;
    for (let i = 3; i < px.length; i += 4) if (px[i]! > 0) drawn++;
    const box = canvas.getBoundingClientRect();
    return { id, width: box.width, height: box.height, drawn };
  }));
  for (const c of charts) {
    assert.ok(c.width > 100 && c.height > 50, `${c.id} has a size: ${JSON.stringify(c)}`);
    assert.ok(c.drawn > 500, `${c.id} has pixels drawn: ${c.drawn}`);
  }
  const shot = join(dir, 'report.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(statSync(shot).size > 20_000, 'screenshot written');
});
