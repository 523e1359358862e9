import type { Clock } from '../../../core/clock.js';
import { named, type UpstreamResponse, type UpstreamResponseFilter } from '../../pipeline/phases.js';
import type { RequestContext } from '../../context.js';
import { readCookie } from '../../reputation/cookie.js';
import { sessionCookieChange, sessionDigest, type SessionTable } from '../../reputation/sessions.js';
import type { RevocationList } from '../../reputation/revocation.js';

/**
 * Watches the origin's answers for the session cookies named in `detection.sessionCookies`: a
 * session set on a successful answer (2xx, 3xx — a login's redirect) is learned, one the origin
 * clears (a logout) is forgotten, and so is the one the request carried when the answer replaces
 * it. An error answer teaches nothing: a session is what the application grants, not what a
 * failed request happened to carry. Nor does a session given to an identity in `holders` (one
 * whose last session was revoked for flooding, filters/request/clearance.ts): its holder keeps the
 * standing of its other cookies. Set-Cookie itself passes through untouched.
 */
export function createSessionIssueFilter(sessions: SessionTable, names: readonly string[], clock: Clock, holders?: RevocationList): UpstreamResponseFilter {
  return named('session-issue', (ctx: RequestContext, res: UpstreamResponse) => {
    const header = res.headers['set-cookie'];
    if (header === undefined || res.status >= 400) return undefined;
    const now = clock.now();
    const distrusted = ctx.paceKey !== undefined && holders?.isRevoked(ctx.paceKey) === true;
    for (const line of Array.isArray(header) ? header : [header]) {
      const change = sessionCookieChange(line, names, now);
      if (change === undefined) continue;
      const previous = readCookie(ctx.req.headers.cookie, change.name);
      if (previous !== undefined && previous !== change.value) sessions.forget(previous);
      if (change.cleared) sessions.forget(change.value);
      else if (!distrusted) {
        sessions.learn(change.value, now, change.lifetimeS);
        // The identity its holder's next request counts under (filters/request/clearance.ts).
        ctx.issuedSessionKey = `ses:${sessionDigest(change.value)}`;
      }
    }
    return undefined;
  });
}
