/**
 * Query shapes: the sorted set of query keys with values dropped (`?q=x&page=2` → `page&q`), so
 * a cache-buster that varies values keeps one shape and one that invents keys shows as new shapes.
 */
import { isIdSegment } from './path-template.js';

const MAX_KEYS = 16;
const MAX_KEY_CHARS = 32;

/** The query shape of a URL or a search string; `''` when there is no query. */
export function queryShape(urlOrSearch: string): string {
  const q = urlOrSearch.indexOf('?');
  if (q < 0 || q === urlOrSearch.length - 1) return '';
  const keys: string[] = [];
  let start = q + 1;
  const n = urlOrSearch.length;
  while (start < n && keys.length < MAX_KEYS) {
    let amp = urlOrSearch.indexOf('&', start);
    if (amp < 0) amp = n;
    let eq = urlOrSearch.indexOf('=', start);
    if (eq < 0 || eq > amp) eq = amp;
    if (eq > start) {
      let key = urlOrSearch.slice(start, eq);
      // Random keys (`?8f3a9c1e=1`) all fold into one `{k}` so they cannot mint shapes at will.
      if (isIdSegment(key)) key = '{k}';
      else if (key.length > MAX_KEY_CHARS) key = key.slice(0, MAX_KEY_CHARS) + '…';
      if (!keys.includes(key)) keys.push(key);
    }
    start = amp + 1;
  }
  keys.sort();
  return start < n ? keys.join('&') + '&…' : keys.join('&');
}
