import { test } from 'node:test';
import assert from 'node:assert/strict';
import { H2_FRAME, h2Data, h2FrameReader, h2Headers, h2HeadersOpen, h2RstStream, hpackRequest, responseStatus, type H2Frame } from '../../src/drill/h2-frames.js';

test('h2 frames: a response\'s :status read from an indexed static entry, a literal, or a Huffman-coded literal (RFC 7541)', () => {
  assert.equal(responseStatus(Buffer.from([0x88])), '200');
  assert.equal(responseStatus(Buffer.from([0x8d])), '404');
  // Literal with incremental indexing, name :status (static 8), value "408" as is.
  assert.equal(responseStatus(Buffer.concat([Buffer.from([0x48, 0x03]), Buffer.from('408')])), '408');
  // The same Huffman-coded (Appendix B: 4 = 011010, 0 = 00000, 8 = 011110, then EOS padding).
  assert.equal(responseStatus(Buffer.from([0x48, 0x83, 0x68, 0x0f, 0x7f])), '408');
  // 201, without indexing: 2 = 00010, 0 = 00000, 1 = 00001.
  assert.equal(responseStatus(Buffer.from([0x08, 0x82, 0x10, 0x03])), '201');
  // After a dynamic table size update to 0 (RFC 7541 §6.3), as a server sends once a client set it.
  assert.equal(responseStatus(Buffer.from([0x20, 0x48, 0x83, 0x68, 0x0f, 0x7f])), '408');
  // A first field that is not :status, or nothing: not decoded further.
  assert.equal(responseStatus(Buffer.from([0x82])), 'answered');
  assert.equal(responseStatus(Buffer.alloc(0)), 'answered');
});

test('h2 frames: what is written reads back frame by frame, however the bytes are cut; a frame over the bound stops the reader', () => {
  const block = hpackRequest('POST', 'a.example', '/bank/login', [['content-length', '10'], ['user-agent', 'x'.repeat(300)]]);
  const wire = Buffer.concat([h2HeadersOpen(1, block), h2Data(1, Buffer.from('ab')), h2Headers(3, block), h2RstStream(3, 8)]);
  const frames: H2Frame[] = [];
  const read = h2FrameReader((f) => frames.push({ ...f, payload: Buffer.from(f.payload) }));
  for (let i = 0; i < wire.length; i += 7) read(wire.subarray(i, i + 7));
  assert.deepEqual(frames.map((f) => [f.type, f.flags, f.streamId, f.payload.length]), [
    [H2_FRAME.HEADERS, 0x4, 1, block.length], [H2_FRAME.DATA, 0, 1, 2], [H2_FRAME.HEADERS, 0x5, 3, block.length], [H2_FRAME.RST_STREAM, 0, 3, 4],
  ]);
  // A 300-octet value takes a multi-octet HPACK length (RFC 7541 §5.1): 127, then 173 in 7-bit groups.
  const at = block.indexOf(Buffer.from('user-agent')) + 'user-agent'.length;
  assert.deepEqual([...block.subarray(at, at + 3)], [0x7f, 0xad, 0x01]);
  assert.throws(() => h2FrameReader(() => {}, 16_384)(Buffer.from([0x01, 0x00, 0x00, 0, 0, 0, 0, 0, 1])), /frame of 65536 octets/);
});
