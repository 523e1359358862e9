// Run by test/shield/upstream-tls.test.ts in a process of its own, with NODE_EXTRA_CA_CERTS naming
// the fixture's certificate (read by Node only at start). Prints one JSON line of what it saw.
import { createServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
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
origin.listen(0, '127.0.0.1');
await once(origin, 'listening');
const url = `https://127.0.0.1:${(origin.address() as { port: number }).port}`;

async function through(servername: string | undefined, hosts: string[]) {
  handshakes = 0;
  sni.length = 0;
  const config = parseConfig({
    listen: { address: '127.0.0.1', port: 0 }, admin: { address: '127.0.0.1', port: 0 },
    upstreams: { o: { url, ...(servername !== undefined ? { servername } : {}) } }, routes: [{ match: { path: '/' }, upstream: 'o' }], log: { level: 'silent' },
  });
  const shield = await startShield({ config, logger: silentLogger() });
  const statuses: number[] = [];
  for (const host of hosts) {
    const r = await request(`${shield.url}/page`, { headers: { host } });
    statuses.push(r.statusCode);
    await r.body.dump();
  }
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
