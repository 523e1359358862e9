/**
 * Who the client is: the TCP peer, unless the peer is a proxy we trust, in which case the hops it
 * reports (X-Forwarded-For, or RFC 7239 Forwarded) are believed up to the first untrusted one.
 */
import { createCidrTable } from './blocklist/cidr-table.js';
import { formatIp, parseIp, type ParsedIp } from '../core/ip.js';

/** Answers whether an address belongs to a trusted proxy. */
export interface TrustedMatcher {
  /** True for an address inside a trusted block; false for anything else, non-addresses included. */
  has(address: string): boolean;
  /** Same as has, for an address already parsed. */
  hasParsed(ip: ParsedIp): boolean;
  /** True when no proxy is trusted at all. */
  readonly empty: boolean;
}

/** Compiles trusted-proxy CIDRs once (throwing on a bad one); a lookup costs the same for 1 or 10,000. */
export function createTrustedMatcher(cidrs: readonly string[]): TrustedMatcher {
  const table = createCidrTable<true>();
  for (const cidr of cidrs) table.add(cidr, true);
  const empty = table.size === 0;
  return {
    has: (address) => !empty && table.lookup(address, 0) !== undefined,
    hasParsed: (ip) => !empty && table.lookupParsed(ip, 0) !== undefined,
    empty,
  };
}

const PORT_RE = /^[0-9]{1,5}$/;
const OBFUSCATED_RE = /^_[A-Za-z0-9._-]+$/; // RFC 7239 §6.3 obfnode

/**
 * Reads one hop as proxies write it: `a.b.c.d`, `a.b.c.d:port`, an IPv6 address, `[v6]` or
 * `[v6]:port` (some proxies append the port; RFC 7239 nodes look like that once unquoted).
 */
function parseHop(text: string): ParsedIp | undefined {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return undefined;
    const rest = text.slice(close + 1);
    if (rest !== '' && !(rest.startsWith(':') && PORT_RE.test(rest.slice(1)))) return undefined;
    const inner = text.slice(1, close);
    return inner.includes(':') ? parseIp(inner) : undefined; // brackets hold IPv6 text only
  }
  const direct = parseIp(text);
  if (direct !== undefined) return direct;
  const colon = text.lastIndexOf(':');
  if (colon < 0 || text.indexOf(':') !== colon || !PORT_RE.test(text.slice(colon + 1))) return undefined;
  const ip = parseIp(text.slice(0, colon));
  return ip?.family === 4 ? ip : undefined;
}

/**
 * The client address of a request (canonical text): an untrusted peer is the client, whatever it
 * claims. From a trusted peer, the hops are walked from the right, skipping trusted proxies, and
 * the first untrusted address is the client. Empty list elements are skipped (RFC 9110 §5.6.1); a
 * malformed or `unknown` hop stops the walk and the last trusted hop is the answer, because
 * anything left of it was written by a party we cannot vouch for and the hop right of it is the
 * nearest one we can. Pass `parseForwardedFor(forwarded)` instead of X-Forwarded-For to use RFC 7239.
 * @example resolveClientAddress('10.0.0.2', '198.51.100.9, 10.0.0.1', createTrustedMatcher(['10.0.0.0/8'])) // '198.51.100.9'
 */
export function resolveClientAddress(
  peerAddress: string,
  xForwardedFor: string | readonly string[] | undefined,
  trusted: TrustedMatcher,
): string {
  const peer = parseIp(peerAddress);
  if (peer === undefined) return peerAddress; // e.g. a Unix socket: nothing to normalize or trust
  let lastTrusted = formatIp(peer);
  if (xForwardedFor === undefined || !trusted.hasParsed(peer)) return lastTrusted;
  const lines = typeof xForwardedFor === 'string' ? [xForwardedFor] : xForwardedFor;
  for (let l = lines.length - 1; l >= 0; l--) {
    const hops = (lines[l] ?? '').split(',');
    for (let h = hops.length - 1; h >= 0; h--) {
      const text = (hops[h] ?? '').trim();
      if (text === '') continue;
      const hop = parseHop(text);
      if (hop === undefined) return lastTrusted;
      const hopText = formatIp(hop);
      if (!trusted.hasParsed(hop)) return hopText;
      lastTrusted = hopText;
    }
  }
  return lastTrusted;
}

/** The node of one `for=` value, unquoted: canonical IP, obfuscated identifier, or `unknown`. */
function forwardedNode(raw: string): string {
  let value = raw.trim();
  if (value.startsWith('"')) {
    if (value.length < 2 || !value.endsWith('"')) return 'unknown';
    value = value.slice(1, -1).replace(/\\(.)/g, '$1'); // RFC 9110 §5.6.4 quoted-pair
  }
  const ip = parseHop(value);
  if (ip !== undefined) return formatIp(ip);
  const colon = value.indexOf(':');
  const name = colon < 0 ? value : value.slice(0, colon);
  return OBFUSCATED_RE.test(name) ? name : 'unknown';
}

/**
 * The `for=` node of each element of RFC 7239 Forwarded header(s), left to right, one per element
 * so positions still match proxies: IPs in canonical form without brackets or port, obfuscated
 * identifiers (`_hidden`) as they are, and `unknown` for an unknown, absent, repeated or malformed
 * `for`. Splitting on `,` and `;` ignores quoting on purpose: no valid node contains either, and a
 * client's unterminated quote then cannot swallow the elements that trusted proxies append.
 * @example parseForwardedFor('for="[2001:db8::1]:4711";proto=https, for=192.0.2.60') // ['2001:db8::1', '192.0.2.60']
 */
export function parseForwardedFor(header: string | readonly string[] | undefined): string[] {
  if (header === undefined) return [];
  const out: string[] = [];
  for (const line of typeof header === 'string' ? [header] : header) {
    for (const element of line.split(',')) {
      if (element.trim() === '') continue; // RFC 9110 §5.6.1: empty list elements are ignored
      let node: string | undefined;
      let count = 0;
      for (const pair of element.split(';')) {
        const eq = pair.indexOf('=');
        if (eq < 0 || pair.slice(0, eq).trim().toLowerCase() !== 'for') continue; // §4: names are case-insensitive
        count++;
        node = forwardedNode(pair.slice(eq + 1));
      }
      out.push(count === 1 && node !== undefined ? node : 'unknown'); // §4: at most one `for` per element
    }
  }
  return out;
}

/**
 * The RFC 7239 §6 node for an address, ready for `for=`: IPv4 bare, IPv6 bracketed and quoted
 * (`:` is not a token character), `unknown` for anything that is not an IP address.
 * @example `for=${formatForwardedFor('2001:db8::1')};proto=http` // 'for="[2001:db8::1]";proto=http'
 */
export function formatForwardedFor(ip: string): string {
  const parsed = parseIp(ip);
  if (parsed === undefined) return 'unknown';
  return parsed.family === 4 ? formatIp(parsed) : `"[${formatIp(parsed)}]"`;
}
