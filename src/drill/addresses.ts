import type { Rng } from './rng.js';

/**
 * Hands out distinct IPv4 source addresses across 127.0.0.0/8 (all routed to `lo` on Linux).
 * Legitimate users and attackers draw from the same allocator, interleaved at random across the
 * whole /8, so their sets are disjoint without forming a range a defence could key on.
 * 127.0.0.0/24 is left out: servers and proxies under test live there (127.0.0.1).
 */
export interface AddressAllocator {
  take(count: number): string[];
  readonly used: number;
}

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
    get used() { return used.size; },
  };
}
