import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { parseByteRanges } from '../upstream/range.js';

/**
 * Conditional and range requests answered from a stored copy (RFC 9110 §13, §14; RFC 9111 §4.3.2),
 * as nginx's cache does.
 *
 * Why the shield must do it: a browser that holds a page revalidates it (If-None-Match,
 * If-Modified-Since), and a media player or a resumed download asks for bytes (Range). Forwarded
 * as they came on a cache miss, the origin answered 304 or 206 — neither storable — so on a route
 * whose visitors come back, the cache filled only when a first-time visitor happened to lead, and
 * a crowd of returning customers went to the origin one by one. So a request that fills the cache
 * goes without its preconditions and Range (upstream/headers.ts `dropPreconditions`, as nginx
 * does with `proxy_cache`), the whole answer is stored, and each client's conditions are then
 * evaluated here against the stored copy: 304 with no body, 412, or the one range asked for.
 *
 * Pure.
 */

/** Request fields the shield evaluates itself for a cacheable request, never forwarded. */
export const PRECONDITION_FIELDS: ReadonlySet<string> = new Set(['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range']);

/** What to send for a stored copy. */
export type StoredAnswer =
  | { readonly kind: 'full' }
  | { readonly kind: 'not-modified' }
  | { readonly kind: 'precondition-failed' }
  | { readonly kind: 'range'; readonly start: number; readonly end: number };

const FULL: StoredAnswer = Object.freeze({ kind: 'full' });
const NOT_MODIFIED: StoredAnswer = Object.freeze({ kind: 'not-modified' });
const PRECONDITION_FAILED: StoredAnswer = Object.freeze({ kind: 'precondition-failed' });

const one = (v: string | string[] | number | undefined): string | undefined => (v === undefined ? undefined : Array.isArray(v) ? v.join(', ') : String(v));

/** The entity-tags of an If-Match / If-None-Match list (`*` is its own element). At most 64 read. */
function entityTags(list: string): string[] {
  const out: string[] = [];
  const re = /\s*(\*|(?:W\/)?"[^"]*")\s*(?:,|$)/gy;
  let m: RegExpExecArray | null;
  while (out.length < 64 && (m = re.exec(list)) !== null && m[0] !== '') out.push(m[1] as string);
  return out;
}

const opaque = (tag: string): string => (tag.startsWith('W/') ? tag.slice(2) : tag);
/** RFC 9110 §8.8.3.2: weak comparison (opaque parts equal), strong (both strong and equal). */
const weakMatch = (a: string, b: string): boolean => opaque(a) === opaque(b);
const strongMatch = (a: string, b: string): boolean => !a.startsWith('W/') && !b.startsWith('W/') && a === b;

/** An HTTP-date in seconds, or undefined when it does not parse (RFC 9110 §13.1.3: then the field is ignored). */
function httpDate(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

/**
 * The answer to `request` from a stored copy with `status` and `headers` and a body of `length`
 * bytes, by RFC 9110 §13.2.2's order: If-Match (412), else If-Unmodified-Since (412); If-None-Match
 * (304 for GET/HEAD), else If-Modified-Since (304); then Range — one satisfiable byte range of a
 * 200, with If-Range naming this copy (a strong tag, or its Last-Modified date), is a 206; several
 * ranges or one past the end are answered whole, as a server may (§14.2).
 */
export function storedAnswer(request: IncomingHttpHeaders, status: number, headers: OutgoingHttpHeaders, length: number): StoredAnswer {
  const etag = one(headers.etag);
  const lastModified = httpDate(one(headers['last-modified']));
  const ifMatch = one(request['if-match']);
  if (ifMatch !== undefined) {
    const tags = entityTags(ifMatch);
    if (!tags.some((t) => t === '*' || (etag !== undefined && strongMatch(t, etag)))) return PRECONDITION_FAILED;
  } else {
    const since = httpDate(one(request['if-unmodified-since']));
    if (since !== undefined && lastModified !== undefined && lastModified > since) return PRECONDITION_FAILED;
  }
  const ifNoneMatch = one(request['if-none-match']);
  if (ifNoneMatch !== undefined) {
    const tags = entityTags(ifNoneMatch);
    if (tags.some((t) => t === '*' || (etag !== undefined && weakMatch(t, etag)))) return NOT_MODIFIED;
  } else {
    const since = httpDate(one(request['if-modified-since']));
    if (since !== undefined && lastModified !== undefined && lastModified <= since) return NOT_MODIFIED;
  }
  const range = one(request.range);
  if (range === undefined || status !== 200 || length === 0) return FULL;
  const ifRange = one(request['if-range']);
  if (ifRange !== undefined) {
    const current = ifRange.startsWith('"') || ifRange.startsWith('W/')
      ? etag !== undefined && strongMatch(ifRange.trim(), etag)
      : lastModified !== undefined && httpDate(ifRange) === lastModified;
    if (!current) return FULL;
  }
  const ranges = parseByteRanges(range);
  if (ranges === undefined || ranges.length !== 1) return FULL;
  const r = ranges[0]!;
  let start: number;
  let end: number;
  if (r.suffix !== undefined) { start = Math.max(0, length - r.suffix); end = length - 1; }
  else { start = r.first ?? 0; end = Math.min(r.last ?? length - 1, length - 1); }
  if (start >= length || start > end || (r.suffix !== undefined && r.suffix === 0)) return FULL;
  return { kind: 'range', start, end };
}

/** RFC 9110 §15.4.5: the fields a 304 carries of the stored answer. */
const NOT_MODIFIED_FIELDS = ['cache-control', 'content-location', 'etag', 'expires', 'last-modified', 'vary'] as const;

/** The headers of a 304 for a stored answer's headers. */
export function notModifiedHeaders(headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const f of NOT_MODIFIED_FIELDS) if (headers[f] !== undefined) out[f] = headers[f];
  return out;
}
