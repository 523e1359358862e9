import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createManualClock } from '../../src/core/clock.js';
import { createSmppProvider } from '../../src/authorize/sms/smpp-provider.js';
import { createHttpProvider } from '../../src/authorize/sms/http-provider.js';
import { createOutboxProvider } from '../../src/authorize/sms/outbox-provider.js';
import { createSmsRouter } from '../../src/authorize/sms/router.js';
import type { DeliveryReceipt, SmsProvider } from '../../src/authorize/sms/port.js';
import { smsText } from '../../src/authorize/domain/dynamic-linking.js';
import { startSmsc, type SmscBehaviour } from './smpp-server.js';
import { REQUESTER, call, enrol, startTestAuthorize, tempDir, txBody, until, waitState } from './helpers.js';

const RECEIPT_TOKEN = 'gateway-receipt-token-0123456';

/** A fake HTTP SMS gateway: answers by script, records texts, and can call a receipt URL back. */
async function startGateway(t: TestContext) {
  let seq = 0;
  const gw = {
    url: '', received: [] as Array<{ to: string; text: string; id: string }>, script: [] as SmscBehaviour[], fallback: 'ok' as SmscBehaviour,
    receiptUrl: '', onAccepted: undefined as undefined | ((id: string) => void),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const b = gw.script.shift() ?? gw.fallback;
      if (b === 'silent') return;
      if (b === 'throttle') { res.writeHead(429, { 'retry-after': '2' }).end(); return; }
      if (b === 'fail') { res.writeHead(503).end(); return; }
      const m = JSON.parse(Buffer.concat(chunks).toString()) as { to: string; text: string };
      const id = `gw-${++seq}`;
      gw.received.push({ ...m, id });
      res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ messageId: id }));
      gw.onAccepted?.(id);
      if (gw.receiptUrl) {
        void fetch(gw.receiptUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${RECEIPT_TOKEN}` }, body: JSON.stringify({ provider: 'gateway', messageId: id, status: 'delivered' }) }).catch(() => {});
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  gw.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/send`;
  t.after(() => { server.closeAllConnections(); server.close(); });
  return gw;
}

interface Harness {
  provider: SmsProvider;
  /** Makes the network answer the next submit this way (no-op where the adapter has no such answer). */
  next(b: SmscBehaviour): void;
  received(): Array<{ text: string }>;
}

const smppCfg = (url: string) => ({ name: 'smpp', url, systemId: 'rempart', password: 'pw', sourceAddr: 'BANK', enquireLinkMs: 100, submitTimeoutMs: 300, reconnectMs: 50 });

const adapters: Record<string, (t: TestContext) => Promise<Harness>> = {
  async smpp(t) {
    const smsc = await startSmsc(t);
    const provider = createSmppProvider(smppCfg(smsc.url));
    t.after(() => provider.close());
    return { provider, next: (b) => smsc.script.push(b), received: () => smsc.received };
  },
  async http(t) {
    const gw = await startGateway(t);
    const provider = createHttpProvider({ name: 'gateway', url: gw.url, timeoutMs: 300 });
    // The gateway's receipt callback lands on POST /v1/sms/receipts, which hands it to `ingest`.
    gw.onAccepted = (id) => setImmediate(() => provider.ingest({ providerMessageId: id, status: 'delivered' }));
    return { provider, next: (b) => gw.script.push(b), received: () => gw.received };
  },
  async outbox(t) {
    const provider = createOutboxProvider({ name: 'outbox', file: ':memory:', now: () => 0 });
    t.after(() => provider.close());
    let failNext = false;
    const send = provider.send.bind(provider);
    provider.send = async (m) => {
      if (failNext) { failNext = false; provider.setFailing('down'); const r = await send(m); provider.setFailing(undefined); return r; }
      return send(m);
    };
    return { provider, next: (b) => { if (b === 'fail') failNext = true; }, received: () => provider.list(100).reverse() };
  },
};

const tx = { amountMinor: 123_456, currency: 'EUR', payee: { id: 'm-1', name: 'Garage Martin' } };

// One conformance suite, run against every adapter of the SMS port.
for (const [name, make] of Object.entries(adapters)) {
  test(`SMS port conformance: ${name} — accepted with an id, text with amount and payee, receipt, failure, throttling`, async (t) => {
    const h = await make(t);
    const receipts: DeliveryReceipt[] = [];
    h.provider.onReceipt((r) => receipts.push(r));
    await h.provider.start();
    const r = await h.provider.send({ to: '+33612345678', text: smsText('482913', tx), reference: 'au_1' });
    assert.equal(r.kind, 'accepted', JSON.stringify(r));
    const id = r.kind === 'accepted' ? r.providerMessageId : '';
    assert.ok(id.length > 0);
    assert.match(h.received().at(-1)?.text ?? '', /482913.*1234\.56 EUR.*Garage Martin/);
    await until(() => receipts.some((x) => x.providerMessageId === id));
    assert.deepEqual(receipts.find((x) => x.providerMessageId === id), { provider: h.provider.name, providerMessageId: id, status: 'delivered' });
    h.next('fail');
    assert.equal((await h.provider.send({ to: '+33612345678', text: 'x', reference: 'au_2' })).kind, 'failed');
    if (name !== 'outbox') { // the outbox has no throttling
      h.next('throttle');
      const th = await h.provider.send({ to: '+33612345678', text: 'x', reference: 'au_3' });
      assert.equal(th.kind, 'throttled');
      h.next('silent');
      assert.equal((await h.provider.send({ to: '+33612345678', text: 'x', reference: 'au_4' })).kind, 'failed', 'no answer in time is a failure');
    }
    assert.equal((await h.provider.send({ to: '+33612345678', text: 'y', reference: 'au_5' })).kind, 'accepted', 'still usable afterwards');
  });
}

test('SMPP client: long texts go in message_payload, enquire_link keeps the link, it reconnects after the SMSC restarts', async (t) => {
  const smsc = await startSmsc(t);
  const provider = createSmppProvider(smppCfg(smsc.url));
  t.after(() => provider.close());
  await provider.start();
  assert.ok(provider.isBound());
  const long = smsText('111222', { ...tx, payee: { id: 'x', name: 'A payee with a very long trading name that goes on and on for quite a while, Société Anonyme des Établissements Martin' } });
  assert.ok(long.length > 160);
  assert.equal((await provider.send({ to: '+33600000000', text: long, reference: 'r' })).kind, 'accepted');
  assert.equal(smsc.received.at(-1)?.text, long);
  await until(() => smsc.enquireLinks >= 2);
  const port = smsc.port;
  await smsc.stop();
  await until(() => !provider.isBound());
  assert.equal((await provider.send({ to: '+33600000000', text: 'x', reference: 'r' })).kind, 'failed');
  const again = await startSmsc(t, port);
  await until(() => provider.isBound(), 3_000);
  assert.equal((await provider.send({ to: '+33600000000', text: 'back', reference: 'r' })).kind, 'accepted');
  assert.equal(again.received.at(-1)?.text, 'back');
});

test('router: a failing provider is blocked and the next one used; after the block it is tried again; throttling is not failure', async (t) => {
  const clock = createManualClock(0);
  const smsc = await startSmsc(t);
  const gw = await startGateway(t);
  const primary = createSmppProvider(smppCfg(smsc.url));
  const secondary = createHttpProvider({ name: 'gateway', url: gw.url, timeoutMs: 300 });
  const blocked: string[] = [];
  const router = createSmsRouter([primary, secondary], { clock, blockMs: 30_000, onBlocked: (n) => blocked.push(n) });
  t.after(() => router.close());
  await router.start();
  const m = { to: '+33611111111', text: 'hello', reference: 'r' };
  assert.equal((await router.send(m)).kind === 'accepted' && smsc.received.length, 1);
  smsc.script.push('throttle');
  const th = await router.send(m);
  assert.deepEqual([th.kind, th.kind === 'retry' ? th.reason : ''], ['retry', 'throttled']);
  assert.equal(gw.received.length, 0, 'throttling never fails over');
  assert.deepEqual(blocked, []);
  clock.advance(1_000);
  smsc.fallback = 'fail';
  const over = await router.send(m);
  assert.ok(over.kind === 'accepted' && over.provider === 'gateway', JSON.stringify(over));
  assert.deepEqual(blocked, ['smpp']);
  assert.equal((await router.send(m)).kind === 'accepted' && gw.received.length, 2, 'the blocked provider is skipped');
  smsc.fallback = 'ok';
  clock.advance(30_000);
  const back = await router.send(m);
  assert.ok(back.kind === 'accepted' && back.provider === 'smpp', 'reverted to the preferred provider');
  gw.fallback = 'fail';
  smsc.fallback = 'fail';
  const none = await router.send(m);
  assert.equal(none.kind, 'retry');
});

test('service over a real SMSC: throttled submits are retried (no failover, no failure), the deliver_sm receipt is recorded, the SMSC dying fails over to the outbox', async (t) => {
  const smsc = await startSmsc(t);
  const dir = tempDir(t);
  const { h, clock } = await startTestAuthorize(t, dir, {
    sms: { blockMs: 60_000, providers: [{ type: 'smpp', name: 'smsc', url: smsc.url, systemId: 'rempart', password: 'pw', enquireLinkMs: 1_000, submitTimeoutMs: 300, reconnectMs: 50 }, { type: 'outbox', name: 'outbox' }] },
  });
  const p = await enrol(h, 'nina', { noDevice: true });
  const retries: string[] = [];
  h.bus.on('sms:retry', (e) => retries.push(e.reason));
  smsc.script.push('throttle', 'throttle');
  const a = await call(h, 'POST', '/v1/authentications', txBody('nina', 1_999, { id: 'g', name: 'Gare du Nord' }));
  await until(() => retries.length === 1);
  for (let i = 0; i < 2; i++) {
    clock.advance(1_000);
    h.tick();
    await until(() => retries.length === 2 || smsc.received.length === 1);
  }
  await waitState(h, a.body.authId, 'sms_sent');
  assert.deepEqual(retries, ['throttled', 'throttled']);
  assert.equal(smsc.received.length, 1);
  assert.match(smsc.received[0]?.text ?? '', /19\.99 EUR to Gare du Nord/);
  assert.equal(h.outbox?.list(10).length, 0, 'throttling did not fail over');
  assert.ok(h.service.channels().smsProviders.every((s) => s.blockedUntil === 0), 'no provider was blocked');
  await until(() => (h.store.db.prepare("SELECT status FROM sms WHERE auth_id = ?").get(a.body.authId) as { status: string }).status === 'delivered');
  const receiptAudit = h.store.db.prepare("SELECT data FROM audit WHERE kind = 'sms.receipt' AND auth_id = ?").get(a.body.authId) as { data: string };
  assert.deepEqual(JSON.parse(receiptAudit.data), { provider: 'smsc', status: 'delivered' });

  await smsc.stop();
  const b = await call(h, 'POST', '/v1/authentications', txBody('nina', 2_000));
  await waitState(h, b.body.authId, 'sms_sent');
  assert.equal(h.outbox?.list(10, p.phone).length, 1, 'failed over to the outbox');
  assert.ok((h.service.channels().smsProviders.find((s) => s.name === 'smsc')?.blockedUntil ?? 0) > clock.now());
});

test('HTTP gateway receipts arrive on POST /v1/sms/receipts with the gateway\'s receipt token; without it 401, an unknown provider is 404', async (t) => {
  const gw = await startGateway(t);
  const { h } = await startTestAuthorize(t, tempDir(t), { sms: { providers: [{ type: 'http', name: 'gateway', url: gw.url, timeoutMs: 500, receiptToken: RECEIPT_TOKEN }] } });
  gw.receiptUrl = `${h.url}/v1/sms/receipts`;
  await enrol(h, 'otto', { noDevice: true });
  const a = await call(h, 'POST', '/v1/authentications', txBody('otto'));
  await waitState(h, a.body.authId, 'sms_sent');
  await until(() => (h.store.db.prepare('SELECT status FROM sms WHERE auth_id = ?').get(a.body.authId) as { status: string } | undefined)?.status === 'delivered');
  const forged = { provider: 'gateway', messageId: gw.received[0]?.id ?? 'x', status: 'undelivered' };
  for (const authorization of ['', `Bearer ${REQUESTER}`, 'Bearer not-the-receipt-token-000']) {
    const r = await call(h, 'POST', '/v1/sms/receipts', forged, { authorization });
    assert.equal(r.status, 401, authorization);
    assert.equal(r.body.error.code, 'RMP_ERR_AUTH_UNAUTHORIZED');
  }
  assert.equal((await call(h, 'GET', `/v1/authentications/${a.body.authId}`)).body.state, 'sms_sent', 'the forged "undelivered" changed nothing');
  assert.equal((await call(h, 'POST', '/v1/sms/receipts', { provider: 'nobody', messageId: 'x', status: 'delivered' }, { authorization: `Bearer ${RECEIPT_TOKEN}` })).status, 404);
});

test('an "undelivered" receipt blocks that SMSC and re-sends a fresh code through the next provider; the first code dies', async (t) => {
  const smsc = await startSmsc(t);
  smsc.receiptStatus = 'UNDELIV';
  const { h } = await startTestAuthorize(t, tempDir(t), {
    sms: { providers: [{ type: 'smpp', name: 'smsc', url: smsc.url, systemId: 'rempart', password: 'pw', submitTimeoutMs: 300, reconnectMs: 50 }, { type: 'outbox', name: 'outbox' }] },
  });
  const p = await enrol(h, 'pia', { noDevice: true });
  const a = await call(h, 'POST', '/v1/authentications', txBody('pia'));
  await until(() => (h.outbox?.list(5, p.phone).length ?? 0) === 1);
  await waitState(h, a.body.authId, 'sms_sent');
  assert.equal(smsc.received.length, 1);
  const first = /^Code (\d+)/.exec(smsc.received[0]?.text ?? '')?.[1] ?? '';
  const second = /^Code (\d+)/.exec(h.outbox?.list(1, p.phone)[0]?.text ?? '')?.[1] ?? '';
  assert.ok(first && second);
  assert.ok((h.service.channels().smsProviders.find((s) => s.name === 'smsc')?.blockedUntil ?? 0) > 0);
  assert.equal((await call(h, 'GET', `/v1/authentications/${a.body.authId}`)).body.resendsLeft, 3, 'not counted as a payer resend');
  if (first !== second) assert.equal((await call(h, 'POST', `/v1/authentications/${a.body.authId}/sms-code`, { code: first, knowledgeFactor: p.knowledge })).status, 403);
  assert.equal((await call(h, 'POST', `/v1/authentications/${a.body.authId}/sms-code`, { code: second, knowledgeFactor: p.knowledge })).body.state, 'authenticated');
});
