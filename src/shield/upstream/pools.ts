import { Pool } from 'undici';
import type { UpstreamConfig } from '../../config/schema.js';

/** A named upstream: its undici keep-alive pool and its timeouts. */
export interface Upstream {
  readonly name: string;
  readonly origin: string;
  readonly pool: Pool;
  readonly timeoutMs: number;
}

/** Builds one keep-alive pool per configured upstream. */
export function createUpstreams(config: Readonly<Record<string, UpstreamConfig>>): Map<string, Upstream> {
  const map = new Map<string, Upstream>();
  for (const [name, u] of Object.entries(config)) {
    const origin = new URL(u.url).origin;
    const pool = new Pool(origin, {
      connections: u.connections,
      pipelining: 1,
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 60_000,
      headersTimeout: u.timeoutMs,
      bodyTimeout: u.timeoutMs,
      connect: { timeout: u.connectTimeoutMs },
    });
    map.set(name, Object.freeze({ name, origin, pool, timeoutMs: u.timeoutMs }));
  }
  return map;
}

/** Closes pools gracefully: requests in flight finish, then the sockets close. */
export async function closeUpstreams(upstreams: Map<string, Upstream>): Promise<void> {
  await Promise.allSettled([...upstreams.values()].map((u) => u.pool.close()));
}
