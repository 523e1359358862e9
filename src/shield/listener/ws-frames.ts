import { randomBytes } from 'node:crypto';

/**
 * Follows WebSocket frame boundaries (RFC 6455 §5.2) in one direction of a tunnel without buffering
 * or unmasking: it reads each frame header and skips its payload. The proxy relays bytes as they
 * come; it needs the boundaries only to insert its own close frame between two frames (§5.4 allows
 * a control frame between the fragments of a message) rather than in the middle of one.
 */
export interface FrameTracker {
  /**
   * Advances over `chunk`; with `stopAtBoundary`, stops right after the first frame that ends in it.
   * Returns how many bytes were consumed.
   */
  consume(chunk: Buffer, stopAtBoundary: boolean): number;
  /** True between frames (nothing of a frame seen yet, or the last one complete). */
  readonly atBoundary: boolean;
  /** Frames completed so far (control frames and each fragment of a message count one). */
  readonly completed: number;
}

/** Creates a tracker positioned at a frame boundary. */
export function createFrameTracker(): FrameTracker {
  const header = Buffer.alloc(14); // 2 + 8 (extended length) + 4 (masking key)
  let have = 0; // header bytes collected
  let need = 2; // header bytes needed (grows once byte 1 is known)
  let payload = 0; // payload bytes left in the current frame
  let inPayload = false;
  let completed = 0;
  return {
    get atBoundary() { return have === 0 && !inPayload; },
    get completed() { return completed; },
    consume(chunk, stopAtBoundary) {
      let i = 0;
      while (i < chunk.length) {
        if (inPayload) {
          const n = Math.min(payload, chunk.length - i);
          payload -= n;
          i += n;
          if (payload === 0) { inPayload = false; completed++; if (stopAtBoundary) return i; }
          continue;
        }
        header[have++] = chunk[i++] as number;
        if (have === 2) {
          const len7 = (header[1] as number) & 0x7f;
          const masked = ((header[1] as number) & 0x80) !== 0;
          need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
        }
        if (have < need) continue;
        const len7 = (header[1] as number) & 0x7f;
        // 2^53 bytes is beyond any frame a tunnel will see; Number keeps the arithmetic exact below it.
        payload = len7 === 126 ? header.readUInt16BE(2) : len7 === 127 ? Number(header.readBigUInt64BE(2)) : len7;
        have = 0;
        need = 2;
        if (payload > 0) { inPayload = true; continue; }
        completed++;
        if (stopAtBoundary) return i;
      }
      return i;
    },
  };
}

/** Most messages `messagesAhead` counts: beyond this a tunnel is a flood whatever the exact number. */
export const MESSAGES_AHEAD_MAX = 64;

/**
 * Messages a client already sent behind the frame that starts at `from` in `buf`: frames after it
 * whose header is in `buf` and whose opcode starts a message (text or binary, RFC 6455 §5.2),
 * skipping each payload; it stops at the first header or payload that runs past `buf`, or at
 * MESSAGES_AHEAD_MAX. A tunnel whose reading paused while a message waited for the upstream finds,
 * when it reads again, what its client kept sending meanwhile: a backlog is the load it offers
 * beyond what it is served, as pipelined requests are for a connection (listener/pipelining.ts).
 */
export function messagesAhead(buf: Buffer, from: number): number {
  let n = 0;
  let off = from;
  let first = true;
  // Bounded: each pass moves `off` forward by at least a 2-byte header.
  while (off + 2 <= buf.length && n < MESSAGES_AHEAD_MAX) {
    const b0 = buf[off] as number;
    const b1 = buf[off + 1] as number;
    const len7 = b1 & 0x7f;
    const headerBytes = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + ((b1 & 0x80) !== 0 ? 4 : 0);
    if (off + headerBytes > buf.length) break;
    const payload = len7 === 126 ? buf.readUInt16BE(off + 2) : len7 === 127 ? Number(buf.readBigUInt64BE(off + 2)) : len7;
    const opcode = b0 & 0x0f;
    if (!first && (opcode === 0x1 || opcode === 0x2)) n++;
    first = false;
    off += headerBytes + payload;
  }
  return n;
}

/** WebSocket close status codes we send (RFC 6455 §7.4.1). */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
/** "Try Again Later" (IANA WebSocket Close Code Number Registry): the server is busy; reconnect later. */
export const CLOSE_TRY_AGAIN_LATER = 1013;

/**
 * A close frame: unmasked toward the client (server role), masked with a fresh random key toward
 * the upstream (client role, RFC 6455 §5.3). The reason is cut to fit a control frame (125 bytes).
 */
export function closeFrame(code: number, reason: string, masked: boolean): Buffer {
  const text = Buffer.from(reason, 'utf8').subarray(0, 123);
  const body = Buffer.alloc(2 + text.length);
  body.writeUInt16BE(code, 0);
  text.copy(body, 2);
  if (!masked) return Buffer.concat([Buffer.from([0x88, body.length]), body]);
  const key = randomBytes(4);
  for (let i = 0; i < body.length; i++) body[i] = (body[i] as number) ^ (key[i % 4] as number);
  return Buffer.concat([Buffer.from([0x88, 0x80 | body.length]), key, body]);
}
