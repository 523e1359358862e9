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
 * A trailing slash is no segment of its own (`/search/a+b/` is `/search/a+b`): an application that
 * routes both alike would otherwise serve a flood that adds one an unkeyed search.
 *
 * Bounded: at most `maxPositions` learned positions, the least recently confirmed given up first.
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
}

export const DEFAULT_MAX_POSITIONS = 1024;

/** The part a path's parameter adds to a shape: `@` then its size (no query key starts with `@` after folding). */
const PATH_PART = '@';

export function createCostKeys(maxPositions = DEFAULT_MAX_POSITIONS): CostKeys {
  if (!(maxPositions >= 1)) throw new RangeError('maxPositions must be at least 1');
  // Route id and parent template of each position that took a list; least recently confirmed first.
  const positions = new Map<string, true>();
  return {
    get positions() { return positions.size; },
    key(routeId, method, path, target, ignore, template) {
      const q = target.indexOf('?');
      const end = lastEnd(path);
      const slash = path.lastIndexOf('/', end - 1);
      // A last segment under a parent (`/search/x`, not `/search`).
      if (slash > 0 && slash < end - 1) {
        // Most sites have no position that takes lists, and their requests cost no template here;
        // nor does a query-less id (`/track/6A123…`), which only teaches where nothing is weighed.
        let parent: string | undefined;
        if (positions.size > 0 && positions.has(`${routeId} ${parent = pathTemplate(path.slice(0, slash))}`)) {
          const part = PATH_PART + valueShape(path, slash + 1, end);
          const query = q >= 0 ? queryShape(target.slice(q), ignore, true) : '';
          return { kind: `${routeId} ${method} ${parent}/{id}`, shape: query === '' ? part : `${part}&${query}`, weighed: true };
        }
        if (q < 0 && (listItems(path, slash + 1, end) > 1 || !isIdSegment(path.slice(slash + 1, end)))) {
          parent ??= pathTemplate(path.slice(0, slash));
          return { kind: `${routeId} ${method} ${parent}/{id}`, shape: PATH_PART + valueShape(path, slash + 1, end), weighed: false };
        }
      }
      if (q < 0) return undefined;
      return { kind: `${routeId} ${method} ${template ?? pathTemplate(path)}`, shape: queryShape(target.slice(q), ignore, true), weighed: true };
    },
    learn(routeId, path) {
      const end = lastEnd(path);
      const slash = path.lastIndexOf('/', end - 1);
      if (!(slash > 0 && slash < end - 1) || listItems(path, slash + 1, end) < 2) return;
      const key = `${routeId} ${pathTemplate(path.slice(0, slash))}`;
      if (positions.has(key)) positions.delete(key);
      else if (positions.size >= maxPositions) positions.delete(positions.keys().next().value as string);
      positions.set(key, true);
    },
  };
}

/** Where a path's last segment ends: before a trailing slash, which is no segment of its own. */
function lastEnd(path: string): number {
  return path.length > 1 && path.charCodeAt(path.length - 1) === 47 ? path.length - 1 : path.length;
}
