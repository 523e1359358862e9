import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createManualClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { createCidrTable } from '../../src/shield/blocklist/cidr-table.js';
import { createKernelMirror, mirrorBlocklist, type NftRunner } from '../../src/shield/blocklist/kernel-mirror.js';

/** A runner that records every script and answers as `answer` says. */
function recorder(answer: (script: string) => { ok: boolean; stderr: string } = () => ({ ok: true, stderr: '' })): NftRunner & { scripts: string[] } {
  const scripts: string[] = [];
  const run = (async (script: string) => { scripts.push(script); return answer(script); }) as NftRunner & { scripts: string[] };
  run.scripts = scripts;
  return run;
}

function setup(run: NftRunner, enabled = true) {
  const clock = createManualClock(1_000_000);
  let mirror: ReturnType<typeof createKernelMirror> | undefined;
  const table = mirrorBlocklist(createCidrTable<string>(), () => mirror);
  mirror = createKernelMirror({
    settings: { enabled, table: 'rempart', command: 'nft' }, port: () => 8443, entries: () => table.entries(clock.now()), clock, log: silentLogger(), run,
  });
  return { clock, table, mirror };
}

test('kernel mirror: the table is made at start with every live block, changes follow in batches, the table goes at stop', async () => {
  const run = recorder();
  const { table, mirror, clock } = setup(run);
  table.add('192.0.2.0/24', 'config');
  table.add('198.51.100.7', 'old', clock.now() - 1); // already expired: not pushed
  await mirror.start!();
  assert.equal(run.scripts.length, 1);
  assert.match(run.scripts[0]!, /^add table inet rempart\ndelete table inet rempart\nadd table inet rempart\nadd chain/);
  assert.match(run.scripts[0]!, /add rule inet rempart input tcp dport 8443 ip saddr & 255\.255\.255\.0 @b4_24 drop\nadd element inet rempart b4_24 \{ 192\.0\.2\.0 \}$/);
  assert.doesNotMatch(run.scripts[0]!, /198\.51\.100\.7/);
  // Two blocks and a removal in the same moment: one batch.
  table.add('203.0.113.5', 'detector', clock.now() + 600_000);
  table.add('203.0.113.6', 'detector', clock.now() + 600_000);
  assert.equal(table.remove('192.0.2.0/24'), true);
  assert.equal(table.remove('10.0.0.0/8'), false, 'nothing to remove: nothing told');
  await mirror.settled();
  assert.equal(run.scripts.length, 2);
  assert.equal(run.scripts[1], [
    'add set inet rempart b4_32 { type ipv4_addr; flags timeout; }',
    'add rule inet rempart input tcp dport 8443 ip saddr @b4_32 drop',
    'add element inet rempart b4_32 { 203.0.113.5 timeout 600s }',
    'add element inet rempart b4_32 { 203.0.113.6 timeout 600s }',
    'delete element inet rempart b4_24 { 192.0.2.0 }',
  ].join('\n'));
  assert.equal(table.lookup('203.0.113.5', clock.now())?.value, 'detector', 'the userspace table is the authority still');
  assert.deepEqual({ ...mirror.state(), lastError: undefined }, { enabled: true, active: true, table: 'rempart', elements: 2, batches: 2, failures: 0, dropped: 0, lastError: undefined });
  await mirror.stop!(1000);
  assert.equal(run.scripts.at(-1), 'delete table inet rempart');
  table.add('203.0.113.9', 'late');
  await mirror.settled();
  assert.equal(run.scripts.length, 3, 'stopped: nothing more is sent');
});

test('kernel mirror: a batch refused for a delete is run again without its deletes; a refusal of the rest is counted and shown', async () => {
  let refuseDeletes = true;
  let refuseAll = false;
  const run = recorder((script) => (refuseAll || (refuseDeletes && script.includes('delete element'))
    ? { ok: false, stderr: 'Error: element does not exist' } : { ok: true, stderr: '' }));
  const { table, mirror, clock } = setup(run);
  await mirror.start!();
  table.add('203.0.113.5', 'a', clock.now() + 60_000);
  await mirror.settled();
  table.remove('203.0.113.5');
  table.add('203.0.113.7', 'b', clock.now() + 60_000);
  await mirror.settled();
  assert.deepEqual(run.scripts.slice(-2), [
    'delete element inet rempart b4_32 { 203.0.113.5 }\nadd element inet rempart b4_32 { 203.0.113.7 timeout 60s }',
    'add element inet rempart b4_32 { 203.0.113.7 timeout 60s }',
  ]);
  assert.equal(mirror.state().failures, 0, 'the retry went through');
  refuseDeletes = false;
  refuseAll = true;
  table.add('203.0.113.8', 'c');
  await mirror.settled();
  const s = mirror.state();
  assert.equal(s.failures, 1);
  assert.equal(s.lastError, 'Error: element does not exist');
  assert.equal(s.active, true, 'one refused batch does not turn the mirror off');
});

test('kernel mirror: an nft that cannot make its table leaves the mirror off — nothing else is sent, the shield goes on', async () => {
  const run = recorder(() => ({ ok: false, stderr: 'Error: Could not process rule: Operation not permitted\n' }));
  const { table, mirror } = setup(run);
  await mirror.start!();
  table.add('203.0.113.5', 'x');
  await mirror.settled();
  await mirror.stop!(1000);
  assert.equal(run.scripts.length, 1, 'only the start was tried');
  assert.deepEqual({ active: mirror.state().active, lastError: mirror.state().lastError }, { active: false, lastError: 'Error: Could not process rule: Operation not permitted' });
});

test('kernel mirror: disabled, it never runs nft', async () => {
  const run = recorder();
  const { table, mirror } = setup(run, false);
  await mirror.start!();
  table.add('203.0.113.5', 'x');
  await mirror.settled();
  await mirror.stop!(1000);
  assert.equal(run.scripts.length, 0);
  assert.equal(mirror.state().active, false);
});

test('kernel mirror: a block decided while the start batch runs is sent right after it, not lost', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const scripts: string[] = [];
  const run: NftRunner = async (script) => { scripts.push(script); if (scripts.length === 1) await gate; return { ok: true, stderr: '' }; };
  const { table, mirror, clock } = setup(run);
  const starting = mirror.start!();
  table.add('203.0.113.5', 'detector', clock.now() + 60_000);
  release();
  await starting;
  await mirror.settled();
  assert.equal(scripts.length, 2);
  assert.match(scripts[1]!, /add element inet rempart b4_32 \{ 203\.0\.113\.5 timeout 60s \}$/);
});

test('kernel mirror: a runner that throws is a failure counted, never an exception out of the shield', async () => {
  const run: NftRunner = async () => { throw new Error('spawn EACCES'); };
  const { table, mirror } = setup(run);
  await mirror.start!();
  table.add('203.0.113.5', 'x');
  await mirror.settled();
  assert.deepEqual({ active: mirror.state().active, failures: mirror.state().failures, lastError: mirror.state().lastError }, { active: false, failures: 1, lastError: 'spawn EACCES' });
});

test('kernel mirror: what expired is forgotten on the blocklist\'s own sweep — its record stays as small as the blocklist, with no command sent', async () => {
  const run = recorder();
  const { table, mirror, clock } = setup(run);
  await mirror.start!();
  table.add('203.0.113.5', 'a', clock.now() + 5_000);
  table.add('203.0.113.6', 'b', clock.now() + 60_000);
  await mirror.settled();
  const sent = run.scripts.length;
  assert.equal(mirror.state().elements, 2);
  clock.advance(10_000);
  assert.equal(table.sweep(clock.now()), 1);
  assert.equal(mirror.state().elements, 1, 'the expired block left the record with the sweep');
  await mirror.settled();
  assert.equal(run.scripts.length, sent, 'the kernel dropped it itself: nothing to tell it');
  assert.equal(table.remove('203.0.113.5'), false);
});
