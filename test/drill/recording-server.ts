import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

/** One request as the recording server saw it. */
export interface Recorded {
  t: number;
  addr: string;
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string, n: number) => void | Promise<void>;

/** A loopback HTTP server that records every request (and every connection's source) and answers with `handler`. */
export async function startRecordingServer(handler: Handler = (_q, res) => { res.end('ok'); }) {
  const requests: Recorded[] = [];
  const connections: Array<{ t: number; addr: string }> = [];
  const t0 = performance.now();
  let n = 0;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    try {
      for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
    } catch {
      return; // the client went away mid-body (slow POST cut at the end of a run)
    }
    const body = Buffer.concat(chunks).toString('utf8');
    const addr = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    requests.push({ t: performance.now() - t0, addr, method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
    await handler(req, res, body, n++);
  });
  // Slow attacks must be able to hold connections for the whole test.
  server.headersTimeout = 120_000;
  server.requestTimeout = 0;
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s) => connections.push({ t: performance.now() - t0, addr: (s.remoteAddress ?? '').replace(/^::ffff:/, '') }));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    connections,
    close: async () => { server.closeAllConnections(); await new Promise<void>((r) => server.close(() => r())); },
  };
}
