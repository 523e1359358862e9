import { test } from 'node:test';
import assert from 'node:assert/strict';
import { call, enrol, startTestAuthorize, tempDir, txBody, until, waitState } from './helpers.js';

// Generous SMS limits: these tests move dozens of authentications of a few payers to SMS.
const rateLimits = { smsPerPayer: 1000, smsPerPhone: 1000 };
const breaker = { minAttempts: 20, windowMs: 30_000, failureRatio: 0.5, dwellMs: 10_000, probeIntervalMs: 1_000, probeTimeoutMs: 2_000, probeSuccesses: 3 };

test('push provider down: pending app authentications move to SMS, the breaker trips, new ones go to SMS within 2 s', async (t) => {
  const { h } = await startTestAuthorize(t, tempDir(t), { breaker, rateLimits });
  const payers = [];
  for (let i = 0; i < 5; i++) payers.push(await enrol(h, `p${i}`));
  const modes: string[] = [];
  h.bus.on('channel:mode', (e) => modes.push(`${e.source}:${e.to}`));
  const healthy = await call(h, 'POST', '/v1/authentications', txBody('p0'));
  assert.equal(healthy.body.method, 'app');
  await until(() => h.service.channels().breaker.attempts === 1);

  h.pushSimulator?.setMode('down');
  const killedAt = Date.now();
  const ids: string[] = [];
  let firstSmsRouteMs = -1;
  for (let i = 0; i < 40 && firstSmsRouteMs < 0; i++) {
    const r = await call(h, 'POST', '/v1/authentications', txBody(`p${i % 5}`));
    ids.push(r.body.authId);
    if (r.body.method === 'sms' && r.body.state === 'fallback_offered' && i > 0) firstSmsRouteMs = Date.now() - killedAt;
    await new Promise((res) => setTimeout(res, 2));
  }
  assert.ok(firstSmsRouteMs >= 0 && firstSmsRouteMs < 2_000, `new authentications reached SMS after ${firstSmsRouteMs} ms`);
  assert.equal(h.service.channels().channel, 'sms');
  assert.deepEqual(modes, ['breaker:sms (breaker open)']);
  // Every authentication whose push failed was moved to SMS and got its code.
  for (const id of ids) await waitState(h, id, 'sms_sent');
  const audited = h.store.db.prepare("SELECT count(*) AS n FROM audit WHERE kind = 'channel.mode'").get() as { n: number };
  assert.equal(audited.n, 1);
});

test('after the dwell, probes through the whole app path decide: a failed probe re-opens, 3 successes fail back to the app', async (t) => {
  const { h, clock } = await startTestAuthorize(t, tempDir(t), { breaker, rateLimits });
  for (let i = 0; i < 3; i++) await enrol(h, `q${i}`);
  h.pushSimulator?.setMode('down');
  for (let i = 0; i < 21 && h.service.channels().channel === 'app'; i++) {
    await call(h, 'POST', '/v1/authentications', txBody(`q${i % 3}`));
    await until(() => h.service.channels().breaker.attempts === 0 || h.service.channels().breaker.failures === i + 1);
  }
  assert.equal(h.service.channels().breaker.phase, 'open');
  clock.advance(9_999);
  h.tick();
  assert.equal(h.service.channels().breaker.phase, 'open', 'still dwelling');
  clock.advance(1);
  h.tick(); // → probing, first probe sent while the provider is still down
  await until(() => h.service.channels().breaker.phase === 'open');
  assert.equal(h.service.channels().channel, 'sms');

  h.pushSimulator?.setMode('up');
  clock.advance(10_000);
  h.tick();
  const before = h.pushSimulator?.stats().delivered ?? 0;
  for (let i = 1; i <= 3; i++) {
    await until(() => h.service.channels().breaker.probeStreak === i || h.service.channels().breaker.phase === 'closed');
    clock.advance(1_000);
    h.tick();
  }
  await until(() => h.service.channels().channel === 'app');
  assert.ok((h.pushSimulator?.stats().delivered ?? 0) - before >= 3, 'the probes were delivered and fetched by the probe device');
  const r = await call(h, 'POST', '/v1/authentications', txBody('q0'));
  assert.equal(r.body.method, 'app', 'failed back: new authentications use the app again');
  const changes = (h.store.db.prepare("SELECT data FROM audit WHERE kind = 'channel.mode' ORDER BY seq").all() as Array<{ data: string }>)
    .map((x) => (JSON.parse(x.data) as { breaker: string }).breaker);
  assert.deepEqual(changes, ['open', 'probing', 'open', 'probing', 'closed']);
});

test('apps that stop fetching (push accepted, never delivered) trip the breaker at the fetch deadline; unfetched ones move to SMS', async (t) => {
  const { h, clock } = await startTestAuthorize(t, tempDir(t), { breaker, rateLimits, timers: { appFetchTimeoutMs: 5_000 } });
  for (let i = 0; i < 4; i++) await enrol(h, `r${i}`);
  h.pushSimulator?.setMode('blackhole');
  const ids: string[] = [];
  for (let i = 0; i < 24; i++) ids.push((await call(h, 'POST', '/v1/authentications', txBody(`r${i % 4}`))).body.authId);
  h.tick();
  assert.equal(h.service.channels().channel, 'app', 'nothing is known before the fetch deadline');
  clock.advance(5_000);
  h.tick();
  assert.equal(h.service.channels().channel, 'sms');
  for (const id of ids) await waitState(h, id, 'sms_sent');
});

test('one failed push moves that authentication to SMS even while the breaker stays closed; above the cap it stays in the app', async (t) => {
  const { h } = await startTestAuthorize(t, tempDir(t), { breaker, fallback: { maxAmountMinor: 10_000 } });
  await enrol(h, 's0');
  h.pushSimulator?.setMode('down');
  const small = await call(h, 'POST', '/v1/authentications', txBody('s0', 9_000));
  const big = await call(h, 'POST', '/v1/authentications', txBody('s0', 10_001));
  await waitState(h, small.body.authId, 'sms_sent');
  assert.equal(h.service.channels().breaker.phase, 'closed');
  await until(() => h.store.getAuth(big.body.authId)?.pushFailed === true);
  assert.equal((await call(h, 'GET', `/v1/authentications/${big.body.authId}`)).body.state, 'app_pending');
});

test('breaker state survives restarts: during an app outage new authentications stay on SMS after a restart (same dwell), a probing breaker probes again from zero, fail-back only by probes', async (t) => {
  const dir = tempDir(t);
  const first = await startTestAuthorize(t, dir, { breaker, rateLimits });
  const { clock } = first;
  let h = first.h;
  for (let i = 0; i < 3; i++) await enrol(h, `u${i}`);
  h.pushSimulator?.setMode('down');
  for (let i = 0; i < 21 && h.service.channels().channel === 'app'; i++) {
    await call(h, 'POST', '/v1/authentications', txBody(`u${i % 3}`));
    await until(() => h.service.channels().breaker.attempts === 0 || h.service.channels().breaker.failures === i + 1);
  }
  assert.equal(h.service.channels().breaker.phase, 'open');
  const openedAt = h.service.channels().breaker.since;
  const restart = async (): Promise<void> => {
    await h.close();
    h = (await startTestAuthorize(t, dir, { breaker, rateLimits }, { clock })).h;
    h.pushSimulator?.setMode(mode); // the outside world did not change with the restart
  };
  let mode: 'up' | 'down' = 'down';

  clock.advance(4_000);
  await restart();
  assert.equal(h.service.channels().channel, 'sms', 'restarted during the outage: still SMS');
  assert.equal(h.service.channels().breaker.phase, 'open');
  assert.equal(h.service.channels().breaker.since, openedAt, 'the dwell goes on from when it opened');
  const started = h.store.db.prepare("SELECT data FROM audit WHERE kind = 'service.started' ORDER BY seq DESC LIMIT 1").get() as { data: string };
  assert.deepEqual(JSON.parse(started.data), { nonTerminal: JSON.parse(started.data).nonTerminal, channel: 'sms', breaker: 'open', override: null }, 'the start is audited with the restored mode');
  const afterRestart = await call(h, 'POST', '/v1/authentications', txBody('u0'));
  assert.equal(afterRestart.body.method, 'sms', 'a new authentication after the restart is not sent to the dead app channel');
  clock.advance(5_999);
  h.tick();
  assert.equal(h.service.channels().breaker.phase, 'open', 'still dwelling (10 s from the original opening)');
  clock.advance(1);
  h.tick(); // → probing; the probe fails: the provider is still down
  await until(() => h.service.channels().breaker.phase === 'open');
  assert.equal((await call(h, 'POST', '/v1/authentications', txBody('u1'))).body.method, 'sms');

  mode = 'up';
  h.pushSimulator?.setMode('up');
  clock.advance(10_000);
  h.tick();
  await until(() => h.service.channels().breaker.probeStreak === 1);
  await restart(); // mid-probing
  assert.equal(h.service.channels().breaker.phase, 'probing');
  assert.equal(h.service.channels().breaker.probeStreak, 0, 'probes start again from zero');
  assert.equal(h.service.channels().channel, 'sms');
  assert.equal((await call(h, 'POST', '/v1/authentications', txBody('u2'))).body.method, 'sms', 'not back on the app before the probes say so');
  for (let i = 1; i <= 3; i++) {
    clock.advance(1_000);
    h.tick();
    await until(() => h.service.channels().breaker.probeStreak === i || h.service.channels().breaker.phase === 'closed');
  }
  await until(() => h.service.channels().channel === 'app');
  await restart();
  assert.equal(h.service.channels().breaker.phase, 'closed', 'fail-back is persisted too');
  assert.equal((await call(h, 'POST', '/v1/authentications', txBody('u0'))).body.method, 'app');
});
