import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Logger } from 'pino';
import { createManualClock } from '../../src/core/clock.js';
import { openShieldDatabase } from '../../src/console/database.js';
import { createReputationRoster, DEFAULT_ROSTER } from '../../src/shield/reputation/roster.js';
import { createRosterStore } from '../../src/shield/reputation/roster-store.js';

const T0 = 1_700_000_000_000;

/** A shield process's roster over `db`: its own monotonic clock, which began at `tickAt0`. */
function processOver(db: ReturnType<typeof openShieldDatabase>, wall: ReturnType<typeof createManualClock>, tickAt0: number, opts: { everyMs?: number; touchEveryMs?: number; maxIds?: number; attackSince?: number } = {}) {
  const ticker = { now: () => wall.now() - T0 + tickAt0 };
  const roster = createReputationRoster({ maxIds: opts.maxIds ?? 100_000, memoryMs: 3_600_000 });
  const logged: Array<{ msg: string; o: Record<string, unknown> }> = [];
  const note = (o: unknown, msg?: string): void => { logged.push({ msg: msg ?? '', o: o as Record<string, unknown> }); };
  const store = createRosterStore({ db, roster, clock: wall, ticker, log: { info: note, warn: note } as unknown as Pick<Logger, 'info' | 'warn'>, ...(opts.everyMs !== undefined ? { everyMs: opts.everyMs } : {}), ...(opts.touchEveryMs !== undefined ? { touchEveryMs: opts.touchEveryMs } : {}), attackSince: () => opts.attackSince });
  return { roster, ticker, store, logged };
}

const rows = (db: ReturnType<typeof openShieldDatabase>): Array<{ id: string; first: number; last: number; returning: number }> =>
  db.prepare('SELECT id, first, last, returns AS "returning" FROM reputation_roster ORDER BY id').all() as Array<{ id: string; first: number; last: number; returning: number }>;

test('the roster outlives a restart: saved at stop, restored at start by a process whose monotonic clock began elsewhere, the time down counted', () => {
  const wall = createManualClock(T0);
  const db = openShieldDatabase(undefined);
  const a = processOver(db, wall, 5_000, { attackSince: T0 + 50_000 });
  a.store.start();
  a.roster.see('customer', a.ticker.now(), true);
  wall.advance(60_000);
  a.roster.see('newcomer', a.ticker.now(), false);
  a.roster.see('customer', a.ticker.now(), true);
  wall.advance(1000);
  a.store.stop();
  assert.deepEqual(rows(db), [
    { id: 'customer', first: T0, last: T0 + 60_000, returning: 1 },
    { id: 'newcomer', first: T0 + 60_000, last: T0 + 60_000, returning: 0 },
  ]);
  // Restarted 30 s later, its monotonic clock at 100 ms.
  wall.advance(30_000);
  const b = processOver(db, wall, -(T0 + 91_000) + T0 + 100);
  b.store.start();
  assert.equal(b.roster.size, 2);
  assert.equal(b.roster.firstSeen('customer'), b.ticker.now() - 91_000, 'first seen 91 s ago, on the new process\'s clock');
  assert.equal(b.roster.see('customer', b.ticker.now(), true), b.ticker.now() - 91_000, 'not a first sighting');
  const restored = b.logged.find((l) => l.msg === 'reputation roster restored');
  assert.deepEqual(restored?.o, { reputations: 2, downS: 30, attackUnderWayS: 41 }, 'and the attack under way at the stop, on the new clock');
  b.store.stop();
});

test('while running, reputations first presented are written every few seconds, their last sightings at each touch; a reputation past the memory leaves the file', async () => {
  const wall = createManualClock(T0);
  const db = openShieldDatabase(undefined);
  const a = processOver(db, wall, 0, { everyMs: 15, touchEveryMs: 300_000 });
  a.store.start();
  const wait = async (): Promise<void> => { await new Promise((r) => setTimeout(r, 60)); for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r)); };
  for (let i = 0; i < 5000; i++) a.roster.see(`r${i}`, a.ticker.now(), true); // more than one write's chunk
  wall.advance(1000);
  await wait();
  assert.equal(rows(db).length, 5000, 'every new reputation, written over a few turns');
  wall.advance(60_000);
  a.roster.see('r1', a.ticker.now(), true);
  a.roster.see('fresh', a.ticker.now(), false);
  await wait();
  const r1 = (): number | undefined => rows(db).find((r) => r.id === 'r1')?.last;
  assert.equal(rows(db).length, 5001, 'the new one');
  assert.equal(r1(), T0, 'r1\'s later sighting waits for the touch');
  wall.advance(300_000);
  await wait();
  assert.equal(r1(), T0 + 61_000, 'written at the touch');
  // An hour and more later, only what was presented since is kept.
  wall.advance(3_600_000);
  a.roster.see('recent', a.ticker.now(), true);
  await wait();
  assert.deepEqual(rows(db).map((r) => r.id), ['recent']);
  a.store.stop();
});

test('a touch of the whole roster (its default bound, 200,000) is written over many turns of the event loop, a chunk each, and every row lands', async () => {
  const wall = createManualClock(T0);
  const db = openShieldDatabase(undefined);
  const a = processOver(db, wall, 0, { everyMs: 3_600_000, touchEveryMs: 300_000, maxIds: DEFAULT_ROSTER.maxIds });
  a.store.start();
  const n = DEFAULT_ROSTER.maxIds;
  for (let i = 0; i < n; i++) a.roster.see(`r${i}`, a.ticker.now() + i / 1000, true);
  wall.advance(300_000);
  const count = (): number => (db.prepare('SELECT count(*) AS n FROM reputation_roster').get() as { n: number }).n;
  // The periodic path (not the stop's): queued, then written a chunk a turn.
  assert.equal(a.store.queue(true), n);
  assert.ok(count() < n, 'nothing written in the same turn');
  await new Promise((r) => setImmediate(r));
  const afterOne = count();
  assert.ok(afterOne > 0 && afterOne < n, `one turn writes one chunk (${afterOne})`);
  for (let i = 0; i < 1000 && count() < n; i++) await new Promise((r) => setImmediate(r));
  assert.equal(count(), n);
  a.store.stop();
});
