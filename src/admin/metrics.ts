import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { ROUTE_CLASSES } from '../config/schema.js';
import type { ShieldBus } from '../shield/events.js';
import { registerHotPathHistogram } from './hot-path-histogram.js';

/** Prometheus metrics of one shield, in their own registry, fed by the shield's events. */
export interface ShieldMetrics {
  readonly registry: Registry;
  detach(): void;
}

/** Creates the registry and subscribes it to the bus; gauges read live values on scrape. */
export function createShieldMetrics(bus: ShieldBus, live: { openConnections(): number; blocklistSize(): number; wokenReputations?(): number; kernelBlocklist?(): { elements: number; failures: number; active: boolean }; tlsCertificates?(): ReadonlyArray<{ subject: string; notAfter: string }>; http2Connections?(): number }): ShieldMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'rempart_process_' });
  // Per request, counts are plain numbers: prom-client hashes the label set on every `inc`
  // (~0.5 µs), so it hears the sums when scraped, through each counter's `collect`.
  const CLASSES = [...ROUTE_CLASSES, 'none'] as const;
  const classIndex: Record<string, number> = Object.fromEntries(CLASSES.map((c, i) => [c, i]));
  const pendingRequests = new Map<string, Float64Array>(); // outcome → count per class (a bounded set: codes and verdict kinds)
  new Counter({
    name: 'rempart_requests_total', help: 'Requests by route class and outcome (forwarded or the error code that answered)',
    labelNames: ['class', 'outcome'] as const, registers: [registry],
    collect() {
      for (const [outcome, byClass] of pendingRequests) {
        for (let i = 0; i < byClass.length; i++) {
          const n = byClass[i] as number;
          if (n > 0) { this.labels(CLASSES[i] as string, outcome).inc(n); byClass[i] = 0; }
        }
      }
    },
  });
  const countRequest = (routeClass: string, outcome: string): void => {
    let byClass = pendingRequests.get(outcome);
    if (byClass === undefined) { byClass = new Float64Array(CLASSES.length); pendingRequests.set(outcome, byClass); }
    const i = classIndex[routeClass] ?? CLASSES.length - 1;
    byClass[i] = (byClass[i] as number) + 1;
  };
  const latency = registerHotPathHistogram(registry, {
    name: 'rempart_upstream_latency_seconds', help: 'Time from forwarding a request to its upstream response headers',
    labelName: 'upstream', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  const refused = new Counter({
    name: 'rempart_connections_refused_total', help: 'Connections refused before any HTTP parsing, by reason',
    labelNames: ['reason'] as const, registers: [registry],
  });
  const handshakes = new Counter({
    name: 'rempart_tls_handshakes_total', help: 'TLS handshakes completed on the listener, by protocol version and whether a session was resumed',
    labelNames: ['version', 'resumed'] as const, registers: [registry],
  });
  const malformed = new Counter({
    name: 'rempart_malformed_requests_total', help: 'Requests refused by the HTTP parser (400/408/431), never forwarded',
    labelNames: ['code'] as const, registers: [registry],
  });
  new Gauge({ name: 'rempart_open_connections', help: 'Client connections open now', registers: [registry], collect() { this.set(live.openConnections()); } });
  new Gauge({ name: 'rempart_blocklist_entries', help: 'Live blocklist entries', registers: [registry], collect() { this.set(live.blocklistSize()); } });
  const kernel = live.kernelBlocklist;
  if (kernel !== undefined) {
    // kernelBlocklist (shield/blocklist/kernel-mirror.ts): what the kernel holds, and the batches nft refused.
    new Gauge({ name: 'rempart_kernel_blocklist_active', help: '1 while the blocklist is mirrored in nftables', registers: [registry], collect() { this.set(kernel().active ? 1 : 0); } });
    new Gauge({ name: 'rempart_kernel_blocklist_entries', help: 'Blocks mirrored in nftables', registers: [registry], collect() { this.set(kernel().elements); } });
    new Counter({ name: 'rempart_kernel_blocklist_failures_total', help: 'Batches nft refused (those blocks stayed in userspace only)', registers: [registry], collect() { this.reset(); this.inc(kernel().failures); } });
  }
  const h2 = live.http2Connections;
  if (h2 !== undefined) new Gauge({ name: 'rempart_http2_connections', help: 'HTTP/2 connections open now (counted in rempart_open_connections too)', registers: [registry], collect() { this.set(h2()); } });
  const certificates = live.tlsCertificates;
  if (certificates !== undefined) {
    // What a blackbox exporter's probe_ssl_earliest_cert_expiry gives, from the shield itself: alert on it.
    new Gauge({
      name: 'rempart_tls_certificate_not_after_seconds', help: 'End of validity of each certificate the listener serves (Unix time)',
      labelNames: ['subject'] as const, registers: [registry],
      collect() { this.reset(); for (const c of certificates()) this.labels(c.subject).set(Date.parse(c.notAfter) / 1000); },
    });
  }
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
  const pendingStanding = new Map<string, number>();
  new Counter({
    name: 'rempart_requests_by_standing_total', help: 'Requests by client standing (established, cleared, checked, unknown)',
    labelNames: ['standing'] as const, registers: [registry],
    collect() {
      for (const [s, n] of pendingStanding) if (n > 0) { this.labels(s).inc(n); pendingStanding.set(s, 0); }
    },
  });
  const pendingPace = new Float64Array(5);
  new Counter({
    name: 'rempart_requests_by_pace_total', help: 'Token holders\' requests by pace level (0 light … 4 heaviest): the heavier wait first under saturation',
    labelNames: ['level'] as const, registers: [registry],
    collect() {
      for (let l = 0; l < pendingPace.length; l++) if ((pendingPace[l] as number) > 0) { this.labels(String(l)).inc(pendingPace[l]); pendingPace[l] = 0; }
    },
  });
  // Reputations that woke with an attack (reputation/roster.ts): how many, and the requests that waited for it.
  const wakeUps = new Counter({
    name: 'rempart_reputation_wakeups_total', help: 'Attacks in which reputations established before them woke with them (dry run included, labelled)',
    labelNames: ['dry_run'] as const, registers: [registry],
  });
  let wokenCounted = 0;
  new Counter({
    name: 'rempart_woken_reputations_total', help: 'Reputations judged woken with an attack, each counted once per attack',
    registers: [registry],
    collect() {
      const total = live.wokenReputations?.() ?? 0;
      if (total > wokenCounted) { this.inc(total - wokenCounted); wokenCounted = total; }
    },
  });
  let pendingWoken = 0;
  new Counter({
    name: 'rempart_requests_woken_total', help: 'Requests that passed on a woken reputation and waited with the token-less requests',
    registers: [registry],
    collect() { if (pendingWoken > 0) { this.inc(pendingWoken); pendingWoken = 0; } },
  });
  // 1 while one client has sent most of the traffic for minutes and the baselines learn nothing
  // (defence/learning-pause.ts): an alert on it finds a proxy missing from trustedProxies.
  const learningPaused = new Gauge({ name: 'rempart_detection_learning_paused', help: 'Whether detection has learned nothing for minutes because one client sends most of the traffic (1) or learns (0)', registers: [registry] });
  learningPaused.set(0);
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
        pendingStanding.set(t.standing, (pendingStanding.get(t.standing) ?? 0) + 1);
        if (t.standing !== 'unknown' && t.pace >= 0 && t.pace < pendingPace.length) pendingPace[t.pace] = (pendingPace[t.pace] as number) + 1;
        if (t.woken === true) pendingWoken++;
        if (t.challenged > 0) challenges.labels(String(t.challenged), String(t.wouldHave === undefined)).inc();
      }
      const v = ctx.verdict;
      const outcome = v?.kind === 'deny' ? v.code : v?.kind === 'shed' ? 'shed' : v?.kind === 'challenge' ? 'challenge' : v?.kind === 'local' ? 'local'
        : ctx.cacheState === 'HIT' ? 'cache_hit' : ctx.cacheState === 'STALE' ? 'cache_stale' : ctx.errorCode ?? 'forwarded';
      countRequest(ctx.routeClass, outcome);
      if (ctx.upstreamMs !== undefined && ctx.route) latency.series(ctx.route.upstream).observe(ctx.upstreamMs / 1000);
    }),
    bus.on('reputation:wake', (e) => wakeUps.labels(String(e.wakeUp.dryRun)).inc()),
    bus.on('detection:learning', (e) => learningPaused.set(e.paused ? 1 : 0)),
    bus.on('connection:refused', (e) => refused.labels(e.reason).inc()),
    bus.on('tls:handshake', (e) => handshakes.labels(e.version, String(e.resumed)).inc()),
    bus.on('client:error', (e) => malformed.labels(e.code).inc()),
  ];
  return { registry, detach: () => offs.forEach((off) => off()) };
}
