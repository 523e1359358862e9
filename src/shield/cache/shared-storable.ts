import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * Whether a shared cache in front of the shield (a CDN, a caching load balancer) may store this
 * answer as the origin sent it (RFC 9111 §3): a final status, explicit freshness (`public`,
 * `s-maxage`, `max-age` above 0, or `Expires`) and nothing that keeps it out of a shared cache
 * (`private`, `no-store`, `no-cache`: §5.2.2). An answer the origin already sets cookies on is
 * personal by its own doing: false. `nowMs` is the wall clock (an Expires without the origin's Date).
 *
 * Why it matters: a Set-Cookie the shield adds to such an answer turns that cache off for it —
 * Varnish's built-in VCL and Cloudflare with origin cache control or "cache everything" pass or
 * bypass answers with Set-Cookie — so the shield's own cookies would move a CDN's hits to the origin.
 * Heuristic freshness (no explicit lifetime) is left out: caches store those by file extension
 * (assets), which are not the page loads the shield's cookies ride on.
 */
export function sharedCacheMayStore(status: number, headers: IncomingHttpHeaders | OutgoingHttpHeaders, nowMs: number): boolean {
  if (status < 200 || headers['set-cookie'] !== undefined) return false;
  const cc = String(headers['cache-control'] ?? '').toLowerCase();
  if (/(^|[\s,])(no-store|private|no-cache)([\s,=]|$)/.test(cc)) return false;
  if (/(^|[\s,])(public|s-maxage=\d+)([\s,]|$)/.test(cc)) return true;
  const maxAge = /(?:^|[\s,])max-age=(\d+)/.exec(cc);
  if (maxAge !== null) return Number(maxAge[1]) > 0;
  // RFC 9111 §5.3: an Expires that is not a date in the future (0, a past date) means already stale.
  const expires = headers.expires;
  if (typeof expires !== 'string') return false;
  const at = Date.parse(expires);
  // Against the origin's own Date when it sent one (its clock, not ours: RFC 9111 §4.2.1).
  const date = typeof headers.date === 'string' ? Date.parse(headers.date) : NaN;
  return Number.isFinite(at) && at > (Number.isFinite(date) ? date : nowMs);
}
