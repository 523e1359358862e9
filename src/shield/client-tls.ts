import type { IncomingHttpHeaders } from 'node:http';
import type { ConnectionFacts } from './listener/connection-facts.js';

/**
 * Whether the client reached the site over TLS: on a TLS listener of ours, or — the usual
 * deployment, behind a TLS terminator or load balancer we trust (`trustedProxies`) — what that
 * peer says it received: the last `X-Forwarded-Proto` value (terminators set it; the nearest hop's
 * word is the one we trust), else the `proto` of the last RFC 7239 `Forwarded` element. The
 * cookies the shield sets then carry `Secure` (RFC 6265 §4.1.2.5), and the forwarded proto says
 * https. From an untrusted peer these fields are anyone's, and say nothing.
 */
export function clientUsedTls(conn: ConnectionFacts, headers: IncomingHttpHeaders): boolean {
  if (conn.tls !== undefined) return true;
  if (!conn.trusted) return false;
  const xfp = headers['x-forwarded-proto'];
  if (xfp !== undefined) return lastElement(Array.isArray(xfp) ? xfp.join(',') : xfp).toLowerCase() === 'https';
  const fwd = headers.forwarded;
  if (fwd === undefined) return false;
  const m = /(?:^|;)\s*proto\s*=\s*"?([A-Za-z][A-Za-z0-9+.-]*)"?\s*(?:;|$)/.exec(lastElement(fwd));
  return m !== null && (m[1] as string).toLowerCase() === 'https';
}

const lastElement = (list: string): string => {
  const comma = list.lastIndexOf(',');
  return (comma === -1 ? list : list.slice(comma + 1)).trim();
};
