import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { createLiveFeed } from '../../src/console/live.js';
import { createEventBus } from '../../src/core/events.js';
import { createManualClock } from '../../src/core/clock.js';
import type { ShieldEvents } from '../../src/shield/events.js';
import type { RequestContext } from '../../src/shield/context.js';

/** A stand-in for an SSE response: records what is written. */
function fakeResponse(): ServerResponse & { text: string; status: number } {
  const e = new EventEmitter() as unknown as ServerResponse & { text: string; status: number };
  e.text = '';
  e.status = 0;
  Object.assign(e, {
    writableLength: 0,
    writeHead(status: number) { e.status = status; return e; },
    write(chunk: string) { e.text += chunk; return true; },
    end() { e.emit('close'); return e; },
    destroy() { e.emit('close'); return e; },
  });
  return e;
}

const ctx = (v: Partial<RequestContext>): RequestContext => ({ routeClass: 'normal', verdict: undefined, cacheState: undefined, errorCode: undefined, upstreamMs: undefined, ...v }) as RequestContext;

test('live feed: one sample per second by verdict with the attack phase, history first, the full picture only while someone watches', () => {
  const clock = createManualClock(1_000_000);
  const bus = createEventBus<ShieldEvents>();
  let pictures = 0;
  let phase = 'normal';
  const feed = createLiveFeed({
    clock, bus, maxSubscribers: 1,
    sources: {
      detection: () => ({ classes: { normal: { phase }, critical: { phase: 'normal' } } }),
      offenders: () => { pictures++; return { top: [] }; }, blocks: () => [], channels: () => null, upstreams: () => null,
    },
  });
  feed.start?.();
  const end = (c: RequestContext): void => bus.emit('request:end', { ctx: c, status: 200, durationMs: 1, aborted: false });
  end(ctx({ upstreamMs: 10 }));
  end(ctx({ verdict: { kind: 'challenge' } as never }));
  bus.emit('connection:refused', { address: '10.0.0.1', reason: 'blocklist' });
  bus.emit('connection:refused', { address: '10.0.0.1', reason: 'client-cap' });
  bus.emit('connection:refused', { address: '10.0.0.2', reason: 'empty-connections' });
  bus.emit('connection:refused', { address: '10.0.0.3', reason: 'h2-resets' });
  bus.emit('connection:refused', { address: '10.0.0.3', reason: 'h2-send-timeout' });
  clock.advance(1000);
  phase = 'under_attack';
  const t1 = feed.tick();
  assert.deepEqual(t1.sample.verdicts, { allowed: 1, challenged: 1, rateLimited: 0, blocked: 3, shed: 0, stale: 0 });
  assert.equal(t1.sample.latencyMs.normal, 10);
  assert.equal(t1.sample.phases.normal, 3);
  assert.equal(pictures, 0, 'nobody watches: no picture built');
  const res = fakeResponse();
  feed.subscribe(res);
  assert.equal(res.status, 200);
  assert.match(res.text, /^retry: 2000\n\nevent: history\ndata: /);
  assert.equal(pictures, 1, 'a new console gets the picture at once');
  const second = fakeResponse();
  feed.subscribe(second);
  assert.equal(second.status, 503, 'subscribers are bounded');
  clock.advance(1000);
  feed.tick();
  assert.match(res.text, /event: tick\ndata: \{"sample":\{"t":1001000/);
  assert.equal(feed.history().length, 2);
  res.emit('close');
  assert.equal(feed.subscribers, 0);
  feed.stop?.(0);
});
