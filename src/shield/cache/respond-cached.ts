import type { ServerResponse } from 'node:http';
import type { CachedResponse } from './store.js';

/** Writes a stored response: Age (RFC 9111 §5.1) and X-Rempart-Cache say how old and why. */
export function sendCached(res: ServerResponse, requestId: string, entry: CachedResponse, state: 'HIT' | 'STALE', now: number, head: boolean): void {
  if (res.headersSent) { res.destroy(); return; }
  res.writeHead(entry.status, {
    ...entry.headers,
    age: String(Math.max(0, Math.floor((now - entry.storedAt) / 1000))),
    'x-rempart-cache': state,
    'x-request-id': requestId,
  });
  res.end(head ? undefined : entry.body);
}
