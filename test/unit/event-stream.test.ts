import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asksForEventStream, createStreamBudget, isEventStream, type StreamPlace } from '../../src/shield/upstream/event-stream.js';

test('an event stream is told by its type; a request asks for one by its Accept, as EventSource sends it', () => {
  assert.equal(isEventStream('text/event-stream'), true);
  assert.equal(isEventStream('Text/Event-Stream; charset=utf-8'), true);
  assert.equal(isEventStream('text/html'), false);
  assert.equal(isEventStream(undefined), false);
  assert.equal(asksForEventStream('GET', 'text/event-stream'), true);
  assert.equal(asksForEventStream('GET', 'application/json, text/event-stream;q=0.9'), true);
  assert.equal(asksForEventStream('POST', 'text/event-stream'), false, 'EventSource only GETs');
  assert.equal(asksForEventStream('GET', '*/*'), false, 'what every page and fetch accepts');
  assert.equal(asksForEventStream('GET', 'text/event-streams'), false);
  assert.equal(asksForEventStream('GET', undefined), false);
});

test('the stream budget: a cap per client (times its weight) and in total; a place given back is counted once', () => {
  const b = createStreamBudget({ maxPerClient: 2, maxTotal: 0 });
  const closed: string[] = [];
  const take = (c: string, w = 1): StreamPlace | string => b.reserve(c, w, () => closed.push(c));
  const a1 = take('a');
  take('a');
  assert.equal(take('a'), 'per-client');
  assert.notEqual(typeof take('nat', 3), 'string');
  for (let i = 0; i < 5; i++) take('nat', 3);
  assert.equal(take('nat', 3), 'per-client', 'a shared address holds its weight times the cap');
  assert.equal(b.open, 8);
  assert.equal(b.refused, 2);
  b.release(a1 as StreamPlace);
  b.release(a1 as StreamPlace);
  assert.equal(b.open, 7, 'released once');
  assert.notEqual(typeof take('a'), 'string', 'its place is free again');
  assert.deepEqual(closed, []);
});

test('at the total cap the heaviest holder\'s newest stream gives way to a client holding two fewer; equal shares never churn', () => {
  const b = createStreamBudget({ maxPerClient: 0, maxTotal: 4 });
  const closed: string[] = [];
  const take = (c: string, tag: string, w = 1): StreamPlace | string => b.reserve(c, w, () => closed.push(tag));
  take('bot', 'bot-1');
  take('bot', 'bot-2');
  take('bot', 'bot-3');
  take('alice', 'alice-1');
  const carol = take('carol', 'carol-1');
  assert.notEqual(typeof carol, 'string', 'carol (none held) takes the place of the bot\'s newest');
  assert.deepEqual(closed, ['bot-3']);
  assert.equal(b.open, 4);
  assert.equal(b.evicted, 1);
  // Now bot 2, alice 1, carol 1: dave (none) still holds two fewer than the bot.
  assert.notEqual(typeof take('dave', 'dave-1'), 'string');
  assert.deepEqual(closed, ['bot-3', 'bot-2']);
  // One each: a swap would only move the excess — refused, nobody churned.
  assert.equal(take('eve', 'eve-1'), 'total');
  assert.equal(take('alice', 'alice-2'), 'total');
  assert.deepEqual(closed, ['bot-3', 'bot-2']);
  assert.equal(b.evicted, 2);
  // The place taken back is not given back twice when its exchange ends.
  b.release(carol as StreamPlace);
  assert.equal(b.open, 3);
  // A carrier NAT's address counts as its weight in clients: 4 streams at weight 4 is a share of 1.
  const n = createStreamBudget({ maxPerClient: 0, maxTotal: 6 });
  const shut: string[] = [];
  for (let i = 0; i < 4; i++) n.reserve('nat', 4, () => shut.push('nat'));
  n.reserve('bot', 1, () => shut.push('bot-1'));
  n.reserve('bot', 1, () => shut.push('bot-2'));
  assert.notEqual(typeof n.reserve('new', 1, () => shut.push('new')), 'string');
  assert.deepEqual(shut, ['bot-2'], 'the bot (share 2) gives way, not the NAT (share 1)');
});
