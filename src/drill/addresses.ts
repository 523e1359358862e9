import type { Rng } from './rng.js';

/**
 * Hands out distinct IPv4 source addresses across 127.0.0.0/8 (all routed to `lo` on Linux).
 * Legitimate users and attackers draw from the same allocator, interleaved at random across the
 * whole /8, so their sets are disjoint without forming a range a defence could key on.
 * 127.0.0.0/24 is left out: servers and proxies under test live there (127.0.0.1).
 */
export interface AddressAllocator {
  take(count: number): string[];
  /**
   * `count` new addresses, each in the /24 of one of `peers` (spread evenly over their /24s, the
   * host part drawn at random): attackers mixed into customers' subnets, so a per-/24 limit or
   * block cannot spare the customers. Throws when those /24s have no room left.
   */
  takeSharing(count: number, peers: readonly string[]): string[];
  readonly used: number;
}

/**
 * How attack sources sit relative to legitimate users' addresses: disjoint addresses, addresses in
 * the customers' /24s, or the customers' own addresses (bots behind the same carrier NAT, each
 * sending the User-Agent of a customer there).
 */
export type AddressLayout = 'disjoint' | 'shared-24' | 'shared-address';

/** The /24 of a dotted IPv4 address, e.g. "127.4.5". */
export const prefix24 = (addr: string): string => addr.slice(0, addr.lastIndexOf('.'));

/** Builds an allocator seeded by `rng`; at most ~16.6 million addresses exist, `take` refuses more. */
export function createAddressAllocator(rng: Rng): AddressAllocator {
  const used = new Set<string>();
  const maxAddresses = 256 * 256 * 254 - 254; // 127.b.c.d with d in 1..254, minus 127.0.0.0/24
  return {
    take(count) {
      if (used.size + count > maxAddresses / 2) throw new Error(`cannot allocate ${count} more loopback addresses`);
      const out: string[] = [];
      // Bounded: each draw succeeds with probability > 1/2 given the guard above.
      for (let attempts = 0; out.length < count && attempts < count * 64 + 1024; attempts++) {
        const b = rng.int(0, 255);
        const c = rng.int(0, 255);
        const d = rng.int(1, 254);
        if (b === 0 && c === 0) continue;
        const a = `127.${b}.${c}.${d}`;
        if (used.has(a)) continue;
        used.add(a);
        out.push(a);
      }
      if (out.length < count) throw new Error('address allocation did not converge');
      return out;
    },
    takeSharing(count, peers) {
      const nets = [...new Set(peers.map(prefix24))];
      if (count > 0 && nets.length === 0) throw new Error('shared-/24 layout: no legitimate address to share a /24 with');
      for (let i = nets.length - 1; i > 0; i--) { const j = rng.int(0, i); [nets[i], nets[j]] = [nets[j]!, nets[i]!]; }
      const free = nets.map((n) => { const hosts: number[] = []; for (let d = 1; d <= 254; d++) if (!used.has(`${n}.${d}`)) hosts.push(d); return hosts; });
      const room = free.reduce((a, h) => a + h.length, 0);
      if (count > room) {
        throw new Error(`shared-/24 layout: ${count} attack addresses do not fit in the ${nets.length} /24s of the legitimate users (${room} free); ` +
          'use fewer users per address (more customer /24s) or fewer sources');
      }
      const out: string[] = [];
      // Round-robin over the shuffled /24s; a full /24 is skipped. Bounded by count * nets.length.
      for (let k = 0, guard = 0; out.length < count && guard < count * nets.length + nets.length; k = (k + 1) % nets.length, guard++) {
        const hosts = free[k]!;
        if (hosts.length === 0) continue;
        const d = hosts.splice(rng.int(0, hosts.length - 1), 1)[0]!;
        const a = `${nets[k]}.${d}`;
        used.add(a);
        out.push(a);
      }
      return out;
    },
    get used() { return used.size; },
  };
}
