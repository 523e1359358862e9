import { named, type RequestFilter } from '../../pipeline/phases.js';
import type { PreparedResponse, Verdict } from '../../verdict.js';

/** What the filter needs: the status pages, prepared in memory by the status service. */
export interface StatusPagesPort {
  page(path: string): PreparedResponse | undefined;
}

const NOT_ALLOWED: PreparedResponse = {
  status: 405,
  headers: { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
  body: 'status page: GET or HEAD only\n',
};

/**
 * Answers the public status page (HTML, .json, .atom) from memory, before client limits and
 * challenges: it must stay reachable under attack and while the origin is down, and it never
 * waits on anything. For every other request the cost is one prefix comparison.
 */
export function createStatusPageFilter(pages: StatusPagesPort, path: string): RequestFilter {
  const allow = (response: PreparedResponse): Verdict => ({ kind: 'local', reason: 'status page', response });
  const notAllowed = allow(NOT_ALLOWED);
  return named('status-page', (ctx) => {
    if (!ctx.path.startsWith(path)) return undefined;
    const page = pages.page(ctx.path);
    if (page === undefined) return undefined;
    const m = ctx.req.method;
    return m === 'GET' || m === 'HEAD' ? allow(page) : notAllowed;
  });
}
