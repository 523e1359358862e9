import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { once } from 'node:events';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { monotonicClock, systemClock, type Clock } from '../core/clock.js';
import { createEventBus } from '../core/events.js';
import { ERRORS, type ErrorCode } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import { createLogThrottle } from '../core/log-throttle.js';
import { createShieldMetrics } from '../admin/metrics.js';
import { startAdminServer } from '../admin/server.js';
import { createCidrTable } from './blocklist/cidr-table.js';
import { createKeyedLimiter } from './limits/keyed-limiter.js';
import { createBodyGuards } from './body-guard.js';
import { createCacheStore } from './cache/store.js';
import { connectionInfo, createConnectionGate, type GateSettings } from './connection/gate.js';
import { createRequestHandler, createRequestIds } from './request-handler.js';
import { buildRuntime, type Runtime } from './runtime.js';
import { attachAccessLog } from './access-log.js';
import type { ShieldEvents } from './events.js';

/** A blocklist entry's payload. */
export interface BlockInfo {
  reason: string;
  source: 'config' | 'admin';
  createdAt: number;
}

/** A running shield. */
export interface ShieldHandle {
  readonly url: string;
  readonly port: number;
  readonly adminUrl: string;
  readonly adminPort: number;
  readonly bus: ReturnType<typeof createEventBus<ShieldEvents>>;
  /** Applies a new validated configuration; listener address changes need a restart. */
  reload(config: Config, file?: string): void;
  config(): Config;
  /**
   * Stops accepting, lets requests in flight finish for up to `graceMs` (responses carry
   * Connection: close, idle keep-alive connections are closed at once), then cuts what is left.
   */
  close(opts?: { graceMs?: number }): Promise<void>;
}

/** Options for startShield; everything but the config has a production default. */
export interface StartOptions {
  config: Config;
  logger?: Logger;
  clock?: Clock;
}

const gateSettings = (c: Config): GateSettings => ({
  maxConnections: c.listen.limits.maxConnections,
  maxConnectionsPerClient: c.listen.limits.maxConnectionsPerClient,
  proxyProtocol: c.listen.proxyProtocol,
  proxyHeaderTimeoutMs: c.listen.limits.headersTimeoutMs,
});

function applyServerLimits(server: HttpServer, c: Config): void {
  const l = c.listen.limits;
  server.headersTimeout = l.headersTimeoutMs;
  // Bodies are policed by the body guard (idle and minimum rate), not by a whole-request deadline
  // that would cut a legitimate 50 MB upload on a slow link.
  server.requestTimeout = 0;
  server.keepAliveTimeout = l.keepAliveTimeoutMs;
  server.maxRequestsPerSocket = l.maxRequestsPerConnection;
}

/** Starts the shield's listener, its admin listener and its telemetry. */
export async function startShield(opts: StartOptions): Promise<ShieldHandle> {
  let config = opts.config;
  const clock = opts.clock ?? systemClock;
  const log = opts.logger ?? createLogger(config.log.level);
  const bus = createEventBus<ShieldEvents>();
  const blocklist = createCidrTable<BlockInfo>();
  // Wall clock for blocklist TTLs (shown to operators); monotonic time for rates and body timers.
  const ticker = opts.clock ?? monotonicClock;
  const limiter = createKeyedLimiter({ maxKeys: config.rateLimits.maxTrackedClients, clock: ticker });
  const bodyGuards = createBodyGuards(ticker);
  const nextErrorId = createRequestIds();
  let draining = false;

  const loadConfigBlocks = (c: Config): void => {
    for (const e of blocklist.entries(clock.now())) if (e.value.source === 'config') blocklist.remove(e.cidr);
    for (const b of c.blocklist) {
      blocklist.add(b.cidr, { reason: b.reason, source: 'config', createdAt: clock.now() }, b.ttlS ? clock.now() + b.ttlS * 1000 : undefined);
    }
  };
  loadConfigBlocks(config);

  const errorLogs = createLogThrottle(ticker);
  const onUpstreamError = (ctx: { id: string; client: string; path: string }, code: ErrorCode, err: unknown): void => {
    const suppressed = errorLogs.take(code);
    if (suppressed === undefined) return; // counted in metrics; the log stays readable under a flood
    log.warn({ reqId: ctx.id, client: ctx.client, path: ctx.path, code, err: (err as Error)?.message, ...(suppressed ? { suppressed } : {}) }, 'upstream error');
  };
  // The cache belongs to the process: a reload keeps what it holds (its size is fixed at start).
  const cache = createCacheStore(config.cache.maxBytes);
  const shared = { clock, ticker, blocklist, limiter, bodyGuards, cache, onUpstreamError, draining: () => draining };
  let runtime: Runtime = buildRuntime(config, shared);

  const httpServer = createHttpServer({
    maxHeaderSize: config.listen.limits.maxHeaderBytes,
    // The validate stage answers a missing or repeated Host itself (RFC 9112 §3.2), with a request id.
    requireHostHeader: false,
    insecureHTTPParser: false,
    joinDuplicateHeaders: false,
    // Node checks header/request deadlines on this interval (30 s by default): make slowloris bite quickly.
    connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(config.listen.limits.headersTimeoutMs / 4))),
  }, createRequestHandler(() => runtime, bus, () => draining));
  applyServerLimits(httpServer, config);

  httpServer.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable) { socket.destroy(); return; }
    const code: ErrorCode = err.code === 'HPE_HEADER_OVERFLOW' ? 'RMP_ERR_HEADERS_TOO_LARGE'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'RMP_ERR_HEADERS_TIMEOUT'
        : err.code === 'HPE_INVALID_VERSION' ? 'RMP_ERR_VERSION' : 'RMP_ERR_BAD_REQUEST';
    const id = nextErrorId();
    const { status, message } = ERRORS[code];
    const body = `${status} ${message}\nrequest id: ${id}\n`;
    socket.end(`HTTP/1.1 ${status} ${message}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n`
      + `Connection: close\r\nX-Request-Id: ${id}\r\nX-Rempart-Error: ${code}\r\n\r\n${body}`);
    bus.emit('client:error', { address: connectionInfo(socket)?.address ?? socket.remoteAddress ?? '', code: err.code ?? code, status, requestId: id });
  });
  // CONNECT is for forward proxies; a reverse proxy has nothing to tunnel to.
  httpServer.on('connect', (_req, socket: Socket) => {
    socket.end('HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  // The HTTP server never listens itself (the gate hands it sockets), so start its connection
  // checker — which enforces headersTimeout — the way listen() would.
  httpServer.emit('listening');

  const gate = createConnectionGate({
    isBlocked: (address, now) => blocklist.lookup(address, now) !== undefined,
    isTrusted: (address) => runtime.isTrusted(address),
  }, gateSettings(config), clock, bus, (socket) => httpServer.emit('connection', socket));

  const netServer: NetServer = createNetServer({ noDelay: true }, gate);
  netServer.listen({ host: config.listen.address, port: config.listen.port, backlog: 4096 });
  await once(netServer, 'listening');
  const port = (netServer.address() as AddressInfo).port;

  const sweep = setInterval(() => blocklist.sweep(clock.now()), 5_000);
  sweep.unref();

  const metrics = createShieldMetrics(bus, { openConnections: () => gate.open, blocklistSize: () => blocklist.size });
  const detachLog = attachAccessLog(bus, log, () => config.log.access);
  const startedAt = clock.now();

  const admin = await startAdminServer({
    address: config.admin.address,
    port: config.admin.port,
    registry: metrics.registry,
    control: {
      token: () => config.admin.token,
      state: () => ({
        version: '0.1.0',
        uptimeS: Math.round((clock.now() - startedAt) / 1000),
        listen: { address: config.listen.address, port },
        connections: { open: gate.open, top: gate.top(20) },
        bodiesStreaming: bodyGuards.active,
        blocklist: { size: blocklist.size },
        upstreams: Object.fromEntries(Object.entries(config.upstreams).map(([k, u]) => [k, {
          url: u.url, connections: u.connections, inFlight: runtime.admission.get(k)?.inFlight, queued: runtime.admission.get(k)?.queued,
        }])),
        routes: config.routes.map((r) => ({ match: r.match, upstream: r.upstream, class: r.class })),
        rateLimits: config.rateLimits,
        trustedProxies: config.trustedProxies,
      }),
      listBlocks: () => blocklist.entries(clock.now()).map((e) => ({
        cidr: e.cidr, reason: e.value.reason, source: e.value.source,
        expiresInS: e.expiresAt === undefined ? null : Math.max(0, Math.round((e.expiresAt - clock.now()) / 1000)),
      })),
      addBlock: (cidr, ttlS, reason) => {
        const now = clock.now();
        const normalized = blocklist.add(cidr, { reason, source: 'admin', createdAt: now }, ttlS ? now + ttlS * 1000 : undefined);
        bus.emit('block:added', { cidr: normalized, reason, ttlS });
        // A block takes effect on connections already open too, not only on new ones.
        const disconnected = gate.disconnect((address) => blocklist.lookup(address, clock.now()) !== undefined);
        return { cidr: normalized, disconnected };
      },
      removeBlock: (cidr) => {
        const removed = blocklist.remove(cidr);
        if (removed) bus.emit('block:removed', { cidr });
        return removed;
      },
    },
  });

  const host = config.listen.address.includes(':') ? `[${config.listen.address}]` : config.listen.address;
  const adminHost = config.admin.address.includes(':') ? `[${config.admin.address}]` : config.admin.address;
  log.info({ listen: `${host}:${port}`, admin: `${adminHost}:${admin.port}` }, 'shield started');

  return {
    url: `http://${host}:${port}`,
    port,
    adminUrl: `http://${adminHost}:${admin.port}`,
    adminPort: admin.port,
    bus,
    config: () => config,
    reload(next, file = '(inline)') {
      if (next.listen.address !== config.listen.address || next.listen.port !== config.listen.port
        || next.admin.address !== config.admin.address || next.admin.port !== config.admin.port) {
        log.warn({ file }, 'listen/admin address changes take effect only after a restart');
      }
      const previous = runtime;
      runtime = buildRuntime(next, shared);
      config = next;
      applyServerLimits(httpServer, next);
      gate.settings = gateSettings(next);
      loadConfigBlocks(next);
      // In-flight requests on the old pools finish; new requests already use the new pools.
      void previous.close();
      bus.emit('config:reloaded', { file });
    },
    async close(closeOpts = {}) {
      clearInterval(sweep);
      netServer.close();
      draining = true;
      httpServer.closeIdleConnections();
      const deadline = Date.now() + (closeOpts.graceMs ?? 0);
      // Bounded wait: every response now closes its connection, so `open` only goes down.
      while (gate.open > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 25));
        httpServer.closeIdleConnections();
      }
      if (gate.open > 0) log.warn({ open: gate.open }, 'shutdown grace over: closing connections with requests in flight');
      gate.destroyAll();
      httpServer.close();
      httpServer.closeAllConnections();
      bodyGuards.close();
      metrics.detach();
      detachLog();
      await Promise.allSettled([admin.close(), runtime.close()]);
      log.flush?.();
    },
  };
}
