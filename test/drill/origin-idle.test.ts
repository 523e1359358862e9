import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { originIdle } from '../../src/drill/bench/ddos.js';

const listen = (s: Server): Promise<number> => new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
const close = (s: Server): Promise<void> => new Promise((resolve) => s.close(() => resolve()));

test('originIdle: an origin refusing its stats connection is a warning on the cell, never a thrown error', async () => {
  // A port nobody listens on: bind one, note it, close it.
  const probe = createServer();
  const port = await listen(probe);
  await close(probe);
  const warning = await originIdle(`http://127.0.0.1:${port}/__origin/stats`, 600);
  assert.match(warning ?? '', /did not answer.*ECONNREFUSED/);
});

test('originIdle: undefined once the origin is idle, a warning when it stays busy', async () => {
  let inFlight = 3;
  const s = createServer((_req, res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ inFlight, queued: 0 })); });
  const port = await listen(s);
  try {
    const url = `http://127.0.0.1:${port}/__origin/stats`;
    assert.match((await originIdle(url, 500)) ?? '', /not idle.*3 requests in flight/);
    setTimeout(() => { inFlight = 0; }, 300);
    assert.equal(await originIdle(url, 3_000), undefined);
  } finally {
    await close(s);
  }
});
