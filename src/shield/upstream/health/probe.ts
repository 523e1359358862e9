import { Client } from 'undici';
import type { Clock } from '../../../core/clock.js';
import type { UpstreamConfig } from '../../../config/schema.js';
import type { UpstreamHealth } from './monitor.js';
import { namedConnector, type TlsName } from '../tls-name.js';

type ActiveHealth = NonNullable<UpstreamConfig['health']['active']>;

/** Parses `expectStatus` (a code or "200-399") into a predicate, once. */
export function statusMatcher(expect: number | string): (status: number) => boolean {
  if (typeof expect === 'number') return (s) => s === expect;
  const [lo, hi] = expect.split('-').map(Number) as [number, number];
  return (s) => s >= lo && s <= hi;
}

/** Running probes of one upstream; `close` stops the timers and the probe connections. */
export interface Probes { close(): Promise<void> }

/**
 * Active health checks (HAProxy `option httpchk` + `check inter/rise/fall`): each server gets a GET
 * of `path` every `intervalMs` on a connection of its own — never through the traffic pool, so a
 * saturated pool cannot fail the probe nor the probe take a traffic slot. At most one probe per
 * server in flight; a probe that has no answer within `timeoutMs` fails.
 */
export function startProbes(health: UpstreamHealth, active: ActiveHealth, connectTimeoutMs: number, clock: Clock, tlsNames: ReadonlyArray<TlsName | undefined> = []): Probes {
  const ok = statusMatcher(active.expectStatus);
  const clients = health.servers.map((s, i) => new Client(s.origin, {
    pipelining: 1, keepAliveTimeout: Math.max(1_000, active.intervalMs * 2),
    // An https server is checked under the name its traffic uses (upstream/tls-name.ts).
    connect: tlsNames[i] !== undefined ? namedConnector(tlsNames[i] as TlsName, Math.min(connectTimeoutMs, active.timeoutMs)) : { timeout: Math.min(connectTimeoutMs, active.timeoutMs) },
    headersTimeout: active.timeoutMs, bodyTimeout: active.timeoutMs,
  }));
  const busy = new Array<boolean>(clients.length).fill(false);
  let closed = false;
  const probeOne = (i: number): void => {
    const server = health.servers[i];
    if (closed || busy[i] || !server || server.admin === 'disabled') return;
    busy[i] = true;
    const client = clients[i] as Client;
    client.request({ method: 'GET', path: active.path, headers: { 'user-agent': 'rempart-health-check' }, signal: AbortSignal.timeout(active.timeoutMs) })
      .then(async (r) => { await r.body.dump(); return ok(r.statusCode); }, () => false)
      .then((passed) => { busy[i] = false; if (!closed) health.probe(i, passed, clock.now()); });
  };
  const timers = clients.map((_, i) => {
    // Spread the servers' probes over the interval rather than firing them all at once.
    const first = setTimeout(() => { probeOne(i); timers[i] = setInterval(() => probeOne(i), active.intervalMs); timers[i]?.unref(); }, Math.floor((active.intervalMs * i) / clients.length));
    first.unref();
    return first as NodeJS.Timeout;
  });
  return {
    async close() {
      closed = true;
      for (const t of timers) { clearTimeout(t); clearInterval(t); }
      await Promise.allSettled(clients.map((c) => c.destroy()));
    },
  };
}
