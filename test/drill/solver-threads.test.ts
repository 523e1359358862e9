import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBrowser } from '../../src/drill/browser.js';
import { ALL_IDENTITIES } from '../../src/drill/headers.js';
import { createThreadedSolver } from '../../src/drill/solver-threads.js';
import { createChallengeSettings } from '../../src/shield/challenge/settings.js';
import { createKeyring } from '../../src/shield/reputation/token.js';
import { createChallengeFilter, sendPlain } from '../challenge/server.js';
import { startRecordingServer } from './recording-server.js';
import { runDrill } from '../../src/drill/run.js';

/** A server that challenges every request with the shield's real filter (level 2, `difficulty` bits) and answers `ok` once cleared. */
async function challengingServer(key: number, difficulty: number) {
  const filter = createChallengeFilter(createChallengeSettings({ keys: createKeyring(Buffer.alloc(32, key)) }), () => ({ level: 2, difficulty }));
  return startRecordingServer((req, res, body) => {
    const f = filter(req, body);
    if (f.kind === 'answer') return sendPlain(res, f.response);
    res.end('ok');
  });
}

test('threaded solver: browsers pass the shield\'s real challenge with the hashing in worker threads, requests made by each browser', async (t) => {
  const srv = await challengingServer(2, 10);
  t.after(srv.close);
  const solver = createThreadedSolver({ threads: 2 });
  t.after(() => solver.close());
  const browsers = Array.from({ length: 5 }, (_, i) => createBrowser({ origin: srv.url, identity: ALL_IDENTITIES[i]!, localAddress: `127.9.${i + 1}.7`, solver }));
  t.after(() => Promise.all(browsers.map((b) => b.close())));
  // The first solve runs inline while the workers load; then the others go to the workers.
  const first = await browsers[0]!.fetch('GET', '/track', { timeoutMs: 20_000 });
  assert.equal(first.status, 200);
  for (let i = 0; i < 200 && solver.threadsReady < 2; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(solver.threadsReady, 2, 'both workers loaded within 20 s');
  const answers = [first, ...(await Promise.all(browsers.slice(1).map((b) => b.fetch('GET', '/track', { timeoutMs: 20_000 }))))];
  assert.equal(solver.solvedOnThreads, 4, 'the four later solves ran on the workers');
  assert.deepEqual(answers.map((a) => [a.status, a.challenged]), browsers.map(() => [200, true]));
  for (const [i, b] of browsers.entries()) {
    assert.ok([...b.cookies.keys()].includes('rempart_clr'), `browser ${i} holds its clearance`);
    // Every request of a solve went out from that browser's own address.
    const verify = srv.requests.filter((q) => q.path.startsWith('/.rempart/') && q.addr === `127.9.${i + 1}.7`);
    assert.equal(verify.length, 1);
  }
  await solver.close();
  assert.equal(await solver.solve({ status: 200, headers: {}, body: '', url: srv.url }, { request: () => Promise.reject(new Error('unused')) }, AbortSignal.abort()), false);
});

test('warm: the workers load before any solve; every solve on them is timed', async (t) => {
  const solver = createThreadedSolver({ threads: 1 });
  t.after(() => solver.close());
  assert.equal(solver.threadsReady, 0, 'nothing loaded before warm');
  solver.warm();
  for (let i = 0; i < 200 && solver.threadsReady < 1; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(solver.threadsReady, 1, 'loaded within 20 s without a solve');
  assert.deepEqual(solver.solveMs, []);
});

test('a drill run hashes the customers\' proofs of work on threads of their own, apart from the bots\'', async (t) => {
  // 13 bits: over what is solved inline while workers load, so that every solve is a worker's.
  const srv = await challengingServer(3, 13);
  t.after(srv.close);
  const r = await runDrill({
    target: srv.url, scenario: 'challenge-solver', durationS: 6, leadS: 3, trackingUsers: 3, bankingUsers: 0, usersPerAddress: 1, seed: 4, graceMs: 300,
    params: { rate: 20, sources: 4, connections: 1, solves: 1 },
  });
  const solves = r.generator.solves!;
  // Every request is challenged (level 2); a verify is one solve, made from the solver's address.
  const customers = new Set(r.meta.population.legitAddresses ?? []);
  const verifies = srv.requests.filter((q) => q.path.startsWith('/.rempart/'));
  const byCustomers = verifies.filter((q) => customers.has(q.addr)).length;
  assert.equal(solves.bots.count, 4, 'each bot solved once, on the bots\' threads');
  assert.equal(verifies.length - byCustomers, 4);
  assert.ok(byCustomers >= 1, 'customers solved too (every page is challenged)');
  assert.equal(solves.users.count, byCustomers, 'every customer\'s solve on the customers\' threads');
  assert.ok(solves.users.maxMs > 0 && solves.bots.maxMs > 0);
});
