import { ANONYMOUS_TIER } from '../upstream/admission.js';
import { performance } from 'node:perf_hooks';
import type { ErrorCode } from '../../core/errors.js';
import type { RequestContext } from '../context.js';
import type { ShieldBus } from '../events.js';
import type { Tunnels } from '../listener/tunnels.js';
import { SHARED_CAP_FACTOR } from '../listener/gate.js';
import type { UpgradeExchange } from '../listener/upgrade.js';
import { sendError, sendVerdict } from '../edge/respond.js';
import type { Verdict } from '../verdict.js';
import { asksWebSocket } from '../http-message.js';
import { filterResponseHeaders } from '../upstream/headers.js';
import { upstreamErrorCode } from '../upstream/error-code.js';
import type { Upstream } from '../upstream/pools.js';
import { requestUpgrade } from '../upstream/websocket.js';
import { admitHandshake } from '../upstream/handshake-admission.js';
import type { AdmissionQueue } from '../upstream/admission.js';
import type { Pipeline } from './handler.js';
import type { UpstreamRequest } from './phases.js';
import { isPromise, runFilters } from './run.js';
import type { IdentityPace } from '../detect/identity-pace.js';
import { createMessageSender } from '../filters/upstream-request/pace.js';

/** What the upgrade path needs of a configuration besides the pipeline. */
export interface UpgradePipeline extends Pipeline {
  readonly upstreams: Map<string, Upstream>;
  readonly admission: Map<string, AdmissionQueue>;
}

/**
 * The exchange driver for `Upgrade: websocket` (RFC 6455 §4): the handshake request goes through
 * every request filter (blocks, rate limits, challenge and clearance) and the upstream-request
 * filters like any request; a verdict is answered on the socket and the connection closed. An
 * allowed handshake on a route that accepts WebSocket goes to one server on a connection of its
 * own; its 101 is relayed and the two sockets joined as a tunnel. Other Upgrade values, and
 * WebSocket on other routes, get 400 (RFC 9110 §7.8 lets a server refuse an upgrade).
 */
export function createUpgradeHandler(current: () => UpgradePipeline, o: { tunnels: Tunnels; bus: ShieldBus; nextId(): string; draining(): boolean; isShared?(clientKey: string): boolean; pace?: IdentityPace }): UpgradeExchange {
  return function handleUpgrade(req, res, conn, handshake) {
    const p = current();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const client = conn.trusted ? p.resolveClient(conn.peer, req.headers['x-forwarded-for']) : conn.peer;
    const ctx: RequestContext = {
      id: o.nextId(), req, res, conn, startedAt: performance.now(), peer: conn.peer, peerTrusted: conn.trusted,
      client, clientKey: p.clientKey(client),
      target: url, path: q === -1 ? url : url.slice(0, q), route: undefined, routeClass: 'none', admissionClass: undefined, verdict: undefined,
      upstreamMs: undefined, queueMs: undefined, admittedTier: undefined, errorCode: undefined, cacheKey: undefined, cacheState: undefined, body: undefined, traits: undefined,
      tier: ANONYMOUS_TIER, paceKey: undefined, sourceKey: undefined, baseTier: undefined, reputation: undefined, setHeaders: undefined, onAbort: undefined, cleanup: undefined,
    };
    let logged = false;
    // `aborted`: the client left before an answer (logged as 499, as an HTTP request it abandoned).
    const log = (status: number, aborted = false): void => {
      if (logged) return;
      logged = true;
      if (ctx.cleanup) for (const fn of ctx.cleanup) fn();
      for (const f of p.phases.logging) f(ctx, { status, durationMs: performance.now() - ctx.startedAt, aborted });
    };
    res.once('finish', () => log(res.statusCode));
    const refuse = (code: ErrorCode, retryAfterS?: number): void => {
      ctx.errorCode = code;
      sendError(res, ctx.id, code, { close: true, ...(retryAfterS !== undefined ? { retryAfterS } : {}) });
    };
    const answer = (v: Verdict): void => {
      ctx.verdict = v;
      sendVerdict(res, ctx.id, v, { now: p.now(), head: false, unreadBody: true });
    };

    if (!asksWebSocket(req) || req.method !== 'GET' || !req.headers['sec-websocket-key']) {
      return refuse('RMP_ERR_UPGRADE');
    }
    if (o.draining()) return refuse('RMP_ERR_UPGRADE_LIMIT', 5);

    const connect = (up: UpstreamRequest): void => {
      const route = ctx.route;
      const upstream = route ? p.upstreams.get(route.upstream) : undefined;
      if (!route || !upstream) return refuse('RMP_ERR_UPGRADE');
      // A shared address (a carrier NAT) holds places as the many clients it carries, as at the gate;
      // within an address's places, its identities (whose pace the handshake counted in) share fairly.
      const holder = ctx.paceKey;
      const unreserve = (): void => o.tunnels.unreserve(ctx.clientKey, holder);
      if (!o.tunnels.reserve(ctx.clientKey, o.isShared?.(ctx.clientKey) === true ? SHARED_CAP_FACTOR : 1, holder)) return refuse('RMP_ERR_UPGRADE_LIMIT', 5);
      const send = (release: () => void): void => {
        // The client left while its handshake waited.
        if (handshake.closed) { release(); unreserve(); log(res.statusCode, true); return; }
        const server = upstream.pick(ctx);
        if (server === undefined) { release(); unreserve(); return refuse('RMP_ERR_UPSTREAM_DOWN', 1); }
        server.outstanding++;
        const t0 = performance.now();
        const cancel = requestUpgrade(server, up, String(req.headers.upgrade), upstream.timeoutMs, (out) => {
          ctx.upstreamMs = performance.now() - t0;
          // The upstream answered the handshake: the work it cost is done (the tunnel's messages are metered on their own).
          release();
          if (out.kind !== 'upgraded') {
            server.outstanding--;
            unreserve();
            if (out.kind === 'error') {
              upstream.health.onFailure(server.index, p.now());
              return refuse(upstreamErrorCode(out.error));
            }
            if (out.response.statusCode && out.response.statusCode >= 500) upstream.health.onFailure(server.index, p.now());
            // The origin declined (its own auth, a 426 for another version): its answer goes back as is.
            res.writeHead(out.response.statusCode ?? 502, filterResponseHeaders(out.response.headers));
            out.response.pipe(res);
            return;
          }
          upstream.health.onSuccess(server.index);
          const opened = !handshake.closed;
          // RFC 6455 §4.2.2: the server's 101 (Sec-WebSocket-Accept, protocol, extensions) goes back verbatim.
          // Its messages are placed as its token's requests would be (filters/upstream-request/pace.ts).
          const sender = o.pace === undefined ? undefined : createMessageSender(ctx, o.pace, { now: p.now });
          handshake.accept(out.response.rawHeaders, out.socket, out.head, { client: ctx.client, clientKey: ctx.clientKey, ...(holder !== undefined ? { holder } : {}), upstream: upstream.name, server: server.name, serverUrl: server.url, ...(sender ? { sender } : {}) }, (reason, durationMs) => {
            server.outstanding--;
            if (opened) o.bus.emit('websocket:close', { client: ctx.client, upstream: upstream.name, reason, durationMs });
            else unreserve();
          });
          if (!opened) return;
          log(101);
          o.bus.emit('websocket:open', { client: ctx.client, upstream: upstream.name, server: server.name });
        }, upstream.tlsNames[server.index]);
        handshake.onClose(cancel);
      };
      const queue = p.admission.get(route.upstream);
      if (queue === undefined || !upstream.health.anyAvailable) return send(() => {});
      // The handshake is a request to the upstream: it waits for a slot like one (upstream/handshake-admission.ts).
      const cancelWait = admitHandshake(queue, ctx, p.now, send, (code) => {
        unreserve();
        // RFC 9110 §15.6.4: 503 with Retry-After while the upstream is saturated, as for any request.
        refuse(code, 1);
      });
      // A client that leaves while its handshake waits gives up its place in the queue and its tunnel
      // place, and is logged with its wait: a handshake abandoned in the queue is a customer who gave up.
      handshake.onClose(() => { if (cancelWait()) { unreserve(); log(res.statusCode, true); } });
    };

    const afterRequestFilters = (v: Verdict | undefined): void => {
      if (v !== undefined && v.kind !== 'allow') return answer(v);
      if (v) ctx.verdict = v;
      if (!ctx.route?.websocket) return refuse('RMP_ERR_UPGRADE');
      const up: UpstreamRequest = { method: 'GET', path: ctx.target, headers: [] };
      const r = runFilters(p.phases.upstreamRequest, ctx, up);
      if (r === undefined || (!isPromise(r) && r.kind === 'allow')) return connect(up);
      if (!isPromise<Verdict | undefined>(r)) return answer(r);
      r.then((v2) => { if (!handshake.closed) { if (v2 === undefined || v2.kind === 'allow') connect(up); else answer(v2); } })
        .catch(() => refuse('RMP_ERR_INTERNAL'));
    };
    try {
      const r = runFilters(p.phases.request, ctx, undefined as unknown as UpstreamRequest);
      if (!isPromise<Verdict | undefined>(r)) return afterRequestFilters(r);
      r.then((v) => { if (!handshake.closed) afterRequestFilters(v); }).catch(() => refuse('RMP_ERR_INTERNAL'));
    } catch {
      refuse('RMP_ERR_INTERNAL');
    }
  };
}
