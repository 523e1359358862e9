import { NOJS_MARKER } from './settings.js';

/**
 * True when the request is a browser navigation (it will render what it gets): Fetch Metadata's
 * Sec-Fetch-Mode says so when present (W3C Fetch Metadata §2.3), else an Accept naming
 * text/html (browsers without Fetch Metadata). Everything else is an API client: it never gets HTML.
 */
export function isNavigation(accept: string | undefined, secFetchMode: string | undefined): boolean {
  if (secFetchMode) return secFetchMode === 'navigate' || secFetchMode === 'nested-navigate';
  return accept !== undefined && accept.includes('text/html');
}

/**
 * True when a browser asks for this on behalf of one of the site's own pages — a stylesheet,
 * script, image or `fetch()` — per Fetch Metadata (W3C Fetch Metadata §2.1–2.3: a same-origin
 * request that is not a navigation, a WebSocket or a download). A browser follows a redirect for
 * it and keeps the cookie the redirect sets, as it does for a page; it cannot answer a proof-of-work
 * challenge, which would leave the page it loaded without its stylesheet. Sent only by browsers
 * (clients that forge it get the no-JavaScript check a page load gets).
 */
export function isSameOriginSubresource(secFetchSite: string | undefined, secFetchMode: string | undefined): boolean {
  return secFetchSite === 'same-origin' && (secFetchMode === 'no-cors' || secFetchMode === 'cors' || secFetchMode === 'same-origin');
}

/**
 * True for a browser's WebSocket handshake from one of the site's own pages. With Fetch Metadata,
 * `Sec-Fetch-Mode: websocket` and `Sec-Fetch-Site: same-origin` (W3C Fetch Metadata §2.3; Firefox
 * sends them); without, its `Origin` names the host it asks for — a browser sends Origin on every
 * handshake (RFC 6455 §4.1), and Chromium sends no Fetch Metadata on one (Chromium 156:
 * test/shield/chromium-challenge.test.ts). Like a stylesheet it can answer no challenge, nor follow
 * the no-JavaScript redirect: a status other than 101 fails the connection (RFC 6455 §4.1), and the
 * WebSocket API shows the page's script neither the status nor a header of the refusal (WHATWG
 * WebSockets: an `error` event, then `close` with code 1006). `socket` is absent for a request that
 * is not a WebSocket upgrade.
 */
export function isSameOriginWebSocket(secFetchSite: string | undefined, secFetchMode: string | undefined, socket: WebSocketFacts | undefined): boolean {
  if (socket === undefined) return false;
  if (secFetchMode !== undefined) return secFetchMode === 'websocket' && secFetchSite === 'same-origin';
  const { origin, host } = socket;
  if (origin === undefined || host === undefined) return false;
  const at = origin.indexOf('://');
  // Hosts compare without case (RFC 3986 §3.2.2); the scheme is left out: behind a proxy that ends
  // TLS, the page's https origin asks the shield over http.
  return at > 0 && origin.slice(at + 3).toLowerCase() === host.toLowerCase();
}

/** A WebSocket handshake's Origin and Host headers (RFC 6455 §4.1). */
export interface WebSocketFacts {
  readonly origin: string | undefined;
  readonly host: string | undefined;
}

/** A target split into the no-JavaScript redirect count and the target without the marker. */
export interface MarkedTarget {
  readonly clean: string;
  readonly attempts: number;
}

const MARK = `${NOJS_MARKER}=`;

/** Reads and removes the no-JavaScript marker from an origin-form target (`/path?query`). */
export function readNojsMarker(target: string): MarkedTarget {
  const q = target.indexOf('?');
  if (q < 0 || !target.includes(MARK, q)) return { clean: target, attempts: 0 };
  let attempts = 0;
  const kept: string[] = [];
  for (const part of target.slice(q + 1).split('&')) {
    if (part.startsWith(MARK)) attempts = Math.max(attempts, Number.parseInt(part.slice(MARK.length), 10) || 1);
    else kept.push(part);
  }
  return { clean: kept.length ? `${target.slice(0, q)}?${kept.join('&')}` : target.slice(0, q), attempts };
}

/** The target with the marker set to `attempts`. */
export function withNojsMarker(clean: string, attempts: number): string {
  return `${clean}${clean.includes('?') ? '&' : '?'}${MARK}${attempts}`;
}

// Return paths longer than this are cut to their path (and to '/' if that is still too long),
// keeping the signed challenge a reasonable size for a URL.
const MAX_RETURN = 1_024;

/** The path a solved challenge returns to: origin-form only (never `//host`: no open redirect). */
export function returnPath(clean: string): string {
  if (!clean.startsWith('/') || clean.startsWith('//')) return '/';
  if (clean.length <= MAX_RETURN) return clean;
  const path = clean.split('?')[0]!;
  return path.length <= MAX_RETURN ? path : '/';
}
