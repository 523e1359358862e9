import { COOKIE_NAMES, readCookie } from '../reputation/cookie.js';
import { rankReputation } from '../reputation/rank.js';
import { verifyToken, type TokenKind, type TokenPayload, type TokenRejection } from '../reputation/token.js';
import { CHALLENGE_HEADERS, parseChallengeResponse } from './header.js';
import { checkPowSolution, type PowRejection } from './pow.js';
import { isNavigation, isSameOriginSubresource, isSameOriginWebSocket, readNojsMarker, returnPath, withNojsMarker, type WebSocketFacts } from './request.js';
import { apiChallengeResponse, interstitialResponse, mintClearance, nojsCookie, nojsRedirect, type ClientBinding, type PlainResponse } from './responses.js';
import { pageLanguage } from './language.js';
import type { ChallengeSettings } from './settings.js';

/** The facts of one request the ladder reads: header values and what the shield learned, no node:http object. */
export interface ClearanceRequest {
  readonly method: string;
  /** Origin-form target as received (`/path?query`). */
  readonly target: string;
  readonly accept: string | undefined;
  readonly secFetchMode: string | undefined;
  /** Sec-Fetch-Site: with a non-navigation mode, `same-origin` marks a page's own subresource or fetch. */
  readonly secFetchSite?: string | undefined;
  /** Present for a WebSocket upgrade: its Origin and Host (see isSameOriginWebSocket). */
  readonly webSocket?: WebSocketFacts;
  /** The Cookie header. */
  readonly cookie: string | undefined;
  /** Accept-Language: the interstitial's language (challenge/language.ts). */
  readonly acceptLanguage?: string | undefined;
  /** Rempart-Clearance request header (clients without a cookie jar). */
  readonly clearanceHeader: string | undefined;
  /** Rempart-Challenge-Response request header (an API client answering a challenge). */
  readonly challengeResponse: string | undefined;
  /** Client address prefix (IPv4 /24, IPv6 /48), see addressPrefix. */
  readonly prefix: string;
  /** The client's own address: a no-JavaScript cookie's identity is derived from it (see nojsRedirect). */
  readonly address?: string;
  /** A fingerprint stable across the client's requests (not one that differs between navigations and fetches). */
  readonly fingerprint?: string;
  /** The request came over https (cookies get Secure). */
  readonly secure: boolean;
  readonly now: number;
}

/** What the shield currently asks of this route class: 0 none, 1 no-JavaScript check, 2 proof-of-work. */
export interface ClearancePolicy {
  readonly level: 0 | 1 | 2;
  /** Proof-of-work bits for challenges issued now, see difficultyFor. */
  readonly difficulty: number;
  /** Never challenge (status page, critical route with an authenticated session): the caller decides. */
  readonly exempt?: boolean;
  /** When the current attack started, ms (ranks reputations); undefined in normal times. */
  readonly attackStartedAt?: number;
  /** Revoked token ids (see createRevocationList). */
  readonly isRevoked?: (id: string) => boolean;
  /**
   * Whether a young reputation (id) passes this level-2 request anyway: a signature the request
   * matches (a path, an agent, a header order) is shared by the customers, and a reputation from
   * normal times at a customer's pace is one of them (the caller checks the pace). Absent: it does not.
   */
  readonly recentPasses?: (reputationId: string) => boolean;
  /**
   * Whether a browser's own stylesheet, script or image (a same-origin `no-cors` GET, W3C Fetch
   * Metadata) holding the no-JavaScript cookie `nojs` passes this level-2 request. A browser cannot
   * answer a proof-of-work for it (a `<link>` has no script to solve it): refused, the page it
   * belongs to — judged at its own level — loses its stylesheet. A signature on a subresource's
   * header order or path is what a flash crowd of first visits raises (they all fetch the
   * stylesheet: "fingerprint at 5.4% of traffic, normally 1.1%", "path /static/site.css at 21%,
   * normally 5.8%", drill flash-crowd with `--lead 40`). The caller answers for a signature's level
   * 2 only, and only at a customer's pace; without it no subresource gets past level 2 on that cookie.
   * A page's WebSocket handshake (Fetch Metadata `websocket`, same-origin, or its Origin this host) is asked too: a browser's
   * WebSocket can neither answer the challenge nor follow a redirect (request.ts), and a live page
   * whose handshake came a moment after a signature's proof-of-work began lost its tunnel
   * (drill distributed-low-rate, origin of 16 workers at 320 ms: a customer's `/live/parcel/…`
   * refused 429 5 ms after its page was answered with the same cookie).
   */
  readonly subresourcePasses?: (nojs: TokenPayload) => boolean;
  /**
   * Whether a no-JavaScript cookie issued now gets an identity of its own (see nojsRedirect):
   * the caller answers true behind a shared address, within that address's budget. Called only
   * when such a cookie is issued. Absent: the identity of the address and agent.
   */
  readonly personalNojs?: () => boolean;
  /**
   * Whether the client's address (`req.address`) is flooded: it went over its rate limit lately, or
   * it is shared (a carrier NAT) and a token was revoked there (detect/shared-addresses.ts). A
   * no-JavaScript cookie derived from that address and agent is then the flooders' identity too, so
   * it proves nothing for a page load (GET or HEAD navigation) from it, and such a load without a
   * personal token goes to proof-of-work directly. Form submissions and a page's fetches still pass
   * with it (an interstitial would drop a POST body, and a page's fetch does not solve one).
   * Measured: bench layout cgnat-shared, browse-then-flood (docs/benchmarks.md). Asked only for a
   * page load that needs a token.
   */
  readonly addressFlooded?: (address: string) => boolean;
}

/**
 * How much the client is trusted, best first: a reputation from before the attack, a solved
 * proof-of-work, a kept cookie (no-JavaScript check or a young reputation), nothing.
 */
export type ClientStanding = 'established' | 'cleared' | 'checked' | 'unknown';

/** Why a request was challenged. */
export type ChallengeReason = 'no-token' | 'invalid-token' | 'cookies-not-kept' | 'answer-refused';

/** The decision for one request. */
export type ClearanceDecision =
  | {
    readonly kind: 'pass';
    readonly via: 'exempt' | 'open' | 'rep' | 'clearance' | 'solved' | 'nojs';
    readonly standing: ClientStanding;
    /** Key for the per-token rate limit (`clr:<id>`, `rep:<id>`, `nojs:<id>`); absent for anonymous requests. */
    readonly rateKey?: string;
    /** The token behind rateKey, for revocation (id, exp). */
    readonly token?: TokenPayload;
    /** The verified reputation, for the response filter (planReputationCookie). */
    readonly reputation?: TokenPayload;
    /** Target to forward: the received one without the no-JavaScript marker. */
    readonly target: string;
    /** Headers to add to the upstream's response (a clearance just earned by an API client). */
    readonly responseHeaders?: Readonly<Record<string, string>>;
  }
  | {
    readonly kind: 'challenge';
    readonly level: 1 | 2;
    readonly reason: ChallengeReason;
    /** The first token problem seen (e.g. `clr:wrong-prefix`), a detection signal. */
    readonly problem?: string;
    readonly response: PlainResponse;
  };

/** A token's own key for rate limits and pace: its kind and id (a token with an id). */
export const rateKeyOf = (token: TokenPayload): string => `${token.k}:${token.id}`;

const STANDING_RANK: Record<ClientStanding, number> = { established: 3, cleared: 2, checked: 1, unknown: 0 };
// The lowest standing that passes each level.
const NEEDED: Record<0 | 1 | 2, number> = { 0: 0, 1: 1, 2: 2 };

/**
 * Decides one request: pass (with the client's standing and rate-limit key) or the challenge
 * answer to send. One HMAC for a client holding its best token; pure, plain values in and out.
 * @example
 * const d = evaluateClearance({ method, target, accept: h.accept, secFetchMode: h['sec-fetch-mode'], cookie: h.cookie,
 *   clearanceHeader: h['rempart-clearance'], challengeResponse: h['rempart-challenge-response'],
 *   prefix: addressPrefix(ctx.client), fingerprint, secure, now: clock.now() }, { level, difficulty }, settings);
 * if (d.kind === 'challenge') return respondPlain(d.response);
 */
export function evaluateClearance(req: ClearanceRequest, policy: ClearancePolicy, settings: ChallengeSettings): ClearanceDecision {
  let problem: string | undefined;
  const check = (kind: TokenKind, token: string | undefined): TokenPayload | undefined => {
    if (!token) return undefined;
    const c = verifyToken(token, settings.keys, req.now, { kind, prefix: req.prefix, ...(req.fingerprint !== undefined ? { fingerprint: req.fingerprint } : {}) });
    if (!c.ok) { problem ??= `${kind}:${c.reason satisfies TokenRejection}`; return undefined; }
    if (c.payload.id !== undefined && policy.isRevoked?.(c.payload.id)) { problem ??= `${kind}:revoked`; return undefined; }
    return c.payload;
  };
  const marked = readNojsMarker(req.target);
  const needed = policy.exempt ? 0 : NEEDED[policy.level];

  const reputation = check('rep', readCookie(req.cookie, COOKIE_NAMES.rep));
  const rank = rankReputation(reputation, req.now, { attackStartedAt: policy.attackStartedAt, minAgeMs: settings.reputationMinAgeMs });
  const withRep = reputation ? { reputation } : {};
  const pass = (via: 'exempt' | 'open' | 'rep' | 'clearance' | 'solved' | 'nojs', standing: ClientStanding, token?: TokenPayload, extra: { responseHeaders?: Record<string, string> } = {}): ClearanceDecision => ({
    kind: 'pass', via, standing, target: marked.clean, ...withRep, ...extra,
    ...(token?.id !== undefined ? { rateKey: rateKeyOf(token), token } : {}),
  });
  if (rank === 'established') return pass('rep', 'established', reputation);

  const clearance = check('clr', readCookie(req.cookie, COOKIE_NAMES.clr) ?? req.clearanceHeader);
  if (clearance) return pass('clearance', 'cleared', clearance);

  // Built only for an answer or a challenge, not for every request that passes.
  let bound: ClientBinding | undefined;
  const binding = (): ClientBinding => bound ??= {
    prefix: req.prefix, ...(req.fingerprint !== undefined ? { fingerprint: req.fingerprint } : {}),
    ...(req.address !== undefined ? { address: req.address } : {}), secure: req.secure, now: req.now,
  };
  // An API client answering a challenge on its retry: it passes now and gets its clearance with the
  // answer — whatever the level: a client over its address's rate is asked in normal times too
  // (filters/request/clearance.ts).
  const answer = req.challengeResponse !== undefined ? parseChallengeResponse(req.challengeResponse) : undefined;
  if (answer) {
    const solved = checkPowSolution(answer.seed, answer.counter, settings.keys, req.now, binding());
    if (solved.ok && !(solved.challenge.id !== undefined && policy.isRevoked?.(solved.challenge.id))) {
      const c = mintClearance(solved.challenge, binding(), settings);
      return pass('solved', 'cleared', c.payload, { responseHeaders: { 'set-cookie': c.setCookie, [CHALLENGE_HEADERS.clearance]: c.token } });
    }
    problem ??= `pow:${solved.ok ? 'revoked' : (solved.reason satisfies PowRejection)}`;
  }

  if (rank === 'recent' && (needed <= STANDING_RANK.checked || (reputation?.id !== undefined && policy.recentPasses?.(reputation.id) === true))) {
    return pass('rep', 'checked', reputation);
  }
  const nojs = check('nojs', readCookie(req.cookie, COOKIE_NAMES.nojs));
  const navigation = isNavigation(req.accept, req.secFetchMode);
  // A page load from a flooded address: only a personal no-JavaScript cookie (`n`) counts.
  const read = req.method === 'GET' || req.method === 'HEAD';
  const flooded = (): boolean => req.address !== undefined && policy.addressFlooded?.(req.address) === true;
  const proofFirst = needed > 0 && navigation && read && flooded();
  if (nojs && needed <= STANDING_RANK.checked && !(proofFirst && nojs.n !== 1)) {
    // The address's own identity presented behind an address now known as shared: every newcomer
    // there with the same browser who arrived before it was known holds it, paced as one — three
    // customers behind a carrier NAT together read as a flood's pace and were shed with 503s (bench
    // layout cgnat, session-replay: 88.5%). It passes as that identity, and its answer carries a
    // personal one in its place, within the address's budget (asked only then: a personal cookie
    // spends nothing).
    if (nojs.n !== 1 && req.address !== undefined && policy.personalNojs?.() === true) {
      return pass('nojs', 'checked', nojs, { responseHeaders: { 'set-cookie': nojsCookie(binding(), settings, true) } });
    }
    return pass('nojs', 'checked', nojs);
  }
  // A page's own stylesheet, script, image or WebSocket under a signature's proof-of-work (see
  // subresourcePasses): not from a flooded address, where the cookie's identity is its flooders' too
  // (unless personal).
  const ownSubresource = policy.subresourcePasses !== undefined && read && (req.secFetchMode === 'no-cors'
    ? isSameOriginSubresource(req.secFetchSite, req.secFetchMode)
    : isSameOriginWebSocket(req.secFetchSite, req.secFetchMode, req.webSocket));
  if (nojs && ownSubresource && needed === STANDING_RANK.cleared && (nojs.n === 1 || !flooded()) && policy.subresourcePasses?.(nojs) === true) {
    return pass('nojs', 'checked', nojs);
  }
  if (needed === 0) return pass(policy.exempt ? 'exempt' : 'open', rank === 'recent' ? 'checked' : 'unknown');

  const reason: ChallengeReason = answer ? 'answer-refused' : marked.attempts >= settings.nojsMaxAttempts ? 'cookies-not-kept' : problem ? 'invalid-token' : 'no-token';
  const withProblem = problem ? { problem } : {};
  // The no-JavaScript check, a body-less 307: for a page load at level 2 too (a flood that keeps no
  // cookies costs that instead of a signed challenge page, and only cookie keepers get to work),
  // but not from a flooded address; and at level 1 for a page's own stylesheet, script or fetch,
  // which a browser follows as it does for the page (its page may have been answered before
  // challenges began, without a cookie) — not at level 2, where the cookie would not pass it, nor
  // from a flooded address, where the cookie minted would be the address's and agent's, which its
  // flooders share.
  const nojsCheck = !nojs && rank === 'none' && marked.attempts < settings.nojsMaxAttempts && (navigation
    ? !proofFirst
    : (policy.level === 1 || ownSubresource) && read && isSameOriginSubresource(req.secFetchSite, req.secFetchMode) && !flooded());
  if (nojsCheck) {
    // Asked here, not in the lazy builder: the budget is spent when the decision is made.
    const personal = policy.personalNojs?.() === true;
    return challenge(1, reason, withProblem, () => nojsRedirect(withNojsMarker(marked.clean, marked.attempts + 1), binding(), settings, personal));
  }
  if (!navigation) {
    return challenge(policy.level === 1 ? 1 : 2, reason, withProblem, () => apiChallengeResponse(policy.difficulty, binding(), settings, reason));
  }
  // Level 2 for a client that keeps cookies, or one that came back from the redirect without its cookie.
  return challenge(2, reason, withProblem, () => interstitialResponse(returnPath(marked.clean), policy.difficulty, binding(), settings, pageLanguage(req.acceptLanguage)));
}

/**
 * A challenge decision whose answer is built on first read: a dry run reads the decision and
 * never sends the answer, and building it signs a challenge (~45 µs a request in bench:proxy).
 * A class, not a literal with a getter: that literal took the slow object-creation path (~4 µs).
 */
class LazyChallenge {
  readonly kind = 'challenge';
  declare readonly problem?: string;
  #response: PlainResponse | undefined;
  readonly #build: () => PlainResponse;
  constructor(readonly level: 1 | 2, readonly reason: ChallengeReason, problem: string | undefined, build: () => PlainResponse) {
    if (problem !== undefined) (this as { problem?: string }).problem = problem;
    this.#build = build;
  }

  get response(): PlainResponse {
    return this.#response ??= this.#build();
  }
}

const challenge = (level: 1 | 2, reason: ChallengeReason, withProblem: { problem?: string }, build: () => PlainResponse): ClearanceDecision =>
  new LazyChallenge(level, reason, withProblem.problem, build);
