import type { ServerConfig, UpstreamConfig } from '../../../config/schema.js';
import type { BalancedServer } from '../balancer.js';
import { createOutlierDetector, type OutlierDetector } from './outlier.js';
import { createProbeState, slowStartFactor, type ProbeState } from './probe-state.js';

/** Why a server takes traffic or not; the first that applies wins, in this order. */
export type ServerState = 'disabled' | 'draining' | 'probe-down' | 'ejected' | 'up';

/** What an operator set on a server through the admin API. */
export type AdminState = 'enabled' | 'draining' | 'disabled';

/** One server's live state: the balancer reads it, the forwarder counts requests in flight on it. */
export interface ServerHealth extends BalancedServer {
  readonly name: string;
  readonly url: string;
  readonly origin: string;
  state: ServerState;
  admin: AdminState;
  /** When the server last came back (slow start ramps from there); -Infinity at start (no ramp). */
  upSince: number;
}

/** A state change, published on the bus by the caller. */
export interface ServerTransition {
  readonly upstream: string;
  readonly server: string;
  readonly from: ServerState;
  readonly to: ServerState;
  readonly reason: string;
}

/**
 * The health of one upstream's servers: outlier ejection, probe states, operator states and slow
 * start folded into each server's `available` and `effectiveWeight`. It belongs to the process,
 * not to one configuration: a reload that keeps the same servers keeps their health (and the
 * requests counted in flight on them).
 */
export interface UpstreamHealth {
  readonly upstream: string;
  readonly servers: readonly ServerHealth[];
  /** False when no server (primary or backup) can take traffic: the forwarder answers 503 at once. */
  readonly anyAvailable: boolean;
  onSuccess(i: number): void;
  onFailure(i: number, now: number): void;
  probe(i: number, ok: boolean, now: number): void;
  setAdmin(i: number, state: AdminState, now: number, who: string): void;
  /** Ends ejections that are over and moves slow-start weights (called on a ticker). */
  tick(now: number): void;
  /** The server set's configuration fingerprint (reuse on reload only when it matches). */
  readonly key: string;
  describe(now: number): unknown[];
  /** Replaces the probe thresholds (a reload that changed rise/fall). */
  configure(cfg: UpstreamConfig): void;
}

// Passive health off: the detector still counts (for the state API) but may eject nobody.
const createOutlier = (c: UpstreamConfig, n: number): OutlierDetector =>
  createOutlierDetector(c.health.passive.enabled ? c.health.passive : { ...c.health.passive, maxEjectedPercent: 0 }, n);

const fingerprint = (servers: readonly ServerConfig[]): string => servers.map((s) => `${s.name} ${s.url} ${s.weight} ${s.backup}`).join('\n');

/** Creates the health of one upstream; `emit` hears every state change. */
export function createUpstreamHealth(upstream: string, cfg: UpstreamConfig, emit: (t: ServerTransition) => void): UpstreamHealth {
  let c = cfg;
  const servers: ServerHealth[] = c.servers.map((s, index) => ({
    index, name: s.name, url: s.url, origin: new URL(s.url).origin, weight: s.weight, backup: s.backup,
    effectiveWeight: s.weight, available: true, outstanding: 0, state: 'up', admin: 'enabled', upSince: -Infinity,
  }));
  let outlier: OutlierDetector = createOutlier(c, servers.length);
  let probes: ProbeState[] = servers.map(() => createProbeState(c.health.active?.rise ?? 1, c.health.active?.fall ?? 1));
  let anyAvailable = true;
  // Passing probes in a row per server: `rise` of them also end a passive ejection early.
  const passing = new Array<number>(servers.length).fill(0);
  const at = (i: number): ServerHealth => servers[i] as ServerHealth;

  const stateOf = (i: number): ServerState => {
    const s = at(i);
    if (s.admin !== 'enabled') return s.admin;
    if (!(probes[i] as ProbeState).up) return 'probe-down';
    return outlier.isEjected(i) ? 'ejected' : 'up';
  };
  const refresh = (i: number, now: number, reason: string): void => {
    const s = at(i);
    const to = stateOf(i);
    if (to === s.state) return;
    const from = s.state;
    s.state = to;
    s.available = to === 'up';
    if (s.available) {
      s.upSince = now;
      s.effectiveWeight = s.weight * slowStartFactor(now, now, c.health.slowStartMs);
    }
    anyAvailable = servers.some((x) => x.available);
    emit({ upstream, server: s.name, from, to, reason });
  };

  return {
    upstream,
    servers,
    key: fingerprint(c.servers),
    get anyAvailable() { return anyAvailable; },
    onSuccess(i) { outlier.onSuccess(i, 0); },
    onFailure(i, now) {
      const r = outlier.onFailure(i, now);
      if (r) passing[i] = 0;
      if (r) refresh(i, now, `${c.health.passive.consecutiveFailures} consecutive failures: ejected for ${Math.round(r.forMs / 1000)} s`);
    },
    probe(i, ok, now) {
      const change = (probes[i] as ProbeState).record(ok);
      passing[i] = ok ? (passing[i] as number) + 1 : 0;
      const rise = c.health.active?.rise ?? 1;
      const vouched = (probes[i] as ProbeState).up && (passing[i] as number) >= rise && outlier.reinstate(i, now);
      if (change || vouched) refresh(i, now, change === 'down' ? `${c.health.active?.fall} probes failed` : `${rise} probes passed`);
    },
    setAdmin(i, state, now, who) {
      at(i).admin = state;
      refresh(i, now, `${state} by ${who}`);
    },
    tick(now) {
      for (const i of outlier.expire(now)) refresh(i, now, 'ejection over');
      for (const s of servers) {
        if (!s.available || s.effectiveWeight === s.weight) continue;
        s.effectiveWeight = s.weight * slowStartFactor(now, s.upSince, c.health.slowStartMs);
      }
    },
    describe(now) {
      return servers.map((s, i) => {
        const o = outlier.describe(i);
        return {
          name: s.name, url: s.url, weight: s.weight, backup: s.backup, state: s.state, up: s.available, admin: s.admin,
          outstanding: s.outstanding, effectiveWeight: Math.round(s.effectiveWeight * 100) / 100,
          ejections: o.ejections, ejectedForS: o.ejectedUntil ? Math.max(0, Math.round((o.ejectedUntil - now) / 1000)) : 0,
          consecutiveFailures: o.consecutiveFailures,
          ...(c.health.active ? { probe: { up: (probes[i] as ProbeState).up, streak: (probes[i] as ProbeState).streak } } : {}),
        };
      });
    },
    configure(next) {
      const prevActive = c.health.active;
      const passiveChanged = JSON.stringify(next.health.passive) !== JSON.stringify(c.health.passive);
      c = next;
      if (passiveChanged) outlier = createOutlier(c, servers.length);
      if (JSON.stringify(prevActive) !== JSON.stringify(c.health.active)) {
        probes = probes.map((p) => createProbeState(c.health.active?.rise ?? 1, c.health.active?.fall ?? 1, p.up || !c.health.active));
      }
      for (let i = 0; i < servers.length; i++) refresh(i, -Infinity, 'configuration reloaded');
    },
  };
}

/** Every upstream's health in the process, kept across reloads for unchanged server lists. */
export interface HealthRegistry {
  /** The health of `name` under `cfg`: the existing one if its servers are the same, else a new one. */
  get(name: string, cfg: UpstreamConfig): UpstreamHealth;
  /** Forgets upstreams no longer configured. */
  retain(names: readonly string[]): void;
  all(): UpstreamHealth[];
}

/** Creates the registry; `emit` publishes transitions (on the shield's bus). */
export function createHealthRegistry(emit: (t: ServerTransition) => void): HealthRegistry {
  const map = new Map<string, UpstreamHealth>();
  return {
    get(name, cfg) {
      const existing = map.get(name);
      if (existing && existing.key === fingerprint(cfg.servers)) { existing.configure(cfg); return existing; }
      const h = createUpstreamHealth(name, cfg, emit);
      map.set(name, h);
      return h;
    },
    retain(names) { for (const k of [...map.keys()]) if (!names.includes(k)) map.delete(k); },
    all: () => [...map.values()],
  };
}
