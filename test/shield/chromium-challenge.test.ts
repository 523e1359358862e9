import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type BrowserContext } from 'playwright-core';
import { request } from 'undici';
import { fileURLToPath } from 'node:url';
import { startRecordingUpstream, startTestShield } from '../helpers/servers.js';
import type { ShieldHandle } from '../../src/shield/start.js';

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

/** Forces the shield under attack at proof-of-work through its admin API. */
async function forceProofOfWork(shield: ShieldHandle, reason: string): Promise<void> {
  const force = await request(`${shield.adminUrl}/api/attack`, {
    method: 'POST', headers: { authorization: 'Bearer test-admin-token-0123456789' },
    body: JSON.stringify({ reason, ttlS: 120, proofOfWork: true }),
  });
  assert.equal(force.statusCode, 200);
  await force.body.dump();
}

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/tls/${name}`, import.meta.url));
/** The fixture certificate of a.example and *.a.example, for the shield's listen.tls. */
const SITE_A = { cert: fixture('site-a.cert.pem'), key: fixture('site-a.key.pem') };

/**
 * Chromium with www.a.example resolving to the shield: a site's name, where only HTTPS makes a
 * secure context (127.0.0.1 would be one anyway); the test certificate accepted.
 */
async function chromiumAtSiteA(t: { after(fn: () => unknown): void }): Promise<BrowserContext> {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...ARGS, '--host-resolver-rules=MAP www.a.example 127.0.0.1'] });
  t.after(() => browser.close());
  return browser.newContext({ ignoreHTTPSErrors: true });
}

test('through the real shield forced to proof-of-work, Chromium passes the no-JS check, solves the interstitial and lands on the original URL', async (t) => {
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>origin</title><p id="origin">origin ${req.url}</p>`);
  };
  const shield = await startTestShield(t, upstream.url);
  await forceProofOfWork(shield, 'browser test');
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
  t.after(() => browser.close());
  // A French browser (Accept-Language: fr-FR): the interstitial speaks French.
  const page = await (await browser.newContext({ locale: 'fr-FR' })).newPage();
  const statuses: number[] = [];
  const languages: Array<string | undefined> = [];
  page.on('response', (r) => {
    if (!r.url().startsWith(shield.url) || r.url().endsWith('/favicon.ico')) return;
    statuses.push(r.status());
    if (r.status() === 503) languages.push(r.headers()['content-language']);
  });
  const original = `${shield.url}/parcels/6A12345678901?lang=fr&x=a%20b`;
  await page.goto(original);
  await page.waitForSelector('#origin', { timeout: 30_000 });
  assert.equal(page.url(), original, 'back on the original URL, query included');
  assert.equal(await page.textContent('#origin'), 'origin /parcels/6A12345678901?lang=fr&x=a%20b', 'the origin never sees a marker');
  // 307 (no-JS check) → 503 (interstitial, never 200) → 303 from the verify path → 200.
  assert.deepEqual(statuses.filter((s) => s !== 200), [307, 503, 303], `statuses seen: ${statuses.join(', ')}`);
  assert.deepEqual(languages, ['fr'], 'the interstitial in the browser\'s language');
  const cookies = await page.context().cookies();
  assert.ok(cookies.some((c) => c.name === 'rempart_clr' && c.httpOnly), 'an HttpOnly clearance cookie is held');
  assert.deepEqual(upstream.seen.map((r) => r.url).filter((u) => u !== '/favicon.ico'), ['/parcels/6A12345678901?lang=fr&x=a%20b'], 'challenges never reached the upstream');
});

test('through the real shield at the no-JavaScript level, a page loaded before the attack still gets its stylesheet and its fetch(): Chromium follows the redirect they get and keeps its cookie', async (t) => {
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (req, res) => {
    if (req.url?.startsWith('/static/site.css')) { res.writeHead(200, { 'content-type': 'text/css' }); res.end('#styled { color: rgb(1, 2, 3); }'); return; }
    if (req.url?.startsWith('/api/parcel')) { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"status":"in transit"}'); return; }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>origin</title><p id="styled">parcel</p>');
  };
  const shield = await startTestShield(t, upstream.url);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
  t.after(() => browser.close());
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${shield.url}/track`);
  await page.waitForSelector('#styled');
  // The attack begins while the page is open, and the page holds no token: its answer came before
  // any challenge (a queued page earns no reputation; here the cookies are simply dropped).
  const force = await request(`${shield.adminUrl}/api/attack`, {
    method: 'POST', headers: { authorization: 'Bearer test-admin-token-0123456789' },
    body: JSON.stringify({ reason: 'browser test', ttlS: 120 }),
  });
  assert.equal(force.statusCode, 200);
  await force.body.dump();
  await context.clearCookies();
  const statuses: Array<[string, number]> = [];
  page.on('response', (r) => { if (r.url().startsWith(shield.url)) statuses.push([new URL(r.url()).pathname, r.status()]); });
  const color = await page.evaluate(() => new Promise<string>((resolve, reject) => {
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = '/static/site.css';
    link.onload = () => resolve(getComputedStyle(document.getElementById('styled')!).color);
    link.onerror = () => reject(new Error('stylesheet refused'));
    document.head.append(link);
  }));
  assert.equal(color, 'rgb(1, 2, 3)', 'the stylesheet applies');
  const fetched = await page.evaluate(async () => { const r = await fetch('/api/parcel/6A12345678901'); return { status: r.status, body: await r.text() }; });
  assert.deepEqual(fetched, { status: 200, body: '{"status":"in transit"}' });
  assert.deepEqual(statuses.filter(([, s]) => s !== 200).map(([p, s]) => `${s} ${p}`), ['307 /static/site.css'], 'one no-JavaScript redirect; the fetch went with its cookie');
  assert.ok((await context.cookies()).some((c) => c.name === 'rempart_nojs'), 'the redirect\'s cookie is kept');
  assert.deepEqual(upstream.seen.map((r) => r.url).filter((u) => u !== '/favicon.ico'), ['/track', '/static/site.css', '/api/parcel/6A12345678901'], 'the origin never sees the marker');
});

test('a live page opened with the no-JS cookie keeps its WebSocket when the socket\'s path goes to proof-of-work as a signature: its Origin names the site (Chromium sends no Fetch Metadata on a handshake) and the shield lets the page\'s own socket through', async (t) => {
  const { createServer } = await import('node:http');
  const { WebSocketServer } = await import('ws');
  const handshakes: Array<Record<string, string | string[] | undefined>> = [];
  const origin = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }); res.end('<!doctype html><title>origin</title><p id="page">parcel</p>'); });
  const live = new WebSocketServer({ server: origin });
  live.on('connection', (ws, req) => { handshakes.push(req.headers); ws.send('in transit'); });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  t.after(() => { for (const c of live.clients) c.terminate(); live.close(); origin.close(); });
  const shield = await startTestShield(t, `http://127.0.0.1:${(origin.address() as { port: number }).port}`, {
    routes: [{ match: { path: '/live/' }, upstream: 'origin', class: 'normal', websocket: true }, { match: { path: '/' }, upstream: 'origin', class: 'normal' }],
  });
  const admin = async (path: string, body: unknown): Promise<void> => {
    const r = await request(`${shield.adminUrl}${path}`, { method: 'POST', headers: { authorization: 'Bearer test-admin-token-0123456789', 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.ok(r.statusCode === 200 || r.statusCode === 201, `${path}: ${r.statusCode}`);
    await r.body.dump();
  };
  // Under attack at the no-JavaScript level: the page is answered with the no-JS cookie, no reputation.
  await admin('/api/attack', { reason: 'browser test', ttlS: 120 });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
  t.after(() => browser.close());
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${shield.url}/track/6A12345678901`);
  await page.waitForSelector('#page');
  const names = (await context.cookies()).map((c) => c.name);
  assert.ok(names.includes('rempart_nojs') && !names.includes('rempart_rep'), `cookies held: ${names.join(', ')}`);
  // Then the socket's path jumps as a signature and goes to proof-of-work.
  await admin('/api/challenges', { dimension: 'path', value: '/live/parcel/{id}', reason: 'signature' });
  const opened = await page.evaluate(() => new Promise<string>((resolve) => {
    const ws = new WebSocket(`ws://${location.host}/live/parcel/6A12345678901`);
    ws.onmessage = (e) => { resolve(String(e.data)); ws.close(); };
    ws.onerror = () => resolve('refused');
  }));
  assert.equal(opened, 'in transit', 'the page\'s own socket opened');
  // What the shield had to go on: Chromium's Origin, no Fetch Metadata on a handshake.
  assert.equal(handshakes[0]?.origin, shield.url);
  assert.equal(handshakes[0]?.['sec-fetch-mode'], undefined);
});

test('over the shield\'s own TLS, at a real name (no localhost exemption), Chromium solves the interstitial in a secure context and holds Secure cookies', async (t) => {
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>origin</title><p id="origin">origin ${req.url}</p>`);
  };
  const shield = await startTestShield(t, upstream.url, { listen: { tls: { certificates: [SITE_A] } } });
  await forceProofOfWork(shield, 'browser test over TLS');
  // In a secure context the interstitial may use Web Crypto, else its JavaScript SHA-256.
  const context = await chromiumAtSiteA(t);
  const page = await context.newPage();
  const statuses: number[] = [];
  page.on('response', (r) => { if (!r.url().endsWith('/favicon.ico')) statuses.push(r.status()); });
  const original = `https://www.a.example:${shield.port}/parcels/6A12345678901?via=tls`;
  await page.goto(original);
  await page.waitForSelector('#origin', { timeout: 30_000 });
  assert.equal(page.url(), original);
  assert.equal(await page.evaluate(() => window.isSecureContext), true);
  assert.deepEqual(statuses.filter((s) => s !== 200), [307, 503, 303], `statuses seen: ${statuses.join(', ')}`);
  const clearance = (await context.cookies()).find((c) => c.name === 'rempart_clr');
  assert.ok(clearance?.httpOnly && clearance.secure, `a clearance cookie, HttpOnly and Secure: ${JSON.stringify(clearance)}`);
  assert.deepEqual(upstream.seen.map((r) => [r.url, r.headers['x-forwarded-proto']]).filter(([u]) => u !== '/favicon.ico'), [['/parcels/6A12345678901?via=tls', 'https']]);
});

test('over HTTP/2 (listen.tls.http2), Chromium negotiates h2, solves the interstitial on its streams and lands on the original URL; the origin gets HTTP/1.1 with Via 2', async (t) => {
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>origin</title><p id="origin">origin ${req.url}</p><img src="/static/a.png"><img src="/static/b.png">`);
  };
  const shield = await startTestShield(t, upstream.url, { listen: { tls: { certificates: [SITE_A], http2: true } } });
  await forceProofOfWork(shield, 'browser test over HTTP/2');
  const context = await chromiumAtSiteA(t);
  const page = await context.newPage();
  const statuses: number[] = [];
  page.on('response', (r) => { if (!r.url().endsWith('/favicon.ico') && !r.url().includes('/static/')) statuses.push(r.status()); });
  const original = `https://www.a.example:${shield.port}/parcels/6A12345678901?via=h2`;
  await page.goto(original);
  await page.waitForSelector('#origin', { timeout: 30_000 });
  assert.equal(page.url(), original);
  assert.equal(await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol), 'h2');
  assert.deepEqual(statuses.filter((s) => s !== 200), [307, 503, 303], `statuses seen: ${statuses.join(', ')}`);
  const clearance = (await context.cookies()).find((c) => c.name === 'rempart_clr');
  assert.ok(clearance?.httpOnly && clearance.secure, `a clearance cookie, HttpOnly and Secure: ${JSON.stringify(clearance)}`);
  const page1 = upstream.seen.find((r) => r.url === '/parcels/6A12345678901?via=h2');
  assert.ok(page1, upstream.seen.map((r) => r.url).join(' '));
  assert.match(String(page1.headers.via), /^2 /);
  assert.equal(page1.headers.host, `www.a.example:${shield.port}`);
  assert.ok(page1.headers.cookie?.includes('rempart_clr='), 'the cookies Chromium sent as separate HTTP/2 fields arrive as one Cookie line');
});

test('over HTTP/2, a page\'s WebSocket opens on an HTTP/1.1 connection of its own (no extended CONNECT is announced, RFC 8441) and is proxied as any other', async (t) => {
  const { createServer } = await import('node:http');
  const { WebSocketServer } = await import('ws');
  const origin = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }); res.end('<!doctype html><title>origin</title><p id="page">parcel</p>'); });
  const live = new WebSocketServer({ server: origin });
  live.on('connection', (ws) => { ws.send('in transit'); });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  t.after(() => { for (const c of live.clients) c.terminate(); live.close(); origin.close(); });
  const shield = await startTestShield(t, `http://127.0.0.1:${(origin.address() as { port: number }).port}`, {
    listen: { tls: { certificates: [SITE_A], http2: true } },
    routes: [{ match: { path: '/live/' }, upstream: 'origin', class: 'normal', websocket: true }, { match: { path: '/' }, upstream: 'origin', class: 'normal' }],
  });
  const context = await chromiumAtSiteA(t);
  const page = await context.newPage();
  await page.goto(`https://www.a.example:${shield.port}/track/6A12345678901`);
  await page.waitForSelector('#page');
  assert.equal(await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol), 'h2');
  const opened = await page.evaluate(() => new Promise<string>((resolve) => {
    const ws = new WebSocket(`wss://${location.host}/live/parcel/6A12345678901`);
    ws.onmessage = (e) => { resolve(String(e.data)); ws.close(); };
    ws.onerror = () => resolve('refused');
  }));
  assert.equal(opened, 'in transit');
});
