import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCidrTable } from '../../src/shield/blocklist/cidr-table.js';
import { cidrContains, formatCidr, formatIp, parseCidr, parseIp, type Cidr, type ParsedIp } from '../../src/core/ip.js';
import { createPrng, randomInt, randomUint32 } from './prng.js';

test('the most specific live block wins, across families and spellings', () => {
  const table = createCidrTable<string>();
  assert.equal(table.add('10.0.0.0/8', 'wide'), '10.0.0.0/8');
  assert.equal(table.add('10.1.2.3/16', 'narrow'), '10.1.0.0/16');
  table.add('10.1.2.3', 'host');
  table.add('2001:db8::/32', 'v6-wide');
  table.add('2001:db8:1::/48', 'v6-narrow');
  assert.equal(table.lookup('10.1.2.3', 0)?.value, 'host');
  assert.equal(table.lookup('10.1.2.4', 0)?.value, 'narrow');
  assert.equal(table.lookup('10.2.0.1', 0)?.value, 'wide');
  assert.equal(table.lookup('::ffff:10.1.2.3', 0)?.value, 'host');
  assert.equal(table.lookup('11.0.0.1', 0), undefined);
  assert.equal(table.lookup('2001:db8:1:ffff::1', 0)?.value, 'v6-narrow');
  assert.equal(table.lookup('2001:DB8:2::1', 0)?.value, 'v6-wide');
  assert.equal(table.lookup('2001:db9::', 0), undefined);
  assert.equal(table.lookup('not-an-ip', 0), undefined);
  assert.equal(table.lookup('', 0), undefined);
  assert.equal(table.size, 5);
  const parsed = parseIp('10.1.9.9') ?? assert.fail();
  assert.equal(table.lookupParsed(parsed, 0)?.cidr, '10.1.0.0/16');
});

test('adding the same block replaces it; remove takes any spelling and reports absence', () => {
  const table = createCidrTable<number>();
  table.add('192.0.2.0/24', 1);
  table.add('192.0.2.99/24', 2);
  table.add('::ffff:192.0.2.0/120', 3);
  assert.equal(table.size, 1);
  assert.equal(table.lookup('192.0.2.1', 0)?.value, 3);
  assert.equal(table.remove('192.0.2.1/24'), true);
  assert.equal(table.remove('192.0.2.0/24'), false);
  assert.equal(table.remove('not a cidr'), false);
  assert.equal(table.size, 0);
  assert.equal(table.lookup('192.0.2.1', 0), undefined);
  assert.throws(() => table.add('192.0.2.0/40', 1), /longer than 32 bits/);
  table.add('2001:db8::/64', 4);
  assert.equal(table.remove(parseCidr('2001:db8::5/64')), true);
  assert.equal(table.lookup('2001:db8::5', 0), undefined);
});

test('expired entries are ignored at lookup before any sweep, and sweep removes them', () => {
  const table = createCidrTable<string>();
  table.add('203.0.113.0/24', 'permanent');
  table.add('203.0.113.7', 'ten-seconds', 10_000);
  table.add('2001:db8::/64', 'v6-five-seconds', 5_000);
  assert.equal(table.lookup('203.0.113.7', 9_999)?.value, 'ten-seconds');
  assert.equal(table.lookup('203.0.113.7', 10_000)?.value, 'permanent'); // expiry is exclusive
  assert.equal(table.lookup('2001:db8::1', 4_999)?.value, 'v6-five-seconds');
  assert.equal(table.lookup('2001:db8::1', 5_000), undefined);
  assert.deepEqual(table.entries(6_000).map((e) => e.cidr), ['203.0.113.7/32', '203.0.113.0/24']);
  assert.equal(table.size, 3);
  assert.equal(table.sweep(6_000), 1);
  assert.equal(table.sweep(6_000), 0);
  assert.equal(table.size, 2);
  assert.equal(table.sweep(20_000), 1);
  assert.deepEqual(table.entries(20_000).map((e) => [e.cidr, e.value, e.expiresAt]), [['203.0.113.0/24', 'permanent', undefined]]);
});

test('entries lists live entries with canonical text, value and expiry', () => {
  const table = createCidrTable<{ reason: string }>();
  table.add('2001:DB8::1', { reason: 'a' }, 50);
  table.add('10.0.0.0/8', { reason: 'b' });
  const listed = table.entries(0).map((e) => ({ cidr: e.cidr, reason: e.value.reason, expiresAt: e.expiresAt }));
  assert.deepEqual(listed, [
    { cidr: '10.0.0.0/8', reason: 'b', expiresAt: undefined },
    { cidr: '2001:db8::1/128', reason: 'a', expiresAt: 50 },
  ]);
});

/** A random block with a realistic mix of prefix lengths, near `base` half of the time so blocks nest. */
function randomBlock(random: () => number): Cidr {
  if (random() < 0.75) {
    const prefix = [32, 32, 32, 31, 28, 24, 24, 20, 16, 12, 8, 0][randomInt(random, 0, 11)] ?? 32;
    const value = random() < 0.5 ? (0x0a000000 | (randomUint32(random) & 0xffff)) >>> 0 : randomUint32(random);
    return parseCidr(`${formatIp({ family: 4, value })}/${prefix}`);
  }
  const prefix = [128, 128, 64, 64, 56, 48, 32, 1][randomInt(random, 0, 7)] ?? 128;
  const high = random() < 0.5 ? 0x20010db8n : BigInt(randomUint32(random));
  const value = (high << 96n) | (BigInt(randomUint32(random) & 0xff) << 64n) | BigInt(randomUint32(random) & 0xf);
  return parseCidr(`${formatIp({ family: 6, value })}/${prefix}`);
}

function randomAddress(random: () => number, blocks: readonly Cidr[]): ParsedIp {
  const near = blocks[randomInt(random, 0, blocks.length - 1)];
  if (near !== undefined && random() < 0.6) {
    // Somewhere inside or just next to an existing block, so hits and near misses are common.
    if (near.family === 4) return { family: 4, value: (near.network + randomInt(random, 0, 300)) >>> 0 };
    return { family: 6, value: near.network + BigInt(randomInt(random, 0, 20)) };
  }
  if (random() < 0.7) return { family: 4, value: randomUint32(random) };
  return { family: 6, value: (0x20010db8n << 96n) | (BigInt(randomUint32(random) & 0xff) << 64n) | BigInt(randomUint32(random) & 0xf) };
}

test('lookup agrees with a linear scan on thousands of random blocks and addresses (seeded)', () => {
  const random = createPrng(20240601);
  const table = createCidrTable<number>();
  const model = new Map<string, { block: Cidr; value: number; expiresAt: number | undefined }>();
  for (let n = 0; n < 4000; n++) {
    const block = randomBlock(random);
    const expiresAt = random() < 0.3 ? randomInt(random, 1, 1000) : undefined;
    table.add(block, n, expiresAt);
    model.set(formatCidr(block), { block, value: n, expiresAt });
  }
  const blocks = [...model.values()].map((e) => e.block);
  const check = (now: number): number => {
    let hits = 0;
    for (let n = 0; n < 4000; n++) {
      const ip = randomAddress(random, blocks);
      let best: { block: Cidr; value: number } | undefined;
      for (const entry of model.values()) {
        const live = entry.expiresAt === undefined || now < entry.expiresAt;
        if (live && cidrContains(entry.block, ip) && (best === undefined || entry.block.prefix > best.block.prefix)) best = entry;
      }
      const found = table.lookupParsed(ip, now);
      assert.equal(found?.value, best?.value, `${formatIp(ip)} at ${now}`);
      assert.equal(table.lookup(formatIp(ip), now)?.value, best?.value);
      if (best !== undefined) hits++;
    }
    return hits;
  };
  assert.equal(table.size, model.size);
  assert.ok(check(0) > 1000, 'the random addresses must exercise hits');
  check(500);
  for (const [cidr, entry] of model) {
    if (random() < 0.5) { assert.equal(table.remove(cidr), true); model.delete(cidr); } else if (entry.expiresAt !== undefined && entry.expiresAt <= 700) model.delete(cidr);
  }
  table.sweep(700);
  assert.equal(table.size, model.size);
  check(700);
});

test('thousands of IPv6 /64 and /128 blocks in one /48 stay distinct', () => {
  const table = createCidrTable<number>();
  for (let n = 0; n < 3000; n++) table.add(`2001:db8:0:${n.toString(16)}::/64`, n);
  for (let n = 0; n < 3000; n++) table.add(`2001:db8:0:1::${n.toString(16)}`, -n - 1);
  assert.equal(table.size, 6000);
  assert.equal(table.lookup('2001:db8:0:bb7::1', 0)?.value, 0xbb7);
  assert.equal(table.lookup('2001:db8:0:1::bb7', 0)?.value, -0xbb7 - 1);
  assert.equal(table.lookup('2001:db8:0:1::bb8', 0)?.value, 1); // falls back to the /64
  assert.equal(table.lookup('2001:db8:0:bb8::1', 0), undefined);
});

test('IPv6 /64 blocks spread over the hash table as well as /128s do', () => {
  // V8 hashes a BigInt by its low 64 bits only: unfolded /64 keys would all collide, making each
  // insert and lookup linear. Compare against /128s in the same run rather than against a clock.
  const fill = (cidr: (n: number) => string): number => {
    const table = createCidrTable<number>();
    const started = process.hrtime.bigint();
    for (let n = 0; n < 8000; n++) table.add(cidr(n), n);
    for (let n = 0; n < 8000; n++) assert.equal(table.lookup(cidr(n).replace(/\/\d+$/, ''), 0)?.value, n);
    return Number(process.hrtime.bigint() - started);
  };
  const hex = (n: number): string => n.toString(16);
  const hosts = fill((n) => `2001:db8::${hex(n >> 8)}:${hex(n & 255)}/128`);
  const nets = fill((n) => `2001:db8:${hex(n >> 8)}:${hex(n & 255)}::/64`);
  assert.ok(nets < hosts * 10, `/64 fill took ${nets} ns against ${hosts} ns for /128`);
});
