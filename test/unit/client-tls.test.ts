import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientUsedTls } from '../../src/shield/client-tls.js';
import type { ConnectionFacts } from '../../src/shield/listener/connection-facts.js';

const conn = (trusted: boolean, tls = false): ConnectionFacts => ({ peer: '127.0.0.1', peerSource: 'tcp', trusted, protocol: 'http/1.1', tls: tls ? { version: 'TLSv1.3', sni: undefined, alpn: undefined } : undefined });

test('TLS is ours, or what a trusted terminator says it received; an untrusted peer\'s word counts for nothing', () => {
  assert.equal(clientUsedTls(conn(false, true), {}), true);
  assert.equal(clientUsedTls(conn(false), { 'x-forwarded-proto': 'https' }), false, 'anyone can send the field');
  assert.equal(clientUsedTls(conn(true), { 'x-forwarded-proto': 'https' }), true);
  assert.equal(clientUsedTls(conn(true), { 'x-forwarded-proto': 'HTTPS' }), true);
  assert.equal(clientUsedTls(conn(true), { 'x-forwarded-proto': 'https, http' }), false, 'the nearest hop\'s word');
  assert.equal(clientUsedTls(conn(true), { 'x-forwarded-proto': 'http, https' }), true);
  assert.equal(clientUsedTls(conn(true), { forwarded: 'for=192.0.2.60;proto=http, for=198.51.100.17;proto=https;by=203.0.113.43' }), true);
  assert.equal(clientUsedTls(conn(true), { forwarded: 'for=192.0.2.60;proto="https"' }), true);
  assert.equal(clientUsedTls(conn(true), { forwarded: 'for=192.0.2.60;proto=https, for=198.51.100.17' }), false);
  assert.equal(clientUsedTls(conn(true), { 'x-forwarded-proto': 'http', forwarded: 'proto=https' }), false, 'X-Forwarded-Proto first');
  assert.equal(clientUsedTls(conn(true), {}), false);
});
