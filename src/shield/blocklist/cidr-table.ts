import { formatCidr, ipv4Mask, ipv6Mask, parseCidr, parseIp, type Cidr, type ParsedIp } from '../../core/ip.js';

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

/** The Map of one prefix length and the mask that turns an address into its key. */
interface Level<K, V> {
  readonly prefix: number;
  readonly mask: K;
  readonly map: Map<K, CidrEntry<V>>;
}

/** Levels present, longest prefix first: the order lookups probe them in. */
function descending<L extends { prefix: number }>(byPrefix: readonly (L | undefined)[]): L[] {
  return byPrefix.filter((level): level is L => level !== undefined).sort((a, b) => b.prefix - a.prefix);
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
  const v4: (Level<number, V> | undefined)[] = new Array(33).fill(undefined);
  const v6: (Level<bigint, V> | undefined)[] = new Array(129).fill(undefined);
  let levels4: Level<number, V>[] = [];
  let levels6: Level<bigint, V>[] = [];
  let size = 0;

  const add = (cidr: string | Cidr, value: V, expiresAt?: number): string => {
    const block = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
    const entry: CidrEntry<V> = Object.freeze({ cidr: formatCidr(block), block, value, expiresAt });
    let isNew: boolean;
    if (block.family === 4) {
      let level = v4[block.prefix];
      if (level === undefined) {
        level = v4[block.prefix] = { prefix: block.prefix, mask: ipv4Mask(block.prefix) | 0, map: new Map() };
        levels4 = descending(v4);
      }
      const key = block.network | 0;
      isNew = !level.map.has(key);
      level.map.set(key, entry);
    } else {
      let level = v6[block.prefix];
      if (level === undefined) {
        level = v6[block.prefix] = { prefix: block.prefix, mask: ipv6Mask(block.prefix), map: new Map() };
        levels6 = descending(v6);
      }
      const key = ipv6Key(block.network);
      isNew = !level.map.has(key);
      level.map.set(key, entry);
    }
    if (isNew) size++;
    return entry.cidr;
  };

  const remove = (cidr: string | Cidr): boolean => {
    let block: Cidr;
    try { block = typeof cidr === 'string' ? parseCidr(cidr) : cidr; } catch { return false; }
    if (block.family === 4) {
      const level = v4[block.prefix];
      if (level === undefined || !level.map.delete(block.network | 0)) return false;
      if (level.map.size === 0) { v4[block.prefix] = undefined; levels4 = descending(v4); }
    } else {
      const level = v6[block.prefix];
      if (level === undefined || !level.map.delete(ipv6Key(block.network))) return false;
      if (level.map.size === 0) { v6[block.prefix] = undefined; levels6 = descending(v6); }
    }
    size--;
    return true;
  };

  const lookupParsed = (ip: ParsedIp, now: number): CidrEntry<V> | undefined => {
    if (ip.family === 4) {
      for (const level of levels4) {
        const entry = level.map.get(ip.value & level.mask);
        if (entry !== undefined && isLive(entry, now)) return entry;
      }
    } else {
      for (const level of levels6) {
        const entry = level.map.get(ipv6Key(ip.value & level.mask));
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
    for (const level of levels4) yield* level.map.values();
    for (const level of levels6) yield* level.map.values();
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
