import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseByteRanges, rangeRefusal } from '../../src/shield/upstream/range.js';
import { rawExchange, startRecordingUpstream, startTestShield, statusOf } from '../helpers/servers.js';

test('byte ranges: parsed as written; another unit or bad syntax is not a byte range', () => {
  assert.deepEqual(parseByteRanges('bytes=0-99, 200-, -50'), [
    { first: 0, last: 99, suffix: undefined }, { first: 200, last: undefined, suffix: undefined }, { first: undefined, last: undefined, suffix: 50 },
  ]);
  assert.equal(parseByteRanges('items=0-5'), undefined);
  assert.equal(parseByteRanges('bytes=a-b'), undefined);
  assert.equal(parseByteRanges('bytes=-'), undefined);
  assert.equal(parseByteRanges('bytes='), undefined);
});

test('range refusal: too many ranges, more than two overlapping (RFC 9110 §14.2); what a player or a PDF reader asks passes', () => {
  assert.equal(rangeRefusal('bytes=0-1023', 16), undefined);
  assert.equal(rangeRefusal('bytes=0-99,100-199,200-299,1000-1999', 16), undefined, 'adjacent ranges do not overlap');
  assert.equal(rangeRefusal('bytes=0-99,50-149', 16), undefined, 'two overlapping ranges are allowed');
  assert.equal(rangeRefusal('bytes=0-99,50-149,120-300', 16), 'overlapping-ranges');
  assert.equal(rangeRefusal('bytes=0-,0-,0-', 16), 'overlapping-ranges', 'the Apache Killer pattern');
  assert.equal(rangeRefusal('bytes=-10,-20,-30', 16), 'overlapping-ranges', 'suffix ranges all hold the last byte');
  assert.equal(rangeRefusal(`bytes=${Array.from({ length: 17 }, (_, i) => `${i * 10}-${i * 10 + 5}`).join(',')}`, 16), 'too-many-ranges');
  assert.equal(rangeRefusal(`bytes=${Array.from({ length: 100_000 }, () => '0-').join(',')}`, 16), 'too-many-ranges', 'however many');
  assert.equal(rangeRefusal('bytes=0-10', 0), 'too-many-ranges', '0: no range is forwarded');
  assert.equal(rangeRefusal('items=1-2,1-2,1-2', 1), undefined, 'another unit is the origin\'s business');
  assert.equal(rangeRefusal('bytes=0-1,,2-3', 16), undefined, 'empty list elements are ignored');
  // A bytes range that does not parse is one an origin must ignore (RFC 9110 §14.2); several Range
  // lines arrive joined, as a list no origin should read as one.
  assert.equal(rangeRefusal('bytes=a-b', 16), 'invalid-ranges');
  assert.equal(rangeRefusal('bytes=0-, bytes=0-, bytes=0-', 16), 'invalid-ranges');
});

test('a refused Range never reaches the origin (nor its If-Range); an ordinary one does, unchanged', async (t) => {
  const up = await startRecordingUpstream(t);
  const shield = await startTestShield(t, up.url);
  const send = (range: string, extra = ''): Promise<string> =>
    rawExchange(shield.port, `GET /static/big.bin HTTP/1.1\r\nHost: shop.example\r\nRange: ${range}\r\n${extra}Connection: close\r\n\r\n`);
  assert.equal(statusOf(await send('bytes=0-1023')), 200);
  assert.equal(up.seen.at(-1)?.headers.range, 'bytes=0-1023');
  assert.equal(statusOf(await send('bytes=0-,0-,0-,0-,0-,0-', 'If-Range: "v1"\r\n')), 200);
  assert.equal(up.seen.length, 2, 'the request itself is forwarded');
  assert.equal(up.seen.at(-1)?.headers.range, undefined);
  assert.equal(up.seen.at(-1)?.headers['if-range'], undefined);
  assert.equal(up.seen.at(-1)?.url, '/static/big.bin');
  // The same ranges on several Range lines (an origin joining them would read the Apache Killer's list).
  assert.equal(statusOf(await send('bytes=0-', 'Range: bytes=0-\r\nRange: bytes=0-\r\n')), 200);
  assert.equal(up.seen.at(-1)?.headers.range, undefined);
  assert.equal(up.seen.at(-1)?.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'range').length, 0);
  const many = `bytes=${Array.from({ length: 40 }, (_, i) => `${i * 100}-${i * 100 + 1}`).join(',')}`;
  assert.equal(statusOf(await send(many)), 200);
  assert.equal(up.seen.at(-1)?.headers.range, undefined);
});

test('limits.maxRanges is the operator\'s: 0 forwards no Range at all', async (t) => {
  const up = await startRecordingUpstream(t);
  const shield = await startTestShield(t, up.url, { listen: { limits: { maxRanges: 0 } } });
  assert.equal(statusOf(await rawExchange(shield.port, 'GET /a HTTP/1.1\r\nHost: shop.example\r\nRange: bytes=0-10\r\nConnection: close\r\n\r\n')), 200);
  assert.equal(up.seen.at(-1)?.headers.range, undefined);
});
