import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptQueueUnder, connectionCapUnder, LISTEN_BACKLOG, readOpenFilesLimit, readSomaxconn, tunnelCapUnder } from '../../src/core/open-files.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

test('the open-files soft limit is read from /proc/self/limits; unlimited or unreadable is undefined', () => {
  assert.equal(readOpenFilesLimit(() => LIMITS), 1024);
  assert.equal(readOpenFilesLimit(() => LIMITS.replace('1024                 524288', 'unlimited            unlimited')), undefined);
  assert.equal(readOpenFilesLimit(() => { throw new Error('ENOENT'); }), undefined);
  assert.equal(readOpenFilesLimit(() => 'nothing here'), undefined);
  // On this machine (Linux) the real file is readable.
  assert.ok((readOpenFilesLimit() ?? 1) > 0);
});

test('the connection cap stays under the open-files limit, leaving descriptors for upstreams, spool and logs', () => {
  assert.equal(connectionCapUnder(20_000, 20_000), 18_976, 'a quarter, at most 1,024, kept back');
  assert.equal(connectionCapUnder(20_000, 1024), 768, 'the common soft limit: a quarter kept back');
  assert.equal(connectionCapUnder(500, 20_000), 500, 'a configured cap under the limit is kept');
  assert.equal(connectionCapUnder(0, 4096), 3072, 'unlimited by configuration, not by the kernel');
  assert.equal(connectionCapUnder(20_000, undefined), 20_000, 'unknown limit: the configuration');
  assert.equal(connectionCapUnder(0, undefined), 0);
  assert.ok(connectionCapUnder(100, 2) >= 1);
});

test('WebSocket tunnels (two descriptors each) are capped at a quarter of the connection cap', () => {
  assert.equal(tunnelCapUnder(10_000, 18_976), 4_744);
  assert.equal(tunnelCapUnder(100, 18_976), 100, 'a configured cap under it is kept');
  assert.equal(tunnelCapUnder(0, 768), 192, 'unlimited by configuration, not by descriptors');
  assert.equal(tunnelCapUnder(10_000, 0), 10_000, 'no connection cap: the configuration');
  assert.equal(tunnelCapUnder(10, 2), 1);
});

test('the accept queue: the backlog asked for, capped by net.core.somaxconn when it can be read', () => {
  assert.equal(readSomaxconn(() => '4096\n'), 4096);
  assert.equal(readSomaxconn(() => '128'), 128);
  assert.equal(readSomaxconn(() => { throw new Error('ENOENT'); }), undefined);
  assert.equal(readSomaxconn(() => 'x'), undefined);
  assert.ok((readSomaxconn() ?? 1) > 0, 'readable on this machine (Linux)');
  assert.equal(acceptQueueUnder(LISTEN_BACKLOG, 128), 128, 'an old kernel\'s default: the warning\'s case');
  assert.equal(acceptQueueUnder(LISTEN_BACKLOG, 65_535), LISTEN_BACKLOG);
  assert.equal(acceptQueueUnder(LISTEN_BACKLOG, undefined), LISTEN_BACKLOG, 'unknown: what the listener asks for');
});
