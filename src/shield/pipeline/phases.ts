import type { ErrorCode } from '../../core/errors.js';
import type { RequestContext } from '../context.js';
import type { Verdict } from '../verdict.js';

/**
 * The phases of one exchange, after Pingora's ProxyHttp and Fastify's hooks: each phase is an
 * ordered list of named filters compiled once per configuration. A filter is synchronous unless it
 * must wait (reading a body, a shared store): the runner only allocates a promise for a filter
 * that returned one.
 *
 *   request filters ──► upstream-request filters ──► [admission, dispatch] ──► upstream-response filters
 *        │ verdict               │ verdict                    │ error / shed
 *        ▼                       ▼                            ▼
 *      edge                    edge                  failure filters ──► edge
 *                                   logging filters run once at the end of every exchange
 */
export type Maybe<T> = T | Promise<T>;

/** Decides about the request: a verdict stops the phase (allow skips to upstream), undefined goes on. */
export type RequestFilter = (ctx: RequestContext) => Maybe<Verdict | undefined>;

/** The request as it will be sent upstream; filters edit it in place. */
export interface UpstreamRequest {
  method: string;
  path: string;
  /** Flat [name, value, ...] list, order and case kept. */
  headers: string[];
}

/** Prepares the upstream request (body buffering, forwarding headers); a verdict answers instead. */
export type UpstreamRequestFilter = (ctx: RequestContext, up: UpstreamRequest) => Maybe<Verdict | undefined>;

/** The upstream's response head; filters edit the headers in place before they are written. */
export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[]>;
}

/** Watches a response body as it streams (storing into the cache). */
export interface BodyObserver {
  data(chunk: Buffer): void;
  end(): void;
}

/**
 * What an upstream-response filter may do: nothing (undefined), watch the body, or replace the
 * whole answer (a stale copy instead of an upstream 503); the upstream body is then read and dropped.
 */
export type ResponseAction = { readonly kind: 'observe'; readonly observer: BodyObserver } | { readonly kind: 'replace'; readonly verdict: Verdict };

/** Runs synchronously when the upstream response head arrives. */
export type UpstreamResponseFilter = (ctx: RequestContext, res: UpstreamResponse) => ResponseAction | undefined;

/** Why a request could not be proxied. */
export interface Failure {
  readonly code: ErrorCode;
  readonly error: unknown;
  /** Whether the upstream ever had the request (false: shed by admission). */
  readonly reachedUpstream: boolean;
}

/** Offers a different answer for a failed exchange (a stale copy); undefined lets the error stand. */
export type FailureFilter = (ctx: RequestContext, failure: Failure) => Verdict | undefined;

/** How an exchange ended, for logs, metrics and detectors. */
export interface Outcome {
  readonly status: number;
  readonly durationMs: number;
  readonly aborted: boolean;
}

/** Sees every finished exchange; must not throw or block. */
export type LoggingFilter = (ctx: RequestContext, outcome: Outcome) => void;

/** Every phase's filter list. */
export interface Phases {
  readonly request: readonly RequestFilter[];
  readonly upstreamRequest: readonly UpstreamRequestFilter[];
  readonly upstreamResponse: readonly UpstreamResponseFilter[];
  readonly failure: readonly FailureFilter[];
  readonly logging: readonly LoggingFilter[];
}

/** Extra filters an embedder adds to every configuration's phases (appended to each list, before the proxy). */
export type PhaseExtensions = { readonly [K in keyof Phases]?: Phases[K] };

/** Names a filter so stack traces, CPU profiles and logs show which defence decided. */
export function named<F extends (...args: never[]) => unknown>(name: string, fn: F): F {
  Object.defineProperty(fn, 'name', { value: name });
  return fn;
}
