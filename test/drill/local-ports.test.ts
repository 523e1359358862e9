import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Pool } from 'undici';
import { connectorFrom, createLocalPorts, type LocalPorts } from '../../src/drill/local-ports.js';

test('local ports: one cursor per address, in the range, wrapping at its end', () => {
  const ports = createLocalPorts([40_000, 40_002]);
  const a = [0, 1, 2, 3, 4, 5].map(() => ports.next('127.9.0.1'));
  for (const p of a) assert.ok(p >= 40_000 && p <= 40_002, `${p} outside the range`);
  // Three ports, each once, then the same order again.
  assert.equal(new Set(a.slice(0, 3)).size, 3);
  assert.deepEqual(a.slice(3), a.slice(0, 3));
  // Another address has a cursor of its own: drawing from it does not move the first one.
  const before = createLocalPorts([40_000, 40_002]);
  const x = before.next('127.9.0.1');
  before.next('127.9.0.2');
  before.next('127.9.0.2');
  assert.equal(before.next('127.9.0.1'), x === 40_002 ? 40_000 : x + 1);
  assert.throws(() => createLocalPorts([0, 10]), /not within 1-65535/);
  assert.throws(() => createLocalPorts([5000, 4000]), /not within/);
});

/** A server that answers every request and closes the connection (its side keeps the TIME_WAIT). */
async function answering(): Promise<{ server: Server; port: number; peers: Array<{ address: string; port: number }> }> {
  const peers: Array<{ address: string; port: number }> = [];
  const server = createServer((s: Socket) => {
    peers.push({ address: s.remoteAddress ?? '', port: s.remotePort ?? 0 });
    s.on('error', () => undefined);
    s.once('data', () => s.end('HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok'));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, peers };
}

/** Listens on `address` (port 0) and returns the port: a port of that address that nothing else may bind. */
async function occupy(address: string, port = 0): Promise<{ server: Server; port: number }> {
  const server = createServer();
  server.listen(port, address);
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

test('connectorFrom: undici connections leave from the address on the allocator\'s ports, skipping a taken one', async (t) => {
  const origin = await answering();
  t.after(() => origin.server.close());
  const address = '127.61.7.9';
  const taken = await occupy(address);
  t.after(() => taken.server.close());
  // Two ports: the taken one (a listener on it: EADDRINUSE) and the one after it.
  const calls: number[] = [];
  const inner = createLocalPorts([taken.port, taken.port + 1]);
  const ports: LocalPorts = { next: (a) => { const p = inner.next(a); calls.push(p); return p; } };
  const pool = new Pool(`http://127.0.0.1:${origin.port}`, { connections: 1, connect: connectorFrom(address, ports) });
  t.after(() => pool.close());
  for (let i = 0; i < 3; i++) {
    // The server closes after each answer: each request opens a new connection.
    const r = await pool.request({ path: '/', method: 'GET' });
    assert.equal(r.statusCode, 200);
    assert.equal(await r.body.text(), 'ok');
  }
  assert.equal(origin.peers.length, 3);
  for (const p of origin.peers) {
    assert.equal(p.address, address);
    assert.equal(p.port, taken.port + 1, 'every connection from the free port');
  }
  assert.ok(calls.includes(taken.port), 'the taken port was tried');
});

test('connectorFrom: when every port is taken, the bind error after `attempts` tries', async (t) => {
  const origin = await answering();
  t.after(() => origin.server.close());
  const address = '127.61.7.10';
  const a = await occupy(address);
  t.after(() => a.server.close());
  let calls = 0;
  const ports: LocalPorts = { next: () => { calls++; return a.port; } };
  const connect = connectorFrom(address, ports, 5);
  const err = await new Promise<Error | null>((resolve) => connect({ hostname: '127.0.0.1', protocol: 'http:', port: String(origin.port) }, (e, s) => { s?.destroy(); resolve(e); }));
  assert.equal((err as NodeJS.ErrnoException | null)?.code, 'EADDRINUSE');
  assert.equal(calls, 5);
  assert.equal(origin.peers.length, 0);
});
