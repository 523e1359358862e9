import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { createHealthRegistry, type ServerTransition } from '../../src/shield/upstream/health/monitor.js';

const upstreamOf = (servers: unknown[], health: Record<string, unknown> = {}) =>
  parseConfig({ upstreams: { app: { servers, health } }, routes: [{ match: { path: '/' }, upstream: 'app' }] }).upstreams.app!;

test('operator state wins over probes and ejection; slow start ramps on the ticker; every change is one event', () => {
  const events: ServerTransition[] = [];
  const reg = createHealthRegistry((t) => events.push(t));
  const cfg = upstreamOf([{ url: 'http://127.0.0.1:1', name: 'a' }, { url: 'http://127.0.0.1:2', name: 'b' }],
    { passive: { consecutiveFailures: 2, baseEjectionMs: 1_000 }, active: { rise: 2, fall: 1 }, slowStartMs: 1_000 });
  const h = reg.get('app', cfg);
  const b = h.servers[1]!;
  h.onFailure(1, 0);
  h.onFailure(1, 1);
  assert.equal(b.state, 'ejected');
  h.setAdmin(1, 'draining', 2, 'op');
  h.probe(1, false, 3);
  assert.equal(b.state, 'draining', 'the operator state shows first');
  h.setAdmin(1, 'enabled', 4, 'op');
  assert.equal(b.state, 'probe-down');
  h.probe(1, true, 5);
  h.probe(1, true, 6);
  assert.equal(b.state, 'up', 'rise passing probes bring it back and end the ejection');
  assert.ok(b.available && b.effectiveWeight < 0.2, `weight ${b.effectiveWeight}`);
  h.tick(506);
  assert.ok(Math.abs(b.effectiveWeight - 0.5) < 1e-9);
  h.tick(2_000);
  assert.equal(b.effectiveWeight, 1);
  assert.deepEqual(events.map((e) => e.to), ['ejected', 'draining', 'probe-down', 'up']);
  assert.ok(h.anyAvailable);
  h.setAdmin(0, 'disabled', 7, 'op');
  h.setAdmin(1, 'disabled', 7, 'op');
  assert.equal(h.anyAvailable, false);
});

test('a reload with the same servers keeps their health (a drain survives); another list starts afresh', () => {
  const reg = createHealthRegistry(() => {});
  const servers = [{ url: 'http://127.0.0.1:1' }, { url: 'http://127.0.0.1:2' }];
  const h = reg.get('app', upstreamOf(servers));
  h.setAdmin(0, 'draining', 0, 'op');
  h.servers[1]!.outstanding = 3;
  const again = reg.get('app', upstreamOf(servers, { slowStartMs: 0 }));
  assert.equal(again, h);
  assert.equal(again.servers[0]!.state, 'draining');
  assert.equal(again.servers[1]!.outstanding, 3, 'requests in flight on the old pools are still counted');
  const other = reg.get('app', upstreamOf([...servers, { url: 'http://127.0.0.1:3' }]));
  assert.notEqual(other, h);
  assert.equal(other.servers[0]!.state, 'up');
  reg.retain([]);
  assert.equal(reg.all().length, 0);
});
