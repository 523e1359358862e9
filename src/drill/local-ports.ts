import { buildConnector } from 'undici';
import { DRILL_TLS_OPTIONS } from './tls-target.js';
import { workerPortFor } from './module-worker.js';

/**
 * Local ports for the drill's sockets, chosen per source address by the drill instead of by the
 * kernel.
 *
 * Why: a socket bound to a source address with port 0 makes Linux search its ephemeral range for a
 * port that no socket bound to that address holds — TIME_WAIT ones included. Once one address has
 * opened and closed (client side first) a few thousand connections, every new bind walks most of the
 * range in the kernel, synchronously, on the drill's event loop. Measured: one address opening 1,000
 * connections a second collapsed to 10–20 a second after 7,000, with 60–200 ms of event-loop delay
 * per 20 ms tick; in bench layout cgnat-shared (800 WebSocket-hold sources behind the customers' two
 * carrier addresses, 1,500 handshakes a second) the drill's event loop stalled 7.6–9.6 s near the
 * end of the cell, at 100% of a core in system time, and every customer simulated in that process
 * waited with it: critical p99 34–55× that was the generator's, not the target's.
 *
 * An explicit port binds in constant time: libuv sets SO_REUSEADDR on every bind, so a port whose
 * last connection is in TIME_WAIT binds again, and on loopback the kernel reuses a TIME_WAIT 4-tuple
 * for a new outgoing connection (net.ipv4.tcp_tw_reuse = 2, the default) once a second has passed
 * since its last segment — long before a cursor over 41,000 ports comes back to it. Measured: 1,000
 * connections a second from one address for 45 s, 40,000 in TIME_WAIT, no delay over 20 ms.
 * A port still held by a live connection from the same address fails (EADDRNOTAVAIL at connect, or
 * EADDRINUSE against a listener on it): the undici connector tries the next one.
 */
export interface LocalPorts {
  /** The next port to bind a socket from `address` to. */
  next(address: string): number;
}

/**
 * The ranges cycled through, above the well-known and registered ports most services listen on: the
 * customers' thread (drill/population.ts) binds from the lower, everything else from the upper. A
 * cursor is module state, one per thread, and both threads bind from the same carrier addresses in
 * the cgnat-shared layout: two cursors starting at the same point of one range walked the same
 * ports in step, and the customers' sockets found them held by the bots' live connections
 * (login-crowd, cgnat-shared: 249 customer requests failed with EADDRNOTAVAIL, 40% success).
 */
export const CUSTOMER_PORT_RANGE: readonly [number, number] = Object.freeze([10_000, 19_999]) as readonly [number, number];
export const LOCAL_PORT_RANGE: readonly [number, number] = Object.freeze([20_000, 60_999]) as readonly [number, number];

/** A cursor per address over `range` (inclusive), each starting at a point derived from the address. */
export function createLocalPorts(range: readonly [number, number] = LOCAL_PORT_RANGE): LocalPorts {
  const [from, to] = range;
  if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 1 && to <= 65_535 && from <= to)) throw new RangeError(`local port range ${from}-${to} is not within 1-65535`);
  const span = to - from + 1;
  const cursors = new Map<string, number>();
  const start = (address: string): number => {
    // Spread the addresses' cursors over the range (FNV-1a of the address), so that two sources do
    // not walk the same ports in step — only ports of one address can collide, but a listener on a
    // wildcard address collides with all of them at once.
    let h = 0x811c9dc5;
    for (let i = 0; i < address.length; i++) h = Math.imul(h ^ address.charCodeAt(i), 0x01000193) >>> 0;
    return h % span;
  };
  return {
    next(address) {
      const c = cursors.get(address) ?? start(address);
      cursors.set(address, (c + 1) % span);
      return from + c;
    },
  };
}

/** The drill's ports: one cursor per source address for every socket this thread opens, in this thread's range. */
export const drillLocalPorts: LocalPorts = createLocalPorts(workerPortFor('population') ? CUSTOMER_PORT_RANGE : LOCAL_PORT_RANGE);

const BIND_FAILURES = new Set(['EADDRINUSE', 'EADDRNOTAVAIL']);

/**
 * An undici connector for pools whose connections come from `address` (over TLS, unverified, for an https:// target), each on the next
 * port of `ports`, trying up to `attempts` ports when one is taken.
 */
export function connectorFrom(address: string, ports: LocalPorts = drillLocalPorts, attempts = 8, allowH2 = false): buildConnector.connector {
  return (opts, callback) => {
    const attempt = (left: number): void => {
      // The TLS options apply to an https:// target only (drill/tls-target.ts); `allowH2` offers h2 in ALPN.
      buildConnector({ localPort: ports.next(address), ...DRILL_TLS_OPTIONS, ...(allowH2 ? { allowH2: true } : {}) } as buildConnector.BuildOptions)({ ...opts, localAddress: address }, (...args) => {
        const [err] = args;
        if (err && left > 1 && BIND_FAILURES.has((err as NodeJS.ErrnoException).code ?? '')) { attempt(left - 1); return; }
        callback(...args);
      });
    };
    attempt(attempts);
  };
}
