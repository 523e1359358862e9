import { Client } from 'undici';

/** What the demo origin's /__origin/stats answers (see src/demo/origin/server.ts). */
export interface OriginSnapshot {
  served: Record<string, number>;
  rejected: number;
  inFlight: number;
  queued: number;
  maxInFlight?: number;
  clients?: Record<string, { served: number; rejected: number }>;
}

export interface OriginPoint { t: number; served: number; rejected: number; inFlight: number; queued: number }

/** Origin load and attribution over a run, from the origin's own counters. */
export interface OriginReport {
  available: boolean;
  served: number;
  rejected: number;
  servedByGroup: Record<string, number>;
  /** Requests from attack source addresses that reached the origin (served or rejected by it). */
  attackReached: number | null;
  legitReached: number | null;
  /** Origin requests from addresses that are neither (e.g. a proxy that does not forward the client address). */
  unattributed: number | null;
  series: OriginPoint[];
}

const sumServed = (s: OriginSnapshot): number => Object.values(s.served).reduce((a, b) => a + b, 0);

/** Polls an origin stats URL once a second; `finish` returns the deltas since `start`. */
export function createOriginSampler(statsUrl: string | undefined, seconds: number, now: () => number) {
  const url = statsUrl ? new URL(statsUrl) : null;
  const client = url ? new Client(url.origin, { connections: 1, pipelining: 1 } as ConstructorParameters<typeof Client>[1]) : null;
  const series: OriginPoint[] = [];
  let first: OriginSnapshot | null = null;
  let prev: OriginSnapshot | null = null;
  let timer: NodeJS.Timeout | undefined;

  const get = async (clients: boolean): Promise<OriginSnapshot | null> => {
    if (!client || !url) return null;
    try {
      const res = await client.request({ method: 'GET', path: url.pathname + (clients ? '?clients=1' : ''), headersTimeout: 2_000, bodyTimeout: 5_000 });
      if (res.statusCode !== 200) { await res.body.dump(); return null; }
      return (await res.body.json()) as OriginSnapshot;
    } catch {
      return null;
    }
  };

  const poll = async (): Promise<void> => {
    const t = Math.round(now() / 1000);
    const snap = await get(false);
    if (!snap || !prev || t > seconds) { if (snap) prev = snap; return; }
    series.push({ t, served: sumServed(snap) - sumServed(prev), rejected: snap.rejected - prev.rejected, inFlight: snap.inFlight, queued: snap.queued });
    prev = snap;
  };

  return {
    async start(): Promise<void> {
      first = await get(true);
      prev = first;
      if (client) timer = setInterval(() => void poll(), 1_000);
    },
    async finish(attack: ReadonlySet<string>, legit: ReadonlySet<string>): Promise<OriginReport> {
      clearInterval(timer);
      const last = await get(true);
      await client?.close().catch(() => undefined);
      if (!first || !last) {
        return { available: false, served: 0, rejected: 0, servedByGroup: {}, attackReached: null, legitReached: null, unattributed: null, series };
      }
      const servedByGroup: Record<string, number> = {};
      for (const [k, v] of Object.entries(last.served)) servedByGroup[k] = v - (first.served[k] ?? 0);
      let attackReached = 0;
      let legitReached = 0;
      let unattributed = 0;
      for (const [addr, c] of Object.entries(last.clients ?? {})) {
        const before = first.clients?.[addr];
        const n = c.served + c.rejected - (before ? before.served + before.rejected : 0);
        if (n <= 0) continue;
        if (attack.has(addr)) attackReached += n;
        else if (legit.has(addr)) legitReached += n;
        else unattributed += n;
      }
      const attributed = last.clients !== undefined;
      return {
        available: true, served: sumServed(last) - sumServed(first), rejected: last.rejected - first.rejected, servedByGroup,
        attackReached: attributed ? attackReached : null, legitReached: attributed ? legitReached : null,
        unattributed: attributed ? unattributed : null, series,
      };
    },
  };
}
