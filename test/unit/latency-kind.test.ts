import { test } from 'node:test';
import assert from 'node:assert/strict';
import { latencyKind } from '../../src/shield/upstream/latency-kind.js';

const ctx = (method: string, path: string, route = 'bank') =>
  ({ route: { id: route }, req: { method }, path, traits: undefined }) as unknown as Parameters<typeof latencyKind>[0];

test('an upstream latency sample\'s kind: route, method and path template', () => {
  // One route, two pages of different cost: two kinds, so the costly one does not read as queueing.
  assert.notEqual(latencyKind(ctx('GET', '/bank/login')), latencyKind(ctx('GET', '/bank/account')));
  assert.notEqual(latencyKind(ctx('GET', '/bank/login')), latencyKind(ctx('POST', '/bank/login')));
  // A lookup per parcel is one kind; the query string is not part of it.
  assert.equal(latencyKind(ctx('GET', '/track/6A12345678901', 'track')), latencyKind(ctx('GET', '/track/6A98765432109', 'track')));
  assert.equal(latencyKind(ctx('GET', '/track/6A12345678901', 'track')), 'track GET /track/{id}');
  // The template detection already computed is used when there is one.
  const withTraits = { ...ctx('GET', '/x/1'), traits: { pathTemplate: '/x/{id}' } } as unknown as Parameters<typeof latencyKind>[0];
  assert.equal(latencyKind(withTraits), 'bank GET /x/{id}');
});
