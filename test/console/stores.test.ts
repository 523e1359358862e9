import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openShieldDatabase } from '../../src/console/database.js';
import { createEventStore } from '../../src/console/event-store.js';
import { attachEventLog } from '../../src/console/event-log.js';
import { createStatusStore } from '../../src/status/store.js';
import { createStatusService } from '../../src/status/service.js';
import { createEventBus } from '../../src/core/events.js';
import { createManualClock } from '../../src/core/clock.js';
import { parseConfig } from '../../src/config/load.js';
import type { ShieldEvents } from '../../src/shield/events.js';
import { createShieldMetrics } from '../../src/admin/metrics.js';
import type { AttackPhase } from '../../src/status/incident-rules.js';
import { tempDir } from '../helpers/temp-dir.js';

test('event store: filters by time, type and text (LIKE wildcards taken literally), pages backwards, purges old entries', () => {
  const store = createEventStore(openShieldDatabase(undefined));
  store.append({ at: 1000, type: 'block', who: 'alice', summary: 'blocked 10.0.0.0/8: 100% scraper', detail: { a: 1 } });
  store.append({ at: 2000, type: 'attack', who: 'detector', summary: 'normal: normal → under_attack', detail: null });
  store.append({ at: 3000, type: 'operator', who: 'bob', summary: 'dry-run-on: a_b', detail: null });
  assert.deepEqual(store.query({}).map((e) => e.at), [3000, 2000, 1000], 'newest first');
  assert.deepEqual(store.query({ from: 1500, to: 2500 }).map((e) => e.type), ['attack']);
  assert.deepEqual(store.query({ types: ['block', 'operator'] }).map((e) => e.who), ['bob', 'alice']);
  assert.deepEqual(store.query({ text: '100%' }).map((e) => e.who), ['alice']);
  assert.deepEqual(store.query({ text: '%' }).map((e) => e.who), ['alice'], '% is a character, not a wildcard');
  assert.deepEqual(store.query({ text: 'a_b' }).map((e) => e.who), ['bob']);
  assert.deepEqual(store.query({ text: 'ALICE' }).map((e) => e.at), [1000], 'who matches, case-insensitively');
  assert.deepEqual(store.query({ text: 'a_b' })[0]?.detail, null);
  assert.deepEqual(store.query({ types: ['block'] })[0]?.detail, { a: 1 });
  const newest = store.query({ limit: 1 });
  assert.deepEqual(store.query({ before: newest[0]!.id, limit: 1 }).map((e) => e.at), [2000]);
  assert.equal(store.purgeBefore(2500), 2);
  assert.deepEqual(store.query({}).map((e) => e.at), [3000]);
});

const config = parseConfig({
  upstreams: { o: { url: 'http://127.0.0.1:1' } }, routes: [{ match: { path: '/' }, upstream: 'o' }],
  status: { operator: 'Colibri Post & Bank', components: [
    { id: 'website', name: 'Website', paths: ['/'] },
    { id: 'app', name: 'Payment approval in the app', channel: 'app', downMessage: 'Payment approval in the app unavailable — payments are being validated by SMS code' },
  ] },
});

function service(file: string | undefined, clock: ReturnType<typeof createManualClock>, phase: { now: AttackPhase }, app: { state: 'up' | 'down' }) {
  const db = openShieldDatabase(file);
  const bus = createEventBus<ShieldEvents>();
  const s = createStatusService({
    clock, bus, config: () => config, store: createStatusStore(db), attackPhase: () => phase.now,
    channels: () => ({ mode: app.state === 'up' ? 'app' : 'sms', app: app.state, sms: 'up', override: null, breaker: null, at: clock.now(), raw: null }),
  });
  return { s, bus, db };
}

test('status service: the app channel going down opens the SMS-fallback incident; recovery closes it; history marks the day; an open incident survives a restart and closes on recovery', (t) => {
  const dir = tempDir(t, 'rempart-status-');
  const file = join(dir, 'shield.db');
  const clock = createManualClock(Date.UTC(2026, 10, 30, 8, 0, 0));
  const phase = { now: 'normal' as AttackPhase };
  const app = { state: 'up' as 'up' | 'down' };
  const one = service(file, clock, phase, app);
  one.s.start?.();
  one.s.tick();
  assert.equal(one.s.view().overall, 'operational');
  app.state = 'down';
  clock.advance(1000);
  one.s.tick();
  const open = one.s.incidents().filter((i) => i.resolvedAt === null);
  assert.deepEqual(open.map((i) => i.title), ['Payment approval in the app unavailable — payments are being validated by SMS code']);
  const html = one.s.page('/status')?.body.toString() ?? '';
  assert.match(html, /payments are being validated by SMS code/);
  assert.match(html, /Some services are unavailable/);
  const json = JSON.parse(one.s.page('/status.json')?.body.toString() ?? '{}') as { components: Array<{ id: string; history: Array<{ day: string; worst: string | null }> }> };
  assert.deepEqual(json.components.find((c) => c.id === 'app')?.history.at(-1), { day: '2026-11-30', worst: 'outage' });
  one.s.stop?.(0);
  one.db.close();

  // A restart: the open incident is read back and closed when the channel recovers.
  const two = service(file, clock, phase, app);
  two.s.start?.();
  assert.equal(two.s.incidents().filter((i) => i.resolvedAt === null).length, 1);
  app.state = 'up';
  clock.advance(1000);
  two.s.tick();
  const all = two.s.incidents();
  assert.equal(all.length, 1, 'the same incident, not a new one');
  assert.notEqual(all[0]?.resolvedAt, null);
  assert.equal(all[0]?.updates[0]?.status, 'resolved');
  // 91 days later the resolved incident has left the page's history.
  clock.advance(91 * 86_400_000);
  two.s.tick();
  assert.equal(two.s.incidents().length, 0);
  two.s.stop?.(0);
  two.db.close();
});

test('event log: a wake-up of reputations is one entry, saying what showed it', () => {
  const store = createEventStore(openShieldDatabase(undefined));
  const bus = createEventBus<ShieldEvents>();
  const detach = attachEventLog(bus, store, createManualClock(5000));
  const reason = { kind: 'onset' as const, firstSightings: 212, spanMs: 4000, observedPerS: 53, baselinePerS: 0.5 };
  bus.emit('reputation:wake', { wakeUp: { attackStartedAt: 4000, firstAt: 5000, reputations: 1, requests: 1, dryRun: false, reason } });
  bus.emit('reputation:wake', { wakeUp: { attackStartedAt: 9000, firstAt: 9500, reputations: 1, requests: 1, dryRun: true, reason } });
  store.flush();
  detach();
  const entries = store.query({ types: ['mitigation'] });
  assert.equal(entries.length, 2);
  assert.match(entries[1]!.summary, /^reputations woke with the attack \(onset: 212 first sightings in 4 s, 53\/s vs usual 0\.5\/s\)/);
  assert.match(entries[0]!.summary, /^\[dry run\] reputations woke/);
});

test('event log and metrics: baselines that learn nothing from one client are one entry and a gauge, and so is their end', async () => {
  const store = createEventStore(openShieldDatabase(undefined));
  const bus = createEventBus<ShieldEvents>();
  const detach = attachEventLog(bus, store, createManualClock(5000));
  const metrics = createShieldMetrics(bus, { openConnections: () => 0, blocklistSize: () => 0 });
  assert.match(await metrics.registry.metrics(), /rempart_detection_learning_paused 0\n/);
  bus.emit('detection:learning', { paused: true, client: '192.0.2.10', share: 0.97, forMs: 300_000 });
  assert.match(await metrics.registry.metrics(), /rempart_detection_learning_paused 1\n/);
  bus.emit('detection:learning', { paused: false, client: '198.51.100.3', share: 0.02, forMs: 420_000 });
  assert.match(await metrics.registry.metrics(), /rempart_detection_learning_paused 0\n/);
  store.flush();
  detach();
  metrics.detach();
  const entries = store.query({ types: ['detection'] });
  assert.equal(entries.length, 2);
  assert.deepEqual(entries.map((e) => e.summary).sort(), [
    'baselines learning again after 420 s',
    'baselines not learning for 300 s: one client (192.0.2.10) sent 97% of the traffic — a proxy missing from trustedProxies?',
  ]);
});

test('event log: a phase change reads as its signal against its baseline, an operator\'s force as its length and end', () => {
  const store = createEventStore(openShieldDatabase(undefined));
  const bus = createEventBus<ShieldEvents>();
  const detach = attachEventLog(bus, store, createManualClock(5000));
  bus.emit('attack:transition', { scope: 'normal', from: 'normal', to: 'suspect', at: 5000, reason: { signal: 'arrival-rate', observed: 412.345, baseline: 40, threshold: 200 } });
  bus.emit('attack:transition', { scope: 'critical', from: 'normal', to: 'under_attack', at: 5000, reason: { signal: 'operator', observed: 600, baseline: 0, threshold: 0, until: Date.UTC(2026, 11, 7, 20, 10) } });
  store.flush();
  detach();
  const [forced, detected] = store.query({ types: ['attack'] });
  assert.equal(detected?.who, 'detector');
  assert.equal(detected?.summary, 'normal: normal → suspect (arrival-rate: observed 412.35 vs baseline 40)');
  assert.equal(forced?.who, 'operator');
  assert.equal(forced?.summary, 'critical: normal → under_attack (forced by an operator for 600 s, until 2026-12-07T20:10:00.000Z)');
});
