import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { runDrill } from '../../src/drill/run.js';
import { createPowSolver } from '../../src/drill/challenge.js';

/**
 * A target in a process of its own (a stall of this test's thread must not stall it): answers every
 * request after 200 ms and prints, per request, the client's address and User-Agent.
 */
async function startChildTarget(): Promise<{ url: string; seen: string[]; close(): Promise<void> }> {
  const script = `
    const http = require('node:http');
    const srv = http.createServer((req, res) => {
      process.stdout.write(JSON.stringify([req.socket.remoteAddress.replace(/^::ffff:/, ''), req.headers['user-agent'] || '']) + '\\n');
      res.setHeader('content-type', req.url.startsWith('/track/') ? 'application/json' : 'text/html');
      setTimeout(() => res.end(req.url.startsWith('/track/') ? '{"status":"delivered"}' : '<html>ok</html>'), 200);
    });
    srv.listen(0, '127.0.0.1', () => process.stdout.write('PORT ' + srv.address().port + '\\n'));`;
  const child: ChildProcess = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const seen: string[] = [];
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    lines.on('line', (l) => { if (l.startsWith('PORT ')) resolve(Number(l.slice(5))); else seen.push(l); });
    child.once('exit', (code) => reject(new Error(`target exited (${code})`)));
  });
  return {
    url: `http://127.0.0.1:${port}`, seen,
    close: async () => { if (child.exitCode === null) { child.kill('SIGTERM'); await once(child, 'exit'); } },
  };
}

/** Holds this thread busy for `ms` every `everyMs`, as a flood generator building large bodies does. */
function stallEvery(everyMs: number, ms: number): () => void {
  const timer = setInterval(() => { const end = Date.now() + ms; while (Date.now() < end) { /* the generator's stall */ } }, everyMs);
  return () => clearInterval(timer);
}

test('customers run on a thread of their own: the generator\'s stalls are not in their latency (on this thread they are), same customers for a seed', async (t) => {
  const target = await startChildTarget();
  t.after(target.close);
  const run = async (onThisThread: boolean): Promise<{ r: Awaited<ReturnType<typeof runDrill>>; agents: Map<string, Set<string>> }> => {
    const before = target.seen.length;
    let stop: (() => void) | undefined;
    const r = await runDrill({
      target: target.url, scenario: 'none', durationS: 3, leadS: 0, trackingUsers: 12, bankingUsers: 0, timeScale: 20, seed: 21, graceMs: 1000,
      userSettings: { reloads: [0, 0], liveShare: 0 },
      // A test's solver keeps the customers on this thread (it cannot cross to another).
      ...(onThisThread ? { solver: createPowSolver() } : {}),
      onProgress: () => { stop ??= stallEvery(400, 250); },
    });
    stop?.();
    const agents = new Map<string, Set<string>>();
    for (const l of target.seen.slice(before)) {
      const [addr, ua] = JSON.parse(l) as [string, string];
      agents.set(addr, (agents.get(addr) ?? new Set()).add(ua));
    }
    return { r, agents };
  };
  const apart = await run(false);
  const here = await run(true);
  assert.equal(apart.r.generator.users?.onThread, true);
  assert.equal(here.r.generator.users?.onThread, false);
  for (const { r } of [apart, here]) {
    assert.ok(r.generator.eventLoopDelayMaxMs >= 200, `the generator stalled (max ${r.generator.eventLoopDelayMaxMs.toFixed(0)} ms)`);
    assert.ok(r.legit.classes.normal.attempts >= 15, `${r.legit.classes.normal.attempts} lookups`);
    assert.equal(r.legit.classes.normal.ok, r.legit.classes.normal.attempts);
  }
  // The target answers in 200 ms: on their own thread the customers wait for nothing else; on the
  // generator's, an answer that came during a stall (a request sent as one ended is answered 50 ms
  // into the next) waited for its end.
  assert.ok(apart.r.generator.users!.eventLoopDelayMaxMs < 150, `customers' loop max ${apart.r.generator.users!.eventLoopDelayMaxMs.toFixed(0)} ms`);
  assert.ok(apart.r.legit.all.p95 < 320, `apart: p95 ${apart.r.legit.all.p95.toFixed(0)} ms`);
  assert.ok(here.r.legit.all.max >= 350, `here: max ${here.r.legit.all.max.toFixed(0)} ms`);
  assert.ok(here.r.generator.users!.eventLoopDelayMaxMs >= 200);
  // One seed, one population: the same addresses with the same browsers, wherever it runs.
  assert.deepEqual([...apart.agents.keys()].sort(), [...here.agents.keys()].sort());
  for (const [addr, uas] of apart.agents) assert.deepEqual([...uas].sort(), [...here.agents.get(addr)!].sort(), addr);
});

test('customers behind the bots\' carrier addresses bind other ports than the bots: none of their connections fails to bind', async (t) => {
  const target = await startChildTarget();
  t.after(target.close);
  // 60 bots (8 connections each, kept busy by the 200 ms answers) behind the customers' 3 addresses.
  const r = await runDrill({
    target: target.url, scenario: 'distributed-low-rate', params: { rate: 500, sources: 60, connections: 8 }, layout: 'shared-address',
    durationS: 3, leadS: 0.5, trackingUsers: 12, bankingUsers: 0, timeScale: 20, seed: 5, graceMs: 1000, userSettings: { reloads: [0, 0], liveShare: 0 },
  });
  assert.equal(r.generator.users?.onThread, true);
  assert.equal(r.meta.population.addresses, 3);
  assert.ok(r.attack.totals.sent > 300, `${r.attack.totals.sent} attack requests`);
  const all = r.legit.all;
  assert.ok(all.attempts >= 15, `${all.attempts} attempts`);
  assert.equal(all.outcomes.error ?? 0, 0, `customers' requests that failed to connect: ${JSON.stringify(all.outcomes)}`);
});
