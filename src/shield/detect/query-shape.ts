/**
 * Query shapes: the sorted set of query keys with values dropped (`?q=x&page=2` → `page&q`), so
 * a cache-buster that varies values keeps one shape and one that invents keys shows as new shapes.
 * With `sizes`, each key also carries the size class of its value (bits of its length: `q:3` for
 * 4–7 characters), what a request's cost to the origin often follows — a search's terms, a page
 * size, an export's date range — while a value's content does not (detect/request-cost.ts).
 */
import { isIdSegment } from './path-template.js';

const MAX_KEYS = 16;
const MAX_KEY_CHARS = 32;

/**
 * The query shape of a request target (`/search?q=x`), a search string (`?q=x`) or a bare query
 * (`q=x`); `''` when there is no query. Keys in `ignore` are left out: the shield's own protocol
 * parameters (the no-JavaScript check's marker) are not the client's traffic.
 */
export function queryShape(urlOrSearch: string, ignore?: ReadonlySet<string>, sizes = false): string {
  const q = urlOrSearch.indexOf('?');
  // Without `?`, a string that starts with `/` is a path with no query; anything else is the query.
  let start = q >= 0 ? q + 1 : urlOrSearch.charCodeAt(0) === 47 ? urlOrSearch.length : 0;
  if (start >= urlOrSearch.length) return '';
  const keys: string[] = [];
  const n = urlOrSearch.length;
  while (start < n && keys.length < MAX_KEYS) {
    let amp = urlOrSearch.indexOf('&', start);
    if (amp < 0) amp = n;
    let eq = urlOrSearch.indexOf('=', start);
    if (eq < 0 || eq > amp) eq = amp;
    let key = eq > start ? urlOrSearch.slice(start, eq) : '';
    if (key !== '' && !(ignore !== undefined && ignore.has(key))) {
      // Random keys (`?8f3a9c1e=1`) all fold into one `{k}` so they cannot mint shapes at will.
      if (isIdSegment(key)) key = '{k}';
      else if (key.length > MAX_KEY_CHARS) key = key.slice(0, MAX_KEY_CHARS) + '…';
      if (sizes) key += `:${32 - Math.clz32(amp - Math.min(amp, eq + 1))}`;
      if (!keys.includes(key)) keys.push(key);
    }
    start = amp + 1;
  }
  keys.sort();
  return start < n ? keys.join('&') + '&…' : keys.join('&');
}
