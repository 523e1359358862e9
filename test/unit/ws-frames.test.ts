import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Writable } from 'node:stream';
import * as ws from 'ws';
import { closeFrame, createFrameTracker, messagesAhead, MESSAGES_AHEAD_MAX } from '../../src/shield/listener/ws-frames.js';
import { createRng } from '../../src/core/rng.js';

/** One WebSocket frame (RFC 6455 §5.2), masked or not. */
function frame(opcode: number, payload: Buffer, mask: boolean, fin = true): Buffer {
  const len = payload.length;
  const ext = len < 126 ? Buffer.alloc(0) : len < 65536 ? Buffer.alloc(2) : Buffer.alloc(8);
  if (len >= 126 && len < 65536) ext.writeUInt16BE(len);
  if (len >= 65536) ext.writeBigUInt64BE(BigInt(len));
  const b1 = (mask ? 0x80 : 0) | (len < 126 ? len : len < 65536 ? 126 : 127);
  const key = mask ? Buffer.from([1, 2, 3, 4]) : Buffer.alloc(0);
  const body = Buffer.from(payload);
  if (mask) for (let i = 0; i < body.length; i++) body[i] = (body[i] as number) ^ (key[i % 4] as number);
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, b1]), ext, key, body]);
}

test('the tracker finds every frame boundary whatever the chunking (7-bit, 16-bit and 64-bit lengths, masked or not, empty payloads)', () => {
  const rng = createRng(5);
  for (const mask of [false, true]) {
    const sizes = [0, 1, 125, 126, 127, 65535, 65536, 70_000, 3];
    const frames = sizes.map((n, i) => frame(i === 0 ? 0x9 : 0x2, Buffer.alloc(n, i), mask, i !== 4));
    const ends: number[] = [];
    let at = 0;
    for (const f of frames) ends.push((at += f.length));
    const stream = Buffer.concat(frames);
    for (let round = 0; round < 20; round++) {
      const t = createFrameTracker();
      const seen: number[] = [];
      let pos = 0;
      while (pos < stream.length) {
        const chunk = stream.subarray(pos, Math.min(stream.length, pos + rng.int(1, 9_000)));
        let off = 0;
        while (off < chunk.length) {
          const n = t.consume(chunk.subarray(off), true);
          off += n;
          if (t.atBoundary) seen.push(pos + off);
        }
        pos += chunk.length;
      }
      assert.deepEqual([...new Set(seen)], ends, `mask ${mask} round ${round}`);
      assert.equal(t.completed, frames.length, 'every frame counted once, the empty ones included');
    }
  }
});

test('close frames are valid RFC 6455 frames: unmasked toward the client, masked toward the upstream', async () => {
  for (const masked of [false, true]) {
    // ws's own parser, in the role that expects this masking.
    const got = await new Promise<{ code: number; reason: string }>((resolve, reject) => {
      // ws's own frame parser (exported at runtime, not in @types/ws).
      const Receiver = (ws as unknown as { Receiver: new (o: { isServer: boolean }) => Writable }).Receiver;
      const r = new Receiver({ isServer: masked });
      r.on('conclude', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }));
      r.on('error', reject);
      r.write(closeFrame(1001, 'shutting down', masked));
    });
    assert.deepEqual(got, { code: 1001, reason: 'shutting down' });
  }
  assert.equal(closeFrame(1000, 'x'.repeat(500), false).length, 2 + 125, 'a control frame carries at most 125 bytes');
});

test('messages ahead: text and binary frames after the current one, continuations and control frames not counted; a frame cut short ends the count', () => {
  const text = (s: string, fin = true) => frame(0x1, Buffer.from(s), true, fin);
  const cont = (s: string) => frame(0x0, Buffer.from(s), true);
  const ping = frame(0x9, Buffer.from('p'), true);
  const big = frame(0x2, Buffer.alloc(70_000, 1), true); // a 64-bit length
  const mid = frame(0x2, Buffer.alloc(300, 2), true); // a 16-bit length
  const buf = Buffer.concat([text('a'), ping, text('b', false), cont('c'), mid, big, text('d')]);
  assert.equal(messagesAhead(buf, 0), 4, 'b, mid, big, d — not the first, the ping or the continuation');
  assert.equal(messagesAhead(buf, text('a').length), 4, 'from the ping: the ping is the current frame');
  // The same bytes cut inside `big`'s payload: only what is known is counted.
  assert.equal(messagesAhead(buf.subarray(0, buf.length - text('d').length - 10), 0), 3);
  // Cut inside a header: stops there.
  assert.equal(messagesAhead(Buffer.concat([text('a'), text('b').subarray(0, 1)]), 0), 0);
  assert.equal(messagesAhead(Buffer.alloc(0), 0), 0);
  // A client that packed a thousand messages into one read: bounded.
  assert.equal(messagesAhead(Buffer.concat(Array.from({ length: 1000 }, () => text('x'))), 0), MESSAGES_AHEAD_MAX);
});
