import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createKeyring, signToken, verifyToken, type TokenClaims } from '../../src/shield/reputation/token.js';

const secretA = Buffer.alloc(32, 1);
const secretB = Buffer.alloc(32, 2);
const keys = createKeyring(secretA);
const T0 = 1_800_000_000_000; // ms
const claims: TokenClaims = { k: 'clr', iat: T0 / 1000, exp: T0 / 1000 + 3600, p: '203.0.113.0/24', f: 'fp-1', id: 'abc', d: 16 };
const expect = { kind: 'clr' as const, prefix: '203.0.113.0/24', fingerprint: 'fp-1' };

test('a signed token verifies and round-trips its claims; the format is payload.mac in base64url', () => {
  const t = signToken(claims, keys);
  assert.match(t, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
  const r = verifyToken(t, keys, T0 + 1_000, expect);
  assert.ok(r.ok);
  assert.deepEqual(r.payload, { v: 1, kid: keys.current.id, ...claims });
});

test('any tampering with the payload or the MAC is refused', () => {
  const t = signToken(claims, keys);
  const [body, mac] = t.split('.') as [string, string];
  const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), p: '198.51.100.0/24' })).toString('base64url');
  assert.deepEqual(verifyToken(`${forged}.${mac}`, keys, T0, { ...expect, prefix: '198.51.100.0/24' }), { ok: false, reason: 'bad-mac' });
  // Every single-character change of the MAC.
  for (let i = 0; i < mac.length; i++) {
    const c = mac[i] === 'A' ? 'B' : 'A';
    const r = verifyToken(`${body}.${mac.slice(0, i)}${c}${mac.slice(i + 1)}`, keys, T0, expect);
    assert.equal(r.ok, false);
  }
  for (const bad of ['', '.', 'abc', `${body}.`, `.${mac}`, `${body}.${mac}x`, `${body}x.${mac}`, 'x'.repeat(5000), `e30.${mac}`]) {
    const r = verifyToken(bad, keys, T0, expect);
    assert.equal(r.ok, false, bad.slice(0, 40));
  }
});

test('expiry, issue time in the future, wrong kind, wrong prefix, wrong fingerprint', () => {
  const t = signToken(claims, keys);
  assert.equal(verifyToken(t, keys, T0 + 3_599_999, expect).ok, true);
  const expired = verifyToken(t, keys, T0 + 3_600_000, expect);
  assert.equal(expired.ok, false);
  assert.equal(!expired.ok && expired.reason, 'expired');
  assert.equal(!expired.ok && expired.payload?.id, 'abc', 'the payload of a genuine but expired token is reported');
  assert.deepEqual(verifyToken(t, keys, T0 - 61_000, expect), { ok: false, reason: 'not-yet-valid', payload: { v: 1, kid: keys.current.id, ...claims } });
  assert.equal(verifyToken(t, keys, T0 - 59_000, expect).ok, true, 'a minute of clock skew between instances is tolerated');
  assert.deepEqual(verifyToken(t, keys, T0, { ...expect, kind: 'rep' }), { ok: false, reason: 'wrong-kind' });
  const other = verifyToken(t, keys, T0, { ...expect, prefix: '203.0.114.0/24' });
  assert.equal(!other.ok && other.reason, 'wrong-prefix');
  const fp = verifyToken(t, keys, T0, { ...expect, fingerprint: 'fp-2' });
  assert.equal(!fp.ok && fp.reason, 'wrong-fingerprint');
  const nofp = verifyToken(t, keys, T0, { kind: 'clr', prefix: '203.0.113.0/24' });
  assert.equal(!nofp.ok && nofp.reason, 'wrong-fingerprint', 'a bound token needs its fingerprint');
  const unbound = signToken({ ...claims, f: undefined }, keys);
  assert.equal(verifyToken(unbound, keys, T0, { ...expect, fingerprint: 'anything' }).ok, true, 'a token issued without fingerprint binds to none');
});

test('key rotation: tokens of the previous key stay valid, tokens of a retired key are refused', () => {
  const old = signToken(claims, createKeyring(secretA));
  const rotated = createKeyring(secretB, secretA);
  assert.equal(verifyToken(old, rotated, T0, expect).ok, true, 'previous key accepted');
  const fresh = signToken(claims, rotated);
  assert.equal(JSON.parse(Buffer.from(fresh.split('.')[0]!, 'base64url').toString()).kid, rotated.current.id, 'new tokens use the current key');
  assert.equal(verifyToken(fresh, rotated, T0, expect).ok, true);
  const retired = createKeyring(Buffer.alloc(32, 3), secretB);
  assert.deepEqual(verifyToken(old, retired, T0, expect), { ok: false, reason: 'unknown-key' });
  // A token claiming the current key id but signed with another secret.
  const impostor = signToken(claims, { current: { ...createKeyring(Buffer.alloc(32, 9)).current, id: rotated.current.id } });
  assert.deepEqual(verifyToken(impostor, rotated, T0, expect), { ok: false, reason: 'bad-mac' });
});

test('keyring and signing refuse weak inputs', () => {
  assert.throws(() => createKeyring(Buffer.alloc(16)), /at least 32 bytes/);
  assert.throws(() => signToken({ ...claims, f: 'x'.repeat(65) }, keys), /fingerprint/);
  assert.equal(createKeyring(secretA, secretA).previous, undefined, 'same secret twice is one key');
});
