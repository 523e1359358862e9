/**
 * HTTP/2 frames written by hand (RFC 9113 §4, §6; header blocks in HPACK, RFC 7541), for the
 * attacks a well-behaved client library will not send: Node's own client holds a stream's HEADERS
 * back and drops them when the stream is cancelled before they leave, so a "rapid reset" built on
 * it sends far fewer streams than it asks for. Here every HEADERS and RST_STREAM goes on the wire.
 */

/** The client connection preface (RFC 9113 §3.4). */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Frame types used here (RFC 9113 §6). */
export const H2_FRAME = Object.freeze({ DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8 });
/** Error codes (RFC 9113 §7). */
export const H2_ERROR = Object.freeze({ NO_ERROR: 0, PROTOCOL_ERROR: 1, CANCEL: 8, ENHANCE_YOUR_CALM: 11 });

const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const ACK = 0x1;

/** One frame: 9-octet header (length, type, flags, stream id) and its payload (RFC 9113 §4.1). */
export function h2Frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(9 + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out.writeUInt8(type, 3);
  out.writeUInt8(flags, 4);
  out.writeUInt32BE(streamId & 0x7fffffff, 5);
  payload.copy(out, 9);
  return out;
}

/** SETTINGS identifiers used here (RFC 9113 §6.5.2). */
export const H2_SETTING = Object.freeze({ HEADER_TABLE_SIZE: 0x1 });

/** A SETTINGS frame with `entries` (none: the defaults), or the acknowledgement of the peer's. */
export function h2Settings(ack = false, entries: ReadonlyArray<readonly [number, number]> = []): Buffer {
  const p = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, value], i) => { p.writeUInt16BE(id, i * 6); p.writeUInt32BE(value, i * 6 + 2); });
  return h2Frame(H2_FRAME.SETTINGS, ack ? ACK : 0, 0, ack ? Buffer.alloc(0) : p);
}

/** RST_STREAM with an error code (RFC 9113 §6.4). */
export function h2RstStream(streamId: number, code: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(code, 0);
  return h2Frame(H2_FRAME.RST_STREAM, 0, streamId, p);
}

/** An HPACK integer with a 7-bit prefix and the H bit clear (RFC 7541 §5.1). */
function hpackLength(n: number): Buffer {
  if (n < 127) return Buffer.from([n]);
  const out = [127];
  let rest = n - 127;
  while (rest >= 128) { out.push((rest % 128) + 128); rest = Math.floor(rest / 128); }
  out.push(rest);
  return Buffer.from(out);
}

/** HPACK string literal, not Huffman-coded (RFC 7541 §5.2). */
function hpackString(s: string): Buffer {
  const b = Buffer.from(s, 'latin1');
  return Buffer.concat([hpackLength(b.length), b]);
}

/**
 * A GET's header block: `:method GET` and `:scheme https` from the static table (RFC 7541
 * Appendix A, indices 2 and 7), `:path` and `:authority` as literals without indexing whose names
 * are static-table indices 4 and 1 (§6.2.2), then extra fields with literal names.
 */
export function hpackGet(authority: string, path: string, extra: ReadonlyArray<readonly [string, string]> = []): Buffer {
  return hpackRequest('GET', authority, path, extra);
}

/** A request's header block as `hpackGet`'s, for GET or POST (static-table indices 2 and 3). */
export function hpackRequest(method: 'GET' | 'POST', authority: string, path: string, extra: ReadonlyArray<readonly [string, string]> = []): Buffer {
  const parts: Buffer[] = [Buffer.from([method === 'GET' ? 0x82 : 0x83, 0x87]), Buffer.from([0x04]), hpackString(path), Buffer.from([0x01]), hpackString(authority)];
  for (const [name, value] of extra) parts.push(hpackLiteral(name.toLowerCase(), value));
  return Buffer.concat(parts);
}

/** HEADERS that end the header block but not the stream: a body follows in DATA frames. */
export function h2HeadersOpen(streamId: number, block: Buffer): Buffer {
  return h2Frame(H2_FRAME.HEADERS, END_HEADERS, streamId, block);
}

/** A DATA frame that does not end its stream. */
export function h2Data(streamId: number, payload: Buffer): Buffer {
  return h2Frame(H2_FRAME.DATA, 0, streamId, payload);
}

// The static table's :status entries (RFC 7541 Appendix A, indices 8–14).
const STATIC_STATUS: Record<number, string> = { 8: '200', 9: '204', 10: '206', 11: '304', 12: '400', 13: '404', 14: '500' };

/**
 * The `:status` of a response header block when it comes first, as servers send it: an indexed
 * static entry, or a literal whose name is static index 8 (RFC 7541 §6.1, §6.2), its value as is or
 * Huffman-coded; otherwise 'answered'. No dynamic table is kept here: a client that needs every
 * status announces SETTINGS_HEADER_TABLE_SIZE 0, so that the server's encoder refers to none.
 */
export function responseStatus(block: Buffer): string {
  // Dynamic table size updates first (RFC 7541 §6.3: 001xxxxx, a 5-bit-prefix integer): skipped.
  let at = 0;
  while (at < block.length && ((block[at] as number) & 0xe0) === 0x20) {
    if (((block[at] as number) & 0x1f) === 0x1f) { at++; while (at < block.length && ((block[at] as number) & 0x80) !== 0) at++; }
    at++;
  }
  if (at > 0) block = block.subarray(at);
  const b = block[0];
  if (b === undefined) return 'answered';
  if ((b & 0x80) !== 0) return STATIC_STATUS[b & 0x7f] ?? 'answered';
  const nameIndex = (b & 0xc0) === 0x40 ? b & 0x3f : (b & 0xf0) === 0x00 || (b & 0xf0) === 0x10 ? b & 0x0f : -1;
  const len = block[1];
  if (nameIndex !== 8 || len === undefined) return 'answered';
  const value = block.subarray(2, 2 + (len & 0x7f));
  return (len & 0x80) === 0 ? value.toString('latin1') : huffmanDigits(value, 3) ?? 'answered';
}

/**
 * Decodes `n` digits of a Huffman-coded string (RFC 7541 Appendix B: '0'–'2' are 5-bit codes
 * 00000–00010, '3'–'9' 6-bit codes 011001–011111) — what a status code takes; undefined for
 * anything else.
 */
function huffmanDigits(bytes: Buffer, n: number): string | undefined {
  let out = '';
  let bit = 0;
  const read = (k: number): number => {
    let v = 0;
    for (let i = 0; i < k; i++, bit++) v = (v << 1) | (((bytes[bit >> 3] ?? 0xff) >> (7 - (bit & 7))) & 1);
    return v;
  };
  while (out.length < n && bit < bytes.length * 8) {
    const five = read(5);
    if (five <= 2) { out += String(five); continue; }
    const six = (five << 1) | read(1);
    if (six < 0b011001 || six > 0b011111) return undefined;
    out += String(six - 0b011001 + 3);
  }
  return out.length === n ? out : undefined;
}

/**
 * One field as a literal without indexing, its name as given (RFC 7541 §6.2.2) — upper case
 * included, which RFC 9113 §8.2.1 makes a malformed request: what a test of one needs.
 */
export function hpackLiteral(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x00]), hpackString(name), hpackString(value)]);
}

/** HEADERS carrying a whole header block, ending the stream (a request without a body). */
export function h2Headers(streamId: number, block: Buffer): Buffer {
  return h2Frame(H2_FRAME.HEADERS, END_STREAM | END_HEADERS, streamId, block);
}

/** A frame as read back: its header fields and payload. */
export interface H2Frame { type: number; flags: number; streamId: number; payload: Buffer }

/**
 * An incremental frame reader: feed it what the socket gives, it calls `onFrame` per whole frame.
 * Frames over `maxFrame` octets (the default SETTINGS_MAX_FRAME_SIZE is 16,384) end reading.
 */
export function h2FrameReader(onFrame: (f: H2Frame) => void, maxFrame = 1 << 24): (chunk: Buffer) => void {
  let buf: Buffer = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    while (buf.length >= 9) {
      const length = buf.readUIntBE(0, 3);
      if (length > maxFrame) throw new RangeError(`frame of ${length} octets`);
      if (buf.length < 9 + length) return;
      onFrame({ type: buf.readUInt8(3), flags: buf.readUInt8(4), streamId: buf.readUInt32BE(5) & 0x7fffffff, payload: buf.subarray(9, 9 + length) });
      buf = buf.subarray(9 + length);
    }
  };
}

/** A GOAWAY's error code (RFC 9113 §6.8: last stream id, then the code). */
export function goawayCode(f: H2Frame): number {
  return f.payload.length >= 8 ? f.payload.readUInt32BE(4) : -1;
}

/** Whether a frame is a SETTINGS that wants an acknowledgement. */
export function wantsSettingsAck(f: H2Frame): boolean {
  return f.type === H2_FRAME.SETTINGS && (f.flags & ACK) === 0;
}
