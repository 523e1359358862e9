import type { Config, RouteClass } from '../config/schema.js';
import type { CachePolicy } from './cache/policy.js';

/** A route compiled once at config load: a cheap matcher plus what the pipeline needs. */
export interface CompiledRoute {
  /**
   * Stable identity (the route's `name`, or one derived from its match): cache keys and metrics
   * use it, never the route's position, so a reload that reorders routes cannot mix their entries.
   */
  readonly id: string;
  readonly index: number;
  readonly method: string | undefined;
  readonly prefix: string;
  readonly host: string | undefined;
  readonly upstream: string;
  readonly routeClass: RouteClass;
  readonly cache: CachePolicy | undefined;
  /** Whether the request body is read completely before the request asks for an upstream slot. */
  readonly requestBuffering: boolean;
  /** Detection decides and records for this route but enforces nothing. */
  readonly dryRun: boolean;
  /** Lower-case header whose presence makes a non-idempotent request retryable. */
  readonly idempotencyKey: string | undefined;
  /** Whether WebSocket upgrades are accepted. */
  readonly websocket: boolean;
  /** Answers held by design (long polling, event streams): each takes a stream place, not an upstream slot (upstream/event-stream.ts). */
  readonly stream: boolean;
}

/** The identity of a route: its name, or its match written out (method, host, path prefix). */
export function routeId(r: Config['routes'][number]): string {
  return r.name ?? `${r.match.method ?? '*'} ${r.match.host?.toLowerCase() ?? '*'} ${r.match.path}`;
}

/** Finds the route for a request; first match in configuration order wins (like HAProxy use_backend). */
export type RouteMatcher = (method: string, path: string, host: string | undefined) => CompiledRoute | undefined;

/** Compiles the configured routes into a matcher. */
export function compileRoutes(routes: Config['routes']): RouteMatcher {
  const compiled: CompiledRoute[] = routes.map((r, index) => Object.freeze({
    id: routeId(r),
    index,
    method: r.match.method,
    prefix: r.match.path,
    host: r.match.host?.toLowerCase(),
    upstream: r.upstream,
    routeClass: r.class,
    cache: r.cache ? Object.freeze({ ttlS: r.cache.ttlS, staleS: r.cache.staleS, query: Object.freeze([...r.cache.query].sort()), override: r.cache.override }) : undefined,
    requestBuffering: r.requestBuffering,
    dryRun: r.dryRun,
    idempotencyKey: r.idempotencyKey?.toLowerCase(),
    websocket: r.websocket,
    stream: r.stream,
  }));
  return (method, path, host) => {
    for (const r of compiled) {
      if (r.method !== undefined && r.method !== method) continue;
      if (!path.startsWith(r.prefix)) continue;
      if (r.host !== undefined && r.host !== stripPort(host)) continue;
      return r;
    }
    return undefined;
  };
}

function stripPort(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  const h = host.toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}
