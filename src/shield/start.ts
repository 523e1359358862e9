import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { configWarnings } from '../config/warnings.js';
import { monotonicClock, systemClock, type Clock } from '../core/clock.js';
import { createEventBus } from '../core/events.js';
import { createLifecycle } from '../core/lifecycle.js';
import { createLogger } from '../core/logger.js';
import { createLogThrottle } from '../core/log-throttle.js';
import { acceptQueueUnder, connectionCapUnder, LISTEN_BACKLOG, readOpenFilesLimit, readSomaxconn, tunnelCapUnder } from '../core/open-files.js';
import { createStreamBudget, type StreamLimits } from './upstream/event-stream.js';
import { createShieldMetrics } from '../admin/metrics.js';
import { startAdminServer } from '../admin/server.js';
import { createCidrTable } from './blocklist/cidr-table.js';
import { createKernelMirror, mirrorBlocklist, type KernelMirror } from './blocklist/kernel-mirror.js';
import { createKeyedLimiter } from './limits/keyed-limiter.js';
import { createPageVisits } from './defence/page-visits.js';
import { createReputationRoster } from './reputation/roster.js';
import { createWakeWatch } from './reputation/wake-watch.js';
import { createContinuations } from './defence/continuations.js';
import { createIdentityPace, DEFAULT_PACE, type PaceParams } from './detect/identity-pace.js';
import { createCostKeys } from './detect/cost-key.js';
import { createRequestCost } from './detect/request-cost.js';
import { createBodyGuards } from './body-guard.js';
import { createBodyBuffers } from './body/request-buffer.js';
import { createCacheStore } from './cache/store.js';
import { createCoalescer } from './cache/coalesce.js';
import { createResponseSinks } from './upstream/response-sink.js';
import { createExchangeHandler, createRequestIds } from './pipeline/handler.js';
import type { PhaseExtensions } from './pipeline/phases.js';
import { buildRuntime, type Runtime } from './runtime.js';
import { createHttp1Listener } from './listener/http1.js';
import { createShieldControl, type BlockInfo } from './control.js';
import { attachAccessLog } from './access-log.js';
import type { ShieldEvents } from './events.js';
import { createDetector } from './defence/detector.js';
import { createChallengeSettings } from './challenge/settings.js';
import { createKeyring } from './reputation/token.js';
import { createSessionTable } from './reputation/sessions.js';
import { createRevocationList } from './reputation/revocation.js';
import { randomBytes } from 'node:crypto';
import { createOperatorSurfaces } from '../console/surfaces.js';
import { deepFreeze } from '../config/freeze.js';
import { createHealthRegistry } from './upstream/health/monitor.js';
import { createLoopStallMeter } from './upstream/loop-stall.js';
import { createTunnels } from './listener/tunnels.js';
import { createMessageGate, type MessageGate } from './upstream/message-admission.js';
import type { AdmissionQueue } from './upstream/admission.js';
import { CLOSE_GOING_AWAY } from './listener/ws-frames.js';
import { createUpgradeHandler } from './pipeline/upgrade.js';
import { createUpgradeAdapter } from './listener/upgrade.js';
import { attachUpstreamMetrics } from '../admin/upstream-metrics.js';

export type { BlockInfo };

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
   * Connection: close, idle keep-alive connections are closed at once), then stops every service
   * in reverse order.
   */
  close(opts?: { graceMs?: number }): Promise<void>;
}

/** Options for startShield; everything but the config has a production default. */
export interface StartOptions {
  config: Config;
  logger?: Logger;
  clock?: Clock;
  /** Filters added to every configuration's phases (embedders, tests). */
  extensions?: PhaseExtensions;
}

const hostOf = (address: string): string => (address.includes(':') ? `[${address}]` : address);

/**
 * Starts the shield: builds the process state, compiles the configuration into a runtime, and
 * registers the services (sweepers, listener, telemetry, admin) with one lifecycle. Wiring only.
 */
export async function startShield(opts: StartOptions): Promise<ShieldHandle> {
  let config = opts.config;
  const clock = opts.clock ?? systemClock;
  // Wall clock for blocklist TTLs (shown to operators); monotonic time for rates and body timers.
  const ticker = opts.clock ?? monotonicClock;
  const log = opts.logger ?? createLogger(config.log.level);
  const bus = createEventBus<ShieldEvents>();
  const life = createLifecycle<Config>((name, err) => log.error({ service: name, err: (err as Error)?.message }, 'service failed to stop'));

  // Process state: survives reloads.
  // With kernelBlocklist, every block is also told to nftables (read at start: a reload keeps it as it was).
  let kernel: KernelMirror | undefined;
  const blocklist = config.kernelBlocklist.enabled ? mirrorBlocklist(createCidrTable<BlockInfo>(), () => kernel) : createCidrTable<BlockInfo>();
  const limiter = createKeyedLimiter({ maxKeys: config.rateLimits.maxTrackedClients, clock: ticker });
  const bodyGuards = createBodyGuards(ticker);
  const bodyBuffers = createBodyBuffers(bodyGuards, {
    memoryBudgetBytes: config.buffering.requestMemoryBudgetBytes,
    spoolBudgetBytes: config.buffering.requestSpoolBudgetBytes,
    ...(config.buffering.spoolDir ? { spoolDir: config.buffering.spoolDir } : {}),
  });
  const b = config.buffering;
  const responseSinks = createResponseSinks({
    memoryBytes: b.responseBytes, memoryBudgetBytes: b.responseBudgetBytes, spoolBytes: b.responseSpoolBytes, spoolBudgetBytes: b.responseSpoolBudgetBytes,
  }, () => ticker.now(), b.spoolDir);
  // The cache belongs to the process: a reload keeps what it holds (its size is fixed at start).
  const cache = createCacheStore(config.cache.maxBytes);
  const coalescer = createCoalescer();
  const nextId = createRequestIds();

  const loadConfigBlocks = (c: Config): void => {
    for (const e of blocklist.entries(clock.now())) if (e.value.source === 'config') blocklist.remove(e.cidr);
    for (const b of c.blocklist) {
      blocklist.add(b.cidr, { reason: b.reason, source: 'config', createdAt: clock.now() }, b.ttlS ? clock.now() + b.ttlS * 1000 : undefined);
    }
  };
  loadConfigBlocks(config);

  let draining = false;
  // Detection belongs to the process: baselines and attack state survive reloads.
  const det = config.detection;
  if (!det.secret) log.info('detection.secret not set: cookies and challenges are signed with a per-process random key');
  const challenge = createChallengeSettings({
    keys: createKeyring(det.secret ? Buffer.from(det.secret) : randomBytes(32), det.previousSecret ? Buffer.from(det.previousSecret) : undefined),
    reputationMinAgeMs: det.reputationMinAgeS * 1000,
  });
  const revocations = createRevocationList({ maxEntries: 100_000, clock });
  // Identities whose session was revoked, each until its ban ends (filters/request/clearance.ts).
  const sessionHolders = createRevocationList({ maxEntries: 100_000, clock });
  // Sized once, at start (like the cache): a reload keeps the sessions it knows; with
  // storage.database a restart does too (reputation/session-store.ts).
  const sessions = createSessionTable({ ...det.sessions, journal: config.storage.database !== undefined && det.enabled });
  // Per-token pace (monotonic clock): lighter identities first when requests wait.
  // Its rate line is the detector's (raised to what customers were learned to send); its
  // open-request line stays the configured one (detect/pace-profile.ts). Reputation holders'
  // buckets go back to the detector, which learns them in normal times.
  let paceOf: { config: Config; light: number; params: PaceParams } | undefined;
  const pace = createIdentityPace(() => {
    const light = detector.paceLightRequests();
    if (paceOf?.config !== config || paceOf.light !== light) {
      const p = config.detection.pace;
      paceOf = { config, light, params: { ...DEFAULT_PACE, bucketMs: p.windowS * 1000, lightRequests: light, openLightRequests: p.lightRequests } };
    }
    return paceOf.params;
  }, (requests) => detector.learnPace(requests));
  let runtime: Runtime;
  const detector = createDetector({
    clock, bus, config: () => config,
    pressure: {
      read: (upstream) => runtime.admission.get(upstream)?.readPressure(ticker.now()) ?? { saturation: 0, queueWaitMs: 0 },
    },
    blocks: {
      block(cidr, ttlS, reason) {
        const now = clock.now();
        blocklist.add(cidr, { reason, source: 'detector', createdAt: now }, now + ttlS * 1000);
        bus.emit('block:added', { cidr, reason, ttlS });
        listener.gate.disconnect((address) => blocklist.lookup(address, clock.now()) !== undefined);
      },
      unblock(cidr) { if (blocklist.remove(cidr)) bus.emit('block:removed', { cidr }); },
    },
  });
  // Reputations seen presented, and since when (with storage.database, across restarts too).
  const roster = createReputationRoster();
  // The console and the status page (event log, incidents, live feed); the status page is the first filter's.
  const surfaces = createOperatorSurfaces({
    clock, bus, config: () => config, detector, log,
    upstreamUp: (name) => shared.health.all().find((h) => h.upstream === name)?.anyAvailable,
    sessions, roster: { roster, ticker },
  });
  const loopStall = createLoopStallMeter(monotonicClock);
  const openFiles = readOpenFilesLimit();
  // An event stream holds two descriptors, as a tunnel does: at most a quarter of the listener's connections.
  const streamLimits = (c: Config): StreamLimits =>
    ({ maxPerClient: c.eventStreams.maxPerClient, maxTotal: tunnelCapUnder(c.eventStreams.maxTotal, connectionCapUnder(c.listen.limits.maxConnections, openFiles)) });
  const shared = {
    statusPages: surfaces.status,
    clock, ticker, blocklist, limiter, bodyGuards, bodyBuffers, responseSinks, cache, coalescer, bus,
    draining: () => draining, extensions: opts.extensions ?? {}, detector, challenge, revocations, sessions, sessionHolders, pace, requestCost: createRequestCost(), costKeys: createCostKeys(), continuations: createContinuations(), pageVisits: createPageVisits(() => ({ ttlMs: config.detection.formPageTtlS * 1000 })), roster, wakes: createWakeWatch({ now: () => clock.now(), tick: () => ticker.now(), emit: (e) => bus.emit('reputation:wake', e) }),
    health: createHealthRegistry((t) => bus.emit('upstream:server', t)),
    // Real time whatever clock a test injects: answers' RTTs are read on it (upstream/forward.ts).
    loopStall,
    streams: createStreamBudget(streamLimits(config)),
  };
  runtime = buildRuntime(config, shared);

  const errorLogs = createLogThrottle(ticker);
  const tunnelLimits = (c: Config): Config['websocket'] =>
    ({ ...c.websocket, maxTotal: tunnelCapUnder(c.websocket.maxTotal, connectionCapUnder(c.listen.limits.maxConnections, openFiles)) });
  // One message gate per admission queue: a reload brings new queues, and new gates with them.
  const gates = new WeakMap<AdmissionQueue, MessageGate>();
  const tunnels = createTunnels(tunnelLimits(config), {
    messageGate(name) {
      const rt = runtime;
      if (!rt.config.websocket.admitMessages) return undefined;
      const q = rt.admission.get(name);
      if (q === undefined) return undefined;
      let g = gates.get(q);
      if (g === undefined) {
        g = createMessageGate(q, () => ticker.now(), () => { const l = rt.limits?.get(name); return l === undefined || l.smoothedRttMs <= 0 ? undefined : l.smoothedRttMs; });
        gates.set(q, g);
      }
      return g;
    },
  });
  const handler = createExchangeHandler(() => runtime, {
    draining: () => draining,
    onFailure(ctx, f) {
      const suppressed = errorLogs.take(f.code);
      if (suppressed === undefined) return; // counted in metrics; the log stays readable under a flood
      log.warn({ reqId: ctx.id, client: ctx.client, path: ctx.path, code: f.code, err: (f.error as Error)?.message, ...(suppressed ? { suppressed } : {}) }, 'upstream error');
    },
    onInternalError(ctx, err) {
      const suppressed = errorLogs.take('RMP_ERR_INTERNAL');
      if (suppressed === undefined) return;
      log.error({ reqId: ctx.id, client: ctx.client, path: ctx.path, code: 'RMP_ERR_INTERNAL', err: (err as Error)?.stack ?? String(err), ...(suppressed ? { suppressed } : {}) }, 'internal error');
    },
  });

  // Services, in start order (they stop in reverse).
  life.register({ name: 'loop-stall', start() { loopStall.start(); }, stop() { loopStall.stop(); } });
  life.register({
    name: 'blocklist-sweeper',
    start() { this.timer = setInterval(() => blocklist.sweep(clock.now()), 5_000); this.timer.unref(); },
    reload(next) { loadConfigBlocks(next); },
    stop() { clearInterval(this.timer); },
    timer: undefined as NodeJS.Timeout | undefined,
  });
  if (det.enabled) life.register(detector);
  for (const s of surfaces.services) life.register(s);
  life.register({ name: 'bodies', stop() { bodyGuards.close(); bodyBuffers.close(); responseSinks.close(); } });
  life.register({ name: 'runtime', async stop() { await runtime.close(); } });
  const cap = connectionCapUnder(config.listen.limits.maxConnections, openFiles);
  if (openFiles !== undefined && cap !== config.listen.limits.maxConnections) {
    // nginx warns the same way ("worker_connections exceed open file resource limit").
    log.warn({ maxConnections: config.listen.limits.maxConnections, openFilesLimit: openFiles, effective: cap },
      'limits.maxConnections is at or above what the open-files limit leaves for clients: the listener holds at most the effective number (raise LimitNOFILE / ulimit -n to hold more)');
  }
  if (tunnels.limits.maxTotal !== config.websocket.maxTotal && config.routes.some((r) => r.websocket)) {
    log.warn({ maxTotal: config.websocket.maxTotal, maxConnections: cap, effective: tunnels.limits.maxTotal },
      'websocket.maxTotal is above a quarter of the connections the listener holds (a tunnel keeps two descriptors): at most the effective number are held');
  }
  if (config.eventStreams.maxTotal !== shared.streams.limits.maxTotal) {
    log.warn({ maxTotal: config.eventStreams.maxTotal, maxConnections: cap, effective: shared.streams.limits.maxTotal },
      'eventStreams.maxTotal is above a quarter of the connections the listener holds (a stream keeps two descriptors): at most the effective number are held');
  }
  const acceptQueue = acceptQueueUnder(LISTEN_BACKLOG, readSomaxconn());
  if (acceptQueue < LISTEN_BACKLOG) {
    // nginx and HAProxy ask the operator the same (their backlog is capped by it too).
    log.warn({ backlog: LISTEN_BACKLOG, somaxconn: acceptQueue },
      'net.core.somaxconn caps the listener\'s accept queue below its backlog: a burst of connections past it is dropped by the kernel and every client caught there, customers too, retries after 1 s (raise it: sysctl -w net.core.somaxconn=4096)');
  }
  for (const w of configWarnings(config)) log.warn({ key: w.path }, w.message);
  const listener = createHttp1Listener({
    config, clock, bus, nextId, ...(openFiles !== undefined ? { openFiles } : {}),
    ports: {
      isBlocked: (address, now) => blocklist.lookup(address, now) !== undefined,
      isTrusted: (address) => runtime.isTrusted(address),
      isShared: (key) => detector.isSharedAddress(key),
      clientKey: (address) => runtime.clientKey(address),
      heldBeyond: () => tunnels.open,
    },
    entry: handler,
    onStopWarning: (open) => log.warn({ open }, 'shutdown grace over: closing connections with requests in flight'),
    tunnels,
    upgrade: createUpgradeAdapter(tunnels, createUpgradeHandler(() => runtime, { tunnels, bus, nextId, draining: () => draining, isShared: (key) => detector.isSharedAddress(key), pace })),
  });
  // A disabled server's WebSocket tunnels close too (a drained one keeps them until they end).
  bus.on('upstream:server', (t) => {
    if (t.to === 'disabled') {
      tunnels.closeWhere((x) => x.upstream === t.upstream && x.server === t.server, CLOSE_GOING_AWAY, 'server disabled');
      // Its event streams and long polls end too: the clients reconnect to the servers left.
      runtime.forward.closeStreams(t.upstream, t.server);
    }
    const line = { upstream: t.upstream, server: t.server, from: t.from, to: t.to, reason: t.reason };
    if (t.to === 'up') log.info(line, 'upstream server up'); else log.warn(line, 'upstream server down');
  });

  const metrics = createShieldMetrics(bus, { openConnections: () => listener.gate.open, blocklistSize: () => blocklist.size, wokenReputations: () => shared.wakes.totalReputations,
    ...(config.kernelBlocklist.enabled ? { kernelBlocklist: () => kernel?.state() ?? { elements: 0, failures: 0, active: false } } : {}),
    // Registered whether or not TLS is on now: a reload may turn it on.
    tlsCertificates: () => listener.tls()?.certificates ?? [], http2Connections: () => listener.http2Connections });
  const detachUpstreamMetrics = attachUpstreamMetrics(metrics.registry, bus, {
    servers: () => [...runtime.upstreams.values()].map((u) => [u.name, u.servers] as [string, typeof u.servers]),
    websockets: () => tunnels.open,
    websocketEvictions: () => tunnels.evicted,
    websocketThrottled: () => tunnels.throttled,
    websocketMessagesWaited: () => tunnels.messagesWaited,
    eventStreams: () => shared.streams.open,
    eventStreamsRefused: () => shared.streams.refused,
    eventStreamsEvicted: () => shared.streams.evicted,
    costProbes: () => (runtime.probes === undefined ? [] : [...runtime.probes]),
  });
  life.register({ name: 'metrics', stop() { metrics.detach(); detachUpstreamMetrics(); } });
  const detachLog = attachAccessLog(bus, log, () => config.log.access, () => config.log.accessUnforwardedPerS, () => clock.now());
  life.register({ name: 'access-log', stop() { detachLog(); log.flush?.(); } });

  // What the roster took back from storage.database at start, for the operator (wall-clock ages).
  const restoredView = (): Record<string, number> | null => {
    const r = roster.restored;
    if (r === undefined) return null;
    const now = ticker.now();
    return {
      agoS: Math.round((now - r.at) / 1000), reputations: r.reputations, downS: Math.round(r.downMs / 1000),
      ...(r.attackFrom !== undefined ? { attackUnderWayForS: Math.round((r.at - r.attackFrom) / 1000) } : {}),
    };
  };
  const control = createShieldControl({
    clock, ticker, bus, blocklist, startedAt: clock.now(), detector, listenTls: () => listener.tls(), ...(config.kernelBlocklist.enabled ? { kernelBlocklist: () => kernel?.state() } : {}), learned: surfaces.learned, sessionsKnown: () => sessions.size, reputations: () => ({ remembered: shared.roster.size, restored: restoredView(), ...shared.wakes.state() }), costlyShapes: () => shared.requestCost.heaviest(10), costSite: () => ({ siteTypicalMs: shared.requestCost.siteTypicalMs === undefined ? undefined : Math.round(shared.requestCost.siteTypicalMs), doubtfulKinds: shared.requestCost.doubtfulKinds }),
    pathParameters: () => ({ learned: shared.costKeys.positions, recent: shared.costKeys.list(20) }),
    gate: () => listener.gate, port: () => listener.port, config: () => config, runtime: () => runtime,
    bodies: () => ({ streaming: bodyGuards.active, bufferedBytes: bodyBuffers.memoryBytes, spooledFiles: bodyBuffers.spooledFiles, spooledBytes: bodyBuffers.spooledBytes, responseMemoryBytes: responseSinks.memoryBytes, responseSpoolBytes: responseSinks.spoolBytes, responseSpoolFiles: responseSinks.spoolFiles }),
  });
  let admin: Awaited<ReturnType<typeof startAdminServer>> | undefined;
  life.register({
    name: 'admin',
    async start() {
      // Dry run is configuration (the filters are compiled with it): the console's toggle is a reload.
      const setDryRun = (on: boolean): void => handle.reload(deepFreeze({ ...config, detection: { ...config.detection, dryRun: on } }), '(console: dry run)');
      admin = await startAdminServer({ address: config.admin.address, port: config.admin.port, registry: metrics.registry, control, console: surfaces.adminConsole({ control, setDryRun }) });
    },
    async stop() { await admin?.close(); },
  });

  // The listener starts last (everything it hands requests to is ready) and stops first: it drains
  // requests in flight while telemetry, admin and upstream pools still run.
  life.register({
    name: 'listener',
    start: () => listener.start?.(),
    reload: (next) => listener.reload?.(next),
    async stop(graceMs) { draining = true; await listener.stop?.(graceMs); },
  });
  // After the listener (its port is the rules'), so it stops before it.
  kernel = life.register(createKernelMirror({
    settings: config.kernelBlocklist, port: () => listener.port, entries: () => blocklist.entries(clock.now()), clock, log,
  }));
  await life.start();
  const host = hostOf(config.listen.address);
  const adminHost = hostOf(config.admin.address);
  const adminPort = admin?.port ?? 0;
  log.info({ listen: `${host}:${listener.port}`, admin: `${adminHost}:${adminPort}`, services: life.names }, 'shield started');

  const handle: ShieldHandle = {
    url: `${config.listen.tls ? 'https' : 'http'}://${host}:${listener.port}`,
    port: listener.port,
    adminUrl: `http://${adminHost}:${adminPort}`,
    adminPort,
    bus,
    config: () => config,
    reload(next, file = '(inline)') {
      if (next.listen.address !== config.listen.address || next.listen.port !== config.listen.port
        || next.admin.address !== config.admin.address || next.admin.port !== config.admin.port) {
        log.warn({ file }, 'listen/admin address changes take effect only after a restart');
      }
      const k = (c: Config): string => JSON.stringify(c.kernelBlocklist);
      if (k(next) !== k(config)) log.warn({ file, key: 'kernelBlocklist' }, 'kernelBlocklist changes take effect only after a restart');
      for (const w of configWarnings(next)) log.warn({ file, key: w.path }, w.message);
      // The TLS certificates are read before anything changes: one that cannot be used refuses the reload whole.
      listener.prepareReload(next);
      const previous = runtime;
      runtime = buildRuntime(next, shared);
      config = next;
      life.reload(next);
      tunnels.limits = tunnelLimits(next);
      shared.streams.limits = streamLimits(next);
      // Tunnels to a server the new configuration no longer has, or on a route that no longer accepts them, close cleanly.
      tunnels.closeWhere((t) => !next.upstreams[t.upstream]?.servers.some((s) => s.url === t.serverUrl)
        || !next.routes.some((r) => r.websocket && r.upstream === t.upstream), CLOSE_GOING_AWAY, 'configuration reloaded');
      // In-flight requests on the old pools finish; new requests already use the new pools.
      void previous.close();
      bus.emit('config:reloaded', { file });
    },
    close: (closeOpts = {}) => life.stop(closeOpts.graceMs ?? 0),
  };
  return handle;
}
