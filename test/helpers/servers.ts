import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/core/logger.js';
import { startShield, type ShieldHandle } from '../../src/shield/start.js';

/** A request as the test upstream saw it. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  bodyBytes: number;
}

/** A recording upstream: remembers every request it received; the handler may be replaced per test. */
export interface RecordingUpstream {
  url: string;
  port: number;
  seen: SeenRequest[];
  handler: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;
  server: Server;
}

/** Starts a recording upstream on 127.0.0.1:0, closed after the test. */
export async function startRecordingUpstream(t: TestContext, opts: { consumeBody?: boolean } = {}): Promise<RecordingUpstream> {
  const up: RecordingUpstream = {
    url: '', port: 0, seen: [], server: undefined as unknown as Server,
    handler: (req, res) => {
      const body = JSON.stringify({ method: req.method, url: req.url });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    },
  };
  up.server = createServer((req, res) => {
    const record: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, bodyBytes: 0 };
    up.seen.push(record);
    if (opts.consumeBody === false) return up.handler(req, res, Buffer.alloc(0));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => { record.bodyBytes += c.length; if (record.bodyBytes < 1 << 20) chunks.push(c); });
    req.on('end', () => up.handler(req, res, Buffer.concat(chunks)));
  });
  up.server.listen(0, '127.0.0.1');
  await once(up.server, 'listening');
  up.port = (up.server.address() as AddressInfo).port;
  up.url = `http://127.0.0.1:${up.port}`;
  t.after(() => { up.server.closeAllConnections(); up.server.close(); });
  return up;
}

/** Starts a shield in this process on ephemeral ports in front of `upstreamUrl`, closed after the test. */
export async function startTestShield(t: TestContext, upstreamUrl: string, overrides: Record<string, unknown> = {}): Promise<ShieldHandle> {
  const config = parseConfig({
    listen: { address: '127.0.0.1', port: 0, ...(overrides.listen as object ?? {}) },
    admin: { address: '127.0.0.1', port: 0, token: 'test-admin-token-0123456789', ...(overrides.admin as object ?? {}) },
    upstreams: { origin: { url: upstreamUrl, timeoutMs: 2_000 } },
    routes: [
      { match: { path: '/pay/' }, upstream: 'origin', class: 'critical' },
      { match: { path: '/' }, upstream: 'origin', class: 'normal' },
    ],
    log: { level: 'silent', access: false },
    ...Object.fromEntries(Object.entries(overrides).filter(([k]) => k !== 'listen' && k !== 'admin')),
  });
  const shield = await startShield({ config, logger: silentLogger() });
  t.after(() => shield.close());
  return shield;
}

/**
 * Sends raw bytes on a fresh TCP connection (optionally from a given 127.x source) and returns
 * everything read until close or timeout. An array is written piece by piece, `gapMs` apart.
 */
export async function rawExchange(port: number, bytes: string | Buffer | readonly Buffer[], opts: { localAddress?: string; timeoutMs?: number; gapMs?: number } = {}): Promise<string> {
  const socket = connect({ host: '127.0.0.1', port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  const chunks: Buffer[] = [];
  socket.on('error', () => {});
  socket.on('data', (c: Buffer) => chunks.push(c));
  const pieces = Array.isArray(bytes) ? bytes as readonly Buffer[] : [bytes as string | Buffer];
  const writeAll = async (): Promise<void> => {
    for (const piece of pieces) {
      if (socket.destroyed) return;
      socket.write(piece);
      if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
    }
  };
  // A connection refused by the gate may be reset before or right after `connect`: both read as ''.
  socket.once('connect', () => void writeAll());
  await waitClose(socket, opts.timeoutMs ?? 3_000);
  return Buffer.concat(chunks).toString('latin1');
}

/** Resolves when the socket closes, or destroys it after `ms` and resolves then. */
export async function waitClose(socket: Socket, ms: number): Promise<'closed' | 'timeout'> {
  if (socket.destroyed) return 'closed';
  // A paused socket never reports the peer's FIN: keep it flowing so 'close' can arrive.
  socket.resume();
  return new Promise((resolve) => {
    const timer = setTimeout(() => { socket.destroy(); resolve('timeout'); }, ms);
    socket.once('close', () => { clearTimeout(timer); resolve('closed'); });
  });
}

/** Opens a TCP connection and waits until it is connected (or fails). */
export async function openSocket(port: number, localAddress?: string): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) });
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

/** Status code of the first response in a raw HTTP exchange. */
export const statusOf = (raw: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
