import type { Rng } from './rng.js';

/**
 * Browser-like request headers, shared by legitimate users and attackers on purpose: DDoSia-style
 * tools send real browser user agents, so a defence must not be able to tell them apart by header
 * shape alone (no fixed header set, no tool marker).
 */
export interface BrowserIdentity {
  userAgent: string;
  acceptLanguage: string;
  /**
   * Chromium-family browsers send sec-ch-ua; all three send sec-fetch-site/mode/dest (Fetch
   * Metadata: Chromium 76+, Firefox 90+, Safari 16.4+), Safari after the Referer.
   */
  family: 'chromium' | 'firefox' | 'safari';
}

/** What the request fetches, which decides Accept and sec-fetch-* as a browser would. */
export type ResourceKind = 'document' | 'json' | 'css' | 'script' | 'form' | 'json-post';

const IDENTITIES: readonly BrowserIdentity[] = [
  { family: 'chromium', userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', acceptLanguage: 'fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7' },
  { family: 'chromium', userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36', acceptLanguage: 'fr-FR,fr;q=0.9' },
  { family: 'chromium', userAgent: 'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36', acceptLanguage: 'fr-FR,fr;q=0.9,en;q=0.8' },
  { family: 'chromium', userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0', acceptLanguage: 'fr,fr-FR;q=0.8,en-US;q=0.5,en;q=0.3' },
  { family: 'firefox', userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0', acceptLanguage: 'fr,fr-FR;q=0.8,en-US;q=0.5,en;q=0.3' },
  { family: 'firefox', userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0', acceptLanguage: 'en-US,en;q=0.5' },
  { family: 'safari', userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15', acceptLanguage: 'fr-FR,fr;q=0.9' },
  { family: 'safari', userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1', acceptLanguage: 'fr-FR,fr;q=0.9' },
];

const REFERER_PATHS = ['/', '/track', '/search?q=colis', '/bank/login', '/bank/account'] as const;

/** A browser identity drawn at random from the shared pool. */
export function pickIdentity(rng: Rng): BrowserIdentity {
  return rng.pick(IDENTITIES);
}

/** Every identity in the pool (for tests and the header-randomizer scenario). */
export const ALL_IDENTITIES: readonly BrowserIdentity[] = IDENTITIES;

/** A plausible same-site referer for `origin`. */
export function pickReferer(rng: Rng, origin: string): string {
  return origin + rng.pick(REFERER_PATHS);
}

/** The headers a browser with `id` sends for a resource of `kind`, in a browser-like order. */
export function browserHeaders(id: BrowserIdentity, kind: ResourceKind, referer?: string): Record<string, string> {
  const h: Record<string, string> = {};
  if (id.family === 'chromium') {
    h['sec-ch-ua'] = '"Chromium";v="131", "Not_A Brand";v="24"';
    h['sec-ch-ua-mobile'] = id.userAgent.includes('Mobile') ? '?1' : '?0';
  }
  if (kind === 'document') h['upgrade-insecure-requests'] = '1';
  h['user-agent'] = id.userAgent;
  h.accept = kind === 'document' || kind === 'form'
    ? 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'
    : kind === 'css' ? 'text/css,*/*;q=0.1' : kind === 'script' ? '*/*' : 'application/json, text/plain, */*';
  const fetchMetadata = (): void => {
    h['sec-fetch-site'] = referer ? 'same-origin' : 'none';
    h['sec-fetch-mode'] = kind === 'document' || kind === 'form' ? 'navigate' : kind === 'css' || kind === 'script' ? 'no-cors' : 'cors';
    h['sec-fetch-dest'] = kind === 'document' || kind === 'form' ? 'document' : kind === 'css' ? 'style' : kind === 'script' ? 'script' : 'empty';
  };
  if (id.family !== 'safari') fetchMetadata();
  if (referer) h.referer = referer;
  if (id.family === 'safari') fetchMetadata();
  h['accept-encoding'] = 'gzip, deflate, br';
  h['accept-language'] = id.acceptLanguage;
  return h;
}

/**
 * The headers a browser with `id` sends with a WebSocket handshake from a page of `origin` (the
 * client library adds Host, Upgrade, Connection and the Sec-WebSocket-* fields, RFC 6455 §4.1):
 * the page's origin, no caching, the same identity as its pages.
 */
export function websocketHeaders(id: BrowserIdentity, origin: string): Record<string, string> {
  const h: Record<string, string> = { pragma: 'no-cache', 'cache-control': 'no-cache', 'user-agent': id.userAgent, origin };
  // Chromium sends no Fetch Metadata on a handshake (Chromium 156, test/shield/chromium-challenge.test.ts):
  // only its Origin says which page opened it. Firefox sends mode and site `websocket`, `same-origin`.
  if (id.family !== 'chromium') {
    h['sec-fetch-site'] = 'same-origin';
    h['sec-fetch-mode'] = 'websocket';
    h['sec-fetch-dest'] = 'empty';
  }
  h['accept-encoding'] = 'gzip, deflate, br';
  h['accept-language'] = id.acceptLanguage;
  return h;
}
