import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { qWeight } from '../http-message.js';

/**
 * Responses that vary (RFC 9110 §12.5.5 `Vary`, RFC 9111 §4.1): an answer chosen by some of the
 * request's headers may only answer a later request whose same headers match. Nearly every origin
 * that compresses says `Vary: Accept-Encoding` on its pages and JSON (nginx `gzip_vary`, Express's
 * `compression`, Django's `GZipMiddleware`), compressed or not; a cache that stores nothing with a
 * `Vary` stores nothing of such a site, and serves no stale copy while it is down.
 *
 * So a varied answer is stored as one variant of its key, the variant named by the request's
 * values of the listed headers, normalised where two values are known to accept the same answers:
 * - `Accept-Encoding` by the set of content codings it accepts (§12.5.3: names are
 *   case-insensitive, order and weights other than 0 say only which the client prefers). A stored
 *   answer was coded in one of them (checked: `storableCoding`), so it is an acceptable answer to
 *   every request accepting the same set — the normalisation Varnish and Fastly apply, and what
 *   keeps a flood of random `Accept-Encoding` values from busting the cache: a few variants per
 *   key, whatever the values. A request without the header is its own variant (a client that did
 *   not ask for compression gets what such a client got).
 * - `Accept-Language`, `Accept`, `Accept-Charset`: case and whitespace only.
 * - any other header: whitespace around its commas only.
 * Never stored: `Vary: *` (no later request matches, §4.1), and answers that vary by `Cookie` or
 * `Authorization` — one variant per person is a private cache inside a shared one, and a key any
 * client can make new at will.
 *
 * Pure.
 */

/**
 * Content codings whose acceptability makes a variant (RFC 9110 §8.4.1, IANA registry; `x-gzip` is
 * gzip). `compress` is left out: no client asks for it any more, and an answer in it is not stored.
 */
const CODINGS = ['br', 'deflate', 'gzip', 'zstd'] as const;
const PERSONAL = new Set(['cookie', 'authorization']);
const CASE_INSENSITIVE = new Set(['accept-language', 'accept', 'accept-charset']);
/** What a varied response's Vary says of it: the header names to match (lower-case, sorted, once each), or never stored. */
export type VaryRule = readonly string[] | 'unstorable';
/** No Vary at all. */
export const NO_VARY: VaryRule = Object.freeze([]);
/**
 * At most this many variants of one key are held; a new one pushes out its key's least recently
 * read (cache/store.ts). Room for
 * every Accept-Encoding variant (4 codings and identity, accepted or not: 32, and an absent
 * header), so a flood cycling through them cannot push out the variant customers use.
 */
export const MAX_VARIANTS = 40;

/** The rule a response's `Vary` makes (`[]`: it does not vary). */
export function varyRule(vary: string | string[] | number | undefined, contentEncoding?: string | string[] | number): VaryRule {
  if (vary === undefined) return NO_VARY;
  const names = new Set<string>();
  for (const part of (Array.isArray(vary) ? vary.join(',') : String(vary)).split(',')) {
    const name = part.trim().toLowerCase();
    if (name === '') continue;
    if (name === '*' || PERSONAL.has(name)) return 'unstorable';
    names.add(name);
  }
  if (names.has('accept-encoding') && !storableCoding(contentEncoding)) return 'unstorable';
  return names.size === 0 ? NO_VARY : Object.freeze([...names].sort());
}

/**
 * Whether an answer's `Content-Encoding` is one whose acceptability the variant records: none
 * (identity), or one of the registered codings — an answer in a coding we do not know could go to
 * a client that never accepted it.
 */
function storableCoding(contentEncoding: string | string[] | number | undefined): boolean {
  if (contentEncoding === undefined) return true;
  for (const part of (Array.isArray(contentEncoding) ? contentEncoding.join(',') : String(contentEncoding)).split(',')) {
    const c = part.trim().toLowerCase();
    if (c !== '' && c !== 'identity' && codingIndex(c) === -1) return false;
  }
  return true;
}

const codingIndex = (c: string): number => (CODINGS as readonly string[]).indexOf(c === 'x-gzip' ? 'gzip' : c);

/**
 * The codings an `Accept-Encoding` accepts, as a short string: one letter per registered coding
 * (accepted or not) and one for identity. RFC 9110 §12.5.3: a coding listed with q=0 is refused,
 * `*` stands for every coding not listed, identity is acceptable unless refused (by name or by `*`).
 */
export function acceptedCodings(value: string): string {
  const q = new Array<number>(CODINGS.length).fill(-1);
  let star = -1;
  let identity = -1;
  for (const element of value.split(',')) {
    const semi = element.indexOf(';');
    const name = (semi === -1 ? element : element.slice(0, semi)).trim().toLowerCase();
    if (name === '') continue;
    const weight = semi === -1 ? 1 : qWeight(element.slice(semi + 1));
    if (name === '*') star = weight;
    else if (name === 'identity') identity = weight;
    else { const i = codingIndex(name); if (i !== -1) q[i] = weight; }
  }
  let out = '';
  for (let i = 0; i < CODINGS.length; i++) {
    const w = q[i] as number;
    out += (w === -1 ? star > 0 : w > 0) ? '1' : '0';
  }
  out += (identity === -1 ? star !== 0 : identity > 0) ? '1' : '0';
  return out;
}

/** A header's value for matching: its lines joined (RFC 9110 §5.3), whitespace around commas dropped. */
function joined(v: string | string[] | number): string {
  const s = Array.isArray(v) ? v.join(',') : String(v);
  return s.split(',').map((p) => p.trim()).join(',');
}

/** The variant a request selects among the answers varied by `names` (an absent header is its own value). */
export function variantKey(names: readonly string[], headers: IncomingHttpHeaders | OutgoingHttpHeaders): string {
  let key = '';
  for (const name of names) {
    const v = headers[name];
    let part: string;
    if (v === undefined) part = '\u0001';
    else if (name === 'accept-encoding') part = acceptedCodings(joined(v));
    else part = CASE_INSENSITIVE.has(name) ? joined(v).toLowerCase().replace(/\s+/g, '') : joined(v);
    key += `\u0000${part}`;
  }
  return key;
}
