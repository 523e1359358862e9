import { test } from 'node:test';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import assert from 'node:assert/strict';
import { createAddressAllocator, prefix24 } from '../../src/drill/addresses.js';
import { createRng } from '../../src/drill/rng.js';
import { runDrill } from '../../src/drill/run.js';
import { startRecordingServer } from './recording-server.js';

test('shared-/24: every attack address sits in a customer\'s /24, spread evenly, never on a customer\'s address', () => {
  const a = createAddressAllocator(createRng(5));
  const legit = a.take(28);
  const attack = a.takeSharing(3000, legit);
  const nets = new Set(legit.map(prefix24));
  assert.equal(new Set(attack).size, 3000);
  assert.ok(attack.every((x) => nets.has(prefix24(x)) && !legit.includes(x) && x.startsWith('127.') && !x.startsWith('127.0.0.')));
  const per = new Map<string, number>();
  for (const x of attack) per.set(prefix24(x), (per.get(prefix24(x)) ?? 0) + 1);
  assert.equal(per.size, nets.size);
  assert.ok(Math.max(...per.values()) - Math.min(...per.values()) <= 1, 'round-robin over the /24s');
  // Host parts are random, not a block per role: attackers sit below and above the customers.
  const hosts = attack.map((x) => Number(x.split('.')[3]));
  assert.ok(Math.min(...hosts) <= 5 && Math.max(...hosts) >= 250);
  // Same seed, same layout; a later plain take stays disjoint from everything handed out.
  const b = createAddressAllocator(createRng(5));
  assert.deepEqual(b.takeSharing(3000, b.take(28)), attack);
  const more = a.take(1000);
  assert.ok(more.every((x) => !attack.includes(x) && !legit.includes(x)));
  assert.throws(() => createAddressAllocator(createRng(1)).takeSharing(600, ['127.1.2.3', '127.1.2.4']), /do not fit/);
});

test('drill --layout shared-24: attackers arrive from the customers\' /24s; CGNAT puts 20 users behind each address', async (t) => {
  const srv = await startRecordingServer();
  t.after(srv.close);
  const r = await runDrill({
    target: srv.url, scenario: 'distributed-low-rate', durationS: 2.5, leadS: 0.5, seed: 21, graceMs: 200, timeScale: 20,
    trackingUsers: 12, bankingUsers: 0, usersPerAddress: 1, layout: 'shared-24', params: { rate: 200, sources: 300, connections: 1 },
  });
  const legit = new Set(srv.requests.filter((q) => q.path === '/track' || q.path === '/static/site.css').map((q) => q.addr));
  const attack = new Set(srv.requests.filter((q) => q.method === 'POST').map((q) => q.addr));
  assert.ok(legit.size >= 6, `${legit.size} customer addresses seen`);
  assert.ok(attack.size >= 5, `${attack.size} attack addresses seen`);
  assert.ok([...attack].every((a) => !legit.has(a)));
  const nets = new Set([...legit].map(prefix24));
  const outside = [...attack].filter((a) => !nets.has(prefix24(a)));
  // Customers not seen in this short run may own the /24 of a few attackers; none may be outside all 12.
  assert.ok(outside.length <= attack.size * (12 - legit.size) / 12 + 1, `${outside.length} attack addresses outside the seen customers' /24s`);
  assert.equal(r.meta.population.layout, 'shared-24');
  assert.equal(r.meta.population.sharedPrefixes, 12);
  // The report names the customers' addresses (to pick them out of a shield's access log): every
  // one seen, no attacker.
  const named = new Set(r.meta.population.legitAddresses);
  assert.equal(named.size, 12);
  assert.ok([...legit].every((a) => named.has(a)) && [...attack].every((a) => !named.has(a)));

  const srv2 = await startRecordingServer();
  t.after(srv2.close);
  const r2 = await runDrill({
    target: srv2.url, scenario: 'none', durationS: 1.5, seed: 22, graceMs: 200, timeScale: 50, trackingUsers: 40, bankingUsers: 0, usersPerAddress: 20,
  });
  assert.equal(r2.meta.population.addresses, 2);
  assert.equal(new Set(srv2.requests.map((q) => q.addr)).size, 2, '40 users behind 2 carrier addresses');
  assert.equal(r2.legit.mitigation, null, 'no attack, no time to mitigation');
});

test('a drill whose attack addresses do not fit its layout rejects, and leaves no worker thread keeping the process alive', async (t) => {
  const srv = await startRecordingServer();
  t.after(srv.close);
  // In a process of its own: a solver thread left running would keep that process from exiting.
  const code = `import { runDrill } from ${JSON.stringify(new URL('../../src/drill/run.ts', import.meta.url).href)};
    try {
      await runDrill({ target: ${JSON.stringify(srv.url)}, scenario: 'challenge-solver', durationS: 2, seed: 3, timeScale: 20,
        trackingUsers: 2, bankingUsers: 0, usersPerAddress: 1, layout: 'shared-24', params: { rate: 50, sources: 2000, connections: 1 } });
      console.log('ran');
    } catch (err) { console.log('rejected: ' + err.message); }`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  // Bounded: a child still running after 60 s is killed and the test fails.
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [exitCode, signal] = await once(child, 'exit') as [number | null, NodeJS.Signals | null];
  clearTimeout(killer);
  assert.match(out, /rejected: shared-\/24 layout: 2000 attack addresses do not fit/);
  assert.equal(signal, null, 'the process exited by itself');
  assert.equal(exitCode, 0);
});
