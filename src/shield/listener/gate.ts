import type { Socket } from 'node:net';
import type { Clock } from '../../core/clock.js';
import type { ShieldBus } from '../events.js';
import { readProxyHeader } from './proxy-header-reader.js';
import { setConnectionFacts } from './connection-facts.js';
import { createKeyedLimiter } from '../limits/keyed-limiter.js';
import { createRecencyMap } from '../../core/recency-map.js';
import type { GcraParams } from '../limits/gcra.js';

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
  /** Requests waiting behind the one being served on `socket` (pipelined): ConnectionFacts.pending. */
  pending?(socket: Socket): number;
  /**
   * Descriptors the listener's connections hold besides their own socket — a WebSocket tunnel's
   * upstream socket — counted against `maxConnections` with them: the cap is what the open-files
   * limit leaves (core/open-files.ts), and 7,400 tunnels held 14,800 descriptors while the gate
   * counted 7,400 (drill websocket-hold: the shield ran out of descriptors, and customers' new
   * connections waited in the kernel until some closed).
   */
  heldBeyond?(): number;
}

/**
 * A shared address (detect/shared-addresses.ts) carries many customers: one bot behind it opening
 * the whole per-address allowance must not lock its customers out (cgnat-shared drill). Still
 * bounded: the global cap, and the header and body timeouts that end slow connections, hold.
 */
export const SHARED_CAP_FACTOR = 16;

/** How long a client's last request-carrying connection exempts it from the empty-connection allowance. */
const REQUEST_HISTORY_MS = 60_000;
/** Clients whose last request the gate remembers for that (least recently seen forgotten first). */
const REQUEST_HISTORY_KEYS = 100_000;

/** Limits read on every connection; replaced whole on reload. */
export interface GateSettings {
  maxConnections: number;
  maxConnectionsPerClient: number;
  /** Connections that carried no request, per client (GCRA); undefined: not limited. */
  emptyConnections?: GcraParams | undefined;
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
  /**
   * `outer` carries the connection `raw` was admitted as from now on (a TLS socket over it):
   * `busy` and `done` on it count for `raw`. Closing and destroying stay `raw`'s, which ends both.
   */
  wrap(raw: Socket, outer: Socket): void;
  /** A request is being served on this connection: it is not idle (never evicted meanwhile). */
  busy(socket: Socket): void;
  /** A request on this connection ended (answered or abandoned). */
  done(socket: Socket): void;
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
  // Connections with no request in progress, the longest idle first (a Set keeps insertion order):
  // a connection that never sent a whole request head (slowloris) stays at the front. At the global
  // cap the oldest of them is closed to admit the newcomer — the way Envoy's overload manager closes
  // idle connections first — instead of refusing everyone new while the cap is held by connections
  // that do nothing. A connection serving a request is never closed for this.
  const idle = new Set<Socket>();
  const inProgress = new Map<Socket, number>();

  // Every admitted connection: its client address, and how to count it out (once).
  const admitted = new Map<Socket, { address: string; served: boolean; serve(): void; release(): void }>();
  const release = (socket: Socket): void => { admitted.get(socket)?.release(); };

  // Connections that carried no request, per client key (bounded memory: idle keys are forgotten
  // first). Every connection takes one of its client's allowance when admitted and gives it back
  // with its first request, so what stays taken is the connections that carried none — and the
  // allowance also bounds how many such connections a client has in flight at once (a loop of
  // 32 concurrent handshakes had 32 admitted whenever one expired, when they were counted at close).
  const empties = createKeyedLimiter({ maxKeys: 100_000, clock });
  // Not for an address that carries requests too, or is seen shared: there bots' empty
  // connections and customers' new ones would draw on one allowance, and no multiple of it keeps
  // the customers in. Measured with the bots behind the customers' own carrier-NAT addresses
  // (bench ddos --tls --layout cgnat-shared, connect-flood, seeds 3 and 1): 98.7% and 99.7% of
  // customers' attempts with the allowance, 100% and 100% without it — and 98.4% exempting only
  // addresses seen shared (the customers' new WebSocket connections reset). What the allowance is
  // for stays limited: a source that handshakes and leaves and sends no request. Such an address's
  // empty connections are bounded by the connection caps and the handshake deadline.
  const lastRequestAt = createRecencyMap<number>();
  const emptyParams = (key: string): GcraParams | undefined => {
    const p = gate.settings.emptyConnections;
    if (p === undefined || ports.isShared?.(key) === true) return undefined;
    const at = lastRequestAt.peek(key);
    return at !== undefined && clock.now() - at < REQUEST_HISTORY_MS ? undefined : p;
  };
  const noteRequest = (key: string): void => {
    if (gate.settings.emptyConnections === undefined) return;
    if (lastRequestAt.peek(key) === undefined && lastRequestAt.size >= REQUEST_HISTORY_KEYS) {
      const oldest = lastRequestAt.oldest();
      if (oldest !== undefined) lastRequestAt.delete(oldest[0]);
    }
    lastRequestAt.set(key, clock.now());
  };
  const refuse = (socket: Socket, address: string, reason: 'blocklist' | 'client-cap' | 'empty-connections' | 'global-cap' | 'proxy-protocol'): void => {
    bus.emit('connection:refused', { address, reason });
    // RST rather than FIN: the peer gets no chance to keep the socket half-open (slowloris).
    if (typeof socket.resetAndDestroy === 'function' && !socket.destroyed) socket.resetAndDestroy();
    else socket.destroy();
  };

  const admit = (socket: Socket, address: string, trusted: boolean, peerSource: 'tcp' | 'proxy-protocol'): void => {
    const s = gate.settings;
    if (ports.isBlocked(address, clock.now())) return refuse(socket, address, 'blocklist');
    const key = ports.clientKey?.(address) ?? address;
    const held = byClient.get(key) ?? 0;
    // A trusted proxy without PROXY protocol carries many clients on its connections: no per-address cap.
    const capped = !(trusted && address === normalizeAddress(socket.remoteAddress));
    const allowance = capped ? emptyParams(key) : undefined;
    if (allowance !== undefined && !empties.check(key, allowance).allowed) return refuse(socket, address, 'empty-connections');
    if (capped && s.maxConnectionsPerClient > 0 && held >= s.maxConnectionsPerClient
      && !(held < s.maxConnectionsPerClient * SHARED_CAP_FACTOR && ports.isShared?.(key) === true)) {
      return refuse(socket, address, 'client-cap');
    }
    if (s.maxConnections > 0) {
      const beyond = ports.heldBeyond?.() ?? 0;
      // Tunnels opened since the last admission can leave us over the cap by more than one: make
      // room for this connection (bounded by the idle ones there are), or refuse it.
      for (let over = open + beyond - s.maxConnections + 1; over > 0; over--) {
        const victim = idle.values().next().value as Socket | undefined;
        if (victim === undefined) return refuse(socket, address, 'global-cap');
        idle.delete(victim);
        bus.emit('connection:refused', { address: admitted.get(victim)?.address ?? '', reason: 'evicted-idle' });
        // Counted out now: its 'close' comes later and must not be counted twice.
        release(victim);
        victim.destroy();
      }
    }
    let set = byAddress.get(address);
    if (!set) { set = new Set(); byAddress.set(address, set); }
    set.add(socket);
    byClient.set(key, (byClient.get(key) ?? 0) + 1); // not `held`: an eviction may have counted one out
    open++;
    idle.add(socket);
    const pending = ports.pending;
    setConnectionFacts(socket, Object.freeze({ peer: address, peerSource, ...(peerSource === 'tcp' && socket.remotePort !== undefined ? { peerPort: socket.remotePort } : {}), trusted, protocol: 'http/1.1', tls: undefined, ...(pending ? { pending: () => pending(socket) } : {}) }));
    bus.emit('connection:open', { address });
    const record = { address, served: false, serve: () => { noteRequest(key); if (allowance !== undefined) empties.refund(key, allowance); }, release: () => {
      if (!admitted.delete(socket)) return;
      open--;
      idle.delete(socket);
      inProgress.delete(socket);
      const cur = byAddress.get(address);
      if (cur) { cur.delete(socket); if (cur.size === 0) byAddress.delete(address); }
      const n = (byClient.get(key) ?? 1) - 1;
      if (n <= 0) byClient.delete(key); else byClient.set(key, n);
      bus.emit('connection:close', { address });
    } };
    admitted.set(socket, record);
    socket.once('close', () => release(socket));
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
  const wrapped = new WeakMap<Socket, Socket>();
  gate.wrap = (raw, outer) => { wrapped.set(outer, raw); };
  gate.busy = (outer) => {
    const socket = wrapped.get(outer) ?? outer;
    const record = admitted.get(socket);
    if (record === undefined) return;
    // Its first request: the connection was not an empty one after all.
    if (!record.served) { record.served = true; record.serve(); }
    idle.delete(socket);
    inProgress.set(socket, (inProgress.get(socket) ?? 0) + 1);
  };
  gate.done = (outer) => {
    const socket = wrapped.get(outer) ?? outer;
    const n = (inProgress.get(socket) ?? 0) - 1;
    if (n > 0) { inProgress.set(socket, n); return; }
    inProgress.delete(socket);
    // Idle again, and now the most recently active: the last to be closed at the cap.
    if (admitted.has(socket) && !socket.destroyed) idle.add(socket);
  };
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
