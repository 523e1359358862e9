import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { EMPTY_CONNECTIONS_TLS_DEFAULT, type Config } from '../../config/schema.js';
import type { Clock } from '../../core/clock.js';
import type { ErrorCode } from '../../core/errors.js';
import type { Service } from '../../core/lifecycle.js';
import { connectionCapUnder, LISTEN_BACKLOG } from '../../core/open-files.js';
import { ERRORS } from '../../core/errors.js';
import type { ShieldBus } from '../events.js';
import { sendConnectRefused, sendParseError } from '../edge/respond.js';
import { connectionFacts, setConnectionFacts, type ConnectionFacts } from './connection-facts.js';
import { createTlsTerminator, type TlsCertificateView, type TlsTerminator } from './tls.js';
import { createHttp2Sessions, type Http2Sessions, type Http2Settings } from './http2.js';
import { createSerialExchanges } from './pipelining.js';
import { createConnectionGate, normalizeAddress, type ConnectionGate, type GatePorts, type GateSettings } from './gate.js';
import type { Tunnels } from './tunnels.js';

/** Hands an upgrade request and its socket (detached from the parser) to the upgrade pipeline. */
export type UpgradeEntry = (req: IncomingMessage, socket: Socket, head: Buffer, conn: ConnectionFacts) => void;

/** The shield's HTTP/1.1 listener: the only code that touches client sockets. */
export interface Http1Listener extends Service<Config> {
  readonly port: number;
  readonly gate: ConnectionGate;
  /** True once shutdown began: every response closes its connection. */
  readonly draining: boolean;
  /**
   * The certificates served when the listener terminates TLS (listen.tls), and whether HTTP/2 is
   * offered with the HTTP/2 connections open now; undefined without TLS.
   */
  tls(): { certificates: TlsCertificateView[]; http2: { enabled: boolean; connections: number } } | undefined;
  /** HTTP/2 connections open now (listen.tls.http2). */
  readonly http2Connections: number;
  /**
   * Reads `next`'s certificates before a reload changes anything: throws if one cannot be used
   * (the reload is then refused whole); `reload(next)` serves them.
   */
  prepareReload(next: Config): void;
}

/** What the listener hands each request to: the exchange handler, with the connection's facts. */
export type ExchangeEntry = (req: IncomingMessage, res: ServerResponse, conn: ConnectionFacts) => void;

const gateSettings = (c: Config, openFiles: number | undefined): GateSettings => ({
  maxConnections: connectionCapUnder(c.listen.limits.maxConnections, openFiles),
  maxConnectionsPerClient: c.listen.limits.maxConnectionsPerClient,
  emptyConnections: emptyConnectionsFor(c),
  proxyProtocol: c.listen.proxyProtocol,
  proxyHeaderTimeoutMs: c.listen.limits.headersTimeoutMs,
});

/** The allowance of connections without a request: configured, else the TLS default on a TLS listener. */
export function emptyConnectionsFor(c: Config): GateSettings['emptyConnections'] {
  const p = c.listen.limits.emptyConnectionsPerClient ?? (c.listen.tls ? EMPTY_CONNECTIONS_TLS_DEFAULT : undefined);
  return p !== undefined && p.ratePerS > 0 ? p : undefined;
}

/** What HTTP/2 connections are held to (listener/http2.ts), from the same limits as HTTP/1.1's. */
export function http2SettingsFor(c: Config): Http2Settings {
  const l = c.listen.limits;
  return {
    maxConcurrentStreams: l.http2MaxConcurrentStreams, maxHeaderBytes: l.maxHeaderBytes, maxHeaderCount: l.maxHeaderCount,
    idleTimeoutMs: l.keepAliveTimeoutMs, firstRequestTimeoutMs: l.headersTimeoutMs, maxRequestsPerConnection: l.maxRequestsPerConnection,
    clientResets: l.http2ClientResets, sendTimeoutMs: l.sendTimeoutMs,
  };
}

function applyServerLimits(server: HttpServer, c: Config): void {
  const l = c.listen.limits;
  server.headersTimeout = l.headersTimeoutMs;
  // Bodies are policed by the body guard (idle and minimum rate), not by a whole-request deadline
  // that would cut a legitimate 50 MB upload on a slow link.
  server.requestTimeout = 0;
  server.keepAliveTimeout = l.keepAliveTimeoutMs;
  server.maxRequestsPerSocket = l.maxRequestsPerConnection;
  // One more than the limit is kept, so that a request over it is seen (and answered 431 by the
  // validate filter) instead of being cut to the first lines.
  server.maxHeadersCount = l.maxHeaderCount + 1;
}

/**
 * Creates the listener: TCP accept → connection gate (blocklist, caps, PROXY protocol) → Node's
 * strict HTTP/1.1 parser → the exchange handler with protocol-neutral connection facts. Parse
 * errors are answered by the edge here, with a request id. With listen.tls, each admitted
 * connection is a TLS handshake first (tls.ts), then HTTP/1.1 here or, when ALPN chose h2,
 * HTTP/2 (http2.ts): the same exchange handler and the same facts, `protocol: 'h2'`.
 */
export function createHttp1Listener(o: {
  config: Config; clock: Clock; bus: ShieldBus; ports: GatePorts; nextId: () => string;
  entry: ExchangeEntry; onStopWarning(open: number): void;
  /** Upgrade requests (WebSocket) and the tunnels they become; without them every upgrade is refused. */
  upgrade?: UpgradeEntry; tunnels?: Tunnels;
  /** The process's open-files limit (core/open-files.ts): the connection cap stays under it. */
  openFiles?: number;
}): Http1Listener {
  let config = o.config;
  let draining = false;
  let port = 0;
  const http: HttpServer = createHttpServer({
    maxHeaderSize: config.listen.limits.maxHeaderBytes,
    // The validate filter answers a missing or repeated Host itself (RFC 9112 §3.2), with a request id.
    requireHostHeader: false,
    insecureHTTPParser: false,
    joinDuplicateHeaders: false,
    // Node checks header/request deadlines on this interval (30 s by default): make slowloris bite quickly.
    connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(config.listen.limits.headersTimeoutMs / 4))),
  }, (req, res) => onRequest(req, res));
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const facts = connectionFacts(req.socket)
      ?? { peer: normalizeAddress(req.socket.remoteAddress), peerSource: 'tcp', peerPort: req.socket.remotePort, trusted: false, protocol: 'http/1.1', tls: undefined, pending: () => serial.behind(req.socket) };
    // Not idle while a request is served or waits its turn: the gate closes only idle connections at its cap.
    gate.busy(req.socket);
    res.once('close', () => { gate.done(req.socket); serial.done(req.socket); });
    serial.arrive(req, res, () => o.entry(req, res, facts));
  };
  // `Expect: 100-continue` (RFC 9110 §10.1.1): a request like any other, whose interim 100 the
  // pipeline sends when it reads the body (edge/respond.ts sendContinue) — not Node at once, which
  // had every refused upload's body sent for nothing.
  http.on('checkContinue', onRequest);
  // Pipelined requests of one connection run one at a time, in order.
  const serial = createSerialExchanges(() => config.listen.limits.maxPipelined, (socket) =>
    o.bus.emit('connection:refused', { address: connectionFacts(socket)?.peer ?? normalizeAddress(socket.remoteAddress), reason: 'pipeline-depth' }));
  applyServerLimits(http, config);
  http.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable) { socket.destroy(); return; }
    const code: ErrorCode = err.code === 'HPE_HEADER_OVERFLOW' ? 'RMP_ERR_HEADERS_TOO_LARGE'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'RMP_ERR_HEADERS_TIMEOUT'
        : err.code === 'HPE_INVALID_VERSION' ? 'RMP_ERR_VERSION' : 'RMP_ERR_BAD_REQUEST';
    const id = o.nextId();
    // After the answers still owed on this connection, in order.
    serial.afterPending(socket, () => sendParseError(socket, id, code));
    o.bus.emit('client:error', { address: connectionFacts(socket)?.peer ?? normalizeAddress(socket.remoteAddress), code: err.code ?? code, status: ERRORS[code].status, requestId: id });
  });
  http.on('connect', (_req, socket: Socket) => serial.afterPending(socket, () => sendConnectRefused(socket)));
  // With an 'upgrade' listener Node hands over every request carrying Connection: upgrade.
  http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const facts = connectionFacts(socket)
      ?? { peer: normalizeAddress(socket.remoteAddress), peerSource: 'tcp', peerPort: socket.remotePort, trusted: false, protocol: 'http/1.1', tls: undefined } as ConnectionFacts;
    // A tunnel is never idle for the gate (it has its own idle timeout: websocket.idleTimeoutMs).
    gate.busy(socket);
    serial.afterPending(socket, () => { if (o.upgrade) o.upgrade(req, socket, head, facts); else sendConnectRefused(socket); });
  });
  // The HTTP server never listens itself (the gate hands it sockets), so start its connection
  // checker — which enforces headersTimeout — the way listen() would.
  http.emit('listening');

  // TLS (listen.tls) after the gate: a refused source costs no handshake. The TLS socket then
  // carries the connection: its facts are the TCP connection's plus the handshake's.
  let tls: TlsTerminator | undefined = config.listen.tls ? createTlsTerminator(config.listen.tls, o.bus, o.clock) : undefined;
  // What the next reload will serve, read by prepareReload before anything changed.
  let staged: { for: Config; tls: TlsTerminator; apply: (() => void) | undefined } | undefined;
  // HTTP/2 streams are requests of the same handler; each counts busy at the gate while it lasts.
  const h2: Http2Sessions = createHttp2Sessions({
    settings: http2SettingsFor(config), clock: o.clock, bus: o.bus, entry: o.entry, draining: () => draining,
    accounting: { busy: (s) => gate.busy(s), done: (s) => gate.done(s) },
  });
  const accept = (socket: Socket): void => {
    if (tls === undefined) { http.emit('connection', socket); return; }
    const admittedAs = connectionFacts(socket);
    tls.terminate(socket, admittedAs?.peer ?? normalizeAddress(socket.remoteAddress), (secure, tlsFacts) => {
      if (socket.destroyed || admittedAs === undefined) { secure.destroy(); return; }
      gate.wrap(socket, secure);
      if (tlsFacts.alpn === 'h2') {
        // Streams run side by side (none waits behind another): no `pending`.
        const { pending: _serial, ...rest } = admittedAs;
        h2.accept(secure, Object.freeze({ ...rest, protocol: 'h2', tls: tlsFacts }));
        return;
      }
      setConnectionFacts(secure, Object.freeze({ ...admittedAs, tls: tlsFacts, pending: () => serial.behind(secure) }));
      http.emit('connection', secure);
    });
  };
  // Requests a client pipelined behind the one being served count in its pace (ConnectionFacts.pending).
  const gate = createConnectionGate({ ...o.ports, pending: (socket) => serial.behind(socket) }, gateSettings(config, o.openFiles), o.clock, o.bus, accept);
  const net: NetServer = createNetServer({ noDelay: true }, gate);

  return {
    name: 'listener',
    gate,
    get port() { return port; },
    get draining() { return draining; },
    get http2Connections() { return h2.open; },
    tls: () => (tls ? { certificates: tls.certificates(o.clock.now()), http2: { enabled: config.listen.tls?.http2 === true, connections: h2.open } } : undefined),
    async start() {
      net.listen({ host: config.listen.address, port: config.listen.port, backlog: LISTEN_BACKLOG });
      await once(net, 'listening');
      port = (net.address() as AddressInfo).port;
    },
    prepareReload(next) {
      staged = next.listen.tls === undefined ? undefined
        : { for: next, tls: tls ?? createTlsTerminator(next.listen.tls, o.bus, o.clock), apply: tls?.prepare(next.listen.tls).apply };
    },
    reload(next) {
      if (staged?.for !== next) this.prepareReload(next);
      tls = staged?.tls;
      staged?.apply?.();
      staged = undefined;
      config = next;
      applyServerLimits(http, next);
      h2.reload(http2SettingsFor(next));
      gate.settings = gateSettings(next, o.openFiles);
    },
    async stop(graceMs) {
      net.close();
      draining = true;
      http.closeIdleConnections();
      // HTTP/2: GOAWAY — streams in progress finish, the client opens no new one here.
      h2.closeAll();
      // Upgraded connections get a WebSocket close frame (1001 going away), not a cut.
      await o.tunnels?.closeAll('shutting down', graceMs);
      const deadline = Date.now() + graceMs;
      // Bounded wait: every response now closes its connection, so `open` only goes down.
      while (gate.open > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 25));
        http.closeIdleConnections();
      }
      if (gate.open > 0) o.onStopWarning(gate.open);
      h2.stop();
      gate.destroyAll();
      http.close();
      http.closeAllConnections();
    },
  };
}
