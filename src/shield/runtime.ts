import type { Clock } from '../core/clock.js';
import type { Config } from '../config/schema.js';
import type { BodyGuards } from './body-guard.js';
import type { BodyBuffers } from './body/request-buffer.js';
import type { CacheStore } from './cache/store.js';
import type { Coalescer } from './cache/coalesce.js';
import { compileRoutes } from './routes.js';
import { named, type LoggingFilter, type PhaseExtensions, type Phases, type RequestFilter, type UpstreamRequestFilter, type UpstreamResponseFilter, type FailureFilter } from './pipeline/phases.js';
import type { Pipeline } from './pipeline/handler.js';
import { createValidateFilter } from './filters/request/validate-request.js';
import { createClassifyFilter } from './filters/request/classify.js';
import { createClientBlockFilter, type BlocklistLookupPort } from './filters/request/client-block.js';
import { createRateLimitFilter, type RateLimiterPort } from './filters/request/rate-limit.js';
import { createCacheLookupFilter } from './filters/request/cache-lookup.js';
import { createBufferBodyFilter } from './filters/upstream-request/buffer-body.js';
import { createForwardingHeadersFilter } from './filters/upstream-request/forwarding-headers.js';
import { costKeyOf, createPaceFilter, withSourcePace } from './filters/upstream-request/pace.js';
import { createCacheStoreFilter } from './filters/upstream-response/cache-store.js';
import { createStaleOnErrorStatusFilter } from './filters/upstream-response/stale-on-error-status.js';
import { createRequestIdFilter } from './filters/upstream-response/request-id.js';
import { createStaleIfErrorFilter } from './filters/failure/stale-if-error.js';
import { closeUpstreams, createUpstreams, type Upstream } from './upstream/pools.js';
import type { HealthRegistry } from './upstream/health/monitor.js';
import { createAdmissionQueue, STANDING, tierFor, type AdmissionQueue, type Waiter } from './upstream/admission.js';
import type { Continuations } from './defence/continuations.js';
import type { PageVisits } from './defence/page-visits.js';
import type { RequestCost } from './detect/request-cost.js';
import type { CostKeys } from './detect/cost-key.js';
import { createCostProbe, type CostProbe } from './upstream/cost-probe.js';
import { latencyKind } from './upstream/latency-kind.js';
import { createPageVisitFilter } from './filters/logging/page-visit.js';
import { createVisitCookieFilter, createVisitIdGiver, visitCookieOnCacheHit } from './filters/upstream-response/visit-cookie.js';
import { createContinuationFilter } from './filters/request/continuation.js';
import { createFailedAuthFilter } from './filters/upstream-response/failed-auth.js';
import { createSessionIssueFilter } from './filters/upstream-response/session-issue.js';
import { createContinuationGrantFilter } from './filters/upstream-response/continuation-grant.js';
import { personalToken, type RequestContext } from './context.js';
import { createForwarder, type Forwarder } from './upstream/forward.js';
import type { ResponseSinks } from './upstream/response-sink.js';
import { createTrustedMatcher, formatForwardedFor, resolveClientAddress } from './client-address.js';
import { createClientKey } from './client-key.js';
import type { ShieldBus } from './events.js';
import type { Detector } from './defence/detector.js';
import type { ChallengeSettings } from './challenge/settings.js';
import type { RevocationList } from './reputation/revocation.js';
import type { SessionTable } from './reputation/sessions.js';
import type { ReputationRoster } from './reputation/roster.js';
import type { WakeWatch } from './reputation/wake-watch.js';
import type { IdentityPace } from './detect/identity-pace.js';
import { DEFAULT_ATTACK_PARAMS } from './detect/attack-state.js';
import { createChallengeVerifyFilter } from './filters/request/challenge-verify.js';
import { createClearanceFilter, type ClearanceFilter } from './filters/request/clearance.js';
import { createReputationCookieFilter } from './filters/upstream-response/reputation-cookie.js';
import { createStatusPageFilter, type StatusPagesPort } from './filters/request/status-page.js';
import { createConcurrencyLimit } from './detect/concurrency-limit.js';
import type { LoopStall } from './upstream/loop-stall.js';
import type { StreamBudget } from './upstream/event-stream.js';

/** Long-lived state that survives reloads: it belongs to the process, not to one configuration. */
export interface SharedState {
  /** Wall clock (blocklist TTLs). */
  clock: Clock;
  /** Monotonic clock (queues, rates). */
  ticker: Clock;
  /** How long the event loop last held callbacks back (upstream/loop-stall.ts); absent: never. */
  loopStall?: LoopStall;
  /** The event streams held (upstream/event-stream.ts), across reloads; absent: requests for one are requests like any other. */
  streams?: StreamBudget;
  blocklist: BlocklistLookupPort;
  limiter: RateLimiterPort;
  bodyGuards: BodyGuards;
  bodyBuffers: BodyBuffers;
  responseSinks: ResponseSinks;
  cache: CacheStore;
  coalescer: Coalescer;
  bus: ShieldBus;
  draining(): boolean;
  /** Filters an embedder adds to every configuration. */
  extensions: PhaseExtensions;
  detector: Detector;
  challenge: ChallengeSettings;
  revocations: RevocationList;
  /** Sessions the origin issued (reputation/sessions.ts): the standing of authenticated customers. */
  sessions: SessionTable;
  /** Identities whose session was revoked: the next sessions they log in to are not learned. */
  sessionHolders: RevocationList;
  /** Per-token pace (admission serves lighter identities first). */
  pace: IdentityPace;
  /** What each kind and query shape of request costs the upstream, in its kind's typical requests. */
  requestCost: RequestCost;
  /** What a request's cost is read by: its kind and shape, path parameters learned from answers (detect/cost-key.ts). */
  costKeys: CostKeys;
  /** Requests that follow a critical request's redirect, waiting in the critical queue (defence/continuations.ts). */
  continuations: Continuations;
  /** Pages each source loaded lately, which back its form submissions (defence/page-visits.ts). */
  pageVisits: PageVisits;
  /** Reputations seen presented, kept across reloads (reputation/roster.ts). */
  roster: ReputationRoster;
  /** Woken reputations counted for the operator (reputation/wake-watch.ts). */
  wakes?: WakeWatch;
  /** The public status page, served from memory (absent: no status page). */
  statusPages?: StatusPagesPort | undefined;
  /** Upstream servers' health (ejections, probes, operator drains): survives reloads. */
  health: HealthRegistry;
}

/** One configuration compiled for the hot path: phases, pools, matchers. Swapped whole on reload. */
export interface Runtime extends Pipeline {
  readonly config: Config;
  readonly phases: Phases;
  readonly forward: Forwarder;
  readonly upstreams: Map<string, Upstream>;
  readonly admission: Map<string, AdmissionQueue>;
  /** Adaptive concurrency limits per upstream, when enabled. */
  readonly limits: Map<string, ReturnType<typeof createConcurrencyLimit>> | undefined;
  /** Cost probes per upstream (requests of untried or costly query parts), when cost weighting is on. */
  readonly probes: Map<string, CostProbe> | undefined;
  isTrusted(address: string): boolean;
  /** Stops the queue ticker; old pools finish their in-flight requests, then close. */
  close(): Promise<void>;
}

/** Slots of an upstream: `connections` per server taking traffic (primaries, else backups); at least one server's worth. */
function capacityOf(u: Upstream | undefined, fallback: number): number {
  if (!u) return fallback;
  let primaries = 0;
  let backups = 0;
  for (const s of u.servers) if (s.available) { if (s.backup) backups++; else primaries++; }
  return u.connectionsPerServer * Math.max(1, primaries || backups);
}

/**
 * Compiles a validated configuration into the phases of an exchange. Adding a defence is adding
 * a filter file and one line here, at the place its cost deserves (cheap and decisive first).
 */
export function buildRuntime(config: Config, shared: SharedState): Runtime {
  const trusted = createTrustedMatcher([...config.trustedProxies]);
  const clientKey = createClientKey(config.clientIpv6Prefix);
  const upstreams = createUpstreams(config.upstreams, shared.health, shared.ticker);
  const w = config.classWeights;
  const weights = [w.critical, w.high, w.normal, w.low];
  const o = config.classOffsetsMs;
  const offsetsMs = [o.critical, o.high, o.normal, o.low];
  const adaptive = config.detection.enabled && config.detection.adaptiveConcurrency;
  // A waiting token holder's standing falls as its pace climbs (requests queued before its flood showed).
  const pace = shared.pace;
  // An answer teaches its query shape's cost (detect/request-cost.ts).
  const weighsCost = config.detection.enabled && config.detection.costWeighting;
  // A cost key only learned from when its request arrived (its path's position not yet known to
  // take lists) is read again: the flood's first list answered makes the position a parameter while
  // its other requests wait, and they must not go unweighed and unprobed (detect/cost-key.ts).
  const costKeyNow = (ctx: RequestContext): boolean => {
    // No position learned yet: nothing to read again.
    if (ctx.costWeighed === false && shared.costKeys.positions > 0) {
      const key = costKeyOf(shared.costKeys, ctx);
      if (key?.weighed === true) { ctx.costKind = key.kind; ctx.costShape = key.shape; ctx.costWeighed = true; }
    }
    return ctx.costWeighed === true && ctx.costKind !== undefined && ctx.costShape !== undefined;
  };
  const retier = config.detection.enabled
    ? (w: Waiter): number => {
      const ctx = w.subject as RequestContext | undefined;
      if (ctx?.paceKey === undefined || ctx.baseTier === undefined) return w.tier ?? 0;
      const now = shared.ticker.now();
      // What its shape costs, read again at the head: a costly search queued before its shape had
      // answers (a flood's first second) counts what it costs once they came back.
      if (weighsCost && costKeyNow(ctx)) {
        const weight = shared.requestCost.weight(ctx.costKind as string, ctx.costShape as string);
        if (weight > (ctx.costWeight ?? 1)) { pace.charge(ctx.paceKey, weight - (ctx.costWeight ?? 1), now); ctx.costWeight = weight; }
      }
      // A reputation presented in the onset's first second, before the first suspicion, passed as
      // established; once the wake-up shows, it waits in group (c) (reputation/roster.ts).
      if (ctx.baseTier === STANDING.established && clearance?.wokenNow(ctx) === true) {
        ctx.baseTier = STANDING.anonymous;
        if (ctx.traits) ctx.traits.woken = true;
      }
      // Its own cost read as `hit` read it: one costly request makes its sender busy, not a flood (identity-pace.ts `ownWeight`).
      const level = withSourcePace(pace.level(ctx.paceKey, now, ctx.conn.pending?.() ?? 0, ctx.costWeight ?? 1), pace, ctx.sourceKey, now);
      // A continuation keeps its critical request's pace (defence/continuations.ts).
      return tierFor(ctx.queueStanding ?? ctx.baseTier, ctx.continuationPace === undefined ? level : Math.min(level, ctx.continuationPace));
    }
    : undefined;
  const k = config.detection.knownFirstMs;
  const knownFirstMs = [k.critical, k.high, k.normal, k.low];
  // Requests queued without a token before the first challenge never had one to answer.
  const challengesSince = (): number => {
    const ago = shared.detector.challengingForMs();
    return ago === undefined ? -Infinity : shared.ticker.now() - ago;
  };
  // Requests of a query part never measured, or known to be costly, go a few at a time (upstream/cost-probe.ts).
  // A kind gets two parts' room: its half was the whole of a 2-worker origin under a limit of 4
  // (docs/detection.md, the cost probe).
  const share = config.detection.costProbeShare;
  const probes = weighsCost && share > 0
    ? new Map(Object.entries(config.upstreams).map(([name, u]) => [name, createCostProbe({ partShare: share, kindShare: Math.min(1, 2 * share), maxHeld: u.maxQueue, timeoutMs: u.queueTimeoutMs })]))
    : undefined;
  const admission = new Map<string, AdmissionQueue>(Object.entries(config.upstreams).map(([name, u]) =>
    [name, createAdmissionQueue({
      maxInFlight: adaptive ? Math.min(u.connections, 20) : capacityOf(upstreams.get(name), u.connections), maxQueue: u.maxQueue, queueTimeoutMs: u.queueTimeoutMs, weights, offsetsMs,
      ...(retier ? { retier, challengesSince, policyVersion: () => shared.detector.policyVersion(), knownFirstMs, patienceMs: config.detection.patienceMs } : {}),
    })]));
  // `connections` is the ceiling; the limit in force follows the latency the upstream shows, so
  // requests wait in our queue (where standing and class decide) rather than in the upstream's.
  const concurrency = adaptive
    ? new Map(Object.entries(config.upstreams).map(([name, u]) => [name, createConcurrencyLimit({ max: u.connections, min: Math.min(4, u.connections), initial: Math.min(u.connections, 20) })]))
    : undefined;
  const standingMs = config.detection.attack.standingMs ?? DEFAULT_ATTACK_PARAMS.standingMs;
  // Queued requests must hear "503" when their wait runs out even if nothing else happens.
  let forwarder: Forwarder | undefined;
  // Each upstream's rule-2 reading last told (admission:mode): known customers strictly first.
  const modes = new Map<string, boolean>();
  const ticker = setInterval(() => {
    const now = shared.ticker.now();
    // A kind first answered in an attack does not set its own typical cost (detect/request-cost.ts).
    if (weighsCost) shared.requestCost.alert(shared.detector.challengingSince() !== undefined, now);
    // Rule 2's reading, told when it changes (admission:mode): which of the measures put known
    // customers strictly first, or that the newcomers share with them.
    if (config.detection.enabled) {
      for (const [name, q] of admission) {
        // Strict is the reading of an idle queue too (nothing shares): told only once requests wait.
        if (q.queued === 0 && modes.get(name) !== true) continue;
        const strict = q.knownStrict(now);
        if (strict !== (modes.get(name) ?? false)) {
          modes.set(name, strict);
          shared.bus.emit('admission:mode', { upstream: name, ...q.mode(now) });
        }
      }
    }
    for (const [name, q] of admission) {
      const probe = probes?.get(name);
      if (probe !== undefined && probe.held > 0) {
        probe.expire(now, q.params.maxInFlight);
        // Held requests wait for a slot too: a flood of costly searches the probe holds is a standing queue.
        const held = probe.standingMs(now);
        if (config.detection.enabled && held >= standingMs) shared.detector.standing(name, held, probe.oldestHeldMs(now));
      }
      if (q.queued === 0) continue;
      q.expire(now);
      // A queue that stopped emptying raises suspicion now, not at the detector's next tick.
      const standing = q.standingMs(now);
      if (config.detection.enabled && standing >= standingMs) shared.detector.standing(name, standing, q.oldestWaitMs(now));
    }
    for (const [name, u] of upstreams) {
      u.health.tick(now);
      // `connections` is per server: the upstream's slots follow the servers taking traffic.
      const q = admission.get(name);
      if (!adaptive && q && u.servers.length > 1) {
        const cap = capacityOf(u, q.params.maxInFlight);
        if (cap !== q.params.maxInFlight) q.params = { ...q.params, maxInFlight: cap };
      }
    }
    forwarder?.evictStalled(now);
  }, 100);
  ticker.unref();
  const caches = config.routes.some((r) => r.cache);
  const ext = shared.extensions;

  const det = config.detection;
  const request: RequestFilter[] = [createValidateFilter(config.listen.limits.maxHeaderCount)];
  // Before limits and challenges: the status page stays reachable under attack and with the origin down.
  if (config.status.enabled && shared.statusPages) request.push(createStatusPageFilter(shared.statusPages, config.status.path));
  if (det.enabled) request.push(createChallengeVerifyFilter(shared.challenge, shared.clock));
  request.push(
    createClassifyFilter(compileRoutes(config.routes)),
    createClientBlockFilter(shared.blocklist, shared.clock),
  );
  if (config.rateLimits.enabled && !det.enabled) request.push(createRateLimitFilter(shared.limiter, config.rateLimits.perClient));
  let clearance: ClearanceFilter | undefined;
  if (det.enabled) {
    request.push(clearance = createClearanceFilter({
      detector: shared.detector, settings: shared.challenge, clock: shared.clock, limiter: shared.limiter, perToken: det.perToken, sharedAddressCookies: det.sharedAddressCookies,
      revocations: shared.revocations, sessions: shared.sessions, sessionHolders: shared.sessionHolders, revokedHolderMs: det.sessions.revokedHolderS * 1000, pace: shared.pace, ticker: shared.ticker, exemptPaths: det.exemptPaths, sessionCookies: det.sessionCookies, dryRun: det.dryRun,
      ...(det.wokenReputations ? { roster: shared.roster, ...(shared.wakes ? { wakes: shared.wakes } : {}) } : {}),
      ...(det.formPageTtlS > 0 ? { pageVisits: shared.pageVisits } : {}),
    }));
    const c = clearance;
    if (config.rateLimits.enabled) request.push(createRateLimitFilter(shared.limiter, config.rateLimits.perClient, (ctx) => personalToken(ctx) !== undefined,
      config.rateLimits.overLimit === 'challenge' ? (ctx) => c.overAddressLimit(ctx) : undefined));
  }
  request.push(createContinuationFilter(shared.continuations, shared.ticker));
  request.push(...(ext.request ?? []));
  // A page answered from the cache names its browser as one the origin answered does (page visits).
  const giveVisitId = det.enabled && det.formPageTtlS > 0 ? createVisitIdGiver({ randomBytes: shared.challenge.randomBytes, visits: shared.pageVisits, ticker: shared.ticker, clock: shared.clock }) : undefined;
  if (caches) request.push(createCacheLookupFilter(shared.cache, shared.coalescer, shared.ticker, giveVisitId && visitCookieOnCacheHit(giveVisitId)));

  const limits = { ...config.listen.limits, memoryBytes: config.buffering.requestMemoryBytes };
  const upstreamRequest: UpstreamRequestFilter[] = [
    createBufferBodyFilter(shared.bodyBuffers, limits),
    createForwardingHeadersFilter(formatForwardedFor, config.listen.limits.maxRanges),
    ...(det.enabled ? [createPaceFilter(shared.pace, shared.ticker, det.formPageTtlS > 0 ? shared.pageVisits : undefined, det.costWeighting ? { weights: shared.requestCost, keys: shared.costKeys } : undefined)] : []),
    ...(ext.upstreamRequest ?? []),
  ];
  const upstreamResponse: UpstreamResponseFilter[] = [];
  if (caches) upstreamResponse.push(createStaleOnErrorStatusFilter(shared.cache, shared.ticker), createCacheStoreFilter(shared.cache, shared.coalescer, shared.ticker, config.cache.maxObjectBytes));
  upstreamResponse.push(createRequestIdFilter());
  if (det.enabled) {
    upstreamResponse.push(
      createFailedAuthFilter(shared.pace, shared.ticker, () => shared.detector.paceLightRequests()),
      ...(det.sessionCookies.length > 0 ? [createSessionIssueFilter(shared.sessions, det.sessionCookies, shared.clock, shared.sessionHolders)] : []),
      createReputationCookieFilter({ keys: shared.challenge.keys, randomBytes: shared.challenge.randomBytes, clock: shared.clock }),
      ...(giveVisitId !== undefined ? [createVisitCookieFilter(giveVisitId)] : []),
    );
  }
  // After session-issue: a login's redirect is granted to the session it set.
  upstreamResponse.push(createContinuationGrantFilter(shared.continuations, shared.ticker));
  upstreamResponse.push(...(ext.upstreamResponse ?? []));
  const failure: FailureFilter[] = [...(ext.failure ?? [])];
  if (caches) failure.unshift(createStaleIfErrorFilter(shared.cache, shared.ticker));
  const bus = shared.bus;
  const logging: LoggingFilter[] = [
    // Telemetry is published, not imported: metrics, logs and detectors subscribe to the bus.
    named('publish', (ctx, o) => bus.emit('request:end', { ctx, status: o.status, durationMs: o.durationMs, aborted: o.aborted })),
  ];
  if (det.enabled) logging.push(named('detector', (ctx, o) => shared.detector.finish(ctx, o)));
  if (det.enabled && det.formPageTtlS > 0) logging.push(createPageVisitFilter(shared.pageVisits, shared.ticker));
  logging.push(...(ext.logging ?? []));
  const phases: Phases = Object.freeze({
    request: Object.freeze(request),
    upstreamRequest: Object.freeze(upstreamRequest),
    upstreamResponse: Object.freeze(upstreamResponse),
    failure: Object.freeze(failure),
    logging: Object.freeze(logging),
  });

  const forward = forwarder = createForwarder({
    upstreams,
    admission,
    clock: shared.ticker,
    bodyGuards: shared.bodyGuards,
    bodyLimits: config.listen.limits,
    responseFilters: phases.upstreamResponse,
    responseSinks: shared.responseSinks,
    stallEvictMs: config.buffering.stallEvictMs,
    sendTimeoutMs: config.listen.limits.sendTimeoutMs,
    draining: shared.draining,
    ...(shared.streams ? { streams: shared.streams, streamIdleMs: config.eventStreams.idleTimeoutMs, isShared: (key: string) => shared.detector.isSharedAddress(key) } : {}),
    ...(clearance ? { rechallenge: clearance.rechallenge } : {}),
    // Rule 7 (admission.ts): a request that waited the whole queue timeout without its client
    // giving up is what a person does not send — people reload or leave within seconds, and the
    // browser closes the request. It weighs two page levels on its identity's pace, so the request
    // a tool sends the moment it is refused ranks with flooding paces (group d) for the pace's
    // window instead of as the newest of the minted group, before the people who arrived since.
    onQueueTimeout: (ctx) => {
      if (ctx.paceKey !== undefined) shared.pace.charge(ctx.paceKey, 2 * shared.detector.paceLightRequests(), shared.ticker.now());
    },
    ...(probes ? {
      probes,
      probeParts: (ctx: RequestContext) => {
        if (!costKeyNow(ctx)) return undefined;
        return { kind: ctx.costKind as string, parts: shared.requestCost.probeParts(ctx.costKind as string, ctx.costShape as string) };
      },
    } : {}),
    onRetry: (upstream, from, to, code) => shared.bus.emit('upstream:retry', { upstream, from: from.name, to: to.name, code }),
    ...(concurrency || weighsCost ? {
      // Each kind of request (route, method, path template) has its own no-load RTT: a 2 ms static
      // file and a 30 ms login are not read as queueing, nor as costly.
      onSample(upstream: string, rttMs: number, inFlight: number, dropped: boolean, ctx: RequestContext, status?: number) {
        const queue = admission.get(upstream);
        if (!queue) return;
        const kind = latencyKind(ctx);
        // Light load: at most half the limit in flight when it was sent, as the limit reads it.
        // Only 2xx answers are the work itself: a 304 or a refused query is fast because none was done.
        if (weighsCost && status !== undefined && status >= 200 && status < 300) {
          if (ctx.costKind !== undefined && ctx.costShape !== undefined && ctx.costTeaches !== false) {
            shared.requestCost.observe({ kind: ctx.costKind, shape: ctx.costShape, rttMs, light: inFlight <= Math.max(1, queue.params.maxInFlight / 2) }, shared.ticker.now());
          }
          // A list answered in a path's last segment makes its position a parameter (detect/cost-key.ts).
          shared.costKeys.learn(ctx.route?.id ?? '', ctx.path);
        }
        const limit = concurrency?.get(upstream);
        if (!limit) return;
        // A costly shape's answers are read against their kind's (the query is not part of it): they
        // step the limit down as queueing would. Tried as a kind of their own (thirty-sixth session):
        // the limit stayed up through the onset and let more of the flood's first, not yet weighed,
        // searches in (costly-search on 8 workers x 160 ms, two seeds: 100 / 87.2% against 100 / 100%).
        const stallMs = shared.loopStall?.stallMs ?? 0;
        ctx.upstreamStallMs = stallMs;
        const next = limit.onSample({ rttMs, inFlight, dropped, kind, stallMs }, shared.ticker.now());
        if (next !== queue.params.maxInFlight) queue.params = { ...queue.params, maxInFlight: next };
      },
    } : {}),
  });
  return Object.freeze({
    config,
    phases,
    limits: concurrency,
    probes,
    forward,
    upstreams,
    admission,
    now: () => shared.ticker.now(),
    close: async () => {
      clearInterval(ticker);
      // Answers still in flight on the old pools (a reload) keep their timing between bytes and
      // their slow-client limits — or a quiet event stream would hold its pool open for good.
      const sweep = setInterval(() => forwarder?.evictStalled(shared.ticker.now()), 500);
      sweep.unref();
      try { await closeUpstreams(upstreams); } finally { clearInterval(sweep); }
    },
    isTrusted: (address: string) => trusted.has(address),
    resolveClient: (peer: string, xff: string | string[] | undefined) => resolveClientAddress(peer, xff, trusted),
    clientKey,
  });
}
