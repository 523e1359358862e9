import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTunnels } from '../../src/shield/listener/tunnels.js';
import type { MessageGate, MessagePlace, MessageSender } from '../../src/shield/upstream/message-admission.js';

/** Two connected loopback sockets. */
async function pair(t: { after(fn: () => unknown): void }): Promise<[Socket, Socket]> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const a = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const [b] = await accepted;
  server.close();
  t.after(() => { a.destroy(); b.destroy(); });
  return [a, b];
}

/** A client frame (masked, RFC 6455 §5.3) or a server frame (unmasked), payload under 126 bytes. */
function frame(opcode: number, text: string, masked: boolean): Buffer {
  const payload = Buffer.from(text);
  const head = Buffer.from([0x80 | opcode, (masked ? 0x80 : 0) | payload.length]);
  if (!masked) return Buffer.concat([head, payload]);
  const mask = Buffer.from([1, 2, 3, 4]);
  return Buffer.concat([head, mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))]);
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100 && !cond(); i++) await sleep(10);
  assert.ok(cond(), what);
}

test('tunnel: each message takes a slot, holds it until the upstream answers; contended, it waits for one and goes the moment it has it, one per tunnel; control frames never wait', async (t) => {
  let contended = true;
  const grants: Array<(release: () => void) => void> = [];
  let released = 0;
  let atOnce = 0;
  let answerAfter = 0;
  // As the admission queue does: a slot at once when the upstream is not contended, else later.
  const gate: MessageGate = {
    contended: () => contended,
    take: (granted) => { if (contended) grants.push(granted); else { atOnce++; granted(() => { released++; }); } return () => undefined; },
    holdMs: () => 10_000,
    answerAfterMs: () => answerAfter,
  };
  const tunnels = createTunnels({ idleTimeoutMs: 60_000, maxPerClient: 0, maxTotal: 0 }, { messageGate: () => gate });
  const [browser, shieldClientSide] = await pair(t);
  const [shieldUpstreamSide, origin] = await pair(t);
  let atOrigin = Buffer.alloc(0);
  origin.on('data', (b: Buffer) => { atOrigin = Buffer.concat([atOrigin, b]); });
  let atBrowser = Buffer.alloc(0);
  browser.on('data', (b: Buffer) => { atBrowser = Buffer.concat([atBrowser, b]); });
  assert.ok(tunnels.reserve('c'));
  tunnels.attach({ client: 'c', upstream: 'origin', server: 's', serverUrl: 'http://s' }, shieldClientSide, shieldUpstreamSide, Buffer.alloc(0), Buffer.alloc(0), () => undefined);

  const one = frame(0x1, 'one', true);
  browser.write(one);
  await until(() => grants.length === 1, 'the message asked for a slot');
  await sleep(50);
  assert.equal(atOrigin.length, 0, 'nothing reaches the upstream before the slot');
  grants[0]!(() => { released++; });
  await until(() => atOrigin.length === one.length, 'the message goes once its slot comes');
  assert.equal(released, 0, 'and holds the slot');

  const two = frame(0x1, 'two', true);
  browser.write(two);
  await sleep(50);
  assert.equal(atOrigin.length, one.length, 'one message at a time in the upstream');
  assert.equal(grants.length, 1, 'the next one waits for the tunnel\'s slot, not in the queue');
  const ping = frame(0x9, 'p', true);
  origin.write(frame(0x1, 'answer one', false));
  await until(() => released === 1, 'the upstream\'s answer gives the slot back');
  await until(() => grants.length === 2, 'the next message asks for a slot');
  grants[1]!(() => { released++; });
  await until(() => atOrigin.length === one.length + two.length, 'and goes once it has one');
  browser.write(ping);
  await until(() => atOrigin.length === one.length + two.length + ping.length, 'a ping passes while a message holds the slot');

  contended = false;
  origin.write(frame(0x1, 'answer two', false));
  await until(() => released === 2, 'answered');
  const three = frame(0x1, 'three', true);
  browser.write(three);
  await until(() => atOrigin.length === one.length + two.length + ping.length + three.length, 'not contended: the message goes at once');
  assert.equal(atOnce, 1, 'with a slot taken at once');
  const four = frame(0x1, 'four', true);
  browser.write(four);
  await until(() => atOrigin.length === one.length + two.length + ping.length + three.length + four.length, 'not contended, a tunnel may have several messages upstream');
  assert.equal(atOnce, 2);
  origin.write(Buffer.concat([frame(0x1, 'answer three', false), frame(0x1, 'answer four', false)]));
  await until(() => released === 4, 'two answers in one read give both slots back');
  assert.equal(grants.length, 2);
  assert.equal(tunnels.messagesWaited, 2);
  // A frame from the upstream sooner than answerAfterMs may be its own push: the slot is held until
  // answerAfterMs has passed, then given back (not kept to the hold's end, 10 s here).
  answerAfter = 300;
  const five = frame(0x1, 'five', true);
  browser.write(five);
  await until(() => atOnce === 3, 'five takes a slot');
  origin.write(frame(0x1, 'a push', false));
  await sleep(100);
  assert.equal(released, 4, 'the early frame does not give the slot back at once');
  await until(() => released === 5, 'it goes back once answerAfterMs has passed');
  // With no frame at all, a message keeps its slot to the end of the hold.
  const six = frame(0x1, 'six', true);
  browser.write(six);
  await until(() => atOnce === 4, 'six takes a slot');
  await sleep(400);
  assert.equal(released, 5, 'no frame, no answer: held');
  origin.write(frame(0x1, 'answer six', false));
  await until(() => released === 6, 'an answer after answerAfterMs gives it back at once');
  assert.ok(atBrowser.length > 0, 'the upstream\'s answers reached the client');
});

test('tunnel: each message is placed once by the tunnel\'s sender, however often it is turned back; its place is done when answered, or when the tunnel ends', async (t) => {
  let contended = true;
  const asks: Array<{ granted: (release: () => void) => void; place: MessagePlace | undefined }> = [];
  const gate: MessageGate = {
    contended: () => contended,
    take: (granted, place) => { asks.push({ granted, place }); return () => undefined; },
    holdMs: () => 10_000,
    answerAfterMs: () => 0,
  };
  const log: string[] = [];
  let n = 0;
  const sender: MessageSender = {
    start() {
      const i = ++n;
      log.push(`start ${i}`);
      return { rank: 2, tier: i, done: () => log.push(`done ${i}`) };
    },
    backlog() {},
  };
  const tunnels = createTunnels({ idleTimeoutMs: 60_000, maxPerClient: 0, maxTotal: 0 }, { messageGate: () => gate });
  const [browser, shieldClientSide] = await pair(t);
  const [shieldUpstreamSide, origin] = await pair(t);
  let atOrigin = 0;
  origin.on('data', (b: Buffer) => { atOrigin += b.length; });
  let ended = false;
  assert.ok(tunnels.reserve('c'));
  tunnels.attach({ client: 'c', upstream: 'origin', server: 's', serverUrl: 'http://s', sender }, shieldClientSide, shieldUpstreamSide, Buffer.alloc(0), Buffer.alloc(0), () => { ended = true; });
  const one = frame(0x1, 'one', true);
  browser.write(one);
  await until(() => asks.length === 1, 'the message asked for a slot');
  assert.deepEqual(asks[0]!.place && { rank: asks[0]!.place.rank, tier: asks[0]!.place.tier }, { rank: 2, tier: 1 }, 'at its sender\'s place');
  asks[0]!.granted(() => undefined);
  await until(() => atOrigin === one.length, 'sent once granted');
  // The next message waits for the tunnel's slot (contended): placed only when it asks the queue.
  browser.write(frame(0x1, 'two', true));
  await sleep(30);
  assert.deepEqual(log, ['start 1'], 'not placed while it waits for its own tunnel\'s slot');
  origin.write(frame(0x1, 'answer one', false));
  await until(() => asks.length === 2, 'asks once the first was answered');
  assert.deepEqual(log, ['start 1', 'done 1', 'start 2']);
  // Turned back (the fake never grants): it stays placed once; the tunnel ends with it waiting.
  contended = false;
  browser.destroy();
  await until(() => ended, 'the tunnel ended');
  assert.deepEqual(log, ['start 1', 'done 1', 'start 2', 'done 2'], 'the waiting message\'s place is done too');
});

/** A gate of an upstream that is always contended: every message asks, and waits until the test grants it. */
function alwaysContended(): { gate: MessageGate; asks: Array<(release: () => void) => void> } {
  const asks: Array<(release: () => void) => void> = [];
  const gate: MessageGate = {
    contended: () => true,
    take: (granted) => { asks.push(granted); return () => undefined; },
    holdMs: () => 10_000,
    answerAfterMs: () => 0,
  };
  return { gate, asks };
}

test('tunnel: what the client keeps sending while its message waits is read on and told to its sender as a backlog, one write at a time as a client sends; taken back as it goes and when the tunnel ends', async (t) => {
  const { gate, asks } = alwaysContended();
  const told: number[] = [];
  const sender: MessageSender = { start() { return { rank: 2, tier: 0, done() {} }; }, backlog(n) { told.push(n); } };
  const tunnels = createTunnels({ idleTimeoutMs: 60_000, maxPerClient: 0, maxTotal: 0 }, { messageGate: () => gate });
  const [browser, shieldClientSide] = await pair(t);
  const [shieldUpstreamSide, origin] = await pair(t);
  let atOrigin = Buffer.alloc(0);
  origin.on('data', (b: Buffer) => { atOrigin = Buffer.concat([atOrigin, b]); });
  let ended = false;
  assert.ok(tunnels.reserve('c'));
  tunnels.attach({ client: 'c', upstream: 'origin', server: 's', serverUrl: 'http://s', sender }, shieldClientSide, shieldUpstreamSide, Buffer.alloc(0), Buffer.alloc(0), () => { ended = true; });
  const m = (s: string) => frame(0x1, s, true);
  browser.write(m('one'));
  await until(() => asks.length === 1, 'the first message asks');
  // While it waits, the client sends three more and a ping (no message), each in a write of its own:
  // a paused socket hands such data over one read at a time, so only reading on shows them.
  for (const f of [m('two'), frame(0x9, 'p', true), m('three'), m('four')]) { browser.write(f); await sleep(15); }
  await until(() => told.at(-1) === 3, `the backlog grows as the client writes (told ${told.join(',')})`);
  assert.deepEqual(told, [1, 2, 3], 'each message told as it came, the ping not counted');
  assert.equal(atOrigin.length, 0, 'nothing passed on while the first waits');
  asks[0]!(() => undefined);
  await until(() => atOrigin.length >= m('one').length, 'the first goes');
  // It now holds the tunnel's slot: the second waits for it with the other two behind it.
  await until(() => told.at(-1) === 2, `two behind the second (told ${told.join(',')})`);
  assert.ok(atOrigin.equals(m('one')), 'only the first passed on, in order');
  browser.destroy();
  await until(() => ended, 'the tunnel ended');
  assert.equal(told.at(-1), 0, 'the tunnel ended: its backlog is taken back');
});

test('tunnel: past the read bound while a message waits, reading pauses (TCP pushes back) and the rest stays unread; the next message still waits for its turn', async (t) => {
  const { gate, asks } = alwaysContended();
  const tunnels = createTunnels({ idleTimeoutMs: 60_000, maxPerClient: 0, maxTotal: 0 }, { messageGate: () => gate });
  const [browser, shieldClientSide] = await pair(t);
  const [shieldUpstreamSide, origin] = await pair(t);
  let atOrigin = 0;
  origin.on('data', (b: Buffer) => { atOrigin += b.length; });
  assert.ok(tunnels.reserve('c'));
  tunnels.attach({ client: 'c', upstream: 'origin', server: 's', serverUrl: 'http://s' }, shieldClientSide, shieldUpstreamSide, Buffer.alloc(0), Buffer.alloc(0), () => undefined);
  const m = (s: string) => frame(0x1, s, true);
  browser.write(m('one'));
  await until(() => asks.length === 1, 'the first message asks');
  // 4 MiB of messages behind it, far past what the shield reads on and what the kernel buffers.
  const big = Buffer.concat(Array.from({ length: 64 * 1024 }, () => m('x'.repeat(57))));
  let flushed = false;
  browser.write(big, () => { flushed = true; });
  await sleep(200);
  assert.equal(flushed, false, 'the client is pushed back: the shield stopped reading');
  assert.ok(shieldClientSide.isPaused(), 'reading paused past the bound');
  asks[0]!(() => undefined);
  await until(() => atOrigin >= m('one').length, 'the first goes');
  assert.equal(atOrigin, m('one').length, 'the next waits for the first one\'s slot');
});
