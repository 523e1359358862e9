import { Pool } from 'undici';
import type { UpstreamConfig } from '../../config/schema.js';
import type { Clock } from '../../core/clock.js';
import type { RequestContext } from '../context.js';
import { createBalancer, type Balancer } from './balancer.js';
import { createRetryBudget, type RetryBudget } from './retry-budget.js';
import type { HealthRegistry, ServerHealth, UpstreamHealth } from './health/monitor.js';
import { startProbes, type Probes } from './health/probe.js';
import { namedConnector, tlsName, type TlsName } from './tls-name.js';

/**
 * A named upstream: its servers (each with its own keep-alive pool), how it balances, its health
 * and its retry budget. `origin` and `pool` are the first server's, for callers that know only one.
 */
export interface Upstream {
  readonly name: string;
  readonly origin: string;
  readonly pool: Pool;
  readonly timeoutMs: number;
  /** Each server's share of the requests in flight (HAProxy server maxconn): admission's ceiling is this times the servers. */
  readonly connectionsPerServer: number;
  readonly servers: readonly ServerHealth[];
  /** One pool per server, by server index. */
  readonly pools: readonly Pool[];
  /** Each https server's TLS name (upstream/tls-name.ts), by server index; undefined for http. */
  readonly tlsNames: ReadonlyArray<TlsName | undefined>;
  readonly health: UpstreamHealth;
  /** Undefined with one server (nowhere else to retry) or when retries are off. */
  readonly retryBudget: RetryBudget | undefined;
  /** The server for this request (`exclude`: the one a retry must avoid); undefined when none is available. */
  pick(ctx: RequestContext, exclude?: ServerHealth): ServerHealth | undefined;
  readonly probes: Probes | undefined;
}

function createPool(origin: string, u: UpstreamConfig, name: TlsName | undefined): Pool {
  return new Pool(origin, {
    // Unbounded here (connections on demand): what is in flight is bounded by admission
    // (upstream/admission.ts: `connections` times the servers) and held streams by the stream
    // budget. A cap here was a second, hidden queue: an event stream a request did not announce
    // (a fetch() reader, a POST answered with a stream) keeps its connection after it gives its
    // slot back, and once such streams held every connection of the pool, each request admitted
    // after them waited in undici's queue — no timeout, no bound, no 503 — until its client gave up.
    connections: null,
    pipelining: 1,
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 60_000,
    headersTimeout: u.timeoutMs,
    bodyTimeout: u.timeoutMs,
    connect: name !== undefined ? namedConnector(name, u.connectTimeoutMs) : { timeout: u.connectTimeoutMs },
  });
}

function createUpstream(name: string, u: UpstreamConfig, health: UpstreamHealth, clock: Clock): Upstream {
  const servers = health.servers;
  const tlsNames = servers.map((s) => tlsName(s.origin, u.servername));
  const pools = servers.map((s, i) => createPool(s.origin, u, tlsNames[i]));
  const first = servers[0] as ServerHealth;
  let pick: Upstream['pick'];
  if (servers.length === 1) {
    // One server: no balancer, no key, no allocation — what a request cost before there were several.
    pick = () => (first.available ? first : undefined);
  } else {
    const balancer: Balancer = createBalancer(u.balance, servers, servers.map((s) => s.url));
    const hashOnPath = u.hashKey === 'path';
    pick = u.balance === 'hash'
      ? (ctx, exclude) => balancer.pick(hashOnPath ? ctx.path : ctx.client, exclude) as ServerHealth | undefined
      : (_ctx, exclude) => balancer.pick(undefined, exclude) as ServerHealth | undefined;
  }
  const r = u.retries;
  return Object.freeze({
    name, origin: first.origin, pool: pools[0] as Pool, timeoutMs: u.timeoutMs, connectionsPerServer: u.connections, servers, pools, tlsNames, health, pick,
    retryBudget: servers.length > 1 && r.enabled ? createRetryBudget({ ratio: r.budgetPercent / 100, windowMs: r.budgetWindowMs, minRetries: r.minRetries }) : undefined,
    probes: u.health.active ? startProbes(health, u.health.active, u.connectTimeoutMs, clock, tlsNames) : undefined,
  });
}

/** Builds each configured upstream: its servers' pools, balancer and probes, over the process's health registry. */
export function createUpstreams(config: Readonly<Record<string, UpstreamConfig>>, registry: HealthRegistry, clock: Clock): Map<string, Upstream> {
  const map = new Map<string, Upstream>();
  for (const [name, u] of Object.entries(config)) map.set(name, createUpstream(name, u, registry.get(name, u), clock));
  registry.retain(Object.keys(config));
  return map;
}

/** Stops probes and closes pools gracefully: requests in flight finish, then the sockets close. */
export async function closeUpstreams(upstreams: Map<string, Upstream>): Promise<void> {
  await Promise.allSettled([...upstreams.values()].flatMap((u) => [u.probes?.close(), ...u.pools.map((p) => p.close())]));
}
