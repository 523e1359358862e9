import { isIP } from 'node:net';
import { buildConnector } from 'undici';

/**
 * The name an https server's certificate is checked against, and sent as SNI: the upstream's
 * `servername`, else the host of the server's url — never the client's Host (nginx's
 * `proxy_ssl_name` defaults to the proxy_pass host the same way). Left to the HTTP clients, the
 * Host header each request carried chose it: every request for the site's public name failed
 * (502) against an origin whose certificate names its internal one, and undici tore its pool's
 * TLS connection down whenever the name changed — a flood's random Host values made every
 * request a TLS handshake with the origin.
 */
export interface TlsName {
  /** Checked against the certificate, and the name each request is dispatched under (one name: no reconnect). */
  readonly name: string;
  /** Sent as SNI; none for an address (RFC 6066 §3: a HostName is a name, never a literal address). */
  readonly sni: string | undefined;
}

/** The TLS name of a server at `origin` (undefined for plain http). */
export function tlsName(origin: string, configured: string | undefined): TlsName | undefined {
  const url = new URL(origin);
  if (url.protocol !== 'https:') return undefined;
  const name = configured ?? url.hostname.replace(/^\[|\]$/g, '');
  return Object.freeze({ name, sni: isIP(name) === 0 ? name : undefined });
}

/** An undici connector that names the server `t` whatever a request says, within `timeoutMs`. */
export function namedConnector(t: TlsName, timeoutMs: number): buildConnector.connector {
  const base = buildConnector({ timeout: timeoutMs });
  // Without SNI, Node checks the certificate against the host connected to (an address's SAN).
  return (opts, cb) => base({ ...opts, servername: t.sni }, cb);
}
