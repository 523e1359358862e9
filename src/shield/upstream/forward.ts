import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import { errors as undiciErrors, type Dispatcher } from 'undici';
import type { Clock } from '../../core/clock.js';
import { isRempartError, RempartError, type ErrorCode } from '../../core/errors.js';
import { onExchangeEnd, type RequestContext } from '../context.js';
import type { BodyGuards, BodyLimits } from '../body-guard.js';
import { hasRequestBody } from '../http-message.js';
import type { BodyObserver, Failure, UpstreamRequest, UpstreamResponseFilter } from '../pipeline/phases.js';
import type { Verdict } from '../verdict.js';
import { queueTier } from './queue-tier.js';
import { filterResponseHeaders } from './headers.js';
import { upstreamErrorCode } from './error-code.js';
import { CLASS_RANK, reputationTier, type AdmissionQueue, type AdmissionRejection, type Waiter } from './admission.js';
import type { Upstream } from './pools.js';
import type { ServerHealth } from './health/monitor.js';
import { isReplayable, isRetryableError } from './retry.js';
import type { ResponseSink, ResponseSinks } from './response-sink.js';
import type { CostProbe, ProbeTicket } from './cost-probe.js';
import { asksForEventStream, isEventStream, type StreamBudget, type StreamPlace } from './event-stream.js';
import { SHARED_CAP_FACTOR } from '../listener/gate.js';
import { relayInformational, sendContinue } from '../edge/respond.js';

/** What the forwarder needs, resolved once per configuration. */
export interface ForwarderDeps {
  upstreams: Map<string, Upstream>;
  admission: Map<string, AdmissionQueue>;
  clock: Clock;
  /** Streams the body of routes with `requestBuffering: false` through the body guard. */
  bodyGuards: BodyGuards;
  bodyLimits: BodyLimits;
  responseFilters: readonly UpstreamResponseFilter[];
  /** Response read-ahead (memory, then spool files) so slow readers do not hold upstream slots. */
  responseSinks: ResponseSinks;
  /**
   * A client that accepted nothing for this long while its response holds an upstream slot is cut
   * when other requests wait for a slot (and after `sendTimeoutMs` in any case).
   */
  stallEvictMs: number;
  sendTimeoutMs: number;
  /** True while the shield shuts down: each response is then its connection's last. */
  draining(): boolean;
  /** One completed exchange's latency to response headers (its status, when it had one), for an adaptive concurrency limit and the request-cost model. */
  onSample?(upstream: string, rttMs: number, inFlight: number, dropped: boolean, ctx: RequestContext, status?: number): void;
  /** The challenge a queued request with no token would get now (filters/request/clearance.ts). */
  rechallenge?(ctx: RequestContext): Verdict | undefined;
  /**
   * A request refused after waiting the whole queue timeout, its client still there (503): the
   * runtime weighs it on its identity's pace (admission.ts, rule 7).
   */
  onQueueTimeout?(ctx: RequestContext): void;
  /** Each upstream's cost probe (upstream/cost-probe.ts): requests of a query part never measured, or costly, go a few at a time. */
  probes?: Map<string, CostProbe>;
  /** A request's kind and the query parts of it the probe bounds — untried or costly (none: nothing to probe). */
  probeParts?(ctx: RequestContext): { kind: string; parts: readonly string[] } | undefined;
  /** A request that failed before any response byte goes to another server. */
  onRetry?(upstream: string, from: ServerHealth, to: ServerHealth, code: ErrorCode): void;
  /**
   * The event streams held (upstream/event-stream.ts): a request asking for one takes a place when
   * it is sent, any other stream when its head says what it is; from its head a stream may stay
   * quiet `streamIdleMs` between the upstream's bytes. Absent: a stream is an answer like any other
   * (its slot is still given back when it starts).
   */
  streams?: StreamBudget;
  streamIdleMs?: number;
  /** Several customers were seen behind this client key (a carrier NAT): it holds SHARED_CAP_FACTOR times the places. */
  isShared?(clientKey: string): boolean;
}

/** How the proxy step hands back what it does not write itself (one object for the process). */
export interface ForwardCallbacks {
  /** The exchange failed (before or after reaching the upstream): the pipeline answers. */
  fail(ctx: RequestContext, failure: Failure): void;
  /** An upstream-response filter replaced the answer (a stale copy): the edge writes it. */
  answer(ctx: RequestContext, verdict: Verdict): void;
  /** A response filter threw. */
  internal(ctx: RequestContext, err: unknown): void;
}

/** The proxy step: waits for an upstream slot, then streams the exchange. */
export interface Forwarder {
  (ctx: RequestContext, up: UpstreamRequest, cb: ForwardCallbacks): void;
  /**
   * Cuts clients stalled past their limits (called on the runtime's ticker); returns how many. Also
   * ends, every QUIET_SWEEP_MS, the answers whose upstream went quiet past their limit (not counted).
   */
  evictStalled(now: number): number;
  /** Ends the event streams and long polls held on one server (it was disabled); returns how many. */
  closeStreams(upstream: string, server: string): number;
}

/** How long an event stream (or a long poll's wait for its head) may stay quiet. */
const streamIdleMs = (deps: ForwarderDeps, upstream: Upstream): number => deps.streamIdleMs ?? upstream.timeoutMs;

/** How often bodies are checked for an upstream gone quiet (the timeouts are seconds; undici's own timers tick at 1 s past 1 s). */
const QUIET_SWEEP_MS = 500;

// RFC 9110 §15.6.4: every server down is a 503 (with Retry-After, added by the edge), answered at once.
const ALL_DOWN: Failure = Object.freeze({ code: 'RMP_ERR_UPSTREAM_DOWN', error: undefined, reachedUpstream: false });
const STREAMS_FULL: Failure = Object.freeze({ code: 'RMP_ERR_STREAM_LIMIT', error: undefined, reachedUpstream: false });

/** What every exchange of one forwarder shares (built once per configuration). */
interface Shared {
  readonly deps: ForwarderDeps;
  /** Attempts whose upstream is paused for a slow client: checked on a ticker, never a timer each. */
  readonly paused: Set<Attempt>;
  /** Attempts held with no slot (event streams, long polls), until they end. */
  readonly held: Set<Attempt>;
  /**
   * Attempts reading a response body, timed between the upstream's bytes here rather than by
   * undici: an answer is known to be an event stream only at its head, after undici would have
   * set its body timer (swept by evictStalled, on the runtime's ticker).
   */
  readonly reading: Set<Attempt>;
  /** When `reading` was last swept. */
  sweptAt: number;
}

/**
 * One request in the proxy step: it is its own admission waiter, and keeps what outlives one
 * attempt (the client leaving, undici's controller of the attempt in flight). Its behaviour sits
 * on the prototype: one object per exchange instead of a closure per callback.
 */
class Exchange implements Waiter {
  readonly rank: number;
  /** Its tier when queued; judged again when the cost probe lets it go (what it costs may be known by then). */
  tier: number;
  enqueuedAt = 0;
  state: Waiter['state'] = 'new';
  filed: number | undefined = undefined;
  /** The client closed the connection before its response was complete. */
  aborted = false;
  /** What it costs the upstream in typical requests: read again while it waits (runtime.ts, retier), fixed once started. */
  get cost(): number { return this.subject.costWeight ?? 1; }
  /** A response head arrived from the upstream. */
  responded = false;
  /** Its upstream's cost probe, for a request with a query (upstream/cost-probe.ts). */
  probe: CostProbe | undefined = undefined;
  /** Its ticket there, made the first time it carries parts the probe bounds. */
  ticket: ProbeTicket | undefined = undefined;
  /** When the cost probe last held it (queue clock). */
  heldAt = 0;
  controller: Dispatcher.DispatchController | undefined = undefined;
  /** It asked for an event stream, or is on a `stream` route, and holds a place for one: timed by `streamIdleMs`. */
  stream = false;
  /**
   * On a `stream` route: the origin holds its answer by design (long polling). Its slot paces when
   * it is sent and goes back once it is; its wait is timed by `streamIdleMs` and read by no limit.
   */
  held = false;
  /** Its admission slot went back (once: a retry passes the slot on, a stream gives it back early). */
  slotBack = false;

  constructor(
    readonly shared: Shared,
    readonly subject: RequestContext,
    readonly up: UpstreamRequest,
    readonly upstream: Upstream,
    readonly queue: AdmissionQueue,
    readonly cb: ForwardCallbacks,
  ) {
    this.rank = CLASS_RANK[subject.admissionClass ?? subject.routeClass];
    this.tier = queueTier(subject, queue, shared.deps.clock.now());
  }

  start(): void {
    this.noteAdmission();
    sendAttempt(this, undefined);
  }

  /**
   * Gives its upstream slot back (its answer's head arrived, or it never went): to the admission
   * queue, and to the cost probe — whose count follows the upstream's work, not the client: a
   * client that gives up does not stop the upstream working on its request.
   */
  releaseSlot(): void {
    if (this.slotBack) return;
    this.slotBack = true;
    const now = this.shared.deps.clock.now();
    this.queue.release(now, false, this.cost);
    if (this.ticket !== undefined) this.probe?.leave(this.ticket, this.queue.params.maxInFlight, now);
  }

  /**
   * About to start: a request carrying query parts of unknown or high cost starts only while they
   * have room at the upstream; otherwise the probe holds it (upstream/cost-probe.ts).
   */
  defer(now: number): boolean {
    const probe = this.probe;
    if (probe === undefined) return false;
    const u = this.shared.deps.probeParts?.(this.subject);
    if (u === undefined || u.parts.length === 0) return false;
    const ticket = this.ticket ??= this.newTicket();
    ticket.kind = u.kind;
    ticket.parts = u.parts;
    ticket.tier = this.filed ?? this.tier;
    ticket.known = reputationTier(ticket.tier);
    const r = probe.enter(ticket, this.queue.params.maxInFlight, now);
    if (r === 'go') return false;
    this.heldAt = now;
    // Refused as a full queue refuses, once the queue is done choosing (not from within it).
    if (r === 'refused') queueMicrotask(() => this.reject('queue-full'));
    return true;
  }

  /** Its ticket at the cost probe: what the probe reads of it, and how it is let go or refused. */
  private newTicket(): ProbeTicket {
    const ctx = this.subject;
    const { deps } = this.shared;
    return {
      kind: '', parts: [], arrivedAt: this.enqueuedAt, tier: this.tier,
      partsNow: () => deps.probeParts?.(ctx)?.parts ?? [],
      go: () => {
        if (this.aborted) return;
        const now = deps.clock.now();
        this.noteHeld(now);
        // Held until its part was weighed, it counts what it costs now, in its pace and its tier
        // (runtime.ts, retier): let go at its old tier, a flood's held searches took the free
        // slots the moment their part read costly.
        const retier = this.queue.params.retier;
        if (retier !== undefined) this.tier = Math.max(this.tier, retier(this));
        // Asks again, as of its arrival: its wait is one wait (filed by it, timed from it).
        this.queue.admit(this, now, this.enqueuedAt);
      },
      refuse: (why) => { this.noteHeld(deps.clock.now()); this.reject(why); },
    };
  }

  /** Adds the time since the cost probe held it to the access log's `heldMs` (let go, refused or abandoned there). */
  noteHeld(now: number): void {
    const ctx = this.subject;
    ctx.heldMs = (ctx.heldMs ?? 0) + Math.max(0, now - this.heldAt);
  }

  /** What the access log tells of the wait (HAProxy logs it as `Tw`). */
  noteAdmission(): void {
    const ctx = this.subject;
    ctx.queueMs = Math.max(0, this.shared.deps.clock.now() - this.enqueuedAt);
    ctx.admittedTier = this.filed ?? this.tier;
  }

  reject(why: AdmissionRejection): void {
    const ctx = this.subject;
    this.noteAdmission();
    if (ctx.res.headersSent || ctx.res.destroyed) return;
    const code: ErrorCode = why === 'queue-timeout' ? 'RMP_ERR_QUEUE_TIMEOUT' : 'RMP_ERR_UPSTREAM_BUSY';
    if (why === 'queue-timeout') this.shared.deps.onQueueTimeout?.(ctx);
    this.cb.fail(ctx, { code, error: undefined, reachedUpstream: false });
  }

  rechallenge(): boolean {
    const ctx = this.subject;
    if (ctx.res.headersSent || ctx.res.destroyed) return false;
    const v = this.shared.deps.rechallenge?.(ctx);
    if (v === undefined) return false;
    this.cb.answer(ctx, v);
    return true;
  }

  clientClosed(): void {
    this.aborted = true;
    // Abandoned in the queue: the access log still gets its wait and its tier (a 499 with no wait
    // said nothing of why a customer gave up).
    if (this.state === 'queued') { this.noteAdmission(); this.queue.cancel(this); }
    if (this.ticket?.probe?.state === 'held') { this.noteHeld(this.shared.deps.clock.now()); this.noteAdmission(); this.probe?.cancel(this.ticket); }
    // Sent but not answered yet: the upstream keeps working on it whatever we do (a closed
    // connection is noticed only when it answers), so the slot stays taken until the answer's
    // head arrives or the upstream timeout — like HAProxy without `option abortonclose`. Freeing it
    // at once would let clients that give up (bots with short timeouts) pile requests up in the
    // upstream's own queue, past the concurrency we promise it. A held answer (long poll) is no
    // work: its upstream request ends with its client.
    if (this.controller !== undefined && !this.responded && !this.held) return;
    this.controller?.abort(new Error('client closed the connection'));
  }
}

/** One attempt on one server: undici's handler for it (a retry is a new attempt on another server). */
class Attempt implements Dispatcher.DispatchHandler {
  /** The admission slot was given back, or passed on to a retry. */
  released = false;
  /**
   * The response is an event stream: its slot went back when its head was written, while the
   * stream goes on (upstream/event-stream.ts). Still an outstanding request of its server.
   */
  slotFreed = false;
  readonly t0 = performance.now();
  observers: BodyObserver[] | undefined = undefined;
  /** A response filter answered instead (or threw): the upstream body is read and dropped. */
  replaced = false;
  /** Bytes held for a client slower than the upstream: opened on the first backpressure. */
  sink: ResponseSink | undefined = undefined;
  headersWritten = false;
  /** The response head arrived: too late to try another server. */
  started = false;
  /** When the upstream last sent a byte of the body (or its head), and how long it may then stay quiet. */
  lastByteAt = 0;
  quietLimitMs = 0;

  /** Requests in flight at the upstream when this one was sent, itself included (the adaptive limit's Little's law). */
  readonly inFlightAtSend: number;

  constructor(readonly ex: Exchange, readonly server: ServerHealth, readonly retry: boolean) {
    this.inFlightAtSend = ex.queue.inFlight;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.server.outstanding--;
    this.ex.releaseSlot(); // once per exchange: a stream gave it back already
    if (this.slotFreed) this.ex.shared.held.delete(this);
    this.ex.shared.reading.delete(this);
  }

  /** Gives the admission slot back while the response goes on: an event stream is held, not worked on. */
  freeSlot(): void {
    if (this.released || this.slotFreed) return;
    this.slotFreed = true;
    this.ex.releaseSlot();
    this.ex.shared.held.add(this);
    // Nor is it open in its identity's pace any more: a person with live pages in six tabs is not a flood.
    this.ex.subject.paceDone?.();
  }

  /** Pauses the upstream until the client drains what the sink holds. */
  pauseUpstream(c: Dispatcher.DispatchController, s: ResponseSink): void {
    c.pause();
    const paused = this.ex.shared.paused;
    paused.add(this);
    // A paused upstream is not quiet (the client is slow: evictStalled's business); its quiet time starts again on resume.
    s.onResume = () => { paused.delete(this); this.lastByteAt = this.ex.shared.deps.clock.now(); c.resume(); };
  }

  /** Cuts a client stalled past its limit (the ticker decides). */
  evict(): void {
    this.ex.subject.res.destroy();
    this.ex.controller?.abort(new Error('client too slow'));
  }

  onRequestStart(c: Dispatcher.DispatchController): void {
    this.ex.controller = c;
    if (this.ex.aborted) c.abort(new Error('client closed the connection'));
  }

  onResponseStart(c: Dispatcher.DispatchController, statusCode: number, upHeaders: IncomingHttpHeaders): void {
    const { ex, server } = this;
    const { subject: ctx, upstream, shared: { deps } } = ex;
    // An interim answer (103 Early Hints, 102): relayed, and the final head is still to come.
    if (statusCode < 200) { if (!ex.aborted) relayInformational(ctx.req, ctx.res, statusCode, upHeaders.link); return; }
    ctx.upstreamMs = performance.now() - this.t0;
    this.started = true;
    // Passive health (Envoy consecutive_5xx): a 5xx counts toward ejection, anything else resets the run.
    if (statusCode >= 500) upstream.health.onFailure(server.index, deps.clock.now()); else upstream.health.onSuccess(server.index);
    // A held answer's wait is the origin waiting for news, not its load.
    if (!ex.held) deps.onSample?.(upstream.name, ctx.upstreamMs, this.inFlightAtSend, statusCode === 503, ctx, statusCode);
    ex.responded = true;
    // The client left while the upstream worked on it: its answer is here, the work is done — only now free the slot.
    if (ex.aborted) { c.abort(new Error('client closed the connection')); return; }
    // An event stream's head is the work; the rest is a held connection (upstream/event-stream.ts).
    if (isEventStream(upHeaders['content-type'])) {
      // One its request did not announce (a fetch() reader, a POST answered with a stream) holds a
      // place too, taken now: or a client past its cap held as many as it opened.
      if (!ex.stream && deps.streams !== undefined) {
        const place = reserveStream(deps, deps.streams, ctx);
        if (place === undefined) {
          this.replaced = true; // the upstream stream is cut, not read (it would never end)
          ex.cb.fail(ctx, STREAMS_FULL);
          c.abort(new RempartError('RMP_ERR_STREAM_LIMIT', 'event stream refused at its cap'));
          return;
        }
      }
      this.freeSlot();
      ctx.stream = true;
    }
    // From here the body is timed between bytes: a stream (announced or not) by the streams' idle
    // timeout, any other answer by the upstream's.
    this.quietLimitMs = ctx.stream === true ? streamIdleMs(deps, upstream) : upstream.timeoutMs;
    this.lastByteAt = deps.clock.now();
    ex.shared.reading.add(this);
    const head = { status: statusCode, headers: filterResponseHeaders(upHeaders) };
    try {
      for (const filter of deps.responseFilters) {
        const action = filter(ctx, head);
        if (action === undefined) continue;
        if (action.kind === 'replace') {
          this.replaced = true;
          ex.cb.answer(ctx, action.verdict);
          return;
        }
        (this.observers ??= []).push(action.observer);
      }
    } catch (err) {
      this.replaced = true; // the upstream body is read and dropped
      ex.cb.internal(ctx, err);
      return;
    }
    if (deps.draining()) ctx.res.shouldKeepAlive = false;
    ctx.res.writeHead(head.status, head.headers);
    this.headersWritten = true;
  }

  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.lastByteAt = this.ex.shared.deps.clock.now();
    if (this.replaced) return;
    if (this.observers) for (const o of this.observers) o.data(chunk);
    if (this.ex.aborted || !this.headersWritten) return;
    const sink = this.sink;
    if (sink) { if (!sink.write(chunk)) this.pauseUpstream(c, sink); return; }
    const ctx = this.ex.subject;
    // Most responses never meet backpressure: the read-ahead sink exists only once one does.
    if (ctx.res.write(chunk)) return;
    const opened = this.sink = this.ex.shared.deps.responseSinks.open(ctx.res);
    const paused = this.ex.shared.paused;
    onExchangeEnd(ctx, () => { opened.dispose(); paused.delete(this); });
    if (!opened.backpressured()) this.pauseUpstream(c, opened);
  }

  onResponseEnd(): void {
    this.release();
    if (this.observers) for (const o of this.observers) o.end();
    if (this.ex.aborted || this.replaced || !this.headersWritten) return;
    if (this.sink) this.sink.end(); else this.ex.subject.res.end();
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    const { ex, server } = this;
    const { subject: ctx, upstream, shared: { deps } } = ex;
    // A stream or a long poll the origin kept quiet for `streamIdleMs` ended; the server did not fail.
    const quiet = (this.slotFreed || ex.held) && (err as { code?: string }).code !== undefined && upstreamErrorCode(err) === 'RMP_ERR_UPSTREAM_TIMEOUT';
    if (!ex.aborted && !quiet && !isRempartError(err) && !isRempartError((err as { cause?: unknown })?.cause)) {
      upstream.health.onFailure(server.index, deps.clock.now());
      // Failed before any response byte: once, on another server, if the request can be sent twice
      // and the budget allows (retries must not multiply an overloaded origin's load).
      if (!this.started && !this.retry && upstream.retryBudget !== undefined && isRetryableError(err) && isReplayable(ctx)) {
        const next = upstream.pick(ctx, server);
        if (next !== undefined && upstream.retryBudget.tryRetry(deps.clock.now())) {
          this.released = true; // the admission slot passes to the retry
          server.outstanding--;
          deps.onRetry?.(upstream.name, server, next, upstreamErrorCode(err));
          sendAttempt(ex, next);
          return;
        }
      }
    }
    this.release();
    if (ctx.upstreamMs === undefined) {
      ctx.upstreamMs = performance.now() - this.t0;
      if (!ex.aborted && !ex.held) deps.onSample?.(upstream.name, ctx.upstreamMs, this.inFlightAtSend, true, ctx);
    }
    if (ex.aborted || this.replaced) return; // the client left (logged as 499), or got a stale copy
    // A body guard verdict (slow POST, too large) travels through undici as the body's error.
    const cause = (err as { cause?: unknown })?.cause;
    const error = isRempartError(err) ? err : isRempartError(cause) ? cause : err;
    ex.cb.fail(ctx, { code: upstreamErrorCode(error), error, reachedUpstream: true });
  }
}

/**
 * Takes a place of the stream budget for this exchange's client, given back when the exchange
 * ends; undefined when a cap refuses it. Taken back to make room for a client holding fewer: the
 * stream ends, as a dropped connection does, and EventSource reconnects after its retry delay.
 */
function reserveStream(deps: ForwarderDeps, streams: StreamBudget, ctx: RequestContext): StreamPlace | undefined {
  const key = ctx.clientKey;
  const place = streams.reserve(key, deps.isShared?.(key) === true ? SHARED_CAP_FACTOR : 1, () => ctx.res.destroy());
  if (typeof place === 'string') return undefined;
  onExchangeEnd(ctx, () => streams.release(place));
  return place;
}

/** Sends one attempt of the exchange to a server: the one picked now, or `retry` for the second (and last) attempt. */
function sendAttempt(ex: Exchange, retry: ServerHealth | undefined): void {
  const { subject: ctx, upstream, shared: { deps } } = ex;
  if (ex.aborted) { ex.releaseSlot(); return; }
  const server = retry ?? upstream.pick(ctx);
  // Every server went down while the request waited for a slot.
  if (server === undefined) { ex.releaseSlot(); ex.cb.fail(ctx, ALL_DOWN); return; }
  server.outstanding++;
  if (retry === undefined) upstream.retryBudget?.onRequest(deps.clock.now());
  // A body read whole replays from memory or its spooled file; a streamed one is guarded now
  // (time spent queued is ours, not the client's slowness).
  const { req } = ctx;
  let body: Dispatcher.DispatchOptions['body'] = null;
  if (ctx.body !== undefined) body = ctx.body.source();
  else if (hasRequestBody(req)) { sendContinue(req, ctx.res); body = deps.bodyGuards.guard(req, deps.bodyLimits); }
  const up = ex.up;
  const attempt = new Attempt(ex, server, retry !== undefined);
  const name = upstream.tlsNames[server.index];
  (upstream.pools[server.index] as Dispatcher).dispatch({
    // An https server is always named alike, whatever Host the client sent (upstream/tls-name.ts).
    ...(name !== undefined ? { servername: name.name } as Partial<Dispatcher.DispatchOptions> : {}),
    origin: server.origin,
    path: up.path,
    method: up.method as Dispatcher.HttpMethod,
    headers: up.headers,
    body,
    // A long poll's head comes when there is news.
    headersTimeout: ex.held ? streamIdleMs(deps, upstream) : upstream.timeoutMs,
    // Between two bytes of the answer: timed by the forwarder's sweep (Shared.reading), which
    // knows from the head whether it is an event stream, quiet between events.
    bodyTimeout: 0,
  }, attempt);
  // Sent: a held answer's slot has paced it, and the origin's wait for news is no work in flight.
  if (ex.held) attempt.freeSlot();
}

/**
 * Builds the proxy step. A request waits for a slot in its upstream's admission queue (bounded,
 * shared by route class, with a timeout → 503 + Retry-After), then goes through undici's low-level
 * dispatch: no promise, AbortController or stream.pipeline per request. The response is read from
 * the upstream at its own pace up to `responseBuffer.perResponseBytes` ahead of the client (nginx
 * proxy_buffering), so a slow reader frees the upstream's connection; beyond that, backpressure.
 */
export function createForwarder(deps: ForwarderDeps): Forwarder {
  const { upstreams, admission, clock } = deps;
  const shared: Shared = { deps, paused: new Set<Attempt>(), held: new Set<Attempt>(), reading: new Set<Attempt>(), sweptAt: 0 };

  const forward = function forward(ctx: RequestContext, up: UpstreamRequest, cb: ForwardCallbacks) {
    const name = (ctx.route as { upstream: string }).upstream;
    const upstream = upstreams.get(name) as Upstream;
    const queue = admission.get(name) as AdmissionQueue;
    if (!upstream.health.anyAvailable) { cb.fail(ctx, ALL_DOWN); return; }
    const streams = deps.streams;
    const held = streams !== undefined && ctx.route?.stream === true;
    const stream = held || (streams !== undefined && asksForEventStream(ctx.req.method, ctx.req.headers.accept));
    if (stream && reserveStream(deps, streams, ctx) === undefined) { cb.fail(ctx, STREAMS_FULL); return; }
    const ex = new Exchange(shared, ctx, up, upstream, queue, cb);
    ex.stream = stream;
    ex.held = held;
    if (held) ctx.stream = true;
    ctx.onAbort = () => ex.clientClosed();
    ex.enqueuedAt = clock.now(); // its arrival, whether it waits or not (the queue sets the same)
    // Only a request with a cost key (a query, a path parameter, a buffered body: detect/cost-key.ts) may
    // have parts the cost probe bounds — asked when it is about to start (`defer`), when a key only
    // learned from at its arrival may be weighed.
    if (ctx.costKind !== undefined) ex.probe = deps.probes?.get(name);
    // Started within admit: it waited for nothing, whatever the clock read meanwhile (a process
    // preempted for a millisecond on a loaded machine is no queue, and a page that "waited" earns
    // no reputation: filters/upstream-response/reputation-cookie.ts).
    if (queue.admit(ex, ex.enqueuedAt) === 'started') ctx.queueMs = 0;
  } as Forwarder;

  forward.evictStalled = (now) => {
    let n = 0;
    if (now - shared.sweptAt >= QUIET_SWEEP_MS) {
      shared.sweptAt = now;
      for (const a of shared.reading) {
        if (shared.paused.has(a) || now - a.lastByteAt < a.quietLimitMs) continue;
        shared.reading.delete(a);
        // As undici's own body timeout would: the exchange fails with UND_ERR_BODY_TIMEOUT (504 or a cut).
        a.ex.controller?.abort(new undiciErrors.BodyTimeoutError());
      }
    }
    for (const a of shared.paused) {
      const since = a.sink?.pausedSince;
      if (since === undefined) { shared.paused.delete(a); continue; }
      // A slow reader may keep a slot nobody else needs; not one that others are waiting for. An
      // event stream's reader holds no slot.
      const limit = !a.slotFreed && a.ex.queue.queued > 0 ? deps.stallEvictMs : deps.sendTimeoutMs;
      if (now - since < limit) continue;
      shared.paused.delete(a);
      a.evict();
      n++;
    }
    return n;
  };
  forward.closeStreams = (upstreamName, serverName) => {
    let n = 0;
    for (const a of [...shared.held]) {
      if (a.ex.upstream.name !== upstreamName || a.server.name !== serverName) continue;
      a.evict();
      n++;
    }
    return n;
  };
  return forward;
}
