/**
 * Request fingerprint: which client software sent this, judged from how it writes a request rather
 * than what it asks for. Rempart's own scheme (see docs/detection.md): header names in arrival
 * order plus a few normalized values, hashed with FNV-1a 64. Values a bot randomizes cheaply
 * (user-agent, referer, cookies, query) never enter it; the order and set of headers, which come
 * from the HTTP library's code, do.
 */
import { createFnv64, fnv1a32 } from './fnv.js';

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

const ACCEPT = 'accept';
const ACCEPT_LANGUAGE = 'accept-language';
const ACCEPT_ENCODING = 'accept-encoding';
const CONNECTION = 'connection';

// Lookup by a hash of the lower-cased name, so recognising a name allocates nothing.
const byHash = new Map<number, string>(KNOWN_NAMES.map((n) => [fnv1a32(n), n]));
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
 * The canonical, readable form a fingerprint hashes: `METHOD|version|names|a=..|l=..|e=..|c=..`.
 * For logs and the console; `requestFingerprint` equals `fnv1a64Hex(describeFingerprint(...))`
 * cut to 12 characters.
 */
export function describeFingerprint(rawHeaders: readonly string[], extra: FingerprintExtra): string {
  const names: string[] = [];
  let accept: string | undefined;
  let language: string | undefined;
  let encoding: string | undefined;
  let connection: string | undefined;
  const limit = Math.min(rawHeaders.length, MAX_HEADERS * 2);
  for (let i = 0; i + 1 < limit; i += 2) {
    const known = byHash.get(lowerHash(rawHeaders[i] as string));
    const value = rawHeaders[i + 1] as string;
    if (known === undefined) {
      if (names[names.length - 1] !== '*') names.push('*');
      continue;
    }
    names.push(known);
    if (known === ACCEPT) accept ??= value;
    else if (known === ACCEPT_LANGUAGE) language ??= value;
    else if (known === ACCEPT_ENCODING) encoding ??= value;
    else if (known === CONNECTION) connection ??= value;
  }
  return `${extra.method}|${extra.httpVersion}|${names.join(',')}|a=${acceptShape(accept)}|l=${languageShape(language)}|e=${encodingShape(encoding)}|c=${connectionShape(connection)}`;
}

const hasher = createFnv64(); // scratch state: hashing is synchronous and never re-entered

/**
 * A 12-hex-character (48-bit) id of how the request was written; stable across random header
 * values, different when header order or the client's library changes.
 * @example
 * const fp = requestFingerprint(req.rawHeaders, { method: req.method, httpVersion: req.httpVersion });
 */
export function requestFingerprint(rawHeaders: readonly string[], extra: FingerprintExtra): string {
  // Same canonical string as describeFingerprint, hashed as it is walked: no array, no join.
  hasher.reset();
  hasher.feedString(extra.method);
  hasher.feed(124);
  hasher.feedString(extra.httpVersion);
  hasher.feed(124);
  let accept = -1, language = -1, encoding = -1, connection = -1;
  let first = true;
  let lastUnknown = false;
  const limit = Math.min(rawHeaders.length, MAX_HEADERS * 2);
  for (let i = 0; i + 1 < limit; i += 2) {
    const known = byHash.get(lowerHash(rawHeaders[i] as string));
    if (known === undefined) {
      if (lastUnknown) continue;
      lastUnknown = true;
      if (!first) hasher.feed(44);
      hasher.feed(42);
      first = false;
      continue;
    }
    lastUnknown = false;
    if (!first) hasher.feed(44);
    hasher.feedString(known);
    first = false;
    if (known === ACCEPT) { if (accept < 0) accept = i + 1; }
    else if (known === ACCEPT_LANGUAGE) { if (language < 0) language = i + 1; }
    else if (known === ACCEPT_ENCODING) { if (encoding < 0) encoding = i + 1; }
    else if (known === CONNECTION) { if (connection < 0) connection = i + 1; }
  }
  hasher.feedString('|a=');
  hasher.feedString(acceptShape(accept < 0 ? undefined : rawHeaders[accept]));
  hasher.feedString('|l=');
  hasher.feedString(languageShape(language < 0 ? undefined : rawHeaders[language]));
  hasher.feedString('|e=');
  hasher.feedString(encodingShape(encoding < 0 ? undefined : rawHeaders[encoding]));
  hasher.feedString('|c=');
  hasher.feedString(connectionShape(connection < 0 ? undefined : rawHeaders[connection]));
  return hasher.hex(12);
}
