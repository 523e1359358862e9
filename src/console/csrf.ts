import { createHash, timingSafeEqual } from 'node:crypto';

/** The request facts cross-site checks look at. */
export interface RequestOrigin {
  readonly method: string;
  /** Host header as sent. */
  readonly host: string | undefined;
  readonly origin: string | undefined;
  readonly secFetchSite: string | undefined;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
const sha = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * Why a state-changing request must be refused as cross-site, or undefined. Browsers send
 * Sec-Fetch-Site (Fetch Metadata) and Origin (RFC 6454 §7) on every POST/DELETE: anything but
 * same-origin is refused. Safe methods pass (they change nothing).
 */
export function crossSiteRefusal(r: RequestOrigin): string | undefined {
  if (SAFE.has(r.method)) return undefined;
  if (r.secFetchSite !== undefined && r.secFetchSite !== 'same-origin') return `cross-site request refused (Sec-Fetch-Site: ${r.secFetchSite})`;
  if (r.origin !== undefined) {
    if (!r.host) return 'cross-site request refused (Origin without Host)';
    const ok = r.origin === `http://${r.host}` || r.origin === `https://${r.host}`;
    if (!ok) return `cross-site request refused (Origin ${r.origin} is not this console)`;
  }
  return undefined;
}

/** Whether the per-session token echoed in the X-CSRF-Token header matches (constant time). */
export function csrfTokenMatches(sent: string | undefined, expected: string): boolean {
  return typeof sent === 'string' && sent.length > 0 && timingSafeEqual(sha(sent), sha(expected));
}
