import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteClass } from '../config/schema.js';
import type { ConnectionFacts } from './listener/connection-facts.js';
import type { CompiledRoute } from './routes.js';
import type { Verdict } from './verdict.js';
import type { BufferedBody } from './body/request-buffer.js';
import type { TokenPayload } from './reputation/token.js';

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
  /**
   * The key per-client limits and counts use: the client address, or an IPv6 client's prefix
   * (`clientIpv6Prefix`, /64 by default: shield/client-key.ts).
   */
  readonly clientKey: string;
  /** Origin-form target (path and query) sent upstream. */
  target: string;
  /** Path only, for route matching. */
  path: string;
  route: CompiledRoute | undefined;
  routeClass: RouteClass | 'none';
  /** The class whose queue the request waits in, when not its route's (filters/request/continuation.ts). */
  admissionClass: RouteClass | undefined;
  /** The pace level a continuation is served at: its critical request's (defence/continuations.ts). */
  continuationPace?: number | undefined;
  verdict: Verdict | undefined;
  /** Upstream time to response headers, ms, when the request was forwarded. */
  upstreamMs: number | undefined;
  /**
   * Time spent waiting for an upstream slot, ms (HAProxy's `Tw`), and the admission tier it was
   * served or turned away at (upstream/admission.ts; it may have fallen while it waited). Set when
   * the request reached admission.
   */
  queueMs: number | undefined;
  /** Of `queueMs`, the time held by the cost probe (query parts of unknown or high cost, upstream/cost-probe.ts); absent when not held. */
  heldMs?: number | undefined;
  /**
   * Of `upstreamMs`, how late the shield's own event loop last ran its timer when the answer was
   * read (upstream/loop-stall.ts): the shield's share of the wait, not the upstream's. Set with the
   * adaptive concurrency limit, which takes it out before judging the upstream.
   */
  upstreamStallMs?: number | undefined;
  /** An event stream or a held answer (upstream/event-stream.ts): a long exchange that held no upstream slot while it lasted. */
  stream?: true | undefined;
  admittedTier: number | undefined;
  /** Error code when the request failed after being allowed (upstream errors, body limits). */
  errorCode: string | undefined;
  /** Set by the cache filter when the route caches and the request may be served from cache. */
  cacheKey: string | undefined;
  /** How the response was served from cache, if it was. */
  cacheState: 'HIT' | 'STALE' | 'MISS' | undefined;
  /** The request body, read completely before the request asked for an upstream slot. */
  body: BufferedBody | undefined;
  /** What detection computed about the request (fingerprint, prefixes, shapes), once. */
  traits: RequestTraits | undefined;
  /** Admission tier from standing and pace (upstream/admission.ts `tierFor`), 0 best. */
  tier: number;
  /** The token a pace is kept for, and its standing (STANDING; admission re-reads the pace while it waits). */
  paceKey?: string | undefined;
  /**
   * Ends this request's count among its identity's open requests (idempotent; also at the exchange's
   * end): an event stream is answered once its head is written, and a long poll is not load.
   */
  paceDone?: (() => void) | undefined;
  /** A clearance earned during the attack is also as heavy as its source (address and agent): that source's pace key. */
  sourceKey?: string | undefined;
  baseTier?: number | undefined;
  /**
   * The request's query shape with value sizes and the typical requests of its kind it costs the
   * upstream (detect/request-cost.ts), set by the pace filter: its answer teaches the shape's cost,
   * and while it is in flight admission counts it as that many (upstream/admission.ts, rule 5).
   */
  costShape?: string | undefined;
  costWeight?: number | undefined;
  /**
   * The kind the cost is read against (detect/cost-key.ts: route, method and path template, a path
   * parameter folded where the path takes lists, an action's aliases as one), and whether the cost
   * weighs the request or is only learned from.
   */
  costKind?: string | undefined;
  costWeighed?: boolean | undefined;
  /** False when the answer must not teach the cost: a HEAD, weighed as its GET (pace.ts `costKeyOf`). */
  costTeaches?: false | undefined;
  /**
   * A session the origin issued, on a route that is not critical: admission files it as an
   * established customer's while known customers go strictly first (upstream/admission.ts
   * `sessionTier`), and `queueStanding` says which standing it was filed with.
   */
  authenticated?: boolean | undefined;
  /** The standing admission filed the request with, when not `baseTier` (its pace is re-read against it). */
  queueStanding?: number | undefined;
  /**
   * The pace key of the session this exchange's answer set (`ses:<digest>`, a login's): the request
   * that follows its redirect carries that session, and takes the continuation under it.
   */
  issuedSessionKey?: string | undefined;
  /** The browser's page-visit id, the one its cookie carried or its answer just gave it (defence/visit-cookie.ts): its page is recorded under it. */
  visitId?: string | undefined;
  /** A verified reputation the client carried (the response filter refreshes or issues one). */
  reputation: TokenPayload | undefined;
  /** Headers to add to the answer (a clearance just earned by an API client). */
  setHeaders: Readonly<Record<string, string>> | undefined;
  /** Called once if the client closes before the response is complete (the forwarder cancels its work). */
  onAbort: (() => void) | undefined;
  /** Run once when the exchange is over, however it ended (spooled files, coalescing waiters). */
  cleanup: Array<() => void> | undefined;
}

/** Per-request facts detection keys on, computed once by the clearance filter. */
export interface RequestTraits {
  readonly prefix: string;
  readonly prefix48: string | undefined;
  readonly fingerprint: string;
  readonly pathTemplate: string;
  readonly userAgent: string;
  readonly queryShape: string;
  /** What the client's cookies prove; `authenticated`: a session the shield saw the origin issue (reputation/sessions.ts). */
  readonly standing: 'authenticated' | 'established' | 'cleared' | 'checked' | 'unknown';
  /** A token holder's pace level on this route class (0 light … 3 heaviest; 0 without a token). */
  pace: number;
  /** The challenge level detection asked of this request (0 in normal times); read again by the response filters. */
  level: 0 | 1 | 2;
  /** The challenge answer that was sent, if any (level 1 no-JS, 2 proof-of-work). */
  challenged: 0 | 1 | 2;
  /** Dry run: what would have been enforced. */
  wouldHave: string | undefined;
  /**
   * A reputation established by its issue time that woke with the attack (reputation/roster.ts):
   * it passed, and waits with the token-less requests.
   */
  woken?: boolean;
}

/**
 * The request's personal token, if it carries one: a reputation, a solved proof-of-work or a
 * session the origin issued (its pace key, `rep:<id>` / `clr:<id>` / `ses:<digest>`). Not the
 * no-JavaScript cookie, whose identity is the address and agent (challenge/responses.ts). Set by
 * the clearance filter.
 */
export function personalToken(ctx: RequestContext): string | undefined {
  const k = ctx.paceKey;
  return k !== undefined && (k.startsWith('rep:') || k.startsWith('clr:') || k.startsWith('ses:')) ? k : undefined;
}

/** Registers work to run when the exchange ends (allocates the list only when used). */
export function onExchangeEnd(ctx: RequestContext, fn: () => void): void {
  (ctx.cleanup ??= []).push(fn);
}
