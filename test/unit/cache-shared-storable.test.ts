import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedCacheMayStore } from '../../src/shield/cache/shared-storable.js';

const NOW = Date.parse('2026-12-07T12:00:00Z');

test('a shared cache may store answers with explicit freshness and nothing private (RFC 9111 §3, §5.2.2)', () => {
  const may = (cc: string | undefined, extra: Record<string, string | string[]> = {}, status = 200): boolean =>
    sharedCacheMayStore(status, { ...(cc !== undefined ? { 'cache-control': cc } : {}), ...extra }, NOW);
  assert.equal(may('public'), true);
  assert.equal(may('public, max-age=0, s-maxage=60'), true);
  assert.equal(may('s-maxage=30'), true);
  assert.equal(may('max-age=60'), true);
  assert.equal(may('Max-Age=60, must-revalidate'), true, 'directive names are case-insensitive');
  assert.equal(may('max-age=0'), false, 'already stale');
  assert.equal(may(undefined), false, 'heuristic freshness is not counted');
  assert.equal(may('private, max-age=60'), false);
  assert.equal(may('public, no-store'), false);
  assert.equal(may('no-cache, max-age=60'), false);
  assert.equal(may('private="set-cookie", max-age=60'), false, 'a qualified private is private all the same here');
  assert.equal(may('public', { 'set-cookie': 'sid=1' }), false, 'the origin made it personal already');
  assert.equal(may('public', {}, 103), false, 'not a final status');
  assert.equal(may(undefined, { expires: 'Mon, 07 Dec 2026 13:00:00 GMT' }), true, 'Expires in the future');
  assert.equal(may(undefined, { expires: 'Mon, 07 Dec 2026 11:00:00 GMT' }), false, 'Expires in the past');
  assert.equal(may(undefined, { expires: '0' }), false, 'an invalid Expires means already expired (RFC 9111 §5.3)');
  assert.equal(may(undefined, { expires: 'Mon, 07 Dec 2026 13:00:00 GMT', date: 'Mon, 07 Dec 2026 14:00:00 GMT' }), false, 'against the origin\'s Date, not our clock');
});
