import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startRecordingUpstream, startTestShield } from '../helpers/servers.js';
import { parseConfig } from '../../src/config/load.js';
import { startShield, type ShieldHandle } from '../../src/shield/start.js';

/**
 * An upstream with an event stream on /events (Server-Sent Events: a head, then an event every
 * 50 ms until the client leaves) and pages elsewhere.
 */
async function streamingUpstream(t: TestContext) {
  const up = await startRecordingUpstream(t);
  const held = new Set<ServerResponse>();
  up.handler = (req, res) => {
    if (req.url?.startsWith('/events')) {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      res.write(': open\n\n');
      let n = 0;
      const timer = setInterval(() => res.write(`data: ${++n}\n\n`), 50);
      held.add(res);
      res.on('close', () => { clearInterval(timer); held.delete(res); });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<p>${req.url}</p>`);
  };
  t.after(() => { for (const r of held) r.destroy(); });
  return Object.assign(up, { held });
}

/** An upstream whose every answer is an event stream with one event, then nothing. */
async function quietStreamUpstream(t: TestContext) {
  const up = await startRecordingUpstream(t);
  const held = new Set<ServerResponse>();
  up.handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: 1\n\n'); // one event, then nothing
    held.add(res);
    res.on('close', () => held.delete(res));
  };
  t.after(() => { for (const r of held) r.destroy(); });
  return up;
}

/** Resolves true when the response ends or its connection closes, false after `ms`. */
function ended(res: IncomingMessage, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (res.destroyed || res.complete) { resolve(true); return; }
    const timer = setTimeout(() => resolve(false), ms);
    res.once('close', () => { clearTimeout(timer); resolve(true); });
  });
}

interface Stream { status: number; type: string | undefined; retryAfter: string | undefined; res: IncomingMessage; events(n: number): Promise<string[]> }

/** Opens a stream from `from` (a 127.x address) and resolves on its head; `accept` as EventSource sends it unless told. */
function openStream(shield: ShieldHandle, from: string, accept = 'text/event-stream'): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: shield.port, path: '/events', localAddress: from, agent: false, headers: { accept, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0', 'cache-control': 'no-cache' } }, (res) => {
      let text = '';
      const waiting: Array<() => void> = [];
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; for (const w of waiting.splice(0)) w(); });
      resolve({
        status: res.statusCode ?? 0, type: res.headers['content-type'], retryAfter: res.headers['retry-after'] as string | undefined, res,
        // The next `n` data lines read from now on (bounded: 5 s).
        events: (n) => new Promise((done, fail) => {
          const from = text.length;
          const read = (): string[] => [...text.slice(from).matchAll(/^data: (\d+)$/gm)].map((m) => m[1] as string);
          const timer = setTimeout(() => fail(new Error(`${read().length} of ${n} events in 5 s`)), 5_000);
          const check = (): void => { if (read().length >= n) { clearTimeout(timer); done(read().slice(0, n)); } else waiting.push(check); };
          check();
        }),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function getPage(shield: ShieldHandle, path: string, from: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: shield.port, path, localAddress: from, agent: false, headers: { accept: 'text/html', 'user-agent': 'Mozilla/5.0 page' } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
    req.on('error', reject);
    req.end();
  });
}

async function metric(shield: ShieldHandle, name: string): Promise<number> {
  const text = await (await fetch(`${shield.adminUrl}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

/**
 * A shield over `upstreamUrl` (one route to it) whose log lines are read back: `extra` adds to its
 * configuration, `level` is the log's.
 */
async function loggedShield(t: TestContext, upstreamUrl: string, extra: Record<string, unknown>, level: 'info' | 'warn') {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>); done(); } });
  const config = parseConfig({
    listen: { address: '127.0.0.1', port: 0 }, admin: { port: 0 },
    upstreams: { origin: { url: upstreamUrl } }, routes: [{ match: { path: '/' }, upstream: 'origin' }],
    log: { level, access: level === 'info' },
    ...extra,
    ...(extra.listen !== undefined ? { listen: { address: '127.0.0.1', port: 0, ...(extra.listen as object) } } : {}),
  });
  const shield = await startShield({ config, logger: pino({ level }, sink) });
  t.after(() => shield.close());
  return { shield, lines };
}

test('event streams give their upstream slot back: pages are served while more streams are held than the upstream has slots', async (t) => {
  const up = await streamingUpstream(t);
  // 4 slots and 4 connections: before, the fifth stream waited for a slot and every page behind
  // the four held ones to its queue timeout (503).
  const shield = await startTestShield(t, up.url, { upstreams: { origin: { url: up.url, connections: 4, queueTimeoutMs: 1_500 } } });
  const streams = await Promise.all(Array.from({ length: 12 }, (_, i) => openStream(shield, `127.0.40.${i + 1}`)));
  t.after(() => { for (const s of streams) s.res.destroy(); });
  for (const s of streams) {
    assert.equal(s.status, 200);
    assert.match(s.type ?? '', /^text\/event-stream/);
  }
  // Events flow as the upstream writes them (not held back in a buffer).
  assert.deepEqual((await Promise.all(streams.map((s) => s.events(2)))).map((e) => e.length), streams.map(() => 2));
  const pages = await Promise.all(Array.from({ length: 8 }, (_, i) => getPage(shield, `/page/${i}`, `127.0.41.${i + 1}`)));
  assert.deepEqual(pages, pages.map(() => 200));
  assert.equal(await metric(shield, 'rempart_event_streams'), 12);
  // A stream goes on after the pages.
  assert.equal((await streams[0]!.events(3)).length, 3);
  // Closed by their clients, the streams leave the count and the upstream's connections.
  for (const s of streams) s.res.destroy();
  const deadline = Date.now() + 5_000;
  while (await metric(shield, 'rempart_event_streams') > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await metric(shield, 'rempart_event_streams'), 0);
});

test('a stream its request did not announce (Accept: */*) still gives its slot back once its head is written', async (t) => {
  const up = await streamingUpstream(t);
  // The adaptive limit starts at 20 slots over 64 connections: 24 unannounced streams held 20 of
  // them and every page waited; now they hold 24 of the pool's connections and no slot.
  const shield = await startTestShield(t, up.url, { upstreams: { origin: { url: up.url, queueTimeoutMs: 1_500 } } });
  const streams = await Promise.all(Array.from({ length: 24 }, (_, i) => openStream(shield, `127.0.42.${i + 1}`, '*/*')));
  t.after(() => { for (const s of streams) s.res.destroy(); });
  assert.deepEqual(streams.map((s) => s.status), streams.map(() => 200));
  const pages = await Promise.all(Array.from({ length: 6 }, (_, i) => getPage(shield, `/page/${i}`, `127.0.43.${i + 1}`)));
  assert.deepEqual(pages, pages.map(() => 200));
  assert.equal(await metric(shield, 'rempart_event_streams'), 24, 'counted in the budget once their heads said what they are');
});

test('streams their requests did not announce hold connections, never the requests behind them: past the pool\'s connections pages are served; a client past its cap is refused', async (t) => {
  const up = await streamingUpstream(t);
  // 4 connections: before, 4 unannounced streams held the pool, and every request admitted after
  // them (a slot was free) waited in undici's own queue — no timeout — until its client gave up.
  const shield = await startTestShield(t, up.url, { upstreams: { origin: { url: up.url, connections: 4, queueTimeoutMs: 1_500 } }, eventStreams: { maxPerClient: 3 } });
  const streams = await Promise.all(Array.from({ length: 8 }, (_, i) => openStream(shield, `127.0.45.${i + 1}`, '*/*')));
  t.after(() => { for (const s of streams) s.res.destroy(); });
  assert.deepEqual(streams.map((s) => s.status), streams.map(() => 200));
  assert.deepEqual((await Promise.all(streams.map((s) => s.events(1)))).map((e) => e.length), streams.map(() => 1));
  const pages = await Promise.all(Array.from({ length: 8 }, (_, i) => getPage(shield, `/page/${i}`, `127.0.46.${i + 1}`)));
  assert.deepEqual(pages, pages.map(() => 200));
  // Unannounced, the streams of one client still count against its cap, from their heads on.
  const mine = await Promise.all([1, 2, 3].map(() => openStream(shield, '127.0.47.1', '*/*')));
  t.after(() => { for (const s of mine) s.res.destroy(); });
  assert.deepEqual(mine.map((s) => s.status), [200, 200, 200]);
  const fourth = await openStream(shield, '127.0.47.1', '*/*');
  assert.deepEqual([fourth.status, fourth.retryAfter], [503, '5']);
  assert.equal(await metric(shield, 'rempart_event_streams'), 11);
  // The refused stream was cut at the origin, not read forever: 12 asked for, 11 held there.
  assert.equal(up.seen.filter((r) => r.url.startsWith('/events')).length, 12);
  const deadline = Date.now() + 3_000;
  while (up.held.size > 11 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(up.held.size, 11);
  assert.equal(await getPage(shield, '/after', '127.0.47.1'), 200);
});

test('event streams are bounded per client and in total (503 with Retry-After), shared max-min fairly at the total', async (t) => {
  const up = await streamingUpstream(t);
  const shield = await startTestShield(t, up.url, { eventStreams: { maxPerClient: 2, maxTotal: 3 } });
  const a1 = await openStream(shield, '127.0.44.1');
  const a2 = await openStream(shield, '127.0.44.1');
  t.after(() => { a1.res.destroy(); a2.res.destroy(); });
  assert.deepEqual([a1.status, a2.status], [200, 200]);
  const a3 = await openStream(shield, '127.0.44.1');
  assert.equal(a3.status, 503, 'a third stream from the same address');
  assert.equal(a3.retryAfter, '5');
  const b1 = await openStream(shield, '127.0.44.2');
  t.after(() => b1.res.destroy());
  assert.equal(b1.status, 200);
  // The total is reached (3). A client holding none takes the place of the newest stream of the
  // one holding two: that stream ends.
  const a2ended = new Promise<void>((resolve) => a2.res.once('close', () => resolve()));
  const c1 = await openStream(shield, '127.0.44.3');
  t.after(() => c1.res.destroy());
  assert.equal(c1.status, 200);
  await a2ended;
  assert.equal((await c1.events(1)).length, 1);
  assert.equal((await a1.events(1)).length, 1, 'the older stream of the address goes on');
  // One each now: a newcomer is refused, nobody's stream is closed for it.
  const d1 = await openStream(shield, '127.0.44.4');
  assert.equal(d1.status, 503, 'shares are even');
  assert.equal((await b1.events(1)).length, 1);
  // Pages are not streams: never refused by the stream budget.
  assert.equal(await getPage(shield, '/page', '127.0.44.1'), 200);
  assert.equal(await metric(shield, 'rempart_event_streams_refused_total'), 2);
  assert.equal(await metric(shield, 'rempart_event_streams_evicted_total'), 1);
  b1.res.destroy();
  const deadline = Date.now() + 5_000;
  while (await metric(shield, 'rempart_event_streams') > 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const d2 = await openStream(shield, '127.0.44.4');
  t.after(() => d2.res.destroy());
  assert.equal(d2.status, 200, 'the place a closed stream left');
  assert.equal((await d2.events(1)).length, 1);
});

test('a route of held answers (long polling, `stream: true`): each poll takes a stream place and no slot while the origin waits, timed by eventStreams.idleTimeoutMs', async (t) => {
  const up = await startRecordingUpstream(t);
  const waiting = new Set<ServerResponse>();
  up.handler = (req, res) => {
    if (req.url?.startsWith('/poll')) {
      // News after 2.5 s: longer than the upstream's timeoutMs (2 s in the test shield).
      waiting.add(res);
      const timer = setTimeout(() => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"news":1}'); }, 2_500);
      res.on('close', () => { clearTimeout(timer); waiting.delete(res); });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<p>page</p>');
  };
  t.after(() => { for (const r of waiting) r.destroy(); });
  const shield = await startTestShield(t, up.url, {
    upstreams: { origin: { url: up.url, connections: 4, timeoutMs: 2_000, queueTimeoutMs: 1_500 } },
    routes: [{ match: { path: '/poll' }, upstream: 'origin', class: 'normal', stream: true }, { match: { path: '/' }, upstream: 'origin', class: 'normal' }],
  });
  const polls = Array.from({ length: 10 }, (_, i) => getPage(shield, `/poll?n=${i}`, `127.0.45.${i + 1}`));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(waiting.size, 10, 'every poll reached the origin: none waits for one of the 4 slots');
  assert.equal(await metric(shield, 'rempart_event_streams'), 10);
  const pages = await Promise.all(Array.from({ length: 4 }, (_, i) => getPage(shield, `/page/${i}`, `127.0.46.${i + 1}`)));
  assert.deepEqual(pages, [200, 200, 200, 200]);
  assert.deepEqual(await Promise.all(polls), polls.map(() => 200), 'answered with the news, not cut at timeoutMs (504)');
  // A poll whose client leaves ends at the origin too: no work to protect there.
  const pending = (): number => waiting.size;
  const leaving = request({ host: '127.0.0.1', port: shield.port, path: '/poll?leaving', localAddress: '127.0.45.50', agent: false });
  leaving.on('error', () => undefined);
  leaving.end();
  const deadline = Date.now() + 2_000;
  while (pending() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(pending(), 1);
  leaving.destroy();
  while (pending() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(pending(), 0, 'the origin\'s request closed before its news');
  while (await metric(shield, 'rempart_event_streams') > 0 && Date.now() < deadline + 1_000) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await metric(shield, 'rempart_event_streams'), 0);
});

test('a route of held answers cannot cache: the configuration error names the route', async () => {
  assert.throws(() => parseConfig({
    upstreams: { origin: { url: 'http://127.0.0.1:9' } },
    routes: [{ match: { path: '/poll' }, upstream: 'origin', stream: true, cache: { ttlS: 5 } }],
  }), /routes\.0\.cache.*stream: true cannot cache|stream: true cannot cache/s);
});

test('the access log marks an event stream (`stream: true`): its duration is how long it was held', async (t) => {
  const up = await streamingUpstream(t);
  const { shield, lines } = await loggedShield(t, up.url, {}, 'info');
  const s = await openStream(shield, '127.0.47.1');
  assert.equal((await s.events(3)).length, 3);
  s.res.destroy();
  assert.equal(await getPage(shield, '/page', '127.0.47.2'), 200);
  const line = (path: string): Record<string, unknown> | undefined => lines.find((l) => l.msg === 'access' && l.path === path);
  for (let i = 0; i < 200 && !(line('/events') && line('/page')); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(line('/events')?.stream, true);
  assert.ok(Number(line('/events')?.ms) >= 100, `held ${String(line('/events')?.ms)} ms`);
  assert.equal(line('/page')?.stream, undefined);
});

test('eventStreams.maxTotal stays under a quarter of the connections the listener holds, and says so at start', async (t) => {
  const up = await streamingUpstream(t);
  const { shield, lines } = await loggedShield(t, up.url, { listen: { limits: { maxConnections: 12 } }, eventStreams: { maxPerClient: 0, maxTotal: 1000 } }, 'warn');
  const warning = lines.find((l) => String(l.msg).startsWith('eventStreams.maxTotal'));
  assert.equal(warning?.effective, 3, 'a quarter of 12');
  const held = [await openStream(shield, '127.0.48.1'), await openStream(shield, '127.0.48.2'), await openStream(shield, '127.0.48.3')];
  t.after(() => { for (const s of held) s.res.destroy(); });
  assert.deepEqual(held.map((s) => s.status), [200, 200, 200]);
  assert.equal((await openStream(shield, '127.0.48.4')).status, 503, 'the fourth: one each, no room to make');
});

test('an event stream on a cached route is never stored nor waited behind: two clients of the same feed each get theirs', async (t) => {
  const up = await startRecordingUpstream(t);
  const held = new Set<ServerResponse>();
  up.handler = (req, res) => {
    // An origin that says nothing of caching: by the route's ttl alone the answer would be storable.
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let n = 0;
    const timer = setInterval(() => res.write(`data: ${++n}\n\n`), 50);
    held.add(res);
    res.on('close', () => { clearInterval(timer); held.delete(res); });
  };
  t.after(() => { for (const r of held) r.destroy(); });
  const shield = await startTestShield(t, up.url, { routes: [{ match: { path: '/' }, upstream: 'origin', class: 'normal', cache: { ttlS: 30 } }] });
  const [a, b] = await Promise.all([openStream(shield, '127.0.49.1'), openStream(shield, '127.0.49.2', '*/*')]);
  t.after(() => { a.res.destroy(); b.res.destroy(); });
  assert.deepEqual([a.status, b.status], [200, 200]);
  assert.equal((await a.events(2)).length, 2);
  assert.equal((await b.events(2)).length, 2, 'the second is not coalesced behind the first, which never ends');
  assert.equal(up.seen.length, 2);
});

test('streams the origin keeps quiet past eventStreams.idleTimeoutMs end, and do not count as its server failing', async (t) => {
  const [a, b] = [await quietStreamUpstream(t), await quietStreamUpstream(t)];
  const shield = await startTestShield(t, a.url, {
    upstreams: { origin: { servers: [{ url: a.url }, { url: b.url }], health: { passive: { consecutiveFailures: 2, baseEjectionMs: 60_000 } } } },
    eventStreams: { idleTimeoutMs: 300 },
  });
  const streams = await Promise.all(Array.from({ length: 8 }, (_, i) => openStream(shield, `127.0.50.${i + 1}`)));
  assert.deepEqual(streams.map((s) => s.status), streams.map(() => 200));
  assert.deepEqual(await Promise.all(streams.map((s) => ended(s.res, 10_000))), streams.map(() => true));
  const text = await (await fetch(`${shield.adminUrl}/metrics`)).text();
  const up = [...text.matchAll(/^rempart_upstream_server_up\{[^}]*\} (\d)/gm)].map((m) => m[1]);
  assert.deepEqual(up, ['1', '1'], 'eight quiet streams ended: no server ejected');
});

test('disabling a server ends the event streams it holds (the clients reconnect to the others); a drained one keeps them', async (t) => {
  const [a, b] = [await streamingUpstream(t), await streamingUpstream(t)];
  const shield = await startTestShield(t, a.url, { upstreams: { origin: { servers: [{ url: a.url, name: 'a' }, { url: b.url, name: 'b' }], balance: 'round-robin' } } });
  const streams = await Promise.all(Array.from({ length: 4 }, (_, i) => openStream(shield, `127.0.51.${i + 1}`)));
  t.after(() => { for (const s of streams) s.res.destroy(); });
  assert.deepEqual(streams.map((s) => s.status), [200, 200, 200, 200]);
  const set = async (server: string, state: string): Promise<number> => (await fetch(`${shield.adminUrl}/api/upstreams/origin/servers/${server}`, {
    method: 'POST', headers: { authorization: 'Bearer test-admin-token-0123456789', 'content-type': 'application/json' }, body: JSON.stringify({ state }),
  })).status;
  const ended = (): number => streams.filter((s) => s.res.destroyed || s.res.readableEnded).length;
  assert.equal(await set('b', 'draining'), 200);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(ended(), 0, 'draining: the streams go on');
  assert.equal(await set('b', 'disabled'), 200);
  for (let i = 0; i < 100 && ended() < 2; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(ended(), 2, 'the two streams on b ended (round-robin over two servers)');
  for (const s of streams.filter((x) => !x.res.destroyed && !x.res.readableEnded)) assert.equal((await s.events(1)).length, 1, 'the streams on a go on');
});

test('a held stream is answered: it does not count among its identity\'s open requests (six live tabs are not a flood)', async (t) => {
  const up = await streamingUpstream(t);
  // A 1 s window: the six requests that opened the streams have left the rate by the page.
  const { shield, lines } = await loggedShield(t, up.url, { detection: { pace: { windowS: 1 } } }, 'info');
  // Six streams, then (once their opening has left the window) a page: one browser, one address
  // and agent, one source pace.
  const streams = await Promise.all(Array.from({ length: 6 }, () => openStream(shield, '127.0.52.1')));
  t.after(() => { for (const s of streams) s.res.destroy(); });
  assert.deepEqual(streams.map((s) => s.status), streams.map(() => 200));
  await new Promise((r) => setTimeout(r, 2_300));
  const page = await new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: shield.port, path: '/page', localAddress: '127.0.52.1', agent: false, headers: { accept: 'text/html', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
    req.on('error', reject);
    req.end();
  });
  assert.equal(page, 200);
  const line = (): Record<string, unknown> | undefined => lines.find((l) => l.msg === 'access' && l.path === '/page');
  for (let i = 0; i < 200 && !line(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(line()?.pace, 0, `the page's pace: ${String(line()?.pace)} (six streams held open would read as 1)`);
});

test('a stream its request did not announce is timed between events by eventStreams.idleTimeoutMs, not the upstream\'s timeoutMs, once its head says what it is', async (t) => {
  const up = await startRecordingUpstream(t);
  const held = new Set<ServerResponse>();
  // A fetch()-read feed: one event, then the next after 1.2 s — three times the upstream's timeoutMs.
  up.handler = (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: 1\n\n');
    held.add(res);
    const timer = setTimeout(() => res.write('data: 2\n\n'), req.url === '/events' ? 1_200 : 60_000);
    res.on('close', () => { clearTimeout(timer); held.delete(res); });
  };
  t.after(() => { for (const r of held) r.destroy(); });
  const shield = await startTestShield(t, up.url, { upstreams: { origin: { url: up.url, timeoutMs: 400 } }, eventStreams: { idleTimeoutMs: 5_000 } });
  const s = await openStream(shield, '127.0.52.1', '*/*');
  t.after(() => s.res.destroy());
  assert.equal(s.status, 200);
  // Before, undici's body timer was set from timeoutMs before the head was read: cut at 400 ms.
  assert.deepEqual(await s.events(1), ['2'], 'the event sent after 1.2 s of quiet');
});

test('a stream its request did not announce, kept quiet past eventStreams.idleTimeoutMs, ends', async (t) => {
  const up = await quietStreamUpstream(t);
  const shield = await startTestShield(t, up.url, { upstreams: { origin: { url: up.url, timeoutMs: 10_000 } }, eventStreams: { idleTimeoutMs: 600 } });
  const s = await openStream(shield, '127.0.52.2', '*/*');
  assert.equal(s.status, 200);
  const t0 = Date.now();
  assert.ok(await ended(s.res, 8_000), 'the quiet stream ended');
  const took = Date.now() - t0;
  assert.ok(took >= 500 && took < 5_000, `ended after ${took} ms (idle timeout 600 ms, the upstream's 10 s)`);
});

test('after a reload, a stream on the old configuration\'s pools is still timed between events: kept quiet past idleTimeoutMs, it ends', async (t) => {
  const up = await quietStreamUpstream(t);
  const raw = {
    listen: { address: '127.0.0.1', port: 0 }, admin: { port: 0 }, log: { level: 'warn', access: false },
    upstreams: { origin: { url: up.url } }, routes: [{ match: { path: '/' }, upstream: 'origin' }],
    eventStreams: { idleTimeoutMs: 800 },
  };
  const shield = await startShield({ config: parseConfig(raw), logger: pino({ level: 'silent' }) });
  t.after(() => shield.close());
  const s = await openStream(shield, '127.0.52.3', '*/*');
  assert.equal(s.status, 200);
  // A new configuration: new pools; the stream stays on the old one, whose runtime's ticker stopped.
  shield.reload(parseConfig({ ...raw, routes: [{ match: { path: '/' }, upstream: 'origin', class: 'high' }] }));
  const t0 = Date.now();
  assert.ok(await ended(s.res, 8_000), 'the quiet stream ended');
  assert.ok(Date.now() - t0 < 5_000, `ended after ${Date.now() - t0} ms (idle timeout 800 ms)`);
});
