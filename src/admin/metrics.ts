import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ROUTE_CLASSES } from '../config/schema.js';
import type { ShieldBus } from '../shield/events.js';

/** Prometheus metrics of one shield, in their own registry, fed by the shield's events. */
export interface ShieldMetrics {
  readonly registry: Registry;
  detach(): void;
}

/** Creates the registry and subscribes it to the bus; gauges read live values on scrape. */
export function createShieldMetrics(bus: ShieldBus, live: { openConnections(): number; blocklistSize(): number }): ShieldMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'rempart_process_' });
  const requests = new Counter({
    name: 'rempart_requests_total', help: 'Requests by route class and outcome (forwarded or the error code that answered)',
    labelNames: ['class', 'outcome'] as const, registers: [registry],
  });
  const latency = new Histogram({
    name: 'rempart_upstream_latency_seconds', help: 'Time from forwarding a request to its upstream response headers',
    labelNames: ['upstream'] as const, buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const refused = new Counter({
    name: 'rempart_connections_refused_total', help: 'Connections refused before any HTTP parsing, by reason',
    labelNames: ['reason'] as const, registers: [registry],
  });
  const malformed = new Counter({
    name: 'rempart_malformed_requests_total', help: 'Requests refused by the HTTP parser (400/408/431), never forwarded',
    labelNames: ['code'] as const, registers: [registry],
  });
  new Gauge({ name: 'rempart_open_connections', help: 'Client connections open now', registers: [registry], collect() { this.set(live.openConnections()); } });
  new Gauge({ name: 'rempart_blocklist_entries', help: 'Live blocklist entries', registers: [registry], collect() { this.set(live.blocklistSize()); } });
  // Pre-create the children the hot path uses so an increment is a property access, not a label hash.
  const forwarded = Object.fromEntries([...ROUTE_CLASSES, 'none'].map((c) => [c, requests.labels(c, 'forwarded')]));
  const latencyBy = new Map<string, ReturnType<typeof latency.labels>>();
  const latencyOf = (upstream: string): ReturnType<typeof latency.labels> => {
    let child = latencyBy.get(upstream);
    if (!child) { child = latency.labels(upstream); latencyBy.set(upstream, child); }
    return child;
  };
  const phase = new Gauge({
    name: 'rempart_attack_phase', help: 'Attack phase per route class: 0 normal, 1 suspect, 2 recovering, 3 under attack',
    labelNames: ['class'] as const, registers: [registry],
  });
  for (const c of ROUTE_CLASSES) phase.labels(c).set(0);
  const transitions = new Counter({
    name: 'rempart_attack_transitions_total', help: 'Attack phase changes by class, new phase and the signal blamed',
    labelNames: ['class', 'to', 'signal'] as const, registers: [registry],
  });
  const mitigations = new Counter({
    name: 'rempart_mitigations_total', help: 'Mitigations added or lifted by kind (dry run included, labelled)',
    labelNames: ['kind', 'change', 'dry_run'] as const, registers: [registry],
  });
  const challenges = new Counter({
    name: 'rempart_challenges_total', help: 'Challenge answers sent, by level (1 no-JavaScript check, 2 proof-of-work) and whether enforced',
    labelNames: ['level', 'enforced'] as const, registers: [registry],
  });
  const standing = new Counter({
    name: 'rempart_requests_by_standing_total', help: 'Requests by client standing (established, cleared, checked, unknown)',
    labelNames: ['standing'] as const, registers: [registry],
  });
  const pace = new Counter({
    name: 'rempart_requests_by_pace_total', help: 'Token holders\' requests by pace level (0 light … 4 heaviest): the heavier wait first under saturation',
    labelNames: ['level'] as const, registers: [registry],
  });
  const paceChildren = [0, 1, 2, 3, 4].map((l) => pace.labels(String(l)));
  const PHASE_VALUE: Record<string, number> = { normal: 0, suspect: 1, recovering: 2, under_attack: 3 };
  const offs = [
    bus.on('attack:transition', (e) => {
      phase.labels(e.scope).set(PHASE_VALUE[e.to] ?? 0);
      transitions.labels(e.scope, e.to, e.reason.signal).inc();
    }),
    bus.on('mitigation:added', (e) => mitigations.labels(e.mitigation.kind, 'added', String(e.dryRun)).inc()),
    bus.on('mitigation:lifted', (e) => mitigations.labels(e.mitigation.kind, 'lifted', String(e.dryRun)).inc()),
    bus.on('request:end', ({ ctx }) => {
      const t = ctx.traits;
      if (t) {
        standing.labels(t.standing).inc();
        if (t.standing !== 'unknown') paceChildren[t.pace]?.inc();
        if (t.challenged > 0) challenges.labels(String(t.challenged), String(t.wouldHave === undefined)).inc();
      }
    }),
    bus.on('request:end', ({ ctx }) => {
      const v = ctx.verdict;
      const outcome = v?.kind === 'deny' ? v.code : v?.kind === 'shed' ? 'shed' : v?.kind === 'challenge' ? 'challenge' : v?.kind === 'local' ? 'local'
        : ctx.cacheState === 'HIT' ? 'cache_hit' : ctx.cacheState === 'STALE' ? 'cache_stale' : ctx.errorCode ?? 'forwarded';
      if (outcome === 'forwarded') forwarded[ctx.routeClass]?.inc();
      else requests.labels(ctx.routeClass, outcome).inc();
      if (ctx.upstreamMs !== undefined && ctx.route) latencyOf(ctx.route.upstream).observe(ctx.upstreamMs / 1000);
    }),
    bus.on('connection:refused', (e) => refused.labels(e.reason).inc()),
    bus.on('client:error', (e) => malformed.labels(e.code).inc()),
  ];
  return { registry, detach: () => offs.forEach((off) => off()) };
}
