import type { Clock } from '../../../core/clock.js';
import { named, type UpstreamResponse, type UpstreamResponseFilter } from '../../pipeline/phases.js';
import type { RequestContext } from '../../context.js';
import { planReputationCookie } from '../../reputation/issue.js';
import { addressPrefix } from '../../reputation/prefix.js';
import type { RandomBytes, TokenKeyring } from '../../reputation/token.js';
import { clientBindingKey } from '../../defence/binding.js';
import { isNavigation } from '../../challenge/request.js';
import { clientUsedTls } from '../../client-tls.js';
import { sharedCacheMayStore } from '../../cache/shared-storable.js';
import type { ConnectionFacts } from '../../listener/connection-facts.js';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * Whether the shield keeps its own cookies (reputation, page visit) off an answer: behind a proxy
 * it trusts (a CDN or a caching balancer may be that proxy) and an answer that proxy may store
 * (cache/shared-storable.ts) — a Set-Cookie of ours would turn its cache off for it, and the
 * customer its copy goes to never reaches us anyway. Clearance cookies a client just earned still go.
 */
export const keepsShieldCookiesOff = (conn: ConnectionFacts, status: number, headers: IncomingHttpHeaders | OutgoingHttpHeaders, nowMs: number): boolean =>
  conn.trusted && sharedCacheMayStore(status, headers, nowMs);

/** Adds a Set-Cookie line to an upstream answer, after those it has. */
export const appendCookie = (res: UpstreamResponse, cookie: string): void => {
  const cur = res.headers['set-cookie'];
  res.headers['set-cookie'] = cur === undefined ? [cookie] : Array.isArray(cur) ? [...cur, cookie] : [cur, cookie];
};

/**
 * Random bytes from a pool refilled 4 KiB at a time: token ids need randomness, not a system call each.
 */
export function pooledRandomBytes(source: (n: number) => Buffer): (n: number) => Buffer {
  let pool: Buffer = Buffer.alloc(0);
  let offset = 0;
  return (n) => {
    if (offset + n > pool.length) { pool = source(Math.max(4096, n)); offset = 0; }
    const out = Buffer.from(pool.subarray(offset, offset + n));
    offset += n;
    return out;
  };
}

/**
 * In normal times, answers carry a signed first-party reputation cookie (bound to the client's
 * address prefix and agent) so that clients known before an attack are recognised during it;
 * during an attack none is issued (it would be handed to the attackers too). Also adds the headers
 * of a clearance an API client just earned. Runs after cache-store: cookies are never cached.
 */
export function createReputationCookieFilter(d: { keys: TokenKeyring; randomBytes: RandomBytes; clock: Clock }): UpstreamResponseFilter {
  const randomBytes = pooledRandomBytes(d.randomBytes);
  return named('reputation-cookie', (ctx: RequestContext, res: UpstreamResponse) => {
    if (ctx.setHeaders) {
      for (const [k, v] of Object.entries(ctx.setHeaders)) {
        if (k === 'set-cookie') appendCookie(res, v); else res.headers[k] = v;
      }
    }
    const traits = ctx.traits;
    // Only page loads earn a reputation: a browser gets it with its first page, and a flood of API
    // or asset requests without cookies cannot make us sign a token per response.
    if (!traits || (ctx.reputation === undefined && !isNavigation(ctx.req.headers.accept, ctx.req.headers['sec-fetch-mode'] as string | undefined))) return undefined;
    if (keepsShieldCookiesOff(ctx.conn, res.status, res.headers, d.clock.now())) return undefined;
    // The level the clearance filter got for this request: one policy lookup per exchange, not two.
    // And an answer that did not wait for an upstream slot: a page the origin took at once is the
    // evidence of calm the attack state gives only a second or so later (a standing queue raises
    // suspicion after `standingMs`, then the tick). Bots that browsed in that second earned
    // reputations the customers arriving a moment later could not, and went before them at the
    // onset (session-replay drill, cgnat-shared: 25 bots with recent reputations served at a
    // customer's pace while customers holding the no-JavaScript cookie waited). A client that
    // waited gets its reputation with a later page, once the site is calm. A request started
    // within its admission waited for nothing (upstream/forward.ts sets 0): the first page of a
    // new process, its admission code cold, took a millisecond of the clock on a loaded machine
    // and went without a reputation (a detection test failed about one run in thirty, forty-sixth
    // session).
    const waited = (ctx.queueMs ?? 0) >= 1;
    const normal = traits.level === 0 && !waited;
    const cookie = planReputationCookie({
      reputation: ctx.reputation, prefix: addressPrefix(ctx.client), fingerprint: clientBindingKey(ctx.req.headers['user-agent']),
      status: res.status, secure: clientUsedTls(ctx.conn, ctx.req.headers), now: d.clock.now(),
    }, { issue: normal, keys: d.keys, randomBytes });
    if (cookie) appendCookie(res, cookie);
    return undefined;
  });
}
