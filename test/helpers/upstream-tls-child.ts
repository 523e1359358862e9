// Run by test/shield/upstream-tls.test.ts in a process of its own, with NODE_EXTRA_CA_CERTS naming
// the fixture's certificate (read by Node only at start). Prints one JSON line of what it saw.
import { createServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { request } from 'undici';
import { parseConfig } from '../../src/config/load.js';
import { startShield } from '../../src/shield/start.js';
import { silentLogger } from '../../src/core/logger.js';

const dir = new URL('../fixtures/tls/', import.meta.url);
let handshakes = 0;
const sni: Array<string | false | null> = [];
const origin = createServer({ key: readFileSync(new URL('origin.key.pem', dir)), cert: readFileSync(new URL('origin.cert.pem', dir)) }, (req, res) => {
  res.end(`origin saw host=${req.headers.host}`);
});
origin.on('secureConnection', (s: TLSSocket) => { handshakes++; sni.push(s.servername); });
// A WebSocket handshake (RFC 6455 §4.2.2) answered by the origin over TLS.
origin.on('upgrade', (req, socket) => {
  const accept = createHash('sha1').update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
});
origin.listen(0, '127.0.0.1');
await once(origin, 'listening');
const url = `https://127.0.0.1:${(origin.address() as { port: number }).port}`;

async function through(servername: string | undefined, hosts: string[]) {
  handshakes = 0;
  sni.length = 0;
  const config = parseConfig({
    listen: { address: '127.0.0.1', port: 0 }, admin: { address: '127.0.0.1', port: 0 },
    upstreams: { o: { url, ...(servername !== undefined ? { servername } : {}) } },
    routes: [{ match: { path: '/live/' }, upstream: 'o', websocket: true }, { match: { path: '/' }, upstream: 'o' }], log: { level: 'silent' },
  });
  const shield = await startShield({ config, logger: silentLogger() });
  const statuses: number[] = [];
  for (const host of hosts) {
    const r = await request(`${shield.url}/page`, { headers: { host } });
    statuses.push(r.statusCode);
    await r.body.dump();
  }
  // A WebSocket upgrade through the shield, with yet another Host.
  const ws = connect(shield.port, '127.0.0.1');
  let head = '';
  ws.on('data', (c: Buffer) => { head += c.toString('latin1'); });
  ws.write('GET /live/1 HTTP/1.1\r\nHost: live.example.fr\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  for (let i = 0; i < 100 && !head.includes('\r\n\r\n'); i++) await new Promise((r) => setTimeout(r, 20));
  ws.destroy();
  statuses.push(Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0));
  await shield.close();
  return { statuses, handshakes, sni: [...new Set(sni)] };
}

const hosts = ['www.example.fr', ...Array.from({ length: 20 }, (_, i) => `r${i}-${Math.random().toString(36).slice(2, 8)}.example.fr`)];
const out = {
  byAddress: await through(undefined, hosts),
  byName: await through('origin.internal', hosts.slice(0, 5)),
  wrongName: await through('other.internal', hosts.slice(0, 2)),
};
origin.close();
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
