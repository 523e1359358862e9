import { deny } from '../../verdict.js';
import { named, type RequestFilter } from '../../pipeline/phases.js';
import type { RouteMatcher } from '../../routes.js';

/** Finds the request's route and class; no route is a 404 that never reaches an upstream. */
export function createClassifyFilter(match: RouteMatcher): RequestFilter {
  return named('classify', (ctx) => {
    const route = match(ctx.req.method ?? 'GET', ctx.path, ctx.req.headers.host);
    if (!route) return deny('RMP_ERR_NO_ROUTE', 'no route matches');
    ctx.route = route;
    ctx.routeClass = route.routeClass;
    return undefined;
  });
}
