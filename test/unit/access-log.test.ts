import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { createEventBus } from '../../src/core/events.js';
import { attachAccessLog } from '../../src/shield/access-log.js';
import type { RequestContext } from '../../src/shield/context.js';
import type { ShieldEvents } from '../../src/shield/events.js';

const logged = (): { lines: Array<Record<string, unknown>>; log: pino.Logger } => {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, log: pino({ base: null }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } }) };
};
const ctx = (verdict: unknown, paceKey?: string, peerSource: 'tcp' | 'proxy-protocol' = 'tcp'): RequestContext =>
  ({ id: 'r-1', client: '127.0.0.9', req: { method: 'GET' }, conn: { peerSource, ...(peerSource === 'tcp' ? { peerPort: 40123 } : {}) }, path: '/track', routeClass: 'normal', verdict, paceKey }) as unknown as RequestContext;

test('an access line names which limit or challenge answered, and never a token id', () => {
  const { lines, log } = logged();
  const bus = createEventBus<ShieldEvents>();
  attachAccessLog(bus, log, () => true);
  bus.emit('request:end', { ctx: ctx({ kind: 'deny', code: 'RMP_ERR_RATE_LIMITED', reason: 'rate limit for class normal' }), status: 429, durationMs: 1, aborted: false });
  bus.emit('request:end', { ctx: ctx({ kind: 'challenge', level: 2, reason: 'address over its rate for class normal', overLimit: true }), status: 503, durationMs: 1, aborted: false });
  bus.emit('request:end', { ctx: ctx(undefined, 'clr:secret-token-id'), status: 200, durationMs: 1, aborted: false });
  assert.deepEqual(lines.map((l) => [l.status, l.outcome, l.reason]), [
    [429, 'RMP_ERR_RATE_LIMITED', 'rate limit for class normal'],
    [503, 'challenge-2', 'address over its rate for class normal'],
    [200, 'forwarded', undefined],
  ]);
  assert.ok(!JSON.stringify(lines).includes('secret-token-id'), 'the identity is a digest');
  assert.match(String(lines[2]?.identity), /^[0-9a-f]{16}$/);
});

test('an access line carries the TCP peer\'s port, not a port a PROXY protocol header replaced', () => {
  const { lines, log } = logged();
  const bus = createEventBus<ShieldEvents>();
  attachAccessLog(bus, log, () => true);
  bus.emit('request:end', { ctx: ctx(undefined), status: 200, durationMs: 1, aborted: false });
  bus.emit('request:end', { ctx: ctx(undefined, undefined, 'proxy-protocol'), status: 200, durationMs: 1, aborted: false });
  assert.deepEqual(lines.map((l) => l.port), [40123, undefined]);
});

test('under a flood, lines for requests answered without the upstream are bounded a second and counted; forwarded ones are all written', () => {
  const { lines, log } = logged();
  const bus = createEventBus<ShieldEvents>();
  let now = 10_000;
  const detach = attachAccessLog(bus, log, () => true, () => 5, () => now);
  const refused = ctx({ kind: 'challenge', level: 2, reason: 'signature' });
  const forwarded = { ...ctx(undefined), upstreamMs: 12 } as RequestContext;
  for (let i = 0; i < 50; i++) bus.emit('request:end', { ctx: refused, status: 503, durationMs: 0.1, aborted: false });
  for (let i = 0; i < 20; i++) bus.emit('request:end', { ctx: forwarded, status: 200, durationMs: 15, aborted: false });
  assert.equal(lines.filter((l) => l.outcome === 'challenge-2').length, 5);
  assert.equal(lines.filter((l) => l.outcome === 'forwarded').length, 20);
  now += 1000;
  bus.emit('request:end', { ctx: refused, status: 503, durationMs: 0.1, aborted: false });
  const summary = lines.find((l) => l.suppressed !== undefined);
  assert.deepEqual([summary?.suppressed, summary?.byOutcome], [45, { 'challenge-2': 45 }]);
  for (let i = 0; i < 9; i++) bus.emit('request:end', { ctx: refused, status: 503, durationMs: 0.1, aborted: false });
  detach();
  assert.equal(lines.filter((l) => l.suppressed !== undefined).at(-1)?.suppressed, 5, 'the last window is said at shutdown');
});
