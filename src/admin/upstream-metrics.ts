import { Counter, Gauge, type Registry } from 'prom-client';
import type { ShieldBus } from '../shield/events.js';
import type { ServerHealth } from '../shield/upstream/health/monitor.js';

/** What the upstream metrics read live on each scrape. */
export interface UpstreamMetricsSource {
  /** Every upstream's servers, by upstream name. */
  servers(): Iterable<[string, readonly ServerHealth[]]>;
  /** Upgraded (WebSocket) connections open now. */
  websockets(): number;
  /** Tunnels closed so far to give their place to a client holding fewer (listener/tunnels.ts). */
  websocketEvictions?(): number;
  /** Times a client's side of a tunnel was paused for sending over its frame or byte rate. */
  websocketThrottled?(): number;
  websocketMessagesWaited?(): number;
  /** Event streams (Server-Sent Events) held now (shield/upstream/event-stream.ts). */
  eventStreams?(): number;
  /** Requests for an event stream refused at `eventStreams.maxPerClient` or `maxTotal`. */
  eventStreamsRefused?(): number;
  /** Event streams closed to give their place to a client holding fewer, at `eventStreams.maxTotal`. */
  eventStreamsEvicted?(): number;
  /** Each upstream's cost probe (upstream/cost-probe.ts): its requests at the upstream and held. */
  costProbes?(): Iterable<[string, { readonly inFlight: number; readonly held: number }]>;
}

/**
 * Per-server and per-upstream metrics: `rempart_upstream_server_up` (1 takes traffic, 0 down —
 * ejected, probed down, drained or disabled), requests in flight, state changes and retries.
 * Gauges read the live state on scrape; counters follow the bus. Returns the detach function.
 */
export function attachUpstreamMetrics(registry: Registry, bus: ShieldBus, source: UpstreamMetricsSource): () => void {
  new Gauge({
    name: 'rempart_upstream_server_up', help: 'Whether an upstream server takes traffic (1) or not (0: ejected, probed down, draining or disabled)',
    labelNames: ['upstream', 'server'] as const, registers: [registry],
    collect() {
      this.reset();
      for (const [name, servers] of source.servers()) for (const s of servers) this.labels(name, s.name).set(s.available ? 1 : 0);
    },
  });
  new Gauge({
    name: 'rempart_upstream_server_outstanding', help: 'Requests in flight on an upstream server',
    labelNames: ['upstream', 'server'] as const, registers: [registry],
    collect() {
      this.reset();
      for (const [name, servers] of source.servers()) for (const s of servers) this.labels(name, s.name).set(s.outstanding);
    },
  });
  for (const [name, help, read] of [
    ['rempart_upstream_cost_probe_in_flight', 'Requests at the upstream carrying a query part whose cost it has not shown yet or that is costly (detection.costProbeShare)', (p: { inFlight: number }) => p.inFlight],
    ['rempart_upstream_cost_probe_held', 'Requests held back until the untried or costly query part they carry has room at the upstream (detection.costProbeShare)', (p: { held: number }) => p.held],
  ] as const) {
    new Gauge({
      name, help, labelNames: ['upstream'] as const, registers: [registry],
      collect() {
        this.reset();
        for (const [upstream, probe] of source.costProbes?.() ?? []) this.labels(upstream).set(read(probe as { inFlight: number; held: number }));
      },
    });
  }
  new Gauge({ name: 'rempart_websocket_connections', help: 'Upgraded WebSocket connections open now', registers: [registry], collect() { this.set(source.websockets()); } });
  // Read from the tunnels' own counts on scrape: one per handshake at the cap or per chunk over a
  // tunnel's rate, no event each.
  const countedOnScrape = (name: string, help: string, read: (() => number) | undefined): void => {
    let seen = 0;
    new Counter({
      name, help, registers: [registry],
      collect() {
        const n = read?.() ?? 0;
        if (n > seen) { this.inc(n - seen); seen = n; }
      },
    });
  };
  countedOnScrape('rempart_websocket_evictions_total', 'WebSocket tunnels closed (1013) to give their place to a client holding fewer, at websocket.maxTotal', source.websocketEvictions);
  countedOnScrape('rempart_websocket_throttled_total', 'Times a client\'s side of a WebSocket tunnel stopped being read for sending over websocket.clientFrames or clientBytes', source.websocketThrottled);
  countedOnScrape('rempart_websocket_messages_waited_total', 'Messages a client started in a WebSocket tunnel that waited for a slot of their upstream (websocket.admitMessages)', source.websocketMessagesWaited);
  const streams = source.eventStreams;
  if (streams !== undefined) new Gauge({ name: 'rempart_event_streams', help: 'Event streams (text/event-stream responses, announced by Accept: text/event-stream or not) held now', registers: [registry], collect() { this.set(streams()); } });
  countedOnScrape('rempart_event_streams_refused_total', 'Requests for an event stream refused at eventStreams.maxPerClient or maxTotal (503)', source.eventStreamsRefused);
  countedOnScrape('rempart_event_streams_evicted_total', 'Event streams closed to give their place to a client holding fewer, at eventStreams.maxTotal', source.eventStreamsEvicted);
  const changes = new Counter({
    name: 'rempart_upstream_server_transitions_total', help: 'Upstream server state changes, by the state entered',
    labelNames: ['upstream', 'server', 'to'] as const, registers: [registry],
  });
  const retries = new Counter({
    name: 'rempart_upstream_retries_total', help: 'Requests sent again to another server after failing before any response byte',
    labelNames: ['upstream'] as const, registers: [registry],
  });
  const ws = new Counter({ name: 'rempart_websocket_upgrades_total', help: 'WebSocket upgrades accepted', registers: [registry] });
  const offs = [
    bus.on('upstream:server', (t) => changes.labels(t.upstream, t.server, t.to).inc()),
    bus.on('upstream:retry', (r) => retries.labels(r.upstream).inc()),
    bus.on('websocket:open', () => ws.inc()),
  ];
  return () => { for (const off of offs) off(); };
}
