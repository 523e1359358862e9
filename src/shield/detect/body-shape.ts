/**
 * Body shapes: what a request's body adds to its cost key (detect/cost-key.ts), read as a query's
 * shape is (detect/query-shape.ts) — its keys with the size class of each value and, for a list,
 * of its item count.
 *
 * Why: a search form that posts its terms (`POST /search` with `q=colis+suivi+…`), a JSON API that
 * takes a filter, a GraphQL endpoint (`POST /graphql` with `{"query": "{ … }"}`) carry what costs
 * the origin in the body, and have no query: with no key, a flood of 8-term searches posted at a
 * person's pace was neither weighed nor probed (drill `costly-search --search-by-post`), as the
 * path form was before path parameters. A GraphQL query's cost follows its fields (selections,
 * nesting), which its tokens count; a batch's, its length.
 *
 * - `application/x-www-form-urlencoded`: the form's keys and value sizes, exactly as a query's.
 * - JSON (`application/json`, `…+json`): an object's keys (at most 16, sorted) with, for a string,
 *   its size class and the class of its token count (words split on whitespace and `, + |`, as a
 *   search engine or a GraphQL parser splits them: `query:9*6`); for a number or a boolean `:n`;
 *   for an array `:a` and the class of its length; for an object `:o` and the class of its keys.
 *   A top-level array (a GraphQL batch) is `[]` with the class of its length, then its first
 *   element's keys.
 * - Anything else, or a body over `BODY_SHAPE_MAX_BYTES`, or JSON that does not parse: its size
 *   class alone (`:13`) — an upload costs by its size, and one that does not parse is no less costly.
 *
 * Every part is marked `~` so a body's `q` is not the query's `q` (parts are weighed one by one:
 * request-cost.ts). Pure: no I/O; the caller passes the bytes it already buffered.
 */
import { queryShape } from './query-shape.js';
import { mediaType } from '../http-message.js';

/** Bodies up to this many bytes are parsed for their keys; larger ones are shaped by size alone. */
export const BODY_SHAPE_MAX_BYTES = 8192;
const MAX_KEYS = 16;
const MAX_KEY_CHARS = 32;
/** What marks a body's part in a shape. */
const BODY = '~';

/** Bits of a count: the size class a shape keeps (`:3` for 4–7). */
const bits = (n: number): number => 32 - Math.clz32(n);

/** The shape of a request body of `size` bytes, `bytes` when it is in memory; `''` for an empty body. */
export function bodyShape(contentType: string | undefined, size: number, bytes: Buffer | undefined): string {
  if (size <= 0) return '';
  const type = mediaType(contentType);
  if (bytes !== undefined && size <= BODY_SHAPE_MAX_BYTES) {
    if (type === 'application/x-www-form-urlencoded') {
      const form = queryShape(bytes.toString('latin1'), undefined, true);
      if (form !== '') return form.split('&').map((p) => (p === '…' ? p : BODY + p)).join('&');
    } else if (type === 'application/json' || type.endsWith('+json')) {
      const json = jsonShape(bytes.toString('utf8'));
      if (json !== undefined) return json;
    }
  }
  return `${BODY}:${bits(size)}`;
}


function jsonShape(text: string): string | undefined {
  let v: unknown;
  try { v = JSON.parse(text); } catch { return undefined; }
  if (Array.isArray(v)) {
    const first: unknown = v[0];
    const rest = first !== null && typeof first === 'object' && !Array.isArray(first) ? objectParts(first as Record<string, unknown>) : [];
    return [`${BODY}[]*${bits(v.length)}`, ...rest].join('&');
  }
  if (v === null || typeof v !== 'object') return undefined;
  const parts = objectParts(v as Record<string, unknown>);
  return parts.length > 0 ? parts.join('&') : `${BODY}{}`;
}

function objectParts(o: Record<string, unknown>): string[] {
  const parts: string[] = [];
  let n = 0;
  for (const k in o) {
    if (n++ >= MAX_KEYS) { parts.sort(); parts.push('…'); return parts; }
    const key = k.length > MAX_KEY_CHARS ? k.slice(0, MAX_KEY_CHARS) + '…' : k;
    parts.push(BODY + key + valueSize(o[k]));
  }
  return parts.sort();
}

function valueSize(v: unknown): string {
  if (typeof v === 'string') {
    const tokens = tokenCount(v);
    return tokens > 1 ? `:${bits(v.length)}*${bits(tokens)}` : `:${bits(v.length)}`;
  }
  if (typeof v === 'number' || typeof v === 'boolean') return ':n';
  if (v === null || v === undefined) return ':0';
  if (Array.isArray(v)) return `:a*${bits(v.length)}`;
  let keys = 0;
  for (const _ in v as object) keys++;
  return `:o*${bits(keys)}`;
}

/** Words of a string, split on whitespace and `, + |` (runs count once). */
function tokenCount(s: string): number {
  let n = 0;
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const sep = c === 32 || c === 9 || c === 10 || c === 13 || c === 43 || c === 44 || c === 124;
    if (!sep && !inWord) n++;
    inWord = !sep;
  }
  return n;
}
