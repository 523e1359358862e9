import { formatCidr, ipv4Mask, ipv6Mask, parseCidr, parseIp, type Cidr, type ParsedIp } from '../net/ip.js';

/** One stored block: canonical CIDR text, parsed block, value, optional absolute expiry in ms. */
export interface CidrEntry<V> {
  readonly cidr: string;
  readonly block: Cidr;
  readonly value: V;
  readonly expiresAt: number | undefined;
}

/** A longest-prefix-match table of IPv4/IPv6 blocks whose lookup cost ignores its entry count. */
export interface CidrTable<V> {
  /** Adds or replaces the entry for a block; returns its canonical text. Throws on a bad CIDR. */
  add(cidr: string | Cidr, value: V, expiresAt?: number): string;
  /** Removes the entry for exactly this block (any spelling); false if absent or not a CIDR. */
  remove(cidr: string | Cidr): boolean;
  /** The most specific live entry containing the address; undefined also for a non-address. */
  lookup(ip: string, now: number): CidrEntry<V> | undefined;
  /** Same as lookup, for an address the caller parsed once. */
  lookupParsed(ip: ParsedIp, now: number): CidrEntry<V> | undefined;
  /** Live entries, IPv4 then IPv6, longest prefixes first (for the admin API). */
  entries(now: number): CidrEntry<V>[];
  /** Deletes expired entries; returns how many. */
  sweep(now: number): number;
  /** Stored entries, counting expired ones not yet swept. */
  readonly size: number;
}

function isLive(entry: CidrEntry<unknown>, now: number): boolean {
  return entry.expiresAt === undefined || now < entry.expiresAt;
}

/*
 * Keys. IPv4: the masked network as a signed int32, a small integer to V8 (a uint32 above 2^31
 * would be a boxed heap number). IPv6: V8 hashes a BigInt by its lowest 64-bit digit only, so
 * every /64 network (low half zero) would land in one bucket and a Map of them degrades to a
 * list; `n ^ (n >> 64)` is a bijection that moves the high half into the hashed digit.
 */
function ipv6Key(network: bigint): bigint {
  return network ^ (network >> 64n);
}

function descendingPresent(maps: readonly (Map<unknown, unknown> | undefined)[]): number[] {
  const out: number[] = [];
  for (let p = maps.length - 1; p >= 0; p--) if (maps[p] !== undefined) out.push(p);
  return out;
}

/**
 * Creates an empty table: one Map per prefix length present, keyed by masked network and probed
 * longest first, so a lookup costs at most one Map.get per distinct length (33 for IPv4, 129 for
 * IPv6) whether the table holds ten entries or a million.
 * @example
 * const blocks = createCidrTable<string>();
 * blocks.add('203.0.113.0/24', 'flood', clock.now() + 600_000);
 * blocks.lookup('::ffff:203.0.113.9', clock.now())?.value // 'flood'
 */
export function createCidrTable<V>(): CidrTable<V> {
  const v4: (Map<number, CidrEntry<V>> | undefined)[] = new Array(33).fill(undefined);
  const v6: (Map<bigint, CidrEntry<V>> | undefined)[] = new Array(129).fill(undefined);
  let lengths4: number[] = [];
  let lengths6: number[] = [];
  let size = 0;

  const add = (cidr: string | Cidr, value: V, expiresAt?: number): string => {
    const block = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
    const entry: CidrEntry<V> = Object.freeze({ cidr: formatCidr(block), block, value, expiresAt });
    let isNew: boolean;
    if (block.family === 4) {
      let map = v4[block.prefix];
      if (map === undefined) { map = v4[block.prefix] = new Map(); lengths4 = descendingPresent(v4); }
      const key = block.network | 0;
      isNew = !map.has(key);
      map.set(key, entry);
    } else {
      let map = v6[block.prefix];
      if (map === undefined) { map = v6[block.prefix] = new Map(); lengths6 = descendingPresent(v6); }
      const key = ipv6Key(block.network);
      isNew = !map.has(key);
      map.set(key, entry);
    }
    if (isNew) size++;
    return entry.cidr;
  };

  const remove = (cidr: string | Cidr): boolean => {
    let block: Cidr;
    try { block = typeof cidr === 'string' ? parseCidr(cidr) : cidr; } catch { return false; }
    if (block.family === 4) {
      const map = v4[block.prefix];
      if (map === undefined || !map.delete(block.network | 0)) return false;
      if (map.size === 0) { v4[block.prefix] = undefined; lengths4 = descendingPresent(v4); }
    } else {
      const map = v6[block.prefix];
      if (map === undefined || !map.delete(ipv6Key(block.network))) return false;
      if (map.size === 0) { v6[block.prefix] = undefined; lengths6 = descendingPresent(v6); }
    }
    size--;
    return true;
  };

  const lookupParsed = (ip: ParsedIp, now: number): CidrEntry<V> | undefined => {
    if (ip.family === 4) {
      for (const p of lengths4) {
        const entry = v4[p]?.get(ip.value & ipv4Mask(p));
        if (entry !== undefined && isLive(entry, now)) return entry;
      }
    } else {
      for (const p of lengths6) {
        const entry = v6[p]?.get(ipv6Key(ip.value & ipv6Mask(p)));
        if (entry !== undefined && isLive(entry, now)) return entry;
      }
    }
    return undefined;
  };

  const lookup = (ip: string, now: number): CidrEntry<V> | undefined => {
    const parsed = parseIp(ip);
    return parsed === undefined ? undefined : lookupParsed(parsed, now);
  };

  const stored = function* (): Generator<CidrEntry<V>> {
    for (const p of lengths4) yield* v4[p]?.values() ?? [];
    for (const p of lengths6) yield* v6[p]?.values() ?? [];
  };

  const entries = (now: number): CidrEntry<V>[] => {
    const out: CidrEntry<V>[] = [];
    for (const entry of stored()) if (isLive(entry, now)) out.push(entry);
    return out;
  };

  const sweep = (now: number): number => {
    const expired: Cidr[] = [];
    for (const entry of stored()) if (!isLive(entry, now)) expired.push(entry.block);
    for (const block of expired) remove(block);
    return expired.length;
  };

  return {
    add,
    remove,
    lookup,
    lookupParsed,
    entries,
    sweep,
    get size() { return size; },
  };
}
