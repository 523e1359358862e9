import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { createUpgradeAdapter } from '../../src/shield/listener/upgrade.js';
import type { Tunnels } from '../../src/shield/listener/tunnels.js';

test('an upgrade on a socket another answer still owns closes the connection instead of throwing out of the event', () => {
  const socket = new Socket();
  const req = new IncomingMessage(socket);
  new ServerResponse(req).assignSocket(socket); // an earlier answer, not finished
  let reached = false;
  const adapter = createUpgradeAdapter({} as Tunnels, () => { reached = true; });
  assert.doesNotThrow(() => adapter(req, socket, Buffer.alloc(0), { peer: '127.0.0.1', peerSource: 'tcp', trusted: false, protocol: 'http/1.1', tls: undefined }));
  assert.equal(socket.destroyed, true);
  assert.equal(reached, false, 'the pipeline never sees it');
});
