import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('an https upstream is named by its url (or servername), never by the client\'s Host: no 502 for the public name, no TLS handshake per Host value, a wrong name refused', () => {
  const child = fileURLToPath(new URL('../helpers/upstream-tls-child.ts', import.meta.url));
  const ca = fileURLToPath(new URL('../fixtures/tls/origin.cert.pem', import.meta.url));
  const r = spawnSync(process.execPath, ['--import', 'tsx', child], { env: { ...process.env, NODE_EXTRA_CA_CERTS: ca }, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, { statuses: number[]; handshakes: number; sni: Array<string | false | null> }>;
  // By address: 21 requests with 21 Host values (the site's name and a flood's random ones), all
  // answered, over one TLS connection, no SNI (an address is not a name), the certificate checked
  // against the address. Before: 502 for every one (the certificate checked against the Host).
  // The last status of each run is a WebSocket upgrade through the shield (its own connection to the origin).
  assert.deepEqual(out.byAddress?.statuses, [...Array.from({ length: 21 }, () => 200), 101]);
  assert.equal(out.byAddress?.handshakes, 2, 'one connection for every Host value, and the tunnel\'s own');
  assert.deepEqual(out.byAddress?.sni, [false]);
  // By the name configured: sent as SNI and checked.
  assert.deepEqual(out.byName?.statuses, [200, 200, 200, 200, 200, 101]);
  assert.deepEqual(out.byName?.sni, ['origin.internal']);
  // A name the certificate does not carry: refused, never sent to an unverified server.
  assert.deepEqual(out.wrongName?.statuses, [502, 502, 502]);
});
