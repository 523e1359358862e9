import type { IncomingHttpHeaders } from 'node:http';
import { PRECONDITION_FIELDS } from '../cache/conditional.js';

// RFC 9110 §7.6.1: connection-specific fields a proxy must not forward; plus Proxy-Connection
// (non-standard, still sent by old clients) and the proxy-auth pair (RFC 9110 §11.7), meant for us.
// Expect too: the shield answers a 100-continue itself (edge/respond.ts sendContinue, RFC 9110
// §10.1.1 lets a proxy do so) and the body follows the head at once — undici refuses to send it.
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade', 'trailer',
  'proxy-authorization', 'proxy-authenticate', 'expect',
]);

// Forwarding fields we compute ourselves; a client's own copies are dropped unless the peer is a
// trusted proxy (then we append to them).
const FORWARDING = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', 'x-real-ip', 'x-request-id']);

/** Tokens listed in Connection, which RFC 9110 §7.6.1 makes hop-by-hop too. */
function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  // The common values name no extra field: skip building a set for them.
  if (value === undefined || value === 'keep-alive' || value === 'close' || value === 'Keep-Alive') return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  const set = new Set<string>();
  for (const t of text.split(',')) {
    const token = t.trim().toLowerCase();
    if (token) set.add(token);
  }
  return set;
}

/** What the proxy says about the hop it received the request on. */
export interface ForwardingInfo {
  peer: string;
  peerTrusted: boolean;
  proto: 'http' | 'https';
  requestId: string;
  forwardedNode: string;
  /** Leave out Range and If-Range (a range request the origin must not see: upstream/range.ts). */
  dropRange?: boolean;
  /**
   * Leave out the preconditions and Range (cache/conditional.ts): a request that may fill the
   * cache asks for the whole answer, and the shield answers the client's conditions from it.
   */
  dropPreconditions?: boolean;
  /** The HTTP version the request came in (`1.1`, `1.0`): what our Via entry says was received. */
  receivedVersion?: string;
  /** An OPTIONS request (RFC 9110 §7.6.2): its Max-Forwards, checked above 0 by the validate filter, goes on less one. */
  decrementMaxForwards?: boolean;
}

/** Our Via pseudonym (RFC 9110 §7.6.3: received-by may be one; no host or port of ours is disclosed). */
const VIA_PSEUDONYM = 'rempart';

/**
 * Builds the upstream request's header list (flat [name, value, ...], order and case kept) from
 * the client's raw headers: hop-by-hop removed (and Range when `dropRange`), forwarding fields set (X-Forwarded-For,
 * X-Forwarded-Proto, RFC 7239 Forwarded, X-Request-Id) and our Via entry appended.
 */
export function buildUpstreamHeaders(raw: readonly string[], headers: IncomingHttpHeaders, info: ForwardingInfo): string[] {
  const extra = connectionTokens(headers.connection);
  const out: string[] = [];
  let xff: string | undefined;
  let fwd: string | undefined;
  let proto: string | undefined;
  let via: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || (extra !== undefined && extra.has(lower))) continue;
    if (info.dropRange === true && (lower === 'range' || lower === 'if-range')) continue;
    if (info.dropPreconditions === true && PRECONDITION_FIELDS.has(lower)) continue;
    if (info.decrementMaxForwards === true && lower === 'max-forwards') { out.push(name, String(Number((raw[i + 1] as string).trim()) - 1)); continue; }
    if (lower === 'via') { const value = raw[i + 1] as string; via = via ? `${via}, ${value}` : value; continue; }
    if (FORWARDING.has(lower)) {
      if (!info.peerTrusted) continue;
      const value = raw[i + 1] as string;
      if (lower === 'x-forwarded-for') xff = xff ? `${xff}, ${value}` : value;
      else if (lower === 'forwarded') fwd = fwd ? `${fwd}, ${value}` : value;
      else if (lower === 'x-forwarded-proto') proto = value;
      else if (lower !== 'x-request-id') out.push(name, value);
      continue;
    }
    out.push(name, raw[i + 1] as string);
  }
  out.push('x-forwarded-for', xff ? `${xff}, ${info.peer}` : info.peer);
  out.push('x-forwarded-proto', proto ?? info.proto);
  const host = headers.host;
  const node = `for=${info.forwardedNode};proto=${info.proto}${host ? `;host="${host.replace(/["\\]/g, '')}"` : ''}`;
  out.push('forwarded', fwd ? `${fwd}, ${node}` : node);
  out.push('x-request-id', info.requestId);
  // RFC 9110 §7.6.3: a gateway MUST add itself to Via in each request it forwards (and a loop of
  // proxies shows in it); the client's entries are kept before ours.
  const ours = `${info.receivedVersion ?? '1.1'} ${VIA_PSEUDONYM}`;
  out.push('via', via ? `${via}, ${ours}` : ours);
  return out;
}

/** Removes hop-by-hop fields from an upstream response before it goes to the client. */
export function filterResponseHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const extra = connectionTokens(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || (extra !== undefined && extra.has(name))) continue;
    const v = headers[name];
    if (v !== undefined) out[name] = v;
  }
  return out;
}
