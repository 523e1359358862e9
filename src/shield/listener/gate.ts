import type { Socket } from 'node:net';
import type { Clock } from '../../core/clock.js';
import type { ShieldBus } from '../events.js';
import { readProxyHeader } from './proxy-header-reader.js';
import { setConnectionFacts } from './connection-facts.js';

/** Strips the IPv4-mapped prefix dual-stack sockets report (::ffff:1.2.3.4 → 1.2.3.4). */
export function normalizeAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** Ports the gate consults; implemented by the blocklist and the trusted-proxy matcher. */
export interface GatePorts {
  isBlocked(address: string, now: number): boolean;
  isTrusted(address: string): boolean;
  /** Several customers were seen behind this address (a carrier NAT): its cap is SHARED_CAP_FACTOR times higher. */
  isShared?(address: string): boolean;
  /** The key connections are counted under for the per-client cap (an IPv6 client's /64: shield/client-key.ts); default the address. */
  clientKey?(address: string): string;
}

/**
 * A shared address (detect/shared-addresses.ts) carries many customers: one bot behind it opening
 * the whole per-address allowance must not lock its customers out (cgnat-shared drill). Still
 * bounded: the global cap, and the header and body timeouts that end slow connections, hold.
 */
export const SHARED_CAP_FACTOR = 16;

/** Limits read on every connection; replaced whole on reload. */
export interface GateSettings {
  maxConnections: number;
  maxConnectionsPerClient: number;
  proxyProtocol: boolean;
  proxyHeaderTimeoutMs: number;
}

/** The connection gate: runs on `connection`, before any byte is parsed as HTTP. */
export interface ConnectionGate {
  (socket: Socket): void;
  readonly open: number;
  settings: GateSettings;
  /** Closes open connections whose address matches (used when a block is added). */
  disconnect(match: (address: string) => boolean): number;
  /** Connections per address, largest first (for the admin API). */
  top(n: number): Array<{ address: string; connections: number }>;
  destroyAll(): void;
}

/**
 * Builds the gate: blocklist, global and per-client connection caps, PROXY protocol from trusted
 * peers only. Refused sockets are reset at once — no HTTP parsing, no response bytes to write.
 */
export function createConnectionGate(ports: GatePorts, settings: GateSettings, clock: Clock, bus: ShieldBus,
  accept: (socket: Socket) => void): ConnectionGate {
  const byAddress = new Map<string, Set<Socket>>();
  // Open connections per client key: an IPv6 client rotating addresses in its prefix is one client.
  const byClient = new Map<string, number>();
  let open = 0;

  const refuse = (socket: Socket, address: string, reason: 'blocklist' | 'client-cap' | 'global-cap' | 'proxy-protocol'): void => {
    bus.emit('connection:refused', { address, reason });
    // RST rather than FIN: the peer gets no chance to keep the socket half-open (slowloris).
    if (typeof socket.resetAndDestroy === 'function' && !socket.destroyed) socket.resetAndDestroy();
    else socket.destroy();
  };

  const admit = (socket: Socket, address: string, trusted: boolean, peerSource: 'tcp' | 'proxy-protocol'): void => {
    const s = gate.settings;
    if (ports.isBlocked(address, clock.now())) return refuse(socket, address, 'blocklist');
    if (s.maxConnections > 0 && open >= s.maxConnections) return refuse(socket, address, 'global-cap');
    const key = ports.clientKey?.(address) ?? address;
    const held = byClient.get(key) ?? 0;
    // A trusted proxy without PROXY protocol carries many clients on its connections: no per-address cap.
    const capped = !(trusted && address === normalizeAddress(socket.remoteAddress));
    if (capped && s.maxConnectionsPerClient > 0 && held >= s.maxConnectionsPerClient
      && !(held < s.maxConnectionsPerClient * SHARED_CAP_FACTOR && ports.isShared?.(key) === true)) {
      return refuse(socket, address, 'client-cap');
    }
    let set = byAddress.get(address);
    if (!set) { set = new Set(); byAddress.set(address, set); }
    set.add(socket);
    byClient.set(key, held + 1);
    open++;
    setConnectionFacts(socket, Object.freeze({ peer: address, peerSource, trusted, protocol: 'http/1.1', tls: undefined }));
    bus.emit('connection:open', { address });
    socket.once('close', () => {
      open--;
      const cur = byAddress.get(address);
      if (cur) { cur.delete(socket); if (cur.size === 0) byAddress.delete(address); }
      const n = (byClient.get(key) ?? 1) - 1;
      if (n <= 0) byClient.delete(key); else byClient.set(key, n);
      bus.emit('connection:close', { address });
    });
    accept(socket);
  };

  const gate = ((socket: Socket) => {
    socket.on('error', () => { /* resets by clients are routine; the close handler accounts for them */ });
    const peer = normalizeAddress(socket.remoteAddress);
    const trusted = ports.isTrusted(peer);
    if (!trusted || !gate.settings.proxyProtocol) return admit(socket, peer, trusted, 'tcp');
    // Check the proxy itself first: a blocked load balancer gets nothing.
    if (ports.isBlocked(peer, clock.now())) return refuse(socket, peer, 'blocklist');
    readProxyHeader(socket, gate.settings.proxyHeaderTimeoutMs, (result) => {
      if (result.kind !== 'ok') return refuse(socket, peer, 'proxy-protocol');
      // LOCAL command (health checks from the balancer itself): the peer is the client.
      admit(socket, result.source ? normalizeAddress(result.source) : peer, result.source === undefined, result.source ? 'proxy-protocol' : 'tcp');
      // The reader paused the socket and put back the bytes after the header; the HTTP parser
      // reads them from the stream buffer once it flows again.
      if (!socket.destroyed) socket.resume();
    });
  }) as ConnectionGate;

  Object.defineProperty(gate, 'open', { get: () => open });
  gate.settings = settings;
  gate.disconnect = (match) => {
    let n = 0;
    for (const [address, set] of byAddress) {
      if (!match(address)) continue;
      for (const s of set) { s.destroy(); n++; }
    }
    return n;
  };
  gate.top = (n) => [...byAddress].map(([address, set]) => ({ address, connections: set.size }))
    .sort((a, b) => b.connections - a.connections).slice(0, n);
  gate.destroyAll = () => { for (const set of byAddress.values()) for (const s of set) s.destroy(); };
  return gate;
}
