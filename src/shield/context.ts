import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteClass } from '../config/schema.js';
import type { ConnectionFacts } from './listener/connection-facts.js';
import type { CompiledRoute } from './routes.js';
import type { Verdict } from './verdict.js';
import type { BufferedBody } from './body/request-buffer.js';

/**
 * Everything the pipeline knows about one request; filters read it and fill in what they learn.
 * Filters never read the socket of the request: what the connection says is in `conn`.
 */
export interface RequestContext {
  readonly id: string;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** What the listener layer learned about the connection. */
  readonly conn: ConnectionFacts;
  /** performance.now() when the request head was parsed. */
  readonly startedAt: number;
  /** Same as conn.peer (kept flat: read on every request). */
  readonly peer: string;
  /** Same as conn.trusted. */
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
  /** Set by the cache filter when the route caches and the request may be served from cache. */
  cacheKey: string | undefined;
  /** How the response was served from cache, if it was. */
  cacheState: 'HIT' | 'STALE' | 'MISS' | undefined;
  /** The request body, read completely before the request asked for an upstream slot. */
  body: BufferedBody | undefined;
  /** Called once if the client closes before the response is complete (the forwarder cancels its work). */
  onAbort: (() => void) | undefined;
  /** Run once when the exchange is over, however it ended (spooled files, coalescing waiters). */
  cleanup: Array<() => void> | undefined;
}

/** Registers work to run when the exchange ends (allocates the list only when used). */
export function onExchangeEnd(ctx: RequestContext, fn: () => void): void {
  (ctx.cleanup ??= []).push(fn);
}
