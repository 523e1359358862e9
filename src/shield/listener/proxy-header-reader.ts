import type { Socket } from 'node:net';
import { parseProxyHeader } from '../proxy-protocol/parse.js';

/** Outcome of reading a PROXY header off a fresh connection. */
export type ProxyHeaderResult =
  | { kind: 'ok'; source: string | undefined }
  | { kind: 'invalid'; reason: string }
  | { kind: 'timeout' };

/**
 * Reads the PROXY protocol v1/v2 header that a trusted load balancer sends first, then hands the
 * socket on with any bytes after the header put back, so the HTTP parser sees the request intact.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number, done: (r: ProxyHeaderResult) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  let finished = false;
  const finish = (r: ProxyHeaderResult, rest?: Buffer): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('close', onClose);
    socket.pause();
    if (rest && rest.length > 0) socket.unshift(rest);
    done(r);
  };
  const onData = (chunk: Buffer): void => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const parsed = parseProxyHeader(buf);
    // The parser bounds both versions (v1 107 bytes, v2 4 KiB), so "incomplete" cannot grow forever.
    if (parsed.kind === 'incomplete') return;
    if (parsed.kind === 'invalid') return finish({ kind: 'invalid', reason: parsed.reason });
    finish({ kind: 'ok', source: parsed.command === 'proxy' ? parsed.source?.address : undefined }, buf.subarray(parsed.consumed));
  };
  const onClose = (): void => finish({ kind: 'invalid', reason: 'closed before header' });
  const timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs);
  socket.on('data', onData);
  socket.once('close', onClose);
}
