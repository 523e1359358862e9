import type { Clock } from '../../../core/clock.js';
import { named, type UpstreamRequestFilter } from '../../pipeline/phases.js';
import { onExchangeEnd, type RequestContext } from '../../context.js';
import type { IdentityPace } from '../../detect/identity-pace.js';
import { CLASS_RANK, STANDING, tierFor } from '../../upstream/admission.js';
import type { MessageSender } from '../../upstream/message-admission.js';
import type { PageVisits } from '../../defence/page-visits.js';
import { unbackedSubmission } from './unbacked-submission.js';
import type { RequestCost } from '../../detect/request-cost.js';
import { withBody, type CostKey, type CostKeys } from '../../detect/cost-key.js';
import { bodyShape } from '../../detect/body-shape.js';
import { pathTemplate } from '../../detect/path-template.js';
import { PROTOCOL_QUERY_KEYS } from '../../challenge/settings.js';

/** The pace an unbacked submission counts at: a flood's (defence/page-visits.ts). */
const UNBACKED_PACE = 2;

/**
 * Counts a token's request in its pace when — and only when — the request needs the upstream,
 * and sets its admission tier from the result. The pace measures the load an identity puts on the
 * origin: a cache hit, a challenge or a refusal costs the origin nothing and must not make a
 * customer whose browser fetched a dozen cached files look like a flood (detect/identity-pace.ts).
 */
export function createPaceFilter(pace: IdentityPace, ticker: Clock, visits?: PageVisits, cost?: { readonly weights: RequestCost; readonly keys: CostKeys }): UpstreamRequestFilter {
  return named('pace', (ctx: RequestContext) => {
    if (ctx.paceKey === undefined || ctx.baseTier === undefined) return undefined;
    const key = ctx.paceKey;
    const now = ticker.now();
    // What the request costs the origin, in its kind's typical requests, by its query's shape (or
    // its path's, where the path takes lists: detect/cost-key.ts): a search of many terms counts as
    // the dozen pages it costs (detect/request-cost.ts). A request with no shape to tell its cost
    // by counts one; one whose key is only learned from counts one too.
    let weight = 1;
    if (cost !== undefined) {
      const key = costKeyOf(cost.keys, ctx);
      if (key !== undefined) {
        ctx.costKind = key.kind;
        ctx.costShape = key.shape;
        ctx.costWeighed = key.weighed;
        if (key.teaches === false) ctx.costTeaches = false;
        if (key.weighed) weight = ctx.costWeight = cost.weights.weight(key.kind, key.shape);
      }
    }
    // Requests the client pipelined behind this one are open too (listener/pipelining.ts): served one
    // at a time, a connection writing 16 ahead would otherwise look as light as one person's page.
    // A reputation's requests teach the detector what customers send (learned only in normal times).
    let level = withSourcePace(pace.hit(key, now, ctx.conn.pending?.() ?? 0, ctx.baseTier <= STANDING.recent, weight), pace, ctx.sourceKey, now);
    // A form submitted without its page loses what its token gave it: a flood's pace, whatever the
    // token's own. A request with no token is already behind every token holder (and one filed as a
    // flood is not offered the challenge when challenges begin: upstream/admission.ts, rule 4).
    if (visits !== undefined && ctx.baseTier < STANDING.anonymous && level < UNBACKED_PACE && unbackedSubmission(ctx, visits, now)) level = UNBACKED_PACE;
    // The redirect that completes a critical action is served at that action's pace (defence/continuations.ts).
    if (ctx.continuationPace !== undefined) level = Math.min(level, ctx.continuationPace);
    let open = true;
    const done = (): void => { if (open) { open = false; pace.done(key); } };
    ctx.paceDone = done;
    onExchangeEnd(ctx, done);
    if (ctx.traits) ctx.traits.pace = level;
    // Never above the tier the clearance read (a request is not moved up), except a continuation:
    // the clearance read its level with the redirect counted as one more request of the action.
    ctx.tier = ctx.continuationPace !== undefined ? tierFor(ctx.baseTier, level) : Math.max(ctx.tier, tierFor(ctx.baseTier, level));
    return undefined;
  });
}

/**
 * A request's cost key (detect/cost-key.ts), the shield's own query parameters left out, and its
 * buffered body's shape (detect/body-shape.ts); read here and again at the head of the queue
 * (runtime.ts). Not a critical route's body: a login's or a payment's cost is the same whatever
 * its fields' lengths (a password's hash), and new parts there would be held by the cost probe
 * until answered — a customer's login waiting on a part nobody had sent before.
 */
export function costKeyOf(keys: CostKeys, ctx: RequestContext): CostKey | undefined {
  const routeId = ctx.route?.id ?? '';
  const method = ctx.req.method ?? '';
  // A HEAD is weighed as its GET: an application runs the same handler and drops the content (RFC
  // 9110 §9.3.2), so a flood of 8-term searches sent as HEAD costs what the GETs do — and as a kind
  // of its own, which customers never send, it had no typical cost and was neither weighed nor
  // probed. Its answers teach nothing: an origin that does answer HEAD cheaply would otherwise make
  // the GET's costly shape read as cheap.
  if (method === 'HEAD') {
    const get = keys.key(routeId, 'GET', ctx.path, ctx.target, PROTOCOL_QUERY_KEYS, ctx.traits?.pathTemplate);
    return get === undefined ? undefined : { ...get, teaches: false };
  }
  const key = keys.key(routeId, method, ctx.path, ctx.target, PROTOCOL_QUERY_KEYS, ctx.traits?.pathTemplate);
  const body = ctx.body;
  if (body === undefined || body.size === 0 || ctx.routeClass === 'critical') return key;
  const bytes = body.spooled ? undefined : body.source() as Buffer;
  return withBody(key, routeId, method, ctx.traits?.pathTemplate ?? pathTemplate(ctx.path), bodyShape(ctx.req.headers['content-type'], body.size, bytes));
}

/**
 * A request's pace level `own` (its token's), raised to its source's when it has one: a clearance
 * earned during the attack is as heavy as the address and agent it came from (request/clearance.ts).
 */
export function withSourcePace(own: number, pace: IdentityPace, sourceKey: string | undefined, now: number): number {
  return sourceKey === undefined ? own : Math.max(own, pace.level(sourceKey, now));
}

/**
 * The sender of a tunnel's messages, from its handshake's request: each message is placed as a
 * request of the same token would be — its route's class, the tier of the token's standing at its
 * pace with this message counted (open until answered), raised to its source's pace as requests
 * are. A live page's refresh is a person's request; a tunnel that floods makes its token a
 * flooder's, for its requests too. Undefined when the handshake carried no token (nothing to pace):
 * its messages wait at the worst tier (upstream/message-admission.ts).
 */
export function createMessageSender(ctx: RequestContext, pace: IdentityPace, ticker: Clock): MessageSender | undefined {
  const key = ctx.paceKey;
  const standing = ctx.baseTier;
  if (key === undefined || standing === undefined) return undefined;
  const rank = CLASS_RANK[ctx.admissionClass ?? ctx.routeClass];
  // Only what the pace needs of the handshake's context is kept, not the context for the tunnel's life.
  const source = ctx.sourceKey;
  // What this tunnel holds behind its waiting message, as counted in the pace now.
  let behind = 0;
  return {
    start() {
      const now = ticker.now();
      const own = pace.hit(key, now);
      const level = withSourcePace(own, pace, source, now);
      let open = true;
      return {
        rank,
        tier: tierFor(standing, level),
        // Read at the head of the queue: placed light before its token's flood showed (the bots'
        // first messages, sent the moment their tunnels opened), it goes where that flood is now.
        tierNow() { const t = ticker.now(); return tierFor(standing, withSourcePace(pace.level(key, t), pace, source, t)); },
        done() { if (open) { open = false; pace.done(key); } },
      };
    },
    // A backlog is load offered beyond what the tunnel is served: it waits for one message at a
    // time, so without it a flooding tunnel looks as light as a page — and open, it is read by
    // everything of the token's still waiting (its handshakes, its requests: runtime.ts `retier`).
    backlog(n) {
      const d = Math.max(0, n) - behind;
      if (d === 0) return;
      behind += d;
      pace.hold(key, d, ticker.now());
    },
  };
}
