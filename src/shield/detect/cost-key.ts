/**
 * What a request's cost is read by (detect/request-cost.ts): its kind and its shape. Usually the
 * kind is the route, method and path template, and the shape the query's keys with the size class
 * of each value (detect/query-shape.ts). This module adds the request whose cost lies in its path:
 * a site that puts its search in the path (`/search/colis+suivi+lettre`, `/tag/a,b,c`) has no
 * query, and its costliest request carries its terms in the path's last segment. Without a key,
 * a flood of such searches at a person's pace is never weighed nor probed — the costly-search
 * flood as it was before cost weighting (`bench ddos --search-in-path`).
 *
 * A path's last segment is read as a **parameter** — folded into `{id}` in the kind, its size
 * class and item count a part of the shape (`@:6*4` for 32–63 characters of 8–15 items) — at a
 * position (route and parent template, `/search`) where the upstream has answered a list there
 * (a 2xx to a last segment of two or more items: `+ , |` and their encodings). A list is what a
 * search, a tag set or a batch of ids look like; a page name never does. Positions are learned,
 * not configured, so an operator need not describe the site's URLs; only lists teach them, so
 * sites whose paths carry ids and names only (`/track/6A123…`, `/bank/login`) keep every request's
 * cost key as before, and a flood cannot turn a position into one by 404s (answers that are not
 * 2xx teach nothing).
 *
 * Before a position is learned, a query-less request whose last segment under a parent is a word
 * or a list (not an id: `/search/colis`, `/search/colis+suivi+…`, not `/track/6A123…`) still has a
 * key — the folded kind and its shape — marked `weighed: false`: a list queued before the first
 * list was answered is keyed again at the head of the queue (shield/runtime.ts), and the answers of
 * both teach the kind's typical RTT and the shapes' costs, so that when the first list is answered
 * the customers' one-word searches answered before it have already told what a typical search
 * costs. Otherwise the kind would be taught first by the flood whose lists taught the position, and
 * weigh it as typical. Ids are left out: they are most of a site's paths (a lookup per parcel, per
 * order), and keyed, every one of them would cost the hot path a template and its answer three map
 * updates (bench/ab-dist.sh, detection on: ~2–3% of the proxy's throughput), to teach kinds that
 * are weighed only where a list was answered.
 *
 * A list in an **inner segment** (`/search/colis+suivi/page/2`) makes the template around it a
 * position (`/search/{}/page/{id}`) in the same way — the first segment excepted, a page name —
 * and a request whose path falls in one is keyed by that segment. Before it is learned, an inner
 * list is keyed to learn from; an inner word is not (every path has some).
 *
 * A body the shield buffered adds its shape (`withBody`, detect/body-shape.ts): a posted search
 * has neither a query nor a path parameter.
 *
 * A trailing slash is no segment of its own (`/search/a+b/` is `/search/a+b`): an application that
 * routes both alike would otherwise serve a flood that adds one an unkeyed search.
 *
 * Bounded: at most `maxPositions` learned positions, a segmented LRU (`createPositions`).
 * Pure: no clock; the caller learns from answers.
 */
import { isIdSegment, pathTemplate } from './path-template.js';
import { listItems, queryShape, valueShape } from './query-shape.js';

export interface CostKey {
  /** Route, method and path template, the last segment folded into `{id}` when it is a parameter. */
  readonly kind: string;
  /** The query's shape with value sizes, after the path's part (`@:6*4`) when the last segment is a parameter. */
  readonly shape: string;
  /** False for a key learned from but not weighed by: a last segment at a position not (yet) known to take lists. */
  readonly weighed: boolean;
  /** False for a key weighed by but not learned from (a HEAD read as its GET: filters/upstream-request/pace.ts). */
  readonly teaches?: false;
}

export interface CostKeys {
  /**
   * The cost key of a request: `routeId` and `method` as the latency kind has them, `path` without
   * the query, `target` with it (the query shape is read from it, keys in `ignore` left out).
   * `template`, when the caller has it, is `pathTemplate(path)`. Undefined when the request has
   * neither a query nor a last segment under a parent.
   */
  key(routeId: string, method: string, path: string, target: string, ignore?: ReadonlySet<string>, template?: string): CostKey | undefined;
  /** Learns from a 2xx answer: a last segment that is a list makes its position a parameter. */
  learn(routeId: string, path: string): void;
  /** Positions learned now. */
  readonly positions: number;
  /**
   * Learned positions, most recently confirmed first, at most `n` (what an operator is shown): the
   * route, the path template with the parameter as `{}`, and whether it was confirmed more than once.
   */
  list(n: number): PathPosition[];
}

export interface PathPosition {
  readonly route: string;
  readonly path: string;
  readonly confirmed: 'once' | 'again';
}

export const DEFAULT_MAX_POSITIONS = 1024;

/** The part a path's parameter adds to a shape: `@` then its size (no query key starts with `@` after folding). */
const PATH_PART = '@';
/** Where a position's parameter sits in its key (`r /search/{}/page/{id}`). */
const SLOT = '/{}';
/** Share of the positions kept for those confirmed more than once (segmented LRU). */
const PROTECTED_SHARE = 0.8;

export function createCostKeys(maxPositions = DEFAULT_MAX_POSITIONS): CostKeys {
  if (!(maxPositions >= 1)) throw new RangeError('maxPositions must be at least 1');
  const positions = createPositions(maxPositions);
  return {
    get positions() { return positions.size; },
    list: (n) => positions.list(n),
    key(routeId, method, path, target, ignore, template) {
      const q = target.indexOf('?');
      const end = lastEnd(path);
      const slash = path.lastIndexOf('/', end - 1);
      const last = slash > 0 && slash < end - 1; // a last segment under a parent (`/search/x`, not `/search`)
      // The parent's template and the whole path's (no trailing slash), each read at most once.
      let parent: string | undefined;
      let whole: string | undefined;
      // Most sites have no position that takes lists, and their requests cost no template here;
      // nor does a query-less id (`/track/6A123…`), which only teaches where nothing is weighed.
      if (positions.size > 0) {
        if (last && positions.has(slotKey(routeId, parent = pathTemplate(path.slice(0, slash)), ''))) {
          return weighedKey(slotKind(routeId, method, parent, ''), valueShape(path, slash + 1, end), target, q, ignore);
        }
        if (positions.inner > 0 && slash > 0) {
          whole = end === path.length && template !== undefined ? template : pathTemplate(path.slice(0, end));
          const inner = innerPosition(positions, routeId, path, end, whole);
          if (inner !== undefined) return weighedKey(slotKind(routeId, method, inner.before, inner.after), valueShape(path, inner.from, inner.to), target, q, ignore);
        }
      }
      if (q < 0 && slash > 0) {
        // Keys learned from before their position is: a list in the last segment, else a list in
        // an inner one, else a word in the last (re-keyed at the head of the queue, runtime.ts).
        const lastList = last && listItems(path, slash + 1, end) > 1;
        const at = lastList ? -1 : innerList(path, slash);
        if (at >= 0) {
          const around = slotAround(whole ?? pathTemplate(path.slice(0, end)), segmentIndex(path, at));
          if (around !== undefined) {
            return { kind: slotKind(routeId, method, around[0], around[1]), shape: PATH_PART + valueShape(path, at, path.indexOf('/', at)), weighed: false };
          }
        }
        if (lastList || (last && !isIdSegment(path.slice(slash + 1, end)))) {
          return { kind: slotKind(routeId, method, parent ?? pathTemplate(path.slice(0, slash)), ''), shape: PATH_PART + valueShape(path, slash + 1, end), weighed: false };
        }
      }
      if (q < 0) return undefined;
      return { kind: `${routeId} ${method} ${costTemplate(template ?? pathTemplate(path))}`, shape: queryShape(target.slice(q), ignore, true), weighed: true };
    },
    learn(routeId, path) {
      const end = lastEnd(path);
      const slash = path.lastIndexOf('/', end - 1);
      if (!(slash > 0)) return;
      // The last segment first: most lists are there, and it costs no template of the whole path.
      if (slash < end - 1 && listItems(path, slash + 1, end) > 1) {
        positions.confirm(slotKey(routeId, pathTemplate(path.slice(0, slash)), ''), false);
        return;
      }
      // A list in an inner segment (`/search/a+b/page/2`): its position is the template around it.
      const at = innerList(path, slash);
      if (at < 0) return;
      const around = slotAround(pathTemplate(path.slice(0, end)), segmentIndex(path, at));
      if (around !== undefined) positions.confirm(slotKey(routeId, around[0], around[1]), true);
    },
  };
}

/**
 * A position's key: the templates before and after its parameter as a cost kind has them
 * (`costTemplate`), so `/Search/a+b` and `/search.json/a+b` teach and find `/search`'s position.
 */
function slotKey(routeId: string, before: string, after: string): string {
  return `${routeId} ${costTemplate(before)}${SLOT}${costTemplate(after)}`;
}

/** The cost kind of a request whose parameter sits between `before` and `after`, folded into `{id}`. */
function slotKind(routeId: string, method: string, before: string, after: string): string {
  return `${routeId} ${method} ${costTemplate(before)}/{id}${costTemplate(after)}`;
}

/**
 * Where the innermost list among a path's inner segments starts — neither the first segment (a
 * segment at the root is a page name) nor the last (after `slash`) — or -1.
 */
function innerList(path: string, slash: number): number {
  let at = -1;
  for (let from = path.indexOf('/', 1) + 1, i = from > 0 ? path.indexOf('/', from) : -1; i > 0 && i <= slash; from = i + 1, i = path.indexOf('/', from)) {
    if (i > from && listItems(path, from, i) > 1) at = from;
  }
  return at;
}

/**
 * A path template as a cost kind has it: the aliases an application commonly serves for one action
 * — another case, a format suffix (`/search.json`), a trailing slash, doubled slashes — are one
 * kind. Why: a kind's typical cost is learned from its own first answers, and a kind nobody else
 * sends is learned from the flood alone — whose costly searches then read as typical. A flood that
 * moved from `/search?q=…` to `/search.json?q=…` (Rails serves both from one action) had a kind
 * of its own, and was neither weighed nor probed.
 */
export function costTemplate(template: string): string {
  let t = template.includes('//') ? template.replace(/\/{2,}/g, '/') : template;
  if (t.length > 1 && t.charCodeAt(t.length - 1) === 47) t = t.slice(0, -1);
  const slash = t.lastIndexOf('/');
  const dot = t.lastIndexOf('.');
  if (dot > slash + 1 && t.length - dot <= 6) t = t.slice(0, dot);
  return t.toLowerCase();
}

/**
 * A request's key with its body's shape (detect/body-shape.ts) added: the key's own parts, then the
 * body's; a request with no other key is keyed by its route, method and path template, weighed — a
 * body is always what it is, there is no position to learn first. `template` is the path's.
 */
export function withBody(key: CostKey | undefined, routeId: string, method: string, template: string, body: string): CostKey | undefined {
  if (body === '') return key;
  if (key === undefined) return { kind: `${routeId} ${method} ${costTemplate(template)}`, shape: body, weighed: true };
  return { kind: key.kind, shape: key.shape === '' ? body : `${key.shape}&${body}`, weighed: key.weighed };
}

/** A weighed key: the path's parameter folded into the kind, its size the shape's first part, then the query's shape. */
function weighedKey(kind: string, size: string, target: string, q: number, ignore: ReadonlySet<string> | undefined): CostKey {
  const part = PATH_PART + size;
  const query = q >= 0 ? queryShape(target.slice(q), ignore, true) : '';
  return { kind, shape: query === '' ? part : `${part}&${query}`, weighed: true };
}

/**
 * The learned inner position a path's segments fall in, if any: the templates before and after its
 * parameter, and where the parameter's segment is in `path`. `template` is the path's (no trailing
 * slash); its segments are the path's one for one, up to the template's depth.
 */
function innerPosition(positions: Positions, routeId: string, path: string, end: number, template: string): { before: string; after: string; from: number; to: number } | undefined {
  // The path's segments and the template's walked together, every one but the last.
  // The first segment is a page name, never a parameter (as at the root, key()).
  for (let ps = path.indexOf('/', 1) + 1, ts = template.indexOf('/', 1) + 1; ps > 0 && ts > 0;) {
    const pe = path.indexOf('/', ps);
    const te = template.indexOf('/', ts);
    if (pe < 0 || pe >= end || te < 0) return undefined;
    const before = template.slice(0, ts - 1);
    const after = template.slice(te);
    if (positions.has(slotKey(routeId, before, after))) return { before, after, from: ps, to: pe };
    ps = pe + 1;
    ts = te + 1;
  }
  return undefined;
}

/** Which segment (0 = the first) of `path` starts at `from`. */
function segmentIndex(path: string, from: number): number {
  let n = 0;
  for (let i = path.indexOf('/', 1); i > 0 && i < from; i = path.indexOf('/', i + 1)) n++;
  return n;
}

/** What is before and after segment `index` (0 = the first) of `template`; undefined for its last, or past its depth. */
function slotAround(template: string, index: number): readonly [string, string] | undefined {
  let start = 1;
  for (let n = 0; n < index; n++) {
    const i = template.indexOf('/', start);
    if (i < 0) return undefined;
    start = i + 1;
  }
  const stop = template.indexOf('/', start);
  if (stop < 0) return undefined; // the last segment: not an inner position
  const segment = template.slice(start, stop);
  if (segment === '…') return undefined;
  return [template.slice(0, start - 1), template.slice(stop)];
}

/** Where a path's last segment ends: before a trailing slash, which is no segment of its own. */
function lastEnd(path: string): number {
  return path.length > 1 && path.charCodeAt(path.length - 1) === 47 ? path.length - 1 : path.length;
}

interface Positions {
  has(key: string): boolean;
  /** A list was answered at `key`; `inner`: the position is not a path's last segment. */
  confirm(key: string, inner: boolean): void;
  readonly size: number;
  /** Inner positions held now: while none is, no request pays for looking one up. */
  readonly inner: number;
  list(n: number): PathPosition[];
}

/**
 * Learned positions, a segmented LRU (as 2Q and SLRU caches keep a working set against a scan): a
 * position confirmed once waits in probation, one confirmed again moves to the protected segment,
 * and a new position evicts probation's least recently confirmed first. Why: on an origin that
 * answers 2xx to any path (a single-page application's catch-all), a flood of list-shaped paths
 * under random parents taught a thousand one-off positions and, least recently used, the site's
 * real search position was given up for them (its flood then unkeyed until its next answer).
 * A search position is confirmed by every list answered there; a one-off never is.
 */
function createPositions(max: number): Positions {
  const probation = new Map<string, boolean>();
  const safe = new Map<string, boolean>();
  const safeMax = Math.max(1, Math.floor(max * PROTECTED_SHARE));
  let inner = 0;
  const drop = (m: Map<string, boolean>): void => {
    const [k, isInner] = m.entries().next().value as [string, boolean];
    m.delete(k);
    if (isInner) inner--;
  };
  return {
    get size() { return probation.size + safe.size; },
    list(n) {
      const out: PathPosition[] = [];
      const add = (m: Map<string, boolean>, confirmed: PathPosition['confirmed']): void => {
        const keys = [...m.keys()];
        for (let i = keys.length - 1; i >= 0 && out.length < n; i--) {
          const k = keys[i] as string;
          const space = k.lastIndexOf(' '); // a route's id may hold spaces (`* /`); a path never does
          out.push({ route: k.slice(0, space), path: k.slice(space + 1), confirmed });
        }
      };
      add(safe, 'again');
      add(probation, 'once');
      return out;
    },
    get inner() { return inner; },
    has: (key) => safe.has(key) || probation.has(key),
    confirm(key, isInner) {
      if (safe.has(key)) { safe.delete(key); safe.set(key, isInner); return; }
      if (probation.delete(key)) {
        safe.set(key, isInner);
        // The protected segment's least recent goes back to probation, as its most recent.
        if (safe.size > safeMax) {
          const [k, v] = safe.entries().next().value as [string, boolean];
          safe.delete(k);
          probation.set(k, v);
        }
        return;
      }
      probation.set(key, isInner);
      if (isInner) inner++;
      if (probation.size + safe.size > max) drop(probation.size > 1 ? probation : safe);
    },
  };
}
