/**
 * Request fingerprint: which client software sent this, judged from how it writes a request rather
 * than what it asks for. Rempart's own scheme (see docs/detection.md): header names in arrival
 * order plus a few normalized values, hashed to 48 bits. Values a bot randomizes cheaply
 * (user-agent, referer, cookies, query) never enter it; the order and set of headers, which come
 * from the HTTP library's code, do.
 */
import { fmix32, fnv1a32 } from './fnv.js';

/** What the fingerprint needs besides the raw headers. */
export interface FingerprintExtra {
  readonly method: string;
  readonly httpVersion: string;
}

// Names kept verbatim. Any other name becomes `*` (runs collapsed), so a flood that invents
// header names (`X-Rnd-83af: 1`) keeps one fingerprint instead of minting a new one per request.
const KNOWN_NAMES = [
  'host', 'connection', 'keep-alive', 'user-agent', 'accept', 'accept-language', 'accept-encoding',
  'accept-charset', 'referer', 'origin', 'cookie', 'authorization', 'cache-control', 'pragma',
  'content-type', 'content-length', 'transfer-encoding', 'expect', 'te', 'upgrade',
  'upgrade-insecure-requests', 'dnt', 'priority', 'range', 'if-none-match', 'if-modified-since',
  'if-match', 'if-unmodified-since', 'if-range', 'sec-fetch-site', 'sec-fetch-mode', 'sec-fetch-user',
  'sec-fetch-dest', 'sec-ch-ua', 'sec-ch-ua-mobile', 'sec-ch-ua-platform', 'sec-gpc',
  'x-requested-with', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-real-ip',
  'forwarded', 'via', 'purpose', 'sec-purpose', 'save-data', 'device-memory', 'viewport-width',
  'x-csrf-token', 'x-api-key', 'traceparent', 'tracestate', 'baggage', 'x-request-id',
] as const;

/**
 * Names whose presence follows the visitor's state, not its software: a browser's first visit has
 * no Cookie, no If-None-Match, often no Referer; its next request has them. Left out, so a flash
 * crowd of first-time visitors writes the same fingerprints as the returning customers a shield
 * learned — kept in, a shield that had learned normal traffic named the newcomers' cookieless
 * fingerprints signatures and sent them to proof-of-work (flash-crowd drill, `--lead 40`).
 * Cookie presence has a dimension of its own (`cookie`).
 */
const STATE_NAMES: ReadonlySet<string> = new Set(['cookie', 'referer', 'if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range', 'cache-control', 'pragma']);

const ACCEPT = 'accept';
const ACCEPT_LANGUAGE = 'accept-language';
const ACCEPT_ENCODING = 'accept-encoding';
const CONNECTION = 'connection';

// Lookup by a hash of the lower-cased name, so recognising a name allocates nothing.
const ACCEPT_ID = KNOWN_NAMES.indexOf(ACCEPT);
const LANGUAGE_ID = KNOWN_NAMES.indexOf(ACCEPT_LANGUAGE);
const ENCODING_ID = KNOWN_NAMES.indexOf(ACCEPT_ENCODING);
const CONNECTION_ID = KNOWN_NAMES.indexOf(CONNECTION);
const byHash = new Map<number, number>(KNOWN_NAMES.map((n, i) => [fnv1a32(n), i]));
// By name id: one array read per header on the request path, not a Set lookup.
const IS_STATE: Uint8Array = Uint8Array.from(KNOWN_NAMES, (n) => (STATE_NAMES.has(n) ? 1 : 0));
if (byHash.size !== KNOWN_NAMES.length) throw new Error('fingerprint: header-name hash collision');

const MAX_HEADERS = 64; // names beyond this are not read: a request with 500 headers is its own shape
const MAX_VALUE_CHARS = 48;

function lowerHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    let c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) c |= 0x20;
    h ^= c;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The coarse kind of an Accept value: what a browser navigation, an XHR or a script asks for. */
export function acceptShape(value: string | undefined): string {
  if (value === undefined) return '-';
  const v = value.trimStart();
  if (v.length === 0) return 'empty';
  if (v.startsWith('text/html')) return 'html';
  if (v.startsWith('*/*')) return v.length === 3 ? 'any' : 'any+';
  if (v.startsWith('application/json')) return 'json';
  if (v.startsWith('image/')) return 'image';
  if (v.startsWith('text/css')) return 'css';
  return 'other';
}

/** The primary language subtag (RFC 5646 §2.2.1) of the first Accept-Language entry, lower-cased. */
export function languageShape(value: string | undefined): string {
  if (value === undefined) return '-';
  let out = '';
  for (let i = 0; i < value.length && out.length < 8; i++) {
    const c = value.charCodeAt(i) | 0x20;
    if (c >= 97 && c <= 122) out += String.fromCharCode(c);
    else if (out.length > 0 || value.charCodeAt(i) !== 32) break;
  }
  return out.length > 0 ? out : '?';
}

/** Accept-Encoding tokens in sent order, q-values and spaces dropped (`gzip, br;q=0.9` → `gzip+br`). */
export function encodingShape(value: string | undefined): string {
  if (value === undefined) return '-';
  let out = '';
  let skipping = false;
  for (let i = 0; i < value.length && out.length < MAX_VALUE_CHARS; i++) {
    const c = value.charCodeAt(i);
    if (c === 44) { skipping = false; if (out.length > 0 && !out.endsWith('+')) out += '+'; continue; }
    if (skipping || c === 32 || c === 9) continue;
    if (c === 59) { skipping = true; continue; }
    out += String.fromCharCode(c >= 65 && c <= 90 ? c | 0x20 : c);
  }
  return out.endsWith('+') ? out.slice(0, -1) : out;
}

/** The Connection value lower-cased and trimmed (`keep-alive`, `close`, `upgrade`...), capped. */
export function connectionShape(value: string | undefined): string {
  if (value === undefined) return '-';
  return value.trim().toLowerCase().slice(0, 24);
}

/**
 * The canonical, readable form of a fingerprint: `METHOD|version|names|a=..|l=..|e=..|c=..`, for
 * logs and the console. Two requests have the same fingerprint exactly when (but for 48-bit hash
 * collisions) they have the same description.
 */
export function describeFingerprint(rawHeaders: readonly string[], extra: FingerprintExtra): string {
  const names: string[] = [];
  let accept: string | undefined;
  let language: string | undefined;
  let encoding: string | undefined;
  let connection: string | undefined;
  const limit = Math.min(rawHeaders.length, MAX_HEADERS * 2);
  for (let i = 0; i + 1 < limit; i += 2) {
    const id = byHash.get(lowerHash(rawHeaders[i] as string));
    const value = rawHeaders[i + 1] as string;
    if (id === undefined) {
      if (names[names.length - 1] !== '*') names.push('*');
      continue;
    }
    if (IS_STATE[id] === 1) continue;
    const known = KNOWN_NAMES[id] as string;
    names.push(known);
    if (known === ACCEPT) accept ??= value;
    else if (known === ACCEPT_LANGUAGE) language ??= value;
    else if (known === ACCEPT_ENCODING) encoding ??= value;
    else if (known === CONNECTION) connection ??= value;
  }
  return `${extra.method}|${extra.httpVersion}|${names.join(',')}|a=${acceptShape(accept)}|l=${languageShape(language)}|e=${encodingShape(encoding)}|c=${connectionShape(connection)}`;
}

// Two 32-bit FNV-1a lanes (different offsets and multipliers) give 64 bits cheaply with Math.imul;
// a known header name enters as one code unit (0x100 + its index), not its letters.
let laneA = 0;
let laneB = 0;
function feed(code: number): void {
  laneA = Math.imul(laneA ^ code, 0x01000193);
  laneB = Math.imul(laneB ^ code, 0x5bd1e995);
}
function feedString(text: string): void {
  for (let i = 0; i < text.length; i++) feed(text.charCodeAt(i));
}
function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

/**
 * A 12-hex-character (48-bit) id of how the request was written; stable across random header
 * values, different when header order or the client's library changes.
 * @example
 * const fp = requestFingerprint(req.rawHeaders, { method: req.method, httpVersion: req.httpVersion });
 */
export function requestFingerprint(rawHeaders: readonly string[], extra: FingerprintExtra): string {
  // The same sequence as describeFingerprint, hashed as it is walked: no array, no join.
  laneA = 0x811c9dc5;
  laneB = 0x050c5d1f;
  feedString(extra.method);
  feed(124);
  feedString(extra.httpVersion);
  feed(124);
  let accept = -1, language = -1, encoding = -1, connection = -1;
  let lastUnknown = false;
  const limit = Math.min(rawHeaders.length, MAX_HEADERS * 2);
  for (let i = 0; i + 1 < limit; i += 2) {
    const id = byHash.get(lowerHash(rawHeaders[i] as string));
    if (id === undefined) {
      if (!lastUnknown) feed(42);
      lastUnknown = true;
      continue;
    }
    if (IS_STATE[id] === 1) continue;
    lastUnknown = false;
    feed(0x100 + id);
    if (id === ACCEPT_ID) { if (accept < 0) accept = i + 1; }
    else if (id === LANGUAGE_ID) { if (language < 0) language = i + 1; }
    else if (id === ENCODING_ID) { if (encoding < 0) encoding = i + 1; }
    else if (id === CONNECTION_ID) { if (connection < 0) connection = i + 1; }
  }
  feed(124);
  feedString(acceptShape(accept < 0 ? undefined : rawHeaders[accept]));
  feed(124);
  feedString(languageShape(language < 0 ? undefined : rawHeaders[language]));
  feed(124);
  feedString(encodingShape(encoding < 0 ? undefined : rawHeaders[encoding]));
  feed(124);
  feedString(connectionShape(connection < 0 ? undefined : rawHeaders[connection]));
  return hex8(fmix32(laneA)) + hex8(fmix32(laneB)).slice(0, 4);
}
