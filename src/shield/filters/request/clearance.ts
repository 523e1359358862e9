import type { Clock } from '../../../core/clock.js';
import type { RateParams } from '../../../config/schema.js';
import { named, type RequestFilter } from '../../pipeline/phases.js';
import type { RequestContext, RequestTraits } from '../../context.js';
import { deny, type Verdict } from '../../verdict.js';
import { evaluateClearance, rateKeyOf, type ClearanceDecision } from '../../challenge/evaluate.js';
import { PROTOCOL_QUERY_KEYS, type ChallengeSettings } from '../../challenge/settings.js';
import { isNavigation, returnPath } from '../../challenge/request.js';
import { apiChallengeResponse, interstitialResponse } from '../../challenge/responses.js';
import { pageLanguage } from '../../challenge/language.js';
import { hasSessionCookie, readCookie } from '../../reputation/cookie.js';
import type { SessionTable } from '../../reputation/sessions.js';
import { RETURNING_AFTER_MS, type ReputationRoster } from '../../reputation/roster.js';
import type { WakeWatch } from '../../reputation/wake-watch.js';
import { addressPrefix } from '../../reputation/prefix.js';
import type { RevocationList } from '../../reputation/revocation.js';
import type { TokenPayload } from '../../reputation/token.js';
import { addressPrefixes } from '../../detect/address-prefix.js';
import { requestFingerprint } from '../../detect/fingerprint.js';
import { pathTemplate } from '../../detect/path-template.js';
import { queryShape } from '../../detect/query-shape.js';
import type { ChallengePolicy, Detector } from '../../defence/detector.js';
import type { IdentityPace } from '../../detect/identity-pace.js';
import { STANDING, tierFor, WORST_TIER } from '../../upstream/admission.js';
import { clientBindingKey, sourceKeyOf } from '../../defence/binding.js';
import type { RateLimiterPort } from './rate-limit.js';
import type { PageVisits } from '../../defence/page-visits.js';
import { answeredPage } from '../../defence/answered-page.js';
import { asksWebSocket } from '../../http-message.js';
import { clientUsedTls } from '../../client-tls.js';

/** What the clearance filter needs, resolved once per configuration. */
export interface ClearanceDeps {
  detector: Detector;
  settings: ChallengeSettings;
  /** Wall clock (token times). */
  clock: Clock;
  limiter: RateLimiterPort;
  perToken: RateParams;
  /** Budget of no-JavaScript cookies with an identity of their own, per shared address. */
  sharedAddressCookies: RateParams;
  revocations: RevocationList;
  /** Per-token pace (monotonic `ticker`). */
  pace: IdentityPace;
  ticker: Clock;
  exemptPaths: readonly string[];
  sessionCookies: readonly string[];
  /** Sessions the origin issued (wall clock, as `clock`). */
  sessions: SessionTable;
  /**
   * Identities whose session was revoked (wall clock): the sessions they log in to next are not
   * learned for `revokedHolderMs` (filters/upstream-response/session-issue.ts).
   */
  sessionHolders: RevocationList;
  revokedHolderMs: number;
  dryRun: boolean;
  /**
   * Reputations seen presented (monotonic `ticker`): one established by its issue time but first
   * presented when many woke with the attack passes, and waits with the token-less requests
   * (reputation/roster.ts). Absent: the issue time alone decides (`detection.wokenReputations: false`).
   */
  roster?: ReputationRoster;
  /** Counts the woken reputations for the operator (absent: not counted). */
  wakes?: WakeWatch;
  /**
   * The pages browsers were answered (defence/page-visits.ts): a page's own stylesheet, script or
   * image passes a signature's proof-of-work only from a browser answered a page lately. Absent
   * (`detection.formPageTtlS: 0`): its pace alone decides.
   */
  pageVisits?: PageVisits;
}

/** A reputation found woken (reputation/roster.ts): which, first presented when, with the attack that began when. */
interface Wake { readonly id: string; readonly first: number; readonly attackFrom: number }

// Standing by what a token proves (admission gives better standings a head start and serves
// token holders at a customer's pace before anonymous requests and heavier paces, see
// upstream/admission.ts): a proof-of-work proves work, not history — bots that solve must not
// outrank customers who kept their cookies; the no-JavaScript cookie proves only that a redirect
// was followed.
const standingOf = (d: ClearanceDecision): number => {
  if (d.kind !== 'pass') return STANDING.anonymous;
  switch (d.standing) {
    case 'established': return STANDING.established;
    case 'cleared': return STANDING.cleared;
    case 'checked': return d.via === 'rep' ? STANDING.recent : d.rateKey !== undefined ? STANDING.checked : STANDING.anonymous;
    default: return STANDING.anonymous;
  }
};

/**
 * Whose pace a request counts in. A reputation or a proof-of-work is one client's own: its token.
 * Anything less personal — no token, or the no-JavaScript cookie, whose identity is itself derived
 * from address and agent (challenge/responses.ts) — counts in its source's: the address and a hash
 * of the User-Agent. One key for both, so a bot's requests queued before it took the cookie weigh on
 * the cookie's pace: a bot holding 16 connections that wait in the queue as anonymous requests
 * used to get its first cookie requests served at a customer's pace, ahead of customers, because
 * its new identity had no history (challenge-solver drill, the onset). Customers behind one
 * carrier-NAT address share a source pace only while they hold no reputation and send the same agent.
 */
export function paceKeyOf(decision: ClearanceDecision, client: string, agentKey: string): string {
  // A no-JavaScript cookie issued behind a shared address within its budget is the browser's own (`n`).
  if (decision.kind === 'pass' && decision.rateKey !== undefined && (decision.via !== 'nojs' || decision.token?.n === 1)) return decision.rateKey;
  return sourceKeyOf(client, agentKey);
}

/**
 * Query keys of the shield's own challenge protocol, left out of a request's query shape: every
 * newcomer following the no-JavaScript redirect under attack carries the marker, and a detector
 * that had learned normal traffic named that shape a signature ("queryShape rempart-nojs at 17.8%
 * of traffic, normally 0.0%") and asked those newcomers for proof-of-work (flash-crowd drill,
 * `--lead 40`).
 */

/**
 * The clearance filter, its re-evaluation of a queued request with no token, and the answer to a
 * client over its address's rate limit.
 */
export type ClearanceFilter = RequestFilter & {
  rechallenge(ctx: RequestContext): Verdict | undefined;
  /**
   * Whether a request that passed as an established customer's has since turned out to hold a
   * woken reputation (reputation/roster.ts): one presented in the onset's first second, before the
   * first suspicion, is judged again while it waits, and then waits in group (c).
   */
  wokenNow(ctx: RequestContext): boolean;
  overAddressLimit(ctx: RequestContext): Verdict | undefined;
};

/**
 * Who is this client, and must it prove something first? Computes the request's traits once
 * (fingerprint, prefixes, path template, query shape), reads its reputation or clearance (one
 * HMAC), sets its standing — admission serves better standings first within a class — and, when
 * detection asks for it on this route class, answers the challenge ladder instead (no-JavaScript
 * cookie check, then proof-of-work; API clients get a machine-readable 429, never an HTML page).
 * Each token is rate-limited itself and revoked when its holder floods with it.
 */
export function createClearanceFilter(d: ClearanceDeps): ClearanceFilter {
  const exempt = (ctx: RequestContext): boolean => {
    for (const p of d.exemptPaths) if (ctx.path.startsWith(p)) return true;
    // A CORS preflight never carries cookies (Fetch standard, CORS-preflight request): challenging
    // it would break every cross-origin API call; the actual request that follows is judged.
    if (ctx.req.method === 'OPTIONS' && ctx.req.headers['access-control-request-method'] !== undefined) return true;
    // A customer logged in to a critical route (payment) is never sent through a challenge.
    return ctx.routeClass === 'critical' && d.sessionCookies.length > 0 && hasSessionCookie(ctx.req.headers.cookie, d.sessionCookies);
  };
  /** The digest of a session the origin issued that this request carries, if any. */
  const knownSession = (cookie: string | undefined): string | undefined => {
    if (cookie === undefined || d.sessionCookies.length === 0 || d.sessions.size === 0) return undefined;
    const now = d.clock.now();
    for (const n of d.sessionCookies) {
      const v = readCookie(cookie, n);
      const key = v ? d.sessions.known(v, now) : undefined;
      if (key !== undefined) return key;
    }
    return undefined;
  };
  // Built once, not per request.
  const isRevoked = (id: string): boolean => d.revocations.isRevoked(id);
  const addressFlooded = (address: string): boolean => d.detector.floodedAddress(address);
  const decide = (ctx: RequestContext, agentKey: string, policy: ChallengePolicy, isExempt: boolean, dryRun: boolean): ClearanceDecision => {
    const h = ctx.req.headers;
    // Several customers with tokens of their own behind this address (a carrier NAT), and no token
    // revoked there lately: a newcomer's no-JavaScript cookie is its own, within the address's
    // budget (a dry run spends none). Where a token was revoked, or the address went over its
    // rate, page loads go to proof-of-work.
    const personalNojs = (): boolean => !dryRun && d.detector.personalCookiesAt(ctx.clientKey)
      && d.limiter.check(`nojs-id ${ctx.clientKey}`, d.sharedAddressCookies).allowed;
    return evaluateClearance({
      method: ctx.req.method ?? 'GET', target: ctx.target, accept: h.accept, secFetchMode: h['sec-fetch-mode'] as string | undefined,
      secFetchSite: h['sec-fetch-site'] as string | undefined,
      ...(asksWebSocket(ctx.req) ? { webSocket: { origin: h.origin, host: h.host } } : {}),
      cookie: h.cookie, acceptLanguage: h['accept-language'], clearanceHeader: h['rempart-clearance'] as string | undefined, challengeResponse: h['rempart-challenge-response'] as string | undefined,
      prefix: addressPrefix(ctx.client), address: ctx.clientKey, fingerprint: agentKey, secure: clientUsedTls(ctx.conn, ctx.req.headers), now: d.clock.now(),
    }, {
      level: policy.level, difficulty: policy.difficulty, exempt: isExempt, attackStartedAt: policy.attackStartedAt, isRevoked,
      // A signature challenge (a path, an agent, a header order) matches the customers too: a
      // young reputation at a customer's pace passes it; a flooding one (pace 2+) pays. Without
      // this, every customer who arrived in the 10 minutes before an attack paid proof-of-work on
      // the site's main path (challenge-solver drill: 15 customers challenged, 94-96%).
      ...(policy.bySignature === true ? {
        recentPasses: (id: string) => d.pace.level(`rep:${id}`, d.ticker.now()) <= 1,
        // A page's stylesheet or script with the no-JavaScript cookie, at a customer's pace: in the
        // pace it will count in once passed (paceKeyOf).
        // A flood that forges those headers on every request (drill `forge`) loads no page: it is
        // asked what its page loads are (forty-fifth session: a crowd that did not solve, 80.6% ->
        // 61.5% of customers' requests once it forged them, on a shield with learned signatures).
        subresourcePasses: (nojs: TokenPayload) => d.pace.level(nojs.n === 1 && nojs.id !== undefined ? rateKeyOf(nojs) : sourceKeyOf(ctx.clientKey, agentKey), d.ticker.now()) <= 1
          && (d.pageVisits === undefined || answeredPage(ctx, d.pageVisits, d.ticker.now())),
      } : {}),
      personalNojs,
      addressFlooded,
    }, d.settings);
  };
  /**
   * Whether a request's reputation, established by its issue time, was first presented as many
   * woke with the attack (reputation/roster.ts). Every verified reputation is noted, whatever its
   * rank. Such a request passes — its holder may be a returning customer — but waits with the
   * requests that hold no token, group (c): after the customers the attack found on the site and
   * after the newcomers who proved something during it, since the wake-up is what a farm of
   * reputations does (drill `sleeper-crowd`).
   */
  const roster = d.roster;
  // The attack under way, on the roster's clock: computed once per attack, so that it names the
  // attack (counted once per reputation, reputation/wake-watch.ts) — read again from the two clocks
  // on each request, it would move by a millisecond.
  let attackSince = Number.NaN;
  let attackTick = 0;
  /** The first suspicion of the attack under way (monotonic), if a reputation first presented at `first` woke with it. */
  const wokeWith = (r: ReputationRoster, first: number): number | undefined => {
    const since = d.detector.challengingSince();
    if (since === undefined) return undefined;
    const now = d.ticker.now();
    if (since !== attackSince) { attackSince = since; attackTick = now - Math.max(0, d.clock.now() - since); }
    return r.woken(first, attackTick, now) ? attackTick : undefined;
  };
  /** Counts a request that waits in group (c) for a woken reputation, for the operator (reputation/wake-watch.ts). */
  const noteWoken = (w: Wake, dryRun: boolean): void => {
    if (roster === undefined) return;
    d.wakes?.woken(w.attackFrom, roster.markWoken(w.id, w.attackFrom), () => roster.explain(w.first, w.attackFrom, d.ticker.now()), dryRun);
  };
  /** Notes the request's reputation as seen; the wake-up it belongs to, if it woke with the attack. */
  const awake = (decision: ClearanceDecision): Wake | undefined => {
    const id = decision.kind === 'pass' ? decision.reputation?.id : undefined;
    if (roster === undefined || id === undefined || decision.kind !== 'pass') return undefined;
    // Issued a minute or more before (wall clock, as the token's issue time): not in this visit.
    const iat = decision.reputation?.iat;
    const first = roster.see(id, d.ticker.now(), iat !== undefined && d.clock.now() - iat * 1000 >= RETURNING_AFTER_MS);
    const attackFrom = decision.standing === 'established' ? wokeWith(roster, first) : undefined;
    return attackFrom === undefined ? undefined : { id, first, attackFrom };
  };
  const wokenNow = (ctx: RequestContext): boolean => {
    if (roster === undefined || d.dryRun || ctx.route?.dryRun === true) return false;
    // Established by its reputation, not by a session on a critical route (`authenticated`).
    const id = ctx.traits?.standing === 'established' ? ctx.reputation?.id : undefined;
    const first = id === undefined ? undefined : roster.firstSeen(id);
    const attackFrom = first === undefined ? undefined : wokeWith(roster, first);
    if (attackFrom === undefined) return false;
    noteWoken({ id: id as string, first: first as number, attackFrom }, false);
    return true;
  };
  /**
   * The challenge a request that passed with no token would get now (undefined: it would still
   * pass). For requests queued before the first challenge of an attack (upstream/admission.ts).
   */
  const rechallenge = (ctx: RequestContext): Verdict | undefined => {
    if (ctx.traits === undefined || ctx.baseTier !== STANDING.anonymous || d.dryRun || ctx.route?.dryRun === true) return undefined;
    const policy = d.detector.policyFor(ctx.routeClass, ctx.traits, ctx.clientKey);
    if (policy.level === 0) return undefined;
    const decision = decide(ctx, clientBindingKey(ctx.req.headers['user-agent'] ?? ''), policy, exempt(ctx), false);
    if (decision.kind !== 'challenge') return undefined;
    ctx.traits.challenged = decision.level;
    return { kind: 'challenge', reason: `${decision.reason} (queued before the first challenge)`, level: decision.level, response: decision.response };
  };
  /**
   * A client with no token of its own went over its address's rate (filters/request/rate-limit.ts):
   * proof-of-work instead of a bare 429 — the interstitial for a page load, the machine-readable
   * 429 for an API client. Behind a carrier NAT whose customers all arrived during the attack (no
   * reputation, so the address is not known as shared) the address's rate is the bots' and the
   * customers' together, and its customers' no-JavaScript cookies share the bots' identity: the
   * 429 refused them all alike (bench layout cgnat-shared, browse-then-flood: 71–83% on three of six
   * seeds, every loss this 429). Solved, the clearance is the client's own, limited at its own rate
   * and revoked if it floods; a bot pays per clearance. It still counts as a refusal toward blocking
   * the address (`overLimit`), unless the address is shared. Never for an exempt request.
   */
  const overAddressLimit = (ctx: RequestContext): Verdict | undefined => {
    if (ctx.traits === undefined || d.dryRun || ctx.route?.dryRun === true || exempt(ctx)) return undefined;
    const policy = d.detector.policyFor(ctx.routeClass, ctx.traits, ctx.clientKey);
    const h = ctx.req.headers;
    const b = { prefix: addressPrefix(ctx.client), fingerprint: clientBindingKey(h['user-agent'] ?? ''), address: ctx.clientKey, secure: clientUsedTls(ctx.conn, ctx.req.headers), now: d.clock.now() };
    const response = isNavigation(h.accept, h['sec-fetch-mode'] as string | undefined)
      ? interstitialResponse(returnPath(ctx.target), policy.difficulty, b, d.settings, pageLanguage(h['accept-language']))
      : apiChallengeResponse(policy.difficulty, b, d.settings, 'over-rate');
    ctx.traits.challenged = 2;
    d.detector.addressOverRate(ctx.clientKey);
    return { kind: 'challenge', reason: `address over its rate for class ${ctx.routeClass}`, level: 2, response, overLimit: true };
  };
  /**
   * A customer who logged in: the session the origin issued is its identity, whatever its other
   * cookies say, and it is never challenged (it authenticated to the application, more than any
   * challenge proves). It is paced and rate-limited as one identity — one account, however many
   * addresses share its cookie — and, flooding past the per-token rate, no longer trusted: it
   * starts over with its other cookies. A bot's made-up credentials never get here (the origin
   * refuses them and sets nothing); an attacker with real accounts gets one identity per account.
   *
   * Its standing: an established customer's on the routes the operator declared critical (the
   * payment it logged in for); elsewhere its other cookies' — at least the no-JavaScript check's,
   * which it is never asked for — which admission raises to established while the minted group
   * floods (upstream/queue-tier.ts). Established on every route whatever the mode, the customers
   * who logged in during a flash crowd went before the crowd's other newcomers on all their pages,
   * were served at once, came back sooner and took the capacity: the crowd's parcel lookups neared
   * the 5 s patience and some were abandoned (flash-crowd drill, seed 1: 97.9% against 99.9%;
   * docs/benchmarks.md, twenty-sixth session).
   */
  const authenticated = (ctx: RequestContext, traits: RequestTraits, decision: ClearanceDecision, session: string, agentKey: string, dryRun: boolean): Verdict | undefined => {
    (traits as { standing: RequestTraits['standing'] }).standing = 'authenticated';
    ctx.baseTier = ctx.routeClass === 'critical' ? STANDING.established : Math.min(standingOf(decision), STANDING.checked);
    // Elsewhere, established while the minted group floods (upstream/admission.ts `sessionTier`).
    ctx.authenticated = ctx.routeClass !== 'critical';
    ctx.paceKey = `ses:${session}`;
    traits.pace = d.pace.level(ctx.paceKey, d.ticker.now());
    ctx.tier = tierFor(ctx.baseTier, traits.pace);
    d.detector.arrive(ctx, traits);
    // What passing would have done besides: the protocol's marker left out, a reputation refreshed.
    if (decision.kind === 'pass') {
      ctx.target = decision.target;
      ctx.reputation = decision.reputation;
      if (decision.responseHeaders) ctx.setHeaders = decision.responseHeaders;
    }
    const r = d.limiter.check(`tok ${ctx.paceKey}`, d.perToken);
    if (r.allowed) return undefined;
    if (dryRun) { traits.wouldHave = 'session over its rate: no longer trusted'; return undefined; }
    d.sessions.revoke(session);
    // Its holder would log in again for a fresh session, and with it a fresh identity, rate and
    // standing — a bot holding the account's password does (account-holders drill, relogins: the
    // sessions of each re-login ranked as established customers on the critical routes until their
    // pace showed). The identity its other cookies give it gets no trusted session for a while, and
    // so does its source (address and agent): a bot that drops its cookies before it logs in again
    // comes back as its source. On a shared address the source is many people's, and is left alone.
    if (d.revokedHolderMs > 0) {
      const until = d.clock.now() + d.revokedHolderMs;
      const holder = paceKeyOf(decision, ctx.clientKey, agentKey);
      const source = sourceKeyOf(ctx.clientKey, agentKey);
      const shared = d.detector.isSharedAddress(ctx.clientKey);
      if (holder !== source) d.sessionHolders.revoke(holder, until);
      if (!shared) d.sessionHolders.revoke(source, until);
    }
    d.detector.tokenRevoked(ctx.clientKey);
    ctx.tier = WORST_TIER;
    return deny('RMP_ERR_RATE_LIMITED', 'session over its rate, no longer trusted', { retryAfterS: Math.max(1, Math.ceil(r.retryAfterMs / 1000)) });
  };
  const filter = named('clearance', (ctx: RequestContext): Verdict | undefined => {
    const { req } = ctx;
    const h = req.headers;
    const ua = h['user-agent'] ?? '';
    const agentKey = clientBindingKey(ua);
    const { prefix, prefix48 } = addressPrefixes(ctx.client);
    const q = ctx.target.indexOf('?');
    const traits: RequestTraits = {
      prefix, prefix48,
      fingerprint: requestFingerprint(req.rawHeaders, { method: req.method ?? 'GET', httpVersion: req.httpVersion }),
      pathTemplate: pathTemplate(ctx.path),
      userAgent: ua,
      queryShape: q === -1 ? '' : queryShape(ctx.target.slice(q + 1), PROTOCOL_QUERY_KEYS),
      standing: 'unknown',
      pace: 0,
      level: 0,
      challenged: 0,
      wouldHave: undefined,
      woken: false,
    };
    ctx.traits = traits;
    const policy = d.detector.policyFor(ctx.routeClass, traits, ctx.clientKey);
    traits.level = policy.level;
    const dryRun = d.dryRun || ctx.route?.dryRun === true;
    const decision = decide(ctx, agentKey, policy, exempt(ctx), dryRun);
    const wake = awake(decision);
    const session = knownSession(h.cookie);
    // A session the origin issued decides instead (`authenticated`): such a request never waits for its reputation.
    if (session !== undefined) return authenticated(ctx, traits, decision, session, agentKey, dryRun);
    if (wake !== undefined) noteWoken(wake, dryRun);
    // A dry run records it and enforces nothing.
    if (wake !== undefined && dryRun) traits.wouldHave = 'a woken reputation: would wait in group (c)';
    const woken = wake !== undefined && !dryRun;
    traits.woken = woken;
    (traits as { standing: RequestTraits['standing'] }).standing = decision.kind === 'pass' ? (woken ? 'cleared' : decision.standing) : 'unknown';
    ctx.baseTier = woken ? STANDING.anonymous : standingOf(decision);
    // Read, not counted: the request counts in its pace only if it reaches the upstream
    // (filters/upstream-request/pace.ts). A challenge answered here never does: no key, no lookup.
    if (decision.kind === 'pass' || dryRun) {
      const now = d.ticker.now();
      ctx.paceKey = paceKeyOf(decision, ctx.clientKey, agentKey);
      traits.pace = d.pace.level(ctx.paceKey, now);
      // A proof-of-work solved during the attack does not make a heavy source light: it is paced as
      // the heavier of its token and its source (address and agent) — unless the address is
      // shared, where the source is many people (a carrier NAT). Measured: challenge-solving bots
      // flooded with their no-JS cookie (source pace 14–15, served last) while their fresh
      // clearance, holding one or two of their connections, stayed light and went before
      // customers who had only followed the no-JS redirect (newcomers-under-attack drill).
      if (ctx.baseTier === STANDING.cleared) {
        const source = sourceKeyOf(ctx.clientKey, agentKey);
        if (source !== ctx.paceKey && !d.detector.isSharedAddress(ctx.clientKey)) {
          ctx.sourceKey = source;
          traits.pace = Math.max(traits.pace, d.pace.level(source, now));
        }
      }
    }
    ctx.tier = tierFor(ctx.baseTier, traits.pace);
    d.detector.arrive(ctx, traits);

    if (decision.kind === 'challenge') {
      traits.challenged = decision.level;
      if (dryRun) { traits.wouldHave = `challenge level ${decision.level} (${decision.reason})`; return undefined; }
      return { kind: 'challenge', reason: decision.reason, level: decision.level, response: decision.response };
    }
    ctx.target = decision.target;
    ctx.reputation = decision.reputation;
    if (decision.responseHeaders) ctx.setHeaders = decision.responseHeaders;
    if (decision.rateKey !== undefined && decision.token !== undefined) {
      const r = d.limiter.check(`tok ${decision.rateKey}`, d.perToken);
      if (!r.allowed) {
        if (dryRun) { traits.wouldHave = `revoke ${decision.rateKey}`; return undefined; }
        // A token flooding past any customer's pace is taken back: its holder starts over as unknown.
        if (decision.token.id !== undefined) d.revocations.revoke(decision.token.id, decision.token.exp * 1000);
        d.detector.tokenRevoked(ctx.clientKey);
        ctx.tier = WORST_TIER;
        // The token's kind, not its id: the reason reaches the access log.
        return deny('RMP_ERR_RATE_LIMITED', `${decision.token.k} token over its rate, revoked`, { retryAfterS: Math.max(1, Math.ceil(r.retryAfterMs / 1000)) });
      }
    }
    // Aggregate limits (a prefix, a fingerprint that jumped) bind only clients with no token: known
    // customers behind the same carrier-NAT address or using the same browser keep their pace.
    if (traits.standing === 'unknown') {
      const agg = d.detector.aggregateLimit(traits);
      if (agg) {
        const r = d.limiter.check(`agg ${agg.key}`, { ratePerS: agg.ratePerS, burst: Math.max(1, Math.ceil(agg.ratePerS * 2)) });
        if (!r.allowed) {
          if (dryRun) { traits.wouldHave = `aggregate limit ${agg.key}`; return undefined; }
          return deny('RMP_ERR_RATE_LIMITED', `aggregate ${agg.key} over its rate`, { retryAfterS: Math.max(1, Math.ceil(r.retryAfterMs / 1000)) });
        }
      }
    }
    return undefined;
  });
  return Object.assign(filter, { rechallenge, overAddressLimit, wokenNow });
}
