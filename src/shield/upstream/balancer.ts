import { fmix32, fnv1a32 } from '../detect/fnv.js';

/** How an upstream spreads requests over its servers. */
export type BalanceKind = 'least-outstanding' | 'round-robin' | 'hash';

/**
 * What the balancer reads about one server. The server set updates these fields (health, slow
 * start, requests in flight); the balancer only reads them, so a pick allocates nothing.
 */
export interface BalancedServer {
  readonly index: number;
  /** Takes traffic only when no primary server is available. */
  readonly backup: boolean;
  /** Configured weight for the hash ring (slow start does not move keys). */
  readonly weight: number;
  /** Weight in force now: configured weight × slow-start factor. */
  effectiveWeight: number;
  /** False while ejected, probed down, draining or disabled. */
  available: boolean;
  /** Requests in flight on this server. */
  outstanding: number;
}

/** Chooses a server for one request; `exclude` is the server a retry must avoid. */
export interface Balancer {
  readonly kind: BalanceKind;
  pick(key: string | undefined, exclude: BalancedServer | undefined): BalancedServer | undefined;
}

// Virtual nodes per unit of weight on the hash ring: enough for a spread within a few per cent.
const POINTS_PER_WEIGHT = 160;

const eligible = (s: BalancedServer, backup: boolean, exclude: BalancedServer | undefined): boolean =>
  s.available && s.backup === backup && s !== exclude && s.effectiveWeight > 0;

/** True when some primary (non-backup) server other than `exclude` can take traffic. */
function anyPrimary(servers: readonly BalancedServer[], exclude: BalancedServer | undefined): boolean {
  for (const s of servers) if (eligible(s, false, exclude)) return true;
  return false;
}

/**
 * Least outstanding requests with the power of two choices (Mitzenmacher 2001; Envoy's
 * LEAST_REQUEST): two servers drawn at random by weight, the one with fewer requests in flight per
 * unit of weight wins. Cheaper than scanning for the minimum and avoids the herd that a strict
 * minimum sends to a server that just came back.
 */
function createP2C(servers: readonly BalancedServer[], random: () => number): Balancer {
  const draw = (backup: boolean, exclude: BalancedServer | undefined, total: number): BalancedServer | undefined => {
    let r = random() * total;
    let last: BalancedServer | undefined;
    for (const s of servers) {
      if (!eligible(s, backup, exclude)) continue;
      last = s;
      r -= s.effectiveWeight;
      if (r < 0) return s;
    }
    return last; // rounding at the very end of the range
  };
  return {
    kind: 'least-outstanding',
    pick(_key, exclude) {
      const backup = !anyPrimary(servers, exclude);
      let total = 0;
      let count = 0;
      let only: BalancedServer | undefined;
      for (const s of servers) {
        if (!eligible(s, backup, exclude)) continue;
        total += s.effectiveWeight;
        count++;
        only = s;
      }
      if (count <= 1) return only;
      const a = draw(backup, exclude, total) as BalancedServer;
      const b = draw(backup, exclude, total) as BalancedServer;
      return a.outstanding / a.effectiveWeight <= b.outstanding / b.effectiveWeight ? a : b;
    },
  };
}

/**
 * Smooth weighted round-robin (nginx's ngx_http_upstream_get_peer): each pick adds every server's
 * weight to its running score and takes the highest, which then pays back the total. Weights 5:1:1
 * give a,a,b,a,c,a,a rather than five a's in a row.
 */
function createRoundRobin(servers: readonly BalancedServer[]): Balancer {
  const current = new Float64Array(servers.length);
  return {
    kind: 'round-robin',
    pick(_key, exclude) {
      const backup = !anyPrimary(servers, exclude);
      let best: BalancedServer | undefined;
      let total = 0;
      for (const s of servers) {
        if (!eligible(s, backup, exclude)) continue;
        current[s.index] = (current[s.index] as number) + s.effectiveWeight;
        total += s.effectiveWeight;
        if (best === undefined || (current[s.index] as number) > (current[best.index] as number)) best = s;
      }
      if (best !== undefined) current[best.index] = (current[best.index] as number) - total;
      return best;
    },
  };
}

interface Ring { points: Uint32Array; owners: Uint16Array }

function buildRing(servers: readonly BalancedServer[], ids: readonly string[], backup: boolean): Ring {
  const entries: Array<[number, number]> = [];
  for (const s of servers) {
    if (s.backup !== backup) continue;
    const n = Math.max(1, Math.round(s.weight * POINTS_PER_WEIGHT));
    for (let v = 0; v < n; v++) entries.push([fmix32(fnv1a32(`${ids[s.index]}#${v}`)), s.index]);
  }
  entries.sort((x, y) => x[0] - y[0]);
  return { points: Uint32Array.from(entries, (e) => e[0]), owners: Uint16Array.from(entries, (e) => e[1]) };
}

/**
 * Consistent hashing on a key (Karger et al. 1997; a ring with virtual nodes per unit of weight):
 * a key keeps its server while that server is available, and when a server leaves only its own keys
 * move — to the next server clockwise — so an origin's cache stays warm. Ring points hash the
 * server's identity (its URL), not its position, so reordering the list moves nothing.
 */
function createHashRing(servers: readonly BalancedServer[], ids: readonly string[]): Balancer {
  const rings = [buildRing(servers, ids, false), buildRing(servers, ids, true)] as const;
  const walk = (ring: Ring, h: number, exclude: BalancedServer | undefined): BalancedServer | undefined => {
    const { points, owners } = ring;
    const n = points.length;
    if (n === 0) return undefined;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((points[mid] as number) < h) lo = mid + 1; else hi = mid;
    }
    for (let i = 0; i < n; i++) {
      const s = servers[owners[(lo + i) % n] as number] as BalancedServer;
      if (s.available && s !== exclude) return s;
    }
    return undefined;
  };
  return {
    kind: 'hash',
    pick(key, exclude) {
      const h = fmix32(fnv1a32(key ?? ''));
      return walk(rings[0], h, exclude) ?? walk(rings[1], h, exclude);
    },
  };
}

/**
 * Builds the balancer of one upstream over its servers. `ids` name the servers stably (their URLs)
 * for the hash ring; `random` is injected so tests replay a sequence.
 */
export function createBalancer(kind: BalanceKind, servers: readonly BalancedServer[], ids: readonly string[], random: () => number = Math.random): Balancer {
  if (kind === 'round-robin') return createRoundRobin(servers);
  if (kind === 'hash') return createHashRing(servers, ids);
  return createP2C(servers, random);
}
