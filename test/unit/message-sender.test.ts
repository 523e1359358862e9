import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createManualClock } from '../../src/core/clock.js';
import { createIdentityPace } from '../../src/shield/detect/identity-pace.js';
import { createMessageSender } from '../../src/shield/filters/upstream-request/pace.js';
import { STANDING, tierFor } from '../../src/shield/upstream/admission.js';
import type { RequestContext } from '../../src/shield/context.js';

const params = { bucketMs: 5000, lightRequests: 4, maxKeys: 1000 };
const handshake = (o: Partial<RequestContext>): RequestContext =>
  ({ routeClass: 'normal', admissionClass: undefined, paceKey: undefined, baseTier: undefined, sourceKey: undefined, ...o }) as RequestContext;

test('message sender: none for a handshake without a token (nothing to pace)', () => {
  const pace = createIdentityPace(() => params);
  assert.equal(createMessageSender(handshake({}), pace, createManualClock()), undefined);
  assert.equal(createMessageSender(handshake({ paceKey: 'k' }), pace, createManualClock()), undefined, 'a key without a standing');
});

test('message sender: a known customer\'s refresh is placed as its page would be; a tunnel that floods falls tier by tier, and its token\'s requests with it', () => {
  const clock = createManualClock(10_000);
  const pace = createIdentityPace(() => params);
  const sender = createMessageSender(handshake({ paceKey: 'rep:1', baseTier: STANDING.established, routeClass: 'normal' }), pace, clock)!;
  const first = sender.start();
  assert.deepEqual({ rank: first.rank, tier: first.tier }, { rank: 2, tier: tierFor(STANDING.established, 0) });
  first.done();
  first.done(); // once only: a second done must not take another request's open count
  assert.equal(pace.estimate('rep:1', clock.now()), 1, 'the message counted like a request');
  // Ten messages a second, each answered at once: within a second the token is a flooder's.
  const tiers: number[] = [];
  for (let i = 0; i < 20; i++) {
    clock.advance(100);
    const m = sender.start();
    tiers.push(m.tier);
    m.done();
  }
  assert.ok(tiers[tiers.length - 1]! >= tierFor(STANDING.established, 2), `tiers ${tiers.join(',')}`);
  assert.ok(tiers.every((t, i) => i === 0 || t >= tiers[i - 1]!), 'never better as it floods');
  assert.ok(pace.level('rep:1', clock.now()) >= 2, 'the same token\'s next request is read at a flooder\'s pace');
});

test('message sender: open messages count until answered; a clearance\'s messages are as heavy as its source', () => {
  const clock = createManualClock(10_000);
  const pace = createIdentityPace(() => params);
  const sender = createMessageSender(handshake({ paceKey: 'pow:1', baseTier: STANDING.cleared, sourceKey: 'src:a', routeClass: 'critical' }), pace, clock)!;
  // The address and agent it came from flooded: its messages are placed at that pace.
  for (let i = 0; i < 40; i++) { pace.hit('src:a', clock.now()); pace.done('src:a'); }
  const m = sender.start();
  assert.equal(m.rank, 0, 'its route\'s class');
  assert.equal(m.tier, tierFor(STANDING.cleared, pace.level('src:a', clock.now())));
  // Sixteen messages held without answers: open, they weigh as much as sixteen requests in flight.
  const held = Array.from({ length: 16 }, () => sender.start());
  assert.ok(pace.estimate('pow:1', clock.now()) >= 17);
  for (const h of held) h.done();
  m.done();
});

test('message sender: a backlog behind a waiting message is open for its token while it waits (one message at a time hides it otherwise): the token\'s next message and its waiting requests read it', () => {
  const clock = createManualClock(10_000);
  const pace = createIdentityPace(() => params);
  const sender = createMessageSender(handshake({ paceKey: 'rep:2', baseTier: STANDING.recent }), pace, clock)!;
  const light = sender.start();
  assert.equal(light.tier, tierFor(STANDING.recent, 0));
  // It waits for a slot; meanwhile its client writes nine more, one at a time.
  for (let i = 1; i <= 9; i++) { clock.advance(100); sender.backlog(i); }
  assert.ok(pace.level('rep:2', clock.now()) >= 2, 'a request of the same token, waiting now, reads a flooder\'s pace');
  light.done();
  sender.backlog(8); // the next one goes to the gate
  const next = sender.start();
  assert.ok(next.tier >= tierFor(STANDING.recent, 2), `tier ${next.tier}`);
  next.done();
  sender.backlog(0); // the tunnel ended (or its backlog went)
  sender.backlog(0); // told twice: nothing more is taken back
  assert.equal(pace.level('rep:2', clock.now()), 0, 'taken back: two messages sent in the window, none open');
  assert.equal(pace.estimate('rep:2', clock.now()), 2, 'the backlog was never counted as sent');
});

test('message sender: a placed message tells its sender\'s tier now, as its token floods after it was placed', () => {
  const clock = createManualClock(10_000);
  const pace = createIdentityPace(() => params);
  const sender = createMessageSender(handshake({ paceKey: 'nojs:1', baseTier: STANDING.checked, sourceKey: 'src:b' }), pace, clock)!;
  const m = sender.start();
  assert.equal(m.tier, tierFor(STANDING.checked, 0));
  assert.equal(m.tierNow?.(), tierFor(STANDING.checked, 0), 'nothing changed yet');
  // The same token's other tunnels fill up behind their messages.
  sender.backlog(12);
  assert.equal(m.tierNow?.(), tierFor(STANDING.checked, pace.level('nojs:1', clock.now())));
  assert.ok(m.tierNow!() >= tierFor(STANDING.checked, 2), `tier now ${m.tierNow!()}`);
  assert.equal(m.tier, tierFor(STANDING.checked, 0), 'the tier it was placed at is kept');
  sender.backlog(0);
  // Its source floods (requests without the token from the same address and agent).
  for (let i = 0; i < 40; i++) { pace.hit('src:b', clock.now()); pace.done('src:b'); }
  assert.equal(m.tierNow?.(), tierFor(STANDING.checked, pace.level('src:b', clock.now())), 'raised to its source\'s pace, as requests are');
  m.done();
});
