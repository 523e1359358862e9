import type { Logger } from 'pino';
import type { ShieldBus } from './events.js';

/** Subscribes the access log and the error log to the shield's events. */
export function attachAccessLog(bus: ShieldBus, log: Logger, access: () => boolean): () => void {
  const offs = [
    bus.on('request:end', ({ ctx, status, durationMs, aborted }) => {
      const verdict = ctx.verdict?.kind === 'deny' ? ctx.verdict.code : ctx.verdict?.kind;
      if (ctx.errorCode !== undefined) {
        log.warn({ reqId: ctx.id, client: ctx.client, method: ctx.req.method, path: ctx.path, status, code: ctx.errorCode }, 'request failed');
      } else if (access()) {
        log.info({
          reqId: ctx.id, client: ctx.client, method: ctx.req.method, path: ctx.path, class: ctx.routeClass,
          // 499 as nginx logs it: the client closed the connection before the response was sent.
          status: aborted ? 499 : status, ms: Math.round(durationMs * 100) / 100,
          upstreamMs: ctx.upstreamMs === undefined ? undefined : Math.round(ctx.upstreamMs * 100) / 100,
          verdict,
        }, 'access');
      }
    }),
    bus.on('client:error', (e) => log.info({ reqId: e.requestId, client: e.address, code: e.code, status: e.status }, 'malformed request refused')),
    bus.on('config:reloaded', (e) => log.info({ file: e.file }, 'configuration reloaded')),
    bus.on('config:rejected', (e) => log.error({ file: e.file, reason: e.message }, 'new configuration rejected; the previous one keeps running')),
    bus.on('block:added', (e) => log.warn({ cidr: e.cidr, reason: e.reason, ttlS: e.ttlS }, 'block added')),
    bus.on('block:removed', (e) => log.warn({ cidr: e.cidr }, 'block removed')),
  ];
  return () => offs.forEach((off) => off());
}
