import { formatIpv4, formatIpv6, ipv4Mask, ipv6Mask, type Cidr } from '../../core/ip.js';

/**
 * The nftables commands that mirror the shield's connection-level blocklist in the kernel, so a
 * blocked source's SYNs are dropped before they cost the process an accept, a socket and a close
 * (`kernelBlocklist`, docs/configuration.md). Pure: what to say to `nft -f -`, no I/O.
 *
 * Layout, in a table of the shield's own (family `inet`: one table for IPv4 and IPv6):
 * - chain `input`, hooked at input just before the default filter priority;
 * - one set per family and prefix length present (`b4_32`, `b4_24`, `b6_64` …), `flags timeout`,
 *   holding network addresses, and one rule per set: `tcp dport PORT ip saddr & MASK @b4_24 drop`.
 * One set per prefix length, as the userspace table keeps one map per length (cidr-table.ts): no
 * element ever overlaps another, where an interval set refuses a /24 inside a /16 already there
 * ("interval overlaps with an existing one"). Timeouts are the kernel's: an element with the
 * block's TTL expires there without a word from us; re-adding one sets its new timeout.
 * Only the shield's listening port is matched: the kernel rule never reaches other services.
 */

/** Where the mirror writes: its own table, and the port its rules match. */
export interface NftTarget {
  readonly table: string;
  readonly port: number;
}

/** What the mirror has told the kernel so far: the sets declared, and each element with its expiry (ms; undefined: none). */
export interface NftState {
  readonly sets: Set<string>;
  readonly elements: Map<string, { readonly set: string; readonly element: string; readonly expiresAt: number | undefined }>;
}

export const createNftState = (): NftState => ({ sets: new Set(), elements: new Map() });

/** The set a block's network goes in, and its element text. */
function placeOf(block: Cidr): { set: string; element: string; match: string } {
  if (block.family === 4) {
    const set = `b4_${block.prefix}`;
    const mask = block.prefix === 32 ? '' : ` & ${formatIpv4(ipv4Mask(block.prefix))}`;
    return { set, element: formatIpv4(block.network), match: `ip saddr${mask} @${set}` };
  }
  const set = `b6_${block.prefix}`;
  const mask = block.prefix === 128 ? '' : ` & ${formatIpv6(ipv6Mask(block.prefix))}`;
  return { set, element: formatIpv6(block.network), match: `ip6 saddr${mask} @${set}` };
}

/**
 * The table made anew, empty: `add` first so the `delete` always finds one (nft 1.0.6 has no
 * `destroy`), in one batch, which nft applies atomically. Clears what a shield that died without
 * its stop left behind.
 */
export function nftReset(t: NftTarget, state: NftState): string[] {
  state.sets.clear();
  state.elements.clear();
  return [
    `add table inet ${t.table}`,
    `delete table inet ${t.table}`,
    `add table inet ${t.table}`,
    // Before the default filter priority (0): a drop here is the first word on the packet.
    `add chain inet ${t.table} input { type filter hook input priority -10; policy accept; }`,
  ];
}

/** The commands that remove the mirror: its table, sets and rule with it. */
export const nftTeardown = (t: NftTarget): string[] => [`delete table inet ${t.table}`];

/**
 * The commands for one block added (or renewed) until `expiresAt` (ms, undefined: until removed).
 * A block made permanent over one with a timeout is deleted first (re-adding keeps the old timeout
 * then); a renewed timeout is simply added again. The timeout is whole seconds, rounded up, at
 * least one: the kernel never drops a source for less than the shield does.
 */
export function nftAdd(t: NftTarget, state: NftState, cidr: string, block: Cidr, expiresAt: number | undefined, now: number): string[] {
  const { set, element, match } = placeOf(block);
  const out: string[] = [];
  if (!state.sets.has(set)) {
    state.sets.add(set);
    out.push(`add set inet ${t.table} ${set} { type ${block.family === 4 ? 'ipv4_addr' : 'ipv6_addr'}; flags timeout; }`);
    out.push(`add rule inet ${t.table} input tcp dport ${t.port} ${match} drop`);
  }
  const before = state.elements.get(cidr);
  if (expiresAt === undefined && before?.expiresAt !== undefined) out.push(`delete element inet ${t.table} ${set} { ${element} }`);
  const timeout = expiresAt === undefined ? '' : ` timeout ${Math.max(1, Math.ceil((expiresAt - now) / 1000))}s`;
  out.push(`add element inet ${t.table} ${set} { ${element}${timeout} }`);
  state.elements.set(cidr, { set, element, expiresAt });
  return out;
}

/**
 * The commands for one block removed; none when the kernel never had it or has let it expire
 * (deleting an element that is not there fails the whole batch).
 */
export function nftRemove(t: NftTarget, state: NftState, cidr: string, now: number): string[] {
  const e = state.elements.get(cidr);
  if (e === undefined) return [];
  state.elements.delete(cidr);
  if (e.expiresAt !== undefined && e.expiresAt <= now) return [];
  return [`delete element inet ${t.table} ${e.set} { ${e.element} }`];
}

/** Forgets elements whose timeout has passed (the kernel dropped them itself); returns how many. */
export function nftForgetExpired(state: NftState, now: number): number {
  let n = 0;
  for (const [cidr, e] of state.elements) if (e.expiresAt !== undefined && e.expiresAt <= now) { state.elements.delete(cidr); n++; }
  return n;
}
