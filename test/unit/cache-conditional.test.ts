import { test } from 'node:test';
import assert from 'node:assert/strict';
import { notModifiedHeaders, storedAnswer } from '../../src/shield/cache/conditional.js';

const LM = 'Mon, 07 Dec 2026 09:00:00 GMT';
const stored = { etag: '"v1"', 'last-modified': LM, 'cache-control': 'public, max-age=60', 'content-type': 'text/html', 'content-length': '100', vary: 'Accept-Encoding' };
const ask = (request: Record<string, string>, status = 200, length = 100) => storedAnswer(request, status, stored, length);

test('revalidation: If-None-Match (weak comparison) and If-Modified-Since give 304; If-None-Match decides when both are sent', () => {
  assert.deepEqual(ask({}), { kind: 'full' });
  assert.deepEqual(ask({ 'if-none-match': '"v1"' }), { kind: 'not-modified' });
  assert.deepEqual(ask({ 'if-none-match': 'W/"v1"' }), { kind: 'not-modified' }, 'weak comparison');
  assert.deepEqual(ask({ 'if-none-match': '"v0", "v1"' }), { kind: 'not-modified' });
  assert.deepEqual(ask({ 'if-none-match': '*' }), { kind: 'not-modified' });
  assert.deepEqual(ask({ 'if-none-match': '"v0"' }), { kind: 'full' });
  assert.deepEqual(ask({ 'if-modified-since': LM }), { kind: 'not-modified' });
  assert.deepEqual(ask({ 'if-modified-since': 'Mon, 07 Dec 2026 10:00:00 GMT' }), { kind: 'not-modified' });
  assert.deepEqual(ask({ 'if-modified-since': 'Mon, 07 Dec 2026 08:59:59 GMT' }), { kind: 'full' });
  assert.deepEqual(ask({ 'if-modified-since': 'yesterday' }), { kind: 'full' }, 'a date that does not parse is ignored');
  assert.deepEqual(ask({ 'if-none-match': '"v0"', 'if-modified-since': LM }), { kind: 'full' }, 'If-Modified-Since is ignored beside If-None-Match');
  assert.deepEqual(storedAnswer({ 'if-none-match': '"v1"' }, 200, {}, 10), { kind: 'full' }, 'no validator, nothing matches');
});

test('If-Match and If-Unmodified-Since fail with 412 when the stored copy is another', () => {
  assert.deepEqual(ask({ 'if-match': '"v2"' }), { kind: 'precondition-failed' });
  assert.deepEqual(ask({ 'if-match': 'W/"v1"' }), { kind: 'precondition-failed' }, 'strong comparison');
  assert.deepEqual(ask({ 'if-match': '"v1"' }), { kind: 'full' });
  assert.deepEqual(ask({ 'if-match': '*' }), { kind: 'full' });
  assert.deepEqual(ask({ 'if-unmodified-since': 'Mon, 07 Dec 2026 08:00:00 GMT' }), { kind: 'precondition-failed' });
  assert.deepEqual(ask({ 'if-unmodified-since': LM }), { kind: 'full' });
});

test('one satisfiable byte range of a 200 is a range; If-Range must name this copy; anything else is answered whole', () => {
  assert.deepEqual(ask({ range: 'bytes=0-9' }), { kind: 'range', start: 0, end: 9 });
  assert.deepEqual(ask({ range: 'bytes=95-' }), { kind: 'range', start: 95, end: 99 });
  assert.deepEqual(ask({ range: 'bytes=90-500' }), { kind: 'range', start: 90, end: 99 }, 'the last position is cut at the end');
  assert.deepEqual(ask({ range: 'bytes=-5' }), { kind: 'range', start: 95, end: 99 });
  assert.deepEqual(ask({ range: 'bytes=-500' }), { kind: 'range', start: 0, end: 99 });
  assert.deepEqual(ask({ range: 'bytes=100-' }), { kind: 'full' }, 'past the end');
  assert.deepEqual(ask({ range: 'bytes=-0' }), { kind: 'full' });
  assert.deepEqual(ask({ range: 'bytes=0-1,5-9' }), { kind: 'full' }, 'several ranges');
  assert.deepEqual(ask({ range: 'items=0-1' }), { kind: 'full' });
  assert.deepEqual(ask({ range: 'bytes=0-9' }, 404), { kind: 'full' });
  assert.deepEqual(ask({ range: 'bytes=0-9', 'if-range': '"v1"' }), { kind: 'range', start: 0, end: 9 });
  assert.deepEqual(ask({ range: 'bytes=0-9', 'if-range': '"v0"' }), { kind: 'full' });
  assert.deepEqual(ask({ range: 'bytes=0-9', 'if-range': 'W/"v1"' }), { kind: 'full' }, 'a weak tag never validates a range');
  assert.deepEqual(ask({ range: 'bytes=0-9', 'if-range': LM }), { kind: 'range', start: 0, end: 9 });
  assert.deepEqual(ask({ range: 'bytes=0-9', 'if-range': 'Mon, 07 Dec 2026 08:00:00 GMT' }), { kind: 'full' });
  assert.deepEqual(ask({ range: 'bytes=0-9', 'if-none-match': '"v1"' }), { kind: 'not-modified' }, 'preconditions first');
});

test('a 304 carries the stored answer\'s validators and caching fields, not its representation fields', () => {
  assert.deepEqual(notModifiedHeaders(stored), { 'cache-control': 'public, max-age=60', etag: '"v1"', 'last-modified': LM, vary: 'Accept-Encoding' });
});
