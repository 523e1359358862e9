import type { Clock } from '../../../core/clock.js';
import { named, type UpstreamResponse, type UpstreamResponseFilter } from '../../pipeline/phases.js';
import type { RequestContext } from '../../context.js';
import { planReputationCookie } from '../../reputation/issue.js';
import { addressPrefix } from '../../reputation/prefix.js';
import type { RandomBytes, TokenKeyring } from '../../reputation/token.js';
import type { Detector } from '../../defence/detector.js';
import { clientBindingKey } from '../../defence/binding.js';

const appendCookie = (res: UpstreamResponse, cookie: string): void => {
  const cur = res.headers['set-cookie'];
  res.headers['set-cookie'] = cur === undefined ? [cookie] : Array.isArray(cur) ? [...cur, cookie] : [cur, cookie];
};

/**
 * In normal times, answers carry a signed first-party reputation cookie (bound to the client's
 * address prefix and agent) so that clients known before an attack are recognised during it;
 * during an attack none is issued (it would be handed to the attackers too). Also adds the headers
 * of a clearance an API client just earned. Runs after cache-store: cookies are never cached.
 */
export function createReputationCookieFilter(d: { detector: Detector; keys: TokenKeyring; randomBytes: RandomBytes; clock: Clock }): UpstreamResponseFilter {
  return named('reputation-cookie', (ctx: RequestContext, res: UpstreamResponse) => {
    if (ctx.setHeaders) {
      for (const [k, v] of Object.entries(ctx.setHeaders)) {
        if (k === 'set-cookie') appendCookie(res, v); else res.headers[k] = v;
      }
    }
    const traits = ctx.traits;
    if (!traits) return undefined;
    const normal = d.detector.policyFor(ctx.routeClass, traits, ctx.client).level === 0;
    const cookie = planReputationCookie({
      reputation: ctx.reputation, prefix: addressPrefix(ctx.client), fingerprint: clientBindingKey(ctx.req.headers['user-agent']),
      status: res.status, secure: ctx.conn.tls !== undefined, now: d.clock.now(),
    }, { issue: normal, keys: d.keys, randomBytes: d.randomBytes });
    if (cookie) appendCookie(res, cookie);
    return undefined;
  });
}
