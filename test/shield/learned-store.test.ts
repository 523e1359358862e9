import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createManualClock } from '../../src/core/clock.js';
import { createEventBus } from '../../src/core/events.js';
import { parseConfig } from '../../src/config/load.js';
import { openShieldDatabase } from '../../src/console/database.js';
import { createDetector, type Detector } from '../../src/shield/defence/detector.js';
import { createLearnedStore, LEARNED_MAX_AGE_MS } from '../../src/shield/defence/learned-store.js';
import type { RequestContext, RequestTraits } from '../../src/shield/context.js';
import type { ShieldEvents } from '../../src/shield/events.js';

const config = parseConfig({ upstreams: { o: { url: 'http://127.0.0.1:1' } }, routes: [{ match: { path: '/' }, upstream: 'o' }] });
const silent = { info() {}, warn() {} };

function detectorAt(clock: ReturnType<typeof createManualClock>, pressure: { saturated: boolean }): Detector {
  return createDetector({
    clock, bus: createEventBus<ShieldEvents>(), config: () => config,
    pressure: { read: () => (pressure.saturated ? { saturation: 1, queueWaitMs: 400 } : { saturation: 0, queueWaitMs: 0 }) },
    blocks: { block() {}, unblock() {} },
  });
}

/** One second of traffic: `n` requests from distinct clients, `share` of them with fingerprint `fp`, the rest a browser's. */
function second(detector: Detector, clock: ReturnType<typeof createManualClock>, n: number, fp?: { value: string; share: number }): void {
  for (let i = 0; i < n; i++) {
    const client = `198.51.${(i >> 8) & 255}.${i & 255}`;
    const fingerprint = fp !== undefined && i < n * fp.share ? fp.value : (i % 10 === 0 ? 'fp-app' : 'fp-browser');
    const traits: RequestTraits = { prefix: `198.51.${(i >> 8) & 255}.0/24`, prefix48: undefined, fingerprint, pathTemplate: '/', userAgent: 'ua', queryShape: '', standing: 'established', pace: 0, level: 0, challenged: 0, wouldHave: undefined };
    detector.arrive({ client, clientKey: client, routeClass: 'normal', paceKey: undefined } as unknown as RequestContext, traits);
  }
  clock.advance(1000);
  detector.tick();
}

const fingerprintSignatures = (d: Detector): string[] =>
  ((d.state() as { signatures: Array<{ dimension: string; value: string }> }).signatures).filter((s) => s.dimension === 'fingerprint').map((s) => s.value);

test('learned baselines outlive a restart: a shield restarted during an attack finds the flood\'s fingerprint at once; a cold one cannot', () => {
  const clock = createManualClock(1_700_000_000_000);
  const db = openShieldDatabase(undefined);
  // A shield that saw 40 s of normal traffic, then stopped (saving what it learned).
  const before = detectorAt(clock, { saturated: false });
  for (let s = 0; s < 40; s++) second(before, clock, 40);
  const saved = before.learned();
  assert.ok(saved !== undefined && (saved.shares.fingerprint?.samples ?? 0) >= 30, 'warm after 40 s of normal traffic');
  const first = createLearnedStore({ db, detector: before, clock, log: silent });
  first.start!();
  first.stop!(0);
  // Restarted an hour later, in the middle of an attack by one program (half the traffic, one fingerprint).
  clock.advance(3_600_000);
  const flood = { saturated: true };
  const restarted = detectorAt(clock, flood);
  const store = createLearnedStore({ db, detector: restarted, clock, log: silent });
  store.start!();
  assert.deepEqual(restarted.learned()?.shares, saved.shares, 'the shares are back as they were');
  for (let s = 0; s < 6; s++) second(restarted, clock, 80, { value: 'fp-python', share: 0.5 });
  assert.deepEqual(fingerprintSignatures(restarted), ['fp-python']);
  assert.equal(store.save(), false, 'under attack nothing is saved: the saved baselines stay the normal ones');
  store.stop!(0);
  const cold = detectorAt(clock, { saturated: true });
  for (let s = 0; s < 6; s++) second(cold, clock, 80, { value: 'fp-python', share: 0.5 });
  assert.deepEqual(fingerprintSignatures(cold), [], 'without learned shares no software signature is found');
  db.close();
});

test('saved baselines older than a week, or unreadable, are not restored', () => {
  const clock = createManualClock(1_700_000_000_000);
  const db = openShieldDatabase(undefined);
  const before = detectorAt(clock, { saturated: false });
  for (let s = 0; s < 35; s++) second(before, clock, 20);
  const store = createLearnedStore({ db, detector: before, clock, log: silent });
  assert.equal(store.save(), true);
  clock.advance(LEARNED_MAX_AGE_MS + 1000);
  const late = detectorAt(clock, { saturated: false });
  createLearnedStore({ db, detector: late, clock, log: silent }).start!();
  assert.deepEqual(late.learned()?.shares, {}, 'too old: learning afresh');
  db.prepare('UPDATE detector_learned SET saved_at = ?, data = ?').run(clock.now(), '{"version":1,"classes":{"normal":{"rate":{"mean":-1}}},"shares":{}}');
  const broken = detectorAt(clock, { saturated: false });
  const warnings: string[] = [];
  createLearnedStore({ db, detector: broken, clock, log: { info() {}, warn: (_o: unknown, m?: string) => { warnings.push(String(m)); } } as never }).start!();
  assert.deepEqual(broken.learned()?.shares, {});
  assert.match(warnings.join(' '), /unreadable/);
  db.close();
});

test('an operator forgets the learned baselines: in memory at once, and the saved copy is deleted even under attack', () => {
  const clock = createManualClock(1_700_000_000_000);
  const db = openShieldDatabase(undefined);
  const pressure = { saturated: false };
  const detector = detectorAt(clock, pressure);
  const store = createLearnedStore({ db, detector, clock, log: silent });
  const savedAt = (): number | undefined => (db.prepare('SELECT saved_at AS at FROM detector_learned').get() as { at: number } | undefined)?.at;
  store.start!();
  for (let s = 0; s < 40; s++) second(detector, clock, 40);
  assert.equal(store.save(), true);
  assert.equal(savedAt(), clock.now());
  // The attack is on (nothing is saved now); the operator finds the flood was learned as normal.
  pressure.saturated = true;
  for (let s = 0; s < 3; s++) second(detector, clock, 80);
  assert.notEqual((detector.state() as { phase: string }).phase, 'normal');
  detector.forget('alice');
  store.discard();
  assert.deepEqual(detector.learned(), undefined, 'still under attack: nothing to save');
  assert.equal(savedAt(), undefined, 'the saved copy is gone');
  store.stop!(0);
  assert.equal(savedAt(), undefined, 'stopping under attack writes nothing back');
  // A restart learns afresh.
  const restarted = detectorAt(clock, { saturated: false });
  createLearnedStore({ db, detector: restarted, clock, log: silent }).start!();
  const fresh = restarted.learned();
  assert.deepEqual(fresh?.shares, {});
  assert.equal(fresh?.classes.normal?.rate.samples, 0);
  db.close();
});

test('forgetting resets the rate baselines and shares of a running detector, which then learns again', () => {
  const clock = createManualClock(1_700_000_000_000);
  const detector = detectorAt(clock, { saturated: false });
  for (let s = 0; s < 40; s++) second(detector, clock, 40);
  assert.ok((detector.learned()?.classes.normal?.rate.samples ?? 0) >= 30);
  assert.ok(((detector.state() as { learnedShares: Record<string, number> }).learnedShares.fingerprint ?? 0) >= 30, '/api/state shows how much was learned');
  detector.forget('bob');
  const after = detector.learned();
  assert.equal(after?.classes.normal?.rate.samples, 0);
  assert.equal(after?.classes.normal?.rate.mean, 0);
  assert.deepEqual(after?.shares, {});
  const state = detector.state() as { classes: Record<string, { baselineSamples: number }>; learnedShares: Record<string, number> };
  assert.equal(state.classes.normal?.baselineSamples, 0, '/api/state shows the baselines cold');
  assert.ok(Object.values(state.learnedShares).every((n) => n === 0));
  second(detector, clock, 40);
  assert.equal(detector.learned()?.classes.normal?.rate.samples, 1, 'learning from the next second on');
});

test('customers\' pace is learned in normal times only, raises the line within its bounds, outlives a restart and is forgotten with the rest', () => {
  const clock = createManualClock(1_700_000_000_000);
  const pressure = { saturated: false };
  const detector = detectorAt(clock, pressure);
  const line = (d: Detector): unknown => (d.state() as { pace: unknown }).pace;
  assert.equal(detector.paceLightRequests(), 4, 'nothing learned: the configured line');
  // 195 customers' buckets: a dashboard's 11 requests in every tenth.
  for (let i = 0; i < 195; i++) detector.learnPace(i % 10 === 0 ? 11 : 2);
  second(detector, clock, 10);
  assert.equal(detector.paceLightRequests(), 4, 'under minSamples (200)');
  for (let i = 0; i < 10; i++) detector.learnPace(2);
  second(detector, clock, 10);
  assert.equal(detector.paceLightRequests(), 12, 'a bucket of 11 is light now');
  assert.deepEqual(line(detector), { lightRequests: 12, learnedLine: 12, learnedBuckets: 205 });
  // Under attack nothing is learned: a flood of heavy buckets does not move it.
  pressure.saturated = true;
  for (let s = 0; s < 4; s++) second(detector, clock, 10);
  assert.notEqual((detector.state() as { phase: string }).phase, 'normal');
  for (let i = 0; i < 5000; i++) detector.learnPace(200);
  second(detector, clock, 10);
  assert.equal(detector.paceLightRequests(), 12);
  // Saved with the baselines (in normal times), restored by a restarted shield.
  const calm = detectorAt(clock, { saturated: false });
  for (let i = 0; i < 300; i++) calm.learnPace(i % 10 === 0 ? 11 : 2);
  second(calm, clock, 10);
  const saved = calm.learned();
  assert.ok(saved?.pace !== undefined);
  const restarted = detectorAt(clock, { saturated: false });
  assert.equal(restarted.restore(JSON.parse(JSON.stringify(saved))), true);
  assert.equal(restarted.paceLightRequests(), 12);
  // A row saved before the pace was learned (no `pace`) is still restored.
  const { pace: _, ...older } = saved!;
  assert.equal(detectorAt(clock, { saturated: false }).restore(JSON.parse(JSON.stringify(older))), true);
  // Forgotten with the rest: the configured line again.
  restarted.forget('operator');
  assert.equal(restarted.paceLightRequests(), 4);
  // Never above maxLightRequests (16), and off when learning is disabled.
  const heavy = detectorAt(clock, { saturated: false });
  for (let i = 0; i < 300; i++) heavy.learnPace(100);
  second(heavy, clock, 10);
  assert.equal(heavy.paceLightRequests(), 16);
  const off = parseConfig({ upstreams: { o: { url: 'http://127.0.0.1:1' } }, routes: [{ match: { path: '/' }, upstream: 'o' }], detection: { pace: { learn: { enabled: false } } } });
  const fixed = createDetector({ clock, bus: createEventBus<ShieldEvents>(), config: () => off, pressure: { read: () => ({ saturation: 0, queueWaitMs: 0 }) }, blocks: { block() {}, unblock() {} } });
  for (let i = 0; i < 300; i++) fixed.learnPace(100);
  second(fixed, clock, 10);
  assert.equal(fixed.paceLightRequests(), 4);
});

test('a window mostly one client\'s teaches no mix: after 40 s of a monitor\'s probes the shares stay cold and a crowd of browsers raises no signature on their fingerprint; the same 40 s from many clients would', () => {
  const crowdAfter = (oneClient: boolean): { learned: number; signatures: string[] } => {
    const clock = createManualClock(1_700_000_000_000);
    const pressure = { saturated: false };
    const detector = detectorAt(clock, pressure);
    for (let s = 0; s < 40; s++) {
      for (let i = 0; i < 5; i++) {
        const client = oneClient ? '203.0.113.7' : `203.0.113.${1 + ((s * 5 + i) % 250)}`;
        const traits: RequestTraits = { prefix: '203.0.113.0/24', prefix48: undefined, fingerprint: 'fp-monitor', pathTemplate: '/', userAgent: 'monitor', queryShape: '', standing: 'unknown', pace: 0, level: 0, challenged: 0, wouldHave: undefined };
        detector.arrive({ client, clientKey: client, routeClass: 'normal', paceKey: undefined } as unknown as RequestContext, traits);
      }
      clock.advance(1000);
      detector.tick();
    }
    const learned = (detector.state() as { learnedShares: Record<string, number> }).learnedShares.fingerprint ?? 0;
    pressure.saturated = true;
    for (let s = 0; s < 6; s++) second(detector, clock, 80);
    return { learned, signatures: fingerprintSignatures(detector) };
  };
  const monitor = crowdAfter(true);
  assert.equal(monitor.learned, 0, 'one client\'s windows are not learned');
  assert.deepEqual(monitor.signatures, [], 'the crowd\'s browsers are no signature against a mix never learned');
  const many = crowdAfter(false);
  assert.ok(many.learned >= 30);
  assert.ok(many.signatures.includes('fp-browser'), `against a mix learned from many clients the browsers' jump is one: ${many.signatures.join(', ')}`);
});

test('a window mostly one client\'s teaches no rate: after 40 s of one client\'s checks at 1 req/s, customers at 10 req/s are no attack; after the same from many clients they are a jump', () => {
  const afterChecks = (oneClient: boolean): { samples: number; phase: string } => {
    const clock = createManualClock(1_700_000_000_000);
    const detector = detectorAt(clock, { saturated: false });
    for (let s = 0; s < 40; s++) {
      const client = oneClient ? '203.0.113.7' : `203.0.113.${1 + s}`;
      const traits: RequestTraits = { prefix: '203.0.113.0/24', prefix48: undefined, fingerprint: 'fp-check', pathTemplate: '/', userAgent: 'check', queryShape: '', standing: 'unknown', pace: 0, level: 0, challenged: 0, wouldHave: undefined };
      detector.arrive({ client, clientKey: client, routeClass: 'normal', paceKey: undefined } as unknown as RequestContext, traits);
      clock.advance(1000);
      detector.tick();
    }
    const classes = () => (detector.state() as { classes: Record<string, { phase: string; baselineSamples: number }> }).classes;
    const samples = classes().normal?.baselineSamples ?? -1;
    for (let s = 0; s < 10; s++) second(detector, clock, 10);
    return { samples, phase: classes().normal?.phase ?? '' };
  };
  const checks = afterChecks(true);
  assert.equal(checks.samples, 0, 'one client\'s seconds are not learned');
  assert.equal(checks.phase, 'normal', 'customers after a cold baseline are no attack');
  const many = afterChecks(false);
  assert.ok(many.samples >= 30, `warm on many clients' seconds: ${many.samples}`);
  assert.notEqual(many.phase, 'normal', 'ten times a learned rate is a jump');
});

test('the operator is told when one client sends most of the traffic for five minutes (a proxy missing from trustedProxies), in the state and as an event; and when many clients come back', () => {
  const clock = createManualClock(1_700_000_000_000);
  const bus = createEventBus<ShieldEvents>();
  const notices: Array<{ paused: boolean; client: string }> = [];
  bus.on('detection:learning', (e) => notices.push({ paused: e.paused, client: e.client }));
  const detector = createDetector({ clock, bus, config: () => config, pressure: { read: () => ({ saturation: 0, queueWaitMs: 0 }) }, blocks: { block() {}, unblock() {} } });
  const traits: RequestTraits = { prefix: '192.0.2.0/24', prefix48: undefined, fingerprint: 'fp', pathTemplate: '/', userAgent: 'ua', queryShape: '', standing: 'unknown', pace: 0, level: 0, challenged: 0, wouldHave: undefined };
  const paused = (): number | null => (detector.state() as { learningPausedS: number | null }).learningPausedS;
  for (let s = 0; s < 310; s++) {
    for (let i = 0; i < 10; i++) detector.arrive({ client: '192.0.2.10', clientKey: '192.0.2.10', routeClass: 'normal', paceKey: undefined } as unknown as RequestContext, traits);
    clock.advance(1000);
    detector.tick();
  }
  assert.deepEqual(notices, [{ paused: true, client: '192.0.2.10' }]);
  assert.ok((paused() ?? 0) >= 300, `paused for ${paused()} s`);
  for (let s = 0; s < 15; s++) second(detector, clock, 40);
  assert.deepEqual(notices.map((n) => n.paused), [true, false]);
  assert.equal(paused(), null);
});
