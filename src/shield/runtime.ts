import type { Clock } from '../core/clock.js';
import type { Config } from '../config/schema.js';
import type { ErrorCode } from '../core/errors.js';
import type { Stage, RequestContext } from './context.js';
import type { BodyGuards } from './body-guard.js';
import { compileRoutes } from './routes.js';
import { createValidateStage } from './stages/validate-request.js';
import { createClassifyStage } from './stages/classify.js';
import { createClientBlockStage, type BlocklistLookupPort } from './stages/client-block.js';
import { createRateLimitStage, type RateLimiterPort } from './stages/rate-limit.js';
import { createCacheLookupStage } from './stages/cache-lookup.js';
import type { CacheStore } from './cache/store.js';
import { closeUpstreams, createUpstreams, type Upstream } from './upstream/pools.js';
import { createAdmissionQueue, type AdmissionQueue } from './upstream/admission.js';
import { createForwarder, type Forwarder } from './upstream/forward.js';
import { createTrustedMatcher, formatForwardedFor, resolveClientAddress } from './client-address.js';

/** Long-lived state that survives reloads: it belongs to the process, not to one configuration. */
export interface SharedState {
  /** Wall clock (blocklist TTLs). */
  clock: Clock;
  /** Monotonic clock (queues, rates). */
  ticker: Clock;
  blocklist: BlocklistLookupPort;
  limiter: RateLimiterPort;
  bodyGuards: BodyGuards;
  cache: CacheStore;
  onUpstreamError(ctx: RequestContext, code: ErrorCode, err: unknown): void;
  draining(): boolean;
}

/** One configuration compiled for the hot path: stages, pools, matchers. Swapped whole on reload. */
export interface Runtime {
  readonly config: Config;
  readonly stages: readonly Stage[];
  readonly forward: Forwarder;
  readonly upstreams: Map<string, Upstream>;
  readonly admission: Map<string, AdmissionQueue>;
  /** Monotonic ms (cache ages, queues). */
  now(): number;
  isTrusted(address: string): boolean;
  resolveClient(peer: string, xForwardedFor: string | string[] | undefined): string;
  /** Stops the queue ticker; old pools finish their in-flight requests, then close. */
  close(): Promise<void>;
}

/**
 * Compiles a validated configuration into the request pipeline:
 * validate → classify → client-block → rate-limit → forward.
 * Adding a defence is adding a stage here, not editing the proxy.
 */
export function buildRuntime(config: Config, shared: SharedState): Runtime {
  const trusted = createTrustedMatcher([...config.trustedProxies]);
  const upstreams = createUpstreams(config.upstreams);
  const w = config.classWeights;
  const weights = [w.critical, w.high, w.normal, w.low];
  const admission = new Map<string, AdmissionQueue>(Object.entries(config.upstreams).map(([name, u]) =>
    [name, createAdmissionQueue({ maxInFlight: u.connections, maxQueue: u.maxQueue, queueTimeoutMs: u.queueTimeoutMs, weights })]));
  // Queued requests must hear "503" when their wait runs out even if nothing else happens.
  const ticker = setInterval(() => { for (const q of admission.values()) if (q.queued > 0) q.expire(shared.ticker.now()); }, 100);
  ticker.unref();
  const stages: Stage[] = [
    createValidateStage(),
    createClassifyStage(compileRoutes(config.routes)),
    createClientBlockStage(shared.blocklist, shared.clock),
  ];
  if (config.rateLimits.enabled) stages.push(createRateLimitStage(shared.limiter, config.rateLimits.perClient));
  if (config.routes.some((r) => r.cache)) stages.push(createCacheLookupStage(shared.cache, shared.ticker));
  const forward = createForwarder({
    upstreams,
    admission,
    clock: shared.ticker,
    bodyGuards: shared.bodyGuards,
    bodyLimits: config.listen.limits,
    formatForwardedNode: formatForwardedFor,
    onError: shared.onUpstreamError,
    draining: shared.draining,
    cache: shared.cache,
    maxObjectBytes: config.cache.maxObjectBytes,
  });
  return Object.freeze({
    config,
    stages: Object.freeze(stages),
    forward,
    upstreams,
    admission,
    now: () => shared.ticker.now(),
    close: async () => { clearInterval(ticker); await closeUpstreams(upstreams); },
    isTrusted: (address: string) => trusted.has(address),
    resolveClient: (peer: string, xff: string | string[] | undefined) => resolveClientAddress(peer, xff, trusted),
  });
}
