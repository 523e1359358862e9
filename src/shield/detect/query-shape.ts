/**
 * Query shapes: the sorted set of query keys with values dropped (`?q=x&page=2` → `page&q`), so
 * a cache-buster that varies values keeps one shape and one that invents keys shows as new shapes.
 * With `sizes`, each key also carries the size class of its value (bits of its length: `q:3` for
 * 4–7 characters), what a request's cost to the origin often follows — a search's terms, a page
 * size, an export's date range — while a value's content does not (detect/request-cost.ts); and
 * a value that is a list (items separated by `+`, `,`, `|` or an encoded space or comma) the class
 * of its item count (`q:6*4` for 8–15 items): one long word and eight short ones are the same
 * length, and a search costs by its terms, a batch lookup (`ids=1,2,3`) by its ids. Without it, a
 * flood of costly lists that also sends a few cheap single words of the same length would make
 * their shape's fastest answer a cheap one, and the cost weight blind to the lists.
 */
import { isIdSegment } from './path-template.js';

const MAX_KEYS = 16;
const MAX_KEY_CHARS = 32;
/**
 * Pairs read at most: a query of more is marked `&…` past them. Without it a query of one key
 * repeated to the head's limit (1,400 times in 10 KiB) was read pair by pair on every request of
 * a flood — a fifth of the shield's time on it (bench:heads, docs/benchmarks.md); real queries
 * carry tens of pairs.
 */
const MAX_PAIRS = 256;

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
  let pairs = 0;
  while (start < n && keys.length < MAX_KEYS && pairs++ < MAX_PAIRS) {
    let amp = urlOrSearch.indexOf('&', start);
    if (amp < 0) amp = n;
    let eq = urlOrSearch.indexOf('=', start);
    if (eq < 0 || eq > amp) eq = amp;
    let key = eq > start ? urlOrSearch.slice(start, eq) : '';
    if (key !== '' && !(ignore !== undefined && ignore.has(key))) {
      // Random keys (`?8f3a9c1e=1`) all fold into one `{k}` so they cannot mint shapes at will.
      if (isIdSegment(key)) key = '{k}';
      else if (key.length > MAX_KEY_CHARS) key = key.slice(0, MAX_KEY_CHARS) + '…';
      if (sizes) key += eq < amp ? valueShape(urlOrSearch, eq + 1, amp) : ':0';
      if (!keys.includes(key)) keys.push(key);
    }
    start = amp + 1;
  }
  keys.sort();
  return start < n ? keys.join('&') + '&…' : keys.join('&');
}

/**
 * The size of a value in `s[from, to)` as a shape keeps it: `:` and the bits of its length, then,
 * for a list, `*` and the bits of its item count (`:6*4`: 32–63 characters, 8–15 items). Used for
 * query values and for a path's last segment where it is a parameter (detect/cost-key.ts).
 */
export function valueShape(s: string, from: number, to: number): string {
  const items = listItems(s, from, to);
  return items > 1 ? `:${32 - Math.clz32(to - from)}*${32 - Math.clz32(items)}` : `:${32 - Math.clz32(to - from)}`;
}

/**
 * Items of a list value in `s[from, to)`, plus one for each separator: `+ , |`, and encoded, the
 * space, comma and bar and the other whitespace an application may split words on (tab, line
 * feed, carriage return: `%09 %0A %0D`) — a flood that joins its terms with a tab costs the origin
 * the same lookups, and must not read as one long word.
 */
export function listItems(s: string, from: number, to: number): number {
  let n = 1;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 43 || c === 44 || c === 124) n++; // + , |
    else if (c === 37 && i + 2 < to) { // %20 %2C %7C %09 %0A %0D
      const hi = s.charCodeAt(i + 1);
      const lo = s.charCodeAt(i + 2) | 0x20;
      if ((hi === 50 && (lo === 48 || lo === 99)) || (hi === 55 && lo === 99) || (hi === 48 && (lo === 57 || lo === 97 || lo === 100))) { n++; i += 2; }
    }
  }
  return n;
}
