import { readFileSync } from 'node:fs';

/**
 * The process's soft limit on open files (RLIMIT_NOFILE), read from /proc/self/limits (Linux);
 * undefined where it cannot be read or is unlimited. Node has no getrlimit.
 */
export function readOpenFilesLimit(read: () => string = () => readFileSync('/proc/self/limits', 'utf8')): number | undefined {
  let text: string;
  try { text = read(); } catch { return undefined; }
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  if (!m || m[1] === 'unlimited') return undefined;
  return Number(m[1]);
}

/**
 * Client connections the listener may hold under an open-files limit: the configured cap (0 =
 * none), but never so many that accepting one more fails for want of a descriptor — upstream
 * pools, request spool files, logs and the database need theirs (a quarter of the limit, at most
 * 1,024). Past the limit the kernel would refuse the connection whoever it is (EMFILE) before the
 * connection gate could close an idle one to make room for it (listener/gate.ts).
 */
export function connectionCapUnder(configured: number, openFiles: number | undefined): number {
  if (openFiles === undefined) return configured;
  const room = Math.max(1, openFiles - Math.min(1024, Math.floor(openFiles / 4)));
  return configured === 0 ? room : Math.min(configured, room);
}

/**
 * WebSocket tunnels the listener may hold when it holds at most `connectionCap` connections (0 =
 * no cap): each tunnel keeps two descriptors, the client's socket and the upstream's, and both count
 * against the cap (listener/gate.ts), so a quarter of it in tunnels leaves half the descriptors to
 * everyone else. The configured cap (0 = none) when it is lower.
 */
export function tunnelCapUnder(configured: number, connectionCap: number): number {
  if (connectionCap === 0) return configured;
  const room = Math.max(1, Math.floor(connectionCap / 4));
  return configured === 0 ? room : Math.min(configured, room);
}

/** The accept queue the listener asks for (`listen()` backlog); the kernel caps it at net.core.somaxconn. */
export const LISTEN_BACKLOG = 4096;

/**
 * The kernel's cap on a listener's accept queue (net.core.somaxconn, Linux); undefined where it
 * cannot be read.
 */
export function readSomaxconn(read: () => string = () => readFileSync('/proc/sys/net/core/somaxconn', 'utf8')): number | undefined {
  let text: string;
  try { text = read(); } catch { return undefined; }
  const n = Number(text.trim());
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * The accept queue a listener actually gets when it asks for `backlog`: a connection flood's burst
 * past it is dropped by the kernel (the listen overflow) and every client whose SYN fell there —
 * customers too — retries after a second, then three (docs/benchmarks.md, fifty-ninth session: a
 * full queue is where a flood's latency goes). Linux kernels before 5.4 default to 128.
 */
export function acceptQueueUnder(backlog: number, somaxconn: number | undefined): number {
  return somaxconn === undefined ? backlog : Math.min(backlog, somaxconn);
}
