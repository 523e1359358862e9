import type { Clock } from '../core/clock.js';
import type { Config } from '../config/schema.js';
import type { ShieldControl } from '../admin/server.js';
import type { CidrTable } from './blocklist/cidr-table.js';
import type { ConnectionGate } from './listener/gate.js';
import type { ShieldBus } from './events.js';
import type { Runtime } from './runtime.js';
import type { Detector } from './defence/detector.js';
import type { LearnedStore } from './defence/learned-store.js';

/** A blocklist entry's payload. */
export interface BlockInfo {
  reason: string;
  source: 'config' | 'admin' | 'detector';
  createdAt: number;
}

/** What the operator port reads and acts on. */
export interface ControlDeps {
  clock: Clock;
  bus: ShieldBus;
  blocklist: CidrTable<BlockInfo>;
  gate: () => ConnectionGate;
  port: () => number;
  config: () => Config;
  runtime: () => Runtime;
  bodies: () => Record<string, number>;
  startedAt: number;
  detector: Detector;
  /** The saved detection baselines (absent when detection is off). */
  learned?: Pick<LearnedStore, 'discard'> | undefined;
  /** Monotonic clock of the upstream health state (ejection deadlines). */
  ticker?: Clock;
  /** The listener's TLS certificates (listen.tls), when it terminates TLS. */
  listenTls?: () => unknown;
  /** The blocklist's copy in nftables (blocklist/kernel-mirror.ts), when configured. */
  kernelBlocklist?: () => unknown;
  /** How many sessions the origin issued the shield knows (reputation/sessions.ts). */
  sessionsKnown?: () => number;
  /** The reputations seen presented and those that woke with an attack (reputation/roster.ts, wake-watch.ts). */
  reputations?: () => unknown;
  /** The query shapes that cost the upstream more than one request each (detect/request-cost.ts). */
  costlyShapes?: () => unknown[];
  /** The site's typical keyed request and the kinds weighed against it (detect/request-cost.ts). */
  costSite?: () => { siteTypicalMs: number | undefined; doubtfulKinds: number };
  /** Path positions learned to take a parameter (detect/cost-key.ts), and how many there are. */
  pathParameters?: () => { learned: number; recent: unknown[] };
}

/** The shield's operator port (state, blocks), implemented over its live state; the admin API adapts it to HTTP. */
export function createShieldControl(d: ControlDeps): ShieldControl {
  return {
    token: () => d.config().admin.token,
    state: () => {
      const config = d.config();
      const rt = d.runtime();
      return {
        version: '0.1.0',
        uptimeS: Math.round((d.clock.now() - d.startedAt) / 1000),
        listen: { address: config.listen.address, port: d.port(), ...(d.listenTls?.() !== undefined ? { tls: d.listenTls() } : {}) },
        connections: { open: d.gate().open, top: d.gate().top(20) },
        bodies: d.bodies(),
        blocklist: { size: d.blocklist.size, ...(d.kernelBlocklist ? { kernel: d.kernelBlocklist() } : {}) },
        upstreams: Object.fromEntries(Object.entries(config.upstreams).map(([k, u]) => [k, {
          url: u.url, balance: u.balance, servers: rt.upstreams.get(k)?.health.describe(d.ticker?.now() ?? d.clock.now()), connections: u.connections, limit: rt.admission.get(k)?.params.maxInFlight, inFlight: rt.admission.get(k)?.inFlight, queued: rt.admission.get(k)?.queued,
          // Rule 2's reading now: known customers strictly first, or sharing with newcomers (upstream/admission.ts).
          ...(config.detection.enabled && rt.admission.get(k) ? { admission: rt.admission.get(k)?.mode(d.ticker?.now() ?? d.clock.now()) } : {}),
          ...(rt.limits?.get(k) ? { noLoadRttMs: rt.limits.get(k)?.noLoadRttMs, smoothedRttMs: rt.limits.get(k)?.smoothedRttMs } : {}),
          // Requests of query parts never measured or known costly: in flight through the cost probe, and held back.
          ...(rt.probes?.get(k) ? { costProbe: { inFlight: rt.probes.get(k)?.inFlight, held: rt.probes.get(k)?.held } } : {}),
        }])),
        detection: config.detection.enabled
          ? {
            ...(d.detector.state() as Record<string, unknown>),
            sessions: { cookies: config.detection.sessionCookies, known: d.sessionsKnown?.() ?? 0 },
            reputations: { wokenReputations: config.detection.wokenReputations, ...(d.reputations?.() as Record<string, unknown> | undefined) },
            costWeighting: {
              enabled: config.detection.costWeighting,
              costly: config.detection.costWeighting ? d.costlyShapes?.() ?? [] : [],
              ...(config.detection.costWeighting && d.costSite ? d.costSite() : {}),
              ...(config.detection.costWeighting && d.pathParameters ? { pathParameters: d.pathParameters() } : {}),
            },
          }
          : { enabled: false },
        routes: config.routes.map((r) => ({ name: r.name, match: r.match, upstream: r.upstream, class: r.class })),
        phases: Object.fromEntries(Object.entries(rt.phases).map(([phase, list]) => [phase, (list as Array<{ name: string }>).map((f) => f.name)])),
        rateLimits: config.rateLimits,
        trustedProxies: config.trustedProxies,
      };
    },
    listBlocks: () => d.blocklist.entries(d.clock.now()).map((e) => ({
      cidr: e.cidr, reason: e.value.reason, source: e.value.source,
      expiresInS: e.expiresAt === undefined ? null : Math.max(0, Math.round((e.expiresAt - d.clock.now()) / 1000)),
    })),
    addBlock: (cidr, ttlS, reason) => {
      const now = d.clock.now();
      const normalized = d.blocklist.add(cidr, { reason, source: 'admin', createdAt: now }, ttlS ? now + ttlS * 1000 : undefined);
      d.bus.emit('block:added', { cidr: normalized, reason, ttlS });
      // A block takes effect on connections already open too, not only on new ones.
      const disconnected = d.gate().disconnect((address) => d.blocklist.lookup(address, d.clock.now()) !== undefined);
      return { cidr: normalized, disconnected };
    },
    forceAttack: (ttlS, who, reason, proofOfWork) => {
      d.detector.force(d.clock.now() + ttlS * 1000, who, proofOfWork);
      d.bus.emit('operator:action', { who, action: 'force-under-attack-reason', detail: reason });
    },
    clearForce: (who) => d.detector.clearForce(who),
    clearMitigation: (id, who) => d.detector.clearMitigation(id, who),
    forgetBaselines: (who) => {
      if (!d.config().detection.enabled) return false;
      d.detector.forget(who);
      d.learned?.discard();
      return true;
    },
    setServerState: (upstream, server, state, who) => {
      const u = d.runtime().upstreams.get(upstream);
      const i = u?.servers.findIndex((s) => s.name === server) ?? -1;
      if (!u || i === -1) return undefined;
      const now = d.ticker?.now() ?? d.clock.now();
      u.health.setAdmin(i, state, now, who);
      d.bus.emit('operator:action', { who, action: `upstream-server-${state}`, detail: `${upstream}/${server}` });
      return (u.health.describe(now) as unknown[])[i];
    },
    removeBlock: (cidr) => {
      const removed = d.blocklist.remove(cidr);
      if (removed) d.bus.emit('block:removed', { cidr });
      return removed;
    },
  };
}
