import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCidr, parseCidr } from '../../src/core/ip.js';
import { createNftState, nftAdd, nftForgetExpired, nftRemove, nftReset, nftTeardown } from '../../src/shield/blocklist/nft-script.js';

const t = { table: 'rempart', port: 8080 };
const add = (state: ReturnType<typeof createNftState>, cidr: string, expiresAt: number | undefined, now = 0): string[] =>
  nftAdd(t, state, formatCidr(parseCidr(cidr)), parseCidr(cidr), expiresAt, now);

test('nft script: the table is made anew in one batch (add, delete, add: a stale table is cleared), the chain before the default filter', () => {
  const state = createNftState();
  state.sets.add('b4_32');
  assert.deepEqual(nftReset(t, state), [
    'add table inet rempart',
    'delete table inet rempart',
    'add table inet rempart',
    'add chain inet rempart input { type filter hook input priority -10; policy accept; }',
  ]);
  assert.equal(state.sets.size, 0, 'a reset forgets the sets it declared');
  assert.deepEqual(nftTeardown(t), ['delete table inet rempart']);
});

test('nft script: one set and one rule per family and prefix length, declared once; the port and the mask are in the rule', () => {
  const state = createNftState();
  assert.deepEqual(add(state, '203.0.113.7/32', 600_000), [
    'add set inet rempart b4_32 { type ipv4_addr; flags timeout; }',
    'add rule inet rempart input tcp dport 8080 ip saddr @b4_32 drop',
    'add element inet rempart b4_32 { 203.0.113.7 timeout 600s }',
  ]);
  assert.deepEqual(add(state, '203.0.113.9/32', 600_000), ['add element inet rempart b4_32 { 203.0.113.9 timeout 600s }'], 'the set is declared once');
  assert.deepEqual(add(state, '198.51.100.0/24', undefined), [
    'add set inet rempart b4_24 { type ipv4_addr; flags timeout; }',
    'add rule inet rempart input tcp dport 8080 ip saddr & 255.255.255.0 @b4_24 drop',
    'add element inet rempart b4_24 { 198.51.100.0 }',
  ], 'a /24 inside nothing, permanent: no timeout');
  assert.deepEqual(add(state, '198.51.0.0/16', 1_000), [
    'add set inet rempart b4_16 { type ipv4_addr; flags timeout; }',
    'add rule inet rempart input tcp dport 8080 ip saddr & 255.255.0.0 @b4_16 drop',
    'add element inet rempart b4_16 { 198.51.0.0 timeout 1s }',
  ], 'a /16 over the /24 goes in a set of its own: nothing overlaps');
  assert.deepEqual(add(state, '2001:db8:1:2::/64', 30_000), [
    'add set inet rempart b6_64 { type ipv6_addr; flags timeout; }',
    'add rule inet rempart input tcp dport 8080 ip6 saddr & ffff:ffff:ffff:ffff:: @b6_64 drop',
    'add element inet rempart b6_64 { 2001:db8:1:2:: timeout 30s }',
  ]);
  assert.deepEqual(add(state, '2001:db8::1', undefined), [
    'add set inet rempart b6_128 { type ipv6_addr; flags timeout; }',
    'add rule inet rempart input tcp dport 8080 ip6 saddr @b6_128 drop',
    'add element inet rempart b6_128 { 2001:db8::1 }',
  ]);
  // An IPv4-mapped block is an IPv4 block (ip.ts parseCidr): the rule an IPv4 packet meets.
  assert.deepEqual(add(state, '::ffff:192.0.2.1', 5_000), [
    'add element inet rempart b4_32 { 192.0.2.1 timeout 5s }',
  ]);
});

test('nft script: the timeout is whole seconds rounded up, at least one — the kernel never lets a source in before the shield does', () => {
  const state = createNftState();
  add(state, '192.0.2.1', 1);
  assert.deepEqual(add(state, '192.0.2.2', 10_001, 10_000), ['add element inet rempart b4_32 { 192.0.2.2 timeout 1s }']);
  assert.deepEqual(add(state, '192.0.2.3', 12_500, 10_000), ['add element inet rempart b4_32 { 192.0.2.3 timeout 3s }']);
  assert.deepEqual(add(state, '192.0.2.4', 9_000, 10_000), ['add element inet rempart b4_32 { 192.0.2.4 timeout 1s }'], 'already past: still one second');
});

test('nft script: renewed blocks are added again; a block made permanent over a timed one is deleted first', () => {
  const state = createNftState();
  add(state, '192.0.2.1', 60_000);
  assert.deepEqual(add(state, '192.0.2.1', 600_000), ['add element inet rempart b4_32 { 192.0.2.1 timeout 600s }'], 're-adding sets the new timeout');
  assert.deepEqual(add(state, '192.0.2.1', undefined), [
    'delete element inet rempart b4_32 { 192.0.2.1 }',
    'add element inet rempart b4_32 { 192.0.2.1 }',
  ]);
  assert.deepEqual(add(state, '192.0.2.1', 60_000), ['add element inet rempart b4_32 { 192.0.2.1 timeout 60s }']);
});

test('nft script: a removal deletes what the kernel holds, nothing for what it never had or let expire', () => {
  const state = createNftState();
  add(state, '192.0.2.1', 60_000);
  add(state, '192.0.2.2', undefined);
  add(state, '192.0.2.3', 5_000);
  assert.deepEqual(nftRemove(t, state, '192.0.2.1/32', 1_000), ['delete element inet rempart b4_32 { 192.0.2.1 }']);
  assert.deepEqual(nftRemove(t, state, '192.0.2.1/32', 1_000), [], 'already removed');
  assert.deepEqual(nftRemove(t, state, '10.0.0.0/8', 1_000), [], 'never pushed');
  assert.deepEqual(nftRemove(t, state, '192.0.2.3/32', 5_000), [], 'expired in the kernel: a delete would fail the batch');
  assert.deepEqual(nftRemove(t, state, '192.0.2.2/32', 10 ** 12), ['delete element inet rempart b4_32 { 192.0.2.2 }'], 'a permanent block never expires');
  add(state, '192.0.2.4', 5_000);
  add(state, '192.0.2.5', 50_000);
  assert.equal(nftForgetExpired(state, 5_000), 1);
  assert.deepEqual([...state.elements.keys()], ['192.0.2.5/32']);
});
