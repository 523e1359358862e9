import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteClass } from '../config/schema.js';
import type { CompiledRoute } from './routes.js';
import type { Verdict } from './verdict.js';

/** Everything the pipeline knows about one request; stages read it and fill in what they learn. */
export interface RequestContext {
  readonly id: string;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** performance.now() when the request head was parsed. */
  readonly startedAt: number;
  /** TCP peer (or what a trusted PROXY header said). */
  readonly peer: string;
  /** Whether the peer is a trusted proxy whose forwarding headers are believed. */
  readonly peerTrusted: boolean;
  /** The client address decisions are keyed on (peer, or trusted X-Forwarded-For). */
  client: string;
  /** Origin-form target (path and query) sent upstream. */
  target: string;
  /** Path only, for route matching. */
  path: string;
  route: CompiledRoute | undefined;
  routeClass: RouteClass | 'none';
  verdict: Verdict | undefined;
  /** Upstream time to response headers, ms, when the request was forwarded. */
  upstreamMs: number | undefined;
  /** Error code when the request failed after being allowed (upstream errors, body limits). */
  errorCode: string | undefined;
  /** Set by the cache stage when the route caches and the request may be served from cache. */
  cacheKey: string | undefined;
  /** How the response was served from cache, if it was. */
  cacheState: 'HIT' | 'STALE' | 'MISS' | undefined;
  /** Called once if the client closes before the response is complete (the forwarder cancels its work). */
  onAbort: (() => void) | undefined;
}

/** A named request stage: returns a verdict to stop the pipeline, or undefined to continue. */
export type Stage = (ctx: RequestContext) => Verdict | undefined;

/** Names a stage function so stack traces and CPU profiles show which defence decided. */
export function namedStage(name: string, fn: Stage): Stage {
  Object.defineProperty(fn, 'name', { value: name });
  return fn;
}
