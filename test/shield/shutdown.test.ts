import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/core/logger.js';
import { startShield } from '../../src/shield/start.js';
import { openSocket, startRecordingUpstream, waitClose } from '../helpers/servers.js';

test('graceful close: requests in flight finish (Connection: close), idle keep-alive closes, new connections are refused', async (t) => {
  const upstream = await startRecordingUpstream(t);
  upstream.handler = (req, res) => {
    if (req.url === '/slow') setTimeout(() => res.end('finished'), 400);
    else res.end('fast');
  };
  const shield = await startShield({
    config: parseConfig({ listen: { port: 0 }, admin: { port: 0 }, upstreams: { o: { url: upstream.url } }, routes: [{ upstream: 'o', match: { path: '/' } }], log: { level: 'silent' } }),
    logger: silentLogger(),
  });
  // An idle keep-alive connection, and one with a request in flight.
  const idle = await openSocket(shield.port);
  idle.write('GET /fast HTTP/1.1\r\nHost: x\r\n\r\n');
  await once(idle, 'data');
  const busy = await openSocket(shield.port);
  const got: Buffer[] = [];
  busy.on('data', (c: Buffer) => got.push(c));
  busy.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((r) => setTimeout(r, 100));

  const closing = shield.close({ graceMs: 5_000 });
  assert.equal(await waitClose(idle, 1_000), 'closed', 'the idle connection is closed at once');
  const refused = connect({ host: '127.0.0.1', port: shield.port });
  const [err] = await once(refused, 'error') as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNREFUSED');
  assert.equal(await waitClose(busy, 5_000), 'closed');
  const raw = Buffer.concat(got).toString();
  assert.match(raw, /^HTTP\/1\.1 200/);
  assert.match(raw, /\r\nconnection: close\r\n/i);
  assert.match(raw, /finished$/);
  await closing;
});
