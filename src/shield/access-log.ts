import type { Logger } from 'pino';
import type { ShieldBus } from './events.js';
import { fnv1a64Hex } from './detect/fnv.js';
import { createLineBudget, type Suppressed } from './log-budget.js';

/**
 * Subscribes the access log and the operational log (reloads, blocks, malformed requests) to the
 * shield's events. `unforwardedPerS`: access lines a second for requests answered without the
 * upstream (shield/log-budget.ts; 0: every line) — forwarded ones are always written, their rate
 * is the upstream's.
 */
export function attachAccessLog(bus: ShieldBus, log: Logger, access: () => boolean, unforwardedPerS: () => number = () => 0, now: () => number = () => performance.now()): () => void {
  const budget = createLineBudget(unforwardedPerS);
  const sayHeldBack = (s: Suppressed | undefined): void => {
    if (s !== undefined) log.info({ suppressed: s.total, byOutcome: s.byOutcome }, 'access lines not written in the last second (log.accessUnforwardedPerS)');
  };
  const offs = [
    bus.on('request:end', ({ ctx, status, durationMs, aborted }) => {
      // Upstream failures are logged once, as warnings, where they happen; this is the access line.
      if (!access()) return;
      const outcome = ctx.verdict?.kind === 'deny' ? ctx.verdict.code : ctx.verdict?.kind === 'challenge' ? `challenge-${ctx.verdict.level}` : ctx.errorCode ?? 'forwarded';
      if (ctx.upstreamMs === undefined) {
        // Answered without the upstream: a refusal, a challenge, a cached copy, the status page.
        const t = budget.take(outcome === 'forwarded' && ctx.cacheState !== undefined ? `cache-${ctx.cacheState.toLowerCase()}` : outcome, now());
        sayHeldBack(t.summary);
        if (!t.write) return;
      }
      log.info({
        reqId: ctx.id, client: ctx.client,
        // The TCP peer's port, as nginx's $remote_port and HAProxy's %cp (one connection's requests
        // grouped, a client told from others behind its NAT); a PROXY protocol header's is not kept.
        port: ctx.conn.peerPort,
        // Over the shield's own TLS: the protocol version and the name asked (nginx's $ssl_protocol, $ssl_server_name).
        ...(ctx.conn.tls !== undefined ? { tls: ctx.conn.tls.version, ...(ctx.conn.tls.sni !== undefined ? { sni: ctx.conn.tls.sni } : {}) } : {}),
        // HTTP/2 streams (nginx's $server_protocol says HTTP/2.0); HTTP/1.x is the default, unsaid.
        ...(ctx.conn.protocol === 'h2' ? { proto: 'h2' } : {}),
        method: ctx.req.method, path: ctx.path, class: ctx.routeClass,
        // 499 as nginx logs it: the client closed the connection before the response was sent.
        status: aborted ? 499 : status, ms: Math.round(durationMs * 100) / 100,
        upstreamMs: ctx.upstreamMs === undefined ? undefined : Math.round(ctx.upstreamMs * 100) / 100,
        outcome,
        // Which limit or challenge answered (nginx logs the zone that limited a request).
        reason: ctx.verdict !== undefined && 'reason' in ctx.verdict ? ctx.verdict.reason : undefined,
        cache: ctx.cacheState,
        // The wait for an upstream slot and the tier it ended at (HAProxy's Tw and queue): why a
        // request was slow under attack, and whom the admission order put first.
        ...(ctx.queueMs === undefined ? {} : { queueMs: Math.round(ctx.queueMs * 100) / 100, tier: ctx.admittedTier }),
        // Of that wait, the time the cost probe held it back (a query part of unknown or high cost) (upstream/cost-probe.ts).
        ...(ctx.heldMs === undefined ? {} : { heldMs: Math.round(ctx.heldMs * 100) / 100 }),
        // Of upstreamMs, the shield's own loop's lateness when the answer was read (upstream/loop-stall.ts):
        // a slow answer the shield itself held back, told apart from a slow upstream. Only when ≥ 1 ms.
        ...(ctx.upstreamStallMs === undefined || ctx.upstreamStallMs < 1 ? {} : { stallMs: Math.round(ctx.upstreamStallMs * 100) / 100 }),
        // An event stream or a long poll: its duration is how long it was held, not a wait.
        ...(ctx.stream === true ? { stream: true } : {}),
        standing: ctx.traits?.standing,
        pace: ctx.traits?.pace,
        // Whose pace it counted in, as a digest: requests of one identity can be grouped without
        // writing its token id to the log.
        identity: ctx.paceKey === undefined ? undefined : fnv1a64Hex(ctx.paceKey),
        fp: ctx.traits?.fingerprint,
        ...(ctx.traits?.wouldHave ? { wouldHave: ctx.traits.wouldHave } : {}),
        // Passed on a reputation that woke with the attack, and waited with the token-less requests.
        ...(ctx.traits?.woken === true ? { woken: true } : {}),
      }, 'access');
    }),
    bus.on('client:error', (e) => log.debug({ reqId: e.requestId, client: e.address, code: e.code, status: e.status }, 'malformed request refused')),
    bus.on('config:reloaded', (e) => log.info({ file: e.file }, 'configuration reloaded')),
    bus.on('config:rejected', (e) => log.error({ file: e.file, reason: e.message }, 'new configuration rejected; the previous one keeps running')),
    bus.on('block:added', (e) => log.warn({ cidr: e.cidr, reason: e.reason, ttlS: e.ttlS }, 'block added')),
    bus.on('block:removed', (e) => log.warn({ cidr: e.cidr }, 'block removed')),
    bus.on('attack:transition', (e) => log.warn({ class: e.scope, from: e.from, to: e.to, signal: e.reason.signal, observed: e.reason.observed, baseline: e.reason.baseline, threshold: e.reason.threshold, ...(e.reason.until !== undefined ? { until: new Date(e.reason.until).toISOString() } : {}) }, 'attack state changed')),
    bus.on('mitigation:added', (e) => log.warn({ id: e.mitigation.id, kind: e.mitigation.kind, reason: e.mitigation.reason, dryRun: e.dryRun }, 'mitigation added')),
    bus.on('mitigation:lifted', (e) => log.info({ id: e.mitigation.id, kind: e.mitigation.kind, dryRun: e.dryRun }, 'mitigation lifted')),
    bus.on('reputation:wake', ({ wakeUp: w }) => log.warn({
      kind: w.reason.kind, firstSightings: w.reason.firstSightings, spanMs: w.reason.spanMs, observedPerS: round(w.reason.observedPerS), baselinePerS: round(w.reason.baselinePerS), dryRun: w.dryRun,
    }, 'reputations established before the attack woke with it: they wait with the token-less requests')),
    bus.on('detection:learning', (e) => (e.paused
      ? log.warn({ client: e.client, share: round(e.share), forS: Math.round(e.forMs / 1000) },
        'one client sent over half of the traffic for minutes: detection learns no rate and no mix from it; if a proxy or load balancer connects for your clients, declare it in trustedProxies')
      : log.info({ forS: Math.round(e.forMs / 1000) }, 'traffic from many clients again: detection learns again'))),
    bus.on('operator:action', (e) => log.warn({ who: e.who, action: e.action, detail: e.detail }, 'operator action')),
    bus.on('admission:mode', (e) => log.info({ upstream: e.upstream, strict: e.strict, why: e.why, floodingShare: round(e.floodingShare), mintedLoad: round(e.mintedLoad), backlogS: round(e.backlogS), newestFirst: e.newestFirst },
      e.strict ? 'admission: known customers strictly first' : 'admission: newcomers share with known customers')),
  ];
  return () => { offs.forEach((off) => off()); sayHeldBack(budget.drain()); };
}

const round = (n: number): number => Math.round(n * 100) / 100;
