import type { ServerResponse } from 'node:http';
import type { Clock } from '../core/clock.js';
import type { Service } from '../core/lifecycle.js';
import type { ShieldBus } from '../shield/events.js';
import { bucketOf, createRateSeries, type RateSample } from './rate-series.js';

const PHASE_VALUE: Record<string, number> = { normal: 0, suspect: 1, recovering: 2, under_attack: 3 };
const KEEP_S = 300;

/** What the console shows besides the rate series, read once per second. */
export interface LiveSources {
  /** detector.state() (phases, mitigations, signatures), or { enabled: false }. */
  detection(): Record<string, unknown>;
  /** Top entries per dimension of the detector's traffic sketch. */
  offenders(): unknown;
  blocks(): unknown[];
  channels(): unknown;
  upstreams(): unknown;
}

/** One second as pushed to consoles: the traffic sample, attack phase per class and the current picture. */
export interface LiveTick {
  readonly sample: RateSample & { readonly phases: Readonly<Record<string, number>> };
  readonly detection: unknown;
  readonly offenders: unknown;
  readonly blocks: unknown[];
  readonly channels: unknown;
  readonly upstreams: unknown;
}

const emptySample = (now: number, phases: Record<string, number>): LiveTick['sample'] => ({
  t: Math.floor(now / 1000) * 1000,
  verdicts: { allowed: 0, challenged: 0, rateLimited: 0, blocked: 0, shed: 0, stale: 0 },
  latencyMs: { critical: null, high: null, normal: null, low: null },
  inFlight: { critical: 0, high: 0, normal: 0, low: 0 },
  phases,
});

/** The console's live feed: per-second samples and the picture, pushed over Server-Sent Events. */
export interface LiveFeed extends Service {
  /** Attaches an SSE response: sends the history at once, then one tick per second. */
  subscribe(res: ServerResponse): void;
  /** One second now (the timer calls it; tests too). */
  tick(): LiveTick;
  history(): readonly LiveTick['sample'][];
  readonly subscribers: number;
}

/**
 * Creates the live feed. Per request it costs one bucket choice and two counter increments (a
 * `request:end` subscriber); everything else happens once per second.
 */
export function createLiveFeed(d: { clock: Clock; bus: ShieldBus; sources: LiveSources; maxSubscribers?: number }): LiveFeed {
  const { clock, bus } = d;
  const series = createRateSeries({ keep: KEEP_S, start: clock.now() });
  const phases: Array<LiveTick['sample']> = [];
  const clients = new Set<ServerResponse>();
  const max = d.maxSubscribers ?? 32;
  let timer: NodeJS.Timeout | undefined;
  let offs: Array<() => void> = [];
  let last: LiveTick | undefined;

  const picture = (sample: LiveTick['sample'], detection: unknown, full = true): LiveTick => (full
    ? { sample, detection, offenders: d.sources.offenders(), blocks: d.sources.blocks(), channels: d.sources.channels(), upstreams: d.sources.upstreams() }
    : { sample, detection, offenders: null, blocks: [], channels: null, upstreams: null });

  const send = (res: ServerResponse, event: string, data: unknown): void => {
    // A console that stopped reading is dropped rather than buffered for (SSE, HTML Living Standard §9.2).
    if (res.writableLength > 1024 * 1024) { res.destroy(); return; }
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };

  const self: LiveFeed = {
    name: 'console-live',
    start() {
      offs = [
        bus.on('request:end', ({ ctx }) => series.record(bucketOf(ctx), ctx.routeClass, ctx.upstreamMs, clock.now())),
        // Sources the gate turned away before parsing: the blocklist's, those over their
        // allowance of empty connections (a handshake loop on the TLS listener), and HTTP/2
        // connections closed for cancelling streams in a flood (rapid reset) — blocks in all but name.
        bus.on('connection:refused', (e) => { if (e.reason === 'blocklist' || e.reason === 'empty-connections' || e.reason === 'h2-resets') series.recordRefused(1, clock.now()); }),
      ];
      timer = setInterval(() => self.tick(), 1000);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      offs.forEach((off) => off());
      for (const c of clients) c.end();
      clients.clear();
    },
    subscribe(res) {
      if (clients.size >= max) {
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5' }).end(JSON.stringify({ error: 'too many live consoles' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
      res.write('retry: 2000\n\n');
      clients.add(res);
      res.on('close', () => clients.delete(res));
      // The picture is built only while someone watches; a console that connects gets one at once.
      last ??= picture(phases.at(-1) ?? emptySample(clock.now(), {}), d.sources.detection());
      send(res, 'history', { samples: phases, last });
    },
    tick() {
      const now = clock.now();
      const samples = series.roll(now);
      const detection = d.sources.detection();
      const classes = (detection.classes ?? {}) as Record<string, { phase?: string }>;
      const phaseNow = Object.fromEntries(Object.entries(classes).map(([c, s]) => [c, PHASE_VALUE[s.phase ?? 'normal'] ?? 0]));
      // Samples closed since the last tick (usually one) get the phases seen now.
      const lastT = phases.at(-1)?.t ?? -Infinity;
      for (const s of samples) if (s.t > lastT) phases.push({ ...s, phases: phaseNow });
      if (phases.length > KEEP_S) phases.splice(0, phases.length - KEEP_S);
      const sample = phases.at(-1) ?? emptySample(now, phaseNow);
      if (clients.size === 0) { last = undefined; return picture(sample, detection, false); }
      last = picture(sample, detection);
      for (const c of clients) send(c, 'tick', last);
      return last;
    },
    history: () => phases,
    get subscribers() { return clients.size; },
  };
  return self;
}
